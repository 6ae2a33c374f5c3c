// Package ltv owns the customer-lifetime-value models of the tag engine: the
// BG/NBD model of repeat-purchase counts and dropout (Fader, Hardie & Lee
// 2005, "Counting your customers the easy way"), the Gamma-Gamma model of
// average spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"),
// and their product, the expected spend over a horizon that backs the
// value.ltv_12m and value.churn_risk tags.
//
// The package is pure computation with no dependencies beyond the standard
// library: it reads no files (other than its own test data in tests), holds
// no mutable globals and is deterministic given its inputs. Parameters are
// fitted by maximum likelihood over log-parameters with analytic gradients
// and a Levenberg–Marquardt-damped Newton method; the Gauss hypergeometric
// function the BG/NBD forecast needs is summed as a series, with tanh-sinh
// quadrature for very long horizons.
//
// Time may be measured in any unit (days, weeks, ...) as long as Recency, T and
// forecast horizons use the same one; the BG/NBD Alpha parameter is expressed
// in that unit. Spend may be in any currency unit; the Gamma-Gamma V parameter
// is expressed in it.
package ltv

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrNoData is returned when there is nothing to fit or summarise, for
// example an empty slice or a population without any repeat purchase.
var ErrNoData = errors.New("ltv: no data")

// ErrInvalidInput is returned when an input is NaN, infinite, negative or
// otherwise inconsistent (for example a recency greater than T). Messages name
// the offending index and field but never the value.
var ErrInvalidInput = errors.New("ltv: invalid input")

// ErrNotConverged is returned when maximum-likelihood fitting does not reach
// a stationary point with finite parameters, which usually means the data do
// not identify the model (for example, all customers spend exactly the same).
var ErrNotConverged = errors.New("ltv: fit did not converge")

// Customer is the RFM-style summary of one customer's purchase history that
// the BG/NBD model consumes.
type Customer struct {
	// Frequency is x, the number of repeat purchases (purchase periods after
	// the first one). It must be a non-negative whole number.
	Frequency float64
	// Recency is t_x, the time from the first purchase to the last purchase.
	// It is 0 for a customer without repeat purchases and is ignored then.
	Recency float64
	// T is the time from the first purchase to the end of observation.
	T float64
}

// Validate reports whether c is a usable summary: all fields finite and
// non-negative, Frequency a whole number and Recency not greater than T. The
// returned error wraps ErrInvalidInput.
func (c Customer) Validate() error {
	switch {
	case !finite(c.Frequency) || !finite(c.Recency) || !finite(c.T):
		return fmt.Errorf("%w: customer field is NaN or infinite", ErrInvalidInput)
	case c.Frequency < 0 || c.Recency < 0 || c.T < 0:
		return fmt.Errorf("%w: customer field is negative", ErrInvalidInput)
	case c.Frequency != math.Trunc(c.Frequency):
		return fmt.Errorf("%w: frequency is not a whole number", ErrInvalidInput)
	case c.Recency > c.T:
		return fmt.Errorf("%w: recency exceeds T", ErrInvalidInput)
	}
	return nil
}

// Summarize builds a Customer summary from one customer's purchase times and
// the end of the observation period, following the rule of the lifetimes
// library's summary_data_from_transaction_data:
//
//   - times are bucketed into whole periods by flooring (pass days since an
//     epoch to collapse purchases on the same day, weeks to collapse by week);
//   - purchases in a period after floor(end) are ignored (a calibration cut);
//   - all purchases in the same period collapse into one;
//   - Frequency is the number of distinct periods minus one, Recency is the
//     last period minus the first, and T is floor(end) minus the first period.
//
// The times need not be sorted. Summarize returns an error wrapping
// ErrInvalidInput if any time or end is NaN, infinite or negative, and one
// wrapping ErrNoData if no purchase falls on or before end.
func Summarize(purchaseTimes []float64, end float64) (Customer, error) {
	if !finite(end) || end < 0 {
		return Customer{}, fmt.Errorf("%w: end of observation is NaN, infinite or negative", ErrInvalidInput)
	}
	endPeriod := math.Floor(end)
	periods := make([]float64, 0, len(purchaseTimes))
	for i, t := range purchaseTimes {
		if !finite(t) || t < 0 {
			return Customer{}, fmt.Errorf("%w: purchase time %d is NaN, infinite or negative", ErrInvalidInput, i)
		}
		if p := math.Floor(t); p <= endPeriod {
			periods = append(periods, p)
		}
	}
	if len(periods) == 0 {
		return Customer{}, fmt.Errorf("%w: no purchase on or before the end of observation", ErrNoData)
	}
	sort.Float64s(periods)
	distinct := 1
	for i := 1; i < len(periods); i++ {
		if periods[i] != periods[i-1] {
			distinct++
		}
	}
	first, last := periods[0], periods[len(periods)-1]
	return Customer{
		Frequency: float64(distinct - 1),
		Recency:   last - first,
		T:         endPeriod - first,
	}, nil
}

// LTV returns the expected undiscounted spend of customer c over the next
// horizon time units: bg.ExpectedPurchases(horizon, c) multiplied by
// gg.ExpectedAverageSpend(c.Frequency, monetary), where monetary is the mean
// spend of c's repeat purchases (ignored when c has none). No discounting is
// applied, so for long horizons the caller should discount or cap; the value
// is "expected revenue (or profit, if monetary is a margin) in the window".
// LTV returns NaN if any input is invalid (see Customer.Validate and the
// method docs).
func LTV(bg BGNBD, gg GammaGamma, c Customer, monetary float64, horizon float64) float64 {
	return Value(bg.ExpectedPurchases(horizon, c), gg.ExpectedAverageSpend(c.Frequency, monetary))
}

// Value is LTV from its two factors, for a caller that has them already: purchases expected in the
// horizon (BGNBD.ExpectedPurchases) times the expected spend of each (GammaGamma.ExpectedAverageSpend).
func Value(purchases, spend float64) float64 {
	if purchases == 0 && !math.IsNaN(spend) {
		// Avoid 0 × Inf when the spend model has no finite mean.
		return 0
	}
	return purchases * spend
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
