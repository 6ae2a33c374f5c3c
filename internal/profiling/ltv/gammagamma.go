package ltv

import (
	"fmt"
	"math"
	"slices"
)

// GammaGamma holds the parameters of a fitted Gamma-Gamma spend model: each
// transaction of a customer has value ~ Gamma(P, nu), and the customer's nu ~
// Gamma(Q, V) across customers, so a customer's mean transaction value is
// P·nu⁻¹ with population mean P·V/(Q−1) when Q > 1.
type GammaGamma struct {
	// P is the shape of the per-transaction spend distribution.
	P float64
	// Q is the shape of the Gamma distribution of the spend rate nu.
	Q float64
	// V is the rate of the Gamma distribution of nu, in currency units.
	V float64
}

func (g GammaGamma) valid() bool {
	return finite(g.P) && finite(g.Q) && finite(g.V) && g.P > 0 && g.Q > 0 && g.V > 0
}

// ggData is the fitting workspace, grouped by frequency like bgData.
type ggData struct {
	xs    []float64
	count []float64
	group []int32
	x     []float64 // per customer frequency
	m     []float64 // per customer mean spend (scaled)
	// Per-customer constant Σ (x·ln m + x·ln x) and Σ ln m, precomputed.
	sumXLogXM, sumLogM float64
	n                  float64
}

func newGGData(freq, monetary []float64, scale float64) *ggData {
	d := &ggData{}
	idx := map[float64]int32{}
	for i, x := range freq {
		if x == 0 {
			continue
		}
		m := monetary[i] / scale
		g, ok := idx[x]
		if !ok {
			g = int32(len(d.xs))
			idx[x] = g
			d.xs = append(d.xs, x)
			d.count = append(d.count, 0)
		}
		d.count[g]++
		d.group = append(d.group, g)
		d.x = append(d.x, x)
		d.m = append(d.m, m)
		d.sumXLogXM += x * (math.Log(m) + math.Log(x))
		d.sumLogM += math.Log(m)
		d.n++
	}
	return d
}

// logLik returns the total log-likelihood at (p, q, v) and, if grad is
// non-nil, its gradient with respect to the log-parameters:
//
//	ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v).
func (d *ggData) logLik(p, q, v float64, grad []float64) float64 {
	lgQ, _ := math.Lgamma(q)
	lnV := math.Log(v)
	var ll, gp, gq, gv float64
	var psiQ float64
	if grad != nil {
		psiQ = digamma(q)
	}
	for g, x := range d.xs {
		w := d.count[g]
		lg1, _ := math.Lgamma(p*x + q)
		lg2, _ := math.Lgamma(p * x)
		ll += w * (lg1 - lg2 - lgQ + q*lnV)
		if grad != nil {
			psi1 := digamma(p*x + q)
			gp += w * x * (psi1 - digamma(p*x))
			gq += w * (psi1 - psiQ + lnV)
			gv += w * q / v
		}
	}
	ll += p*d.sumXLogXM - d.sumLogM
	gp += d.sumXLogXM
	for i, x := range d.x {
		s := x*d.m[i] + v
		ls := math.Log(s)
		k := p*x + q
		ll -= k * ls
		if grad != nil {
			gp -= x * ls
			gq -= ls
			gv -= k / s
		}
	}
	if grad != nil {
		grad[0], grad[1], grad[2] = p*gp, q*gq, v*gv
	}
	return ll
}

func validateSpend(freq, monetary []float64) (positive int, err error) {
	if len(freq) != len(monetary) {
		return 0, fmt.Errorf("%w: frequency and monetary slices differ in length", ErrInvalidInput)
	}
	for i, x := range freq {
		switch {
		case !finite(x) || x < 0:
			return 0, fmt.Errorf("%w: customer %d: frequency is NaN, infinite or negative", ErrInvalidInput, i)
		case x != math.Trunc(x):
			return 0, fmt.Errorf("%w: customer %d: frequency is not a whole number", ErrInvalidInput, i)
		case x == 0:
			continue // monetary is ignored
		}
		switch m := monetary[i]; {
		case !finite(m) || m < 0:
			return 0, fmt.Errorf("%w: customer %d: monetary value is NaN, infinite or negative", ErrInvalidInput, i)
		case m == 0:
			return 0, fmt.Errorf("%w: customer %d: monetary value is zero with repeat purchases", ErrInvalidInput, i)
		}
		positive++
	}
	return positive, nil
}

// FitGammaGamma fits the Gamma-Gamma spend model by maximum likelihood.
// freq[i] is customer i's number of repeat purchases and monetary[i] the mean
// value of those purchases; customers with freq[i] == 0 are skipped (their
// monetary value is ignored), so the whole population can be passed. It
// returns an error wrapping ErrInvalidInput on mismatched lengths, a NaN,
// infinite, negative or fractional frequency, or a NaN, infinite, negative or
// zero mean spend of a customer with repeat purchases; ErrNoData if no customer has a repeat purchase; and
// ErrNotConverged if the optimiser does not reach a stationary point with
// finite parameters (for example when every customer spends the same).
func FitGammaGamma(freq []float64, monetary []float64) (GammaGamma, error) {
	positive, err := validateSpend(freq, monetary)
	if err != nil {
		return GammaGamma{}, err
	}
	if positive == 0 {
		return GammaGamma{}, fmt.Errorf("%w: no customer has a repeat purchase", ErrNoData)
	}
	// Measure spend in units of its median for conditioning; V scales back. The median, not the mean: one
	// mistyped amount (a price in fen, a test order of 10⁹) would make the mean that outlier's and every
	// other customer's spend a vanishing fraction of it, and the fit would leave its parameter box.
	spends := make([]float64, 0, positive)
	for i, x := range freq {
		if x > 0 {
			spends = append(spends, monetary[i])
		}
	}
	slices.Sort(spends)
	scale := spends[len(spends)/2]
	d := newGGData(freq, monetary, scale)
	obj := func(x, grad []float64) float64 {
		ll := d.logLik(math.Exp(x[0]), math.Exp(x[1]), math.Exp(x[2]), grad)
		for j := range grad {
			grad[j] = -grad[j] / d.n
		}
		return -ll / d.n
	}
	x, err := minimizeLog(obj, []float64{0, 0, 0})
	if err != nil {
		return GammaGamma{}, err
	}
	return GammaGamma{P: math.Exp(x[0]), Q: math.Exp(x[1]), V: math.Exp(x[2]) * scale}, nil
}

// LogLikelihood returns the total log-likelihood of the customers with a
// repeat purchase under g. It returns NaN if g has a non-positive or
// non-finite parameter or the inputs are invalid (as for FitGammaGamma).
func (g GammaGamma) LogLikelihood(freq, monetary []float64) float64 {
	if !g.valid() {
		return math.NaN()
	}
	if _, err := validateSpend(freq, monetary); err != nil {
		return math.NaN()
	}
	return newGGData(freq, monetary, 1).logLik(g.P, g.Q, g.V, nil)
}

// ExpectedAverageSpend returns the conditional expected average value of a
// transaction (the "conditional expected average profit") of a customer with
// frequency repeat purchases of mean value monetary:
//
//	P·(V + frequency·monetary) / (P·frequency + Q − 1),
//
// a credibility-weighted blend of the population mean P·V/(Q−1) and the
// customer's own mean. For frequency 0 it is the population mean and monetary
// is ignored. It returns +Inf when the posterior mean does not exist
// (P·frequency + Q ≤ 1) and NaN if g is invalid, frequency is not a
// non-negative whole number, or monetary is negative or not finite.
func (g GammaGamma) ExpectedAverageSpend(frequency, monetary float64) float64 {
	if !g.valid() || !finite(frequency) || frequency < 0 || frequency != math.Trunc(frequency) {
		return math.NaN()
	}
	if frequency == 0 {
		monetary = 0
	} else if !finite(monetary) || monetary < 0 {
		return math.NaN()
	}
	den := g.P*frequency + g.Q - 1
	if den <= 0 {
		return math.Inf(1)
	}
	return g.P * (g.V + frequency*monetary) / den
}
