// Package uplift estimates what a campaign changed: the difference between a treated group and its
// holdout, for proportions (conversion, retention) and for means (order value), with 95 % intervals.
//
// Proportions use Newcombe's hybrid score interval for a difference (method 10 of Newcombe 1998, built
// on Wilson score intervals), which keeps its coverage near 95 % for small groups and rates near 0 or 1
// where the Wald interval does not. Means use Welch's interval, with the Student t quantile for the
// Welch–Satterthwaite degrees of freedom.
package uplift

import "math"

// z95 is the standard normal quantile of 0.975.
const z95 = 1.959963984540054

// Interval is an estimate with its 95 % interval.
type Interval struct {
	Estimate, Lo, Hi float64
}

// Significant reports whether the interval excludes zero.
func (i Interval) Significant() bool { return i.Lo > 0 || i.Hi < 0 }

// Wilson is the Wilson score interval of x successes in n trials.
func Wilson(x, n int) Interval {
	if n == 0 {
		return Interval{Estimate: math.NaN(), Lo: 0, Hi: 1}
	}
	p := float64(x) / float64(n)
	nf := float64(n)
	z2 := z95 * z95
	center := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z95 / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Interval{Estimate: p, Lo: math.Max(0, center-half), Hi: math.Min(1, center+half)}
}

// ProportionDiff is p1 − p0 (x1 of n1 treated, x0 of n0 held out) with Newcombe's hybrid score interval.
func ProportionDiff(x1, n1, x0, n0 int) Interval {
	a, b := Wilson(x1, n1), Wilson(x0, n0)
	p1, p0 := a.Estimate, b.Estimate
	d := p1 - p0
	return Interval{
		Estimate: d,
		Lo:       d - math.Sqrt((p1-a.Lo)*(p1-a.Lo)+(b.Hi-p0)*(b.Hi-p0)),
		Hi:       d + math.Sqrt((a.Hi-p1)*(a.Hi-p1)+(p0-b.Lo)*(p0-b.Lo)),
	}
}

// Sample summarises a group's values: size, mean and unbiased variance.
type Sample struct {
	N         int
	Mean, Var float64
}

// Summarise computes a Sample.
func Summarise(xs []float64) Sample {
	s := Sample{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		for _, x := range xs {
			s.Var += (x - s.Mean) * (x - s.Mean)
		}
		s.Var /= float64(s.N - 1)
	}
	return s
}

// MeanDiff is mean1 − mean0 with Welch's 95 % interval (NaN without values on a side; NaN bounds with
// fewer than two values a side).
func MeanDiff(treated, holdout Sample) Interval {
	if treated.N == 0 || holdout.N == 0 {
		return Interval{Estimate: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	d := treated.Mean - holdout.Mean
	if treated.N < 2 || holdout.N < 2 {
		return Interval{Estimate: d, Lo: math.NaN(), Hi: math.NaN()}
	}
	v1, v0 := treated.Var/float64(treated.N), holdout.Var/float64(holdout.N)
	se := math.Sqrt(v1 + v0)
	if se == 0 {
		return Interval{Estimate: d, Lo: d, Hi: d}
	}
	df := (v1 + v0) * (v1 + v0) / (v1*v1/float64(treated.N-1) + v0*v0/float64(holdout.N-1))
	t := tQuantile975(df)
	return Interval{Estimate: d, Lo: d - t*se, Hi: d + t*se}
}

// tQuantile975 approximates the 0.975 quantile of Student's t with df degrees of freedom by the
// Cornish–Fisher expansion around the normal quantile (four terms: error under 0.001 for df ≥ 5).
func tQuantile975(df float64) float64 {
	z := z95
	z3 := z * z * z
	z5, z7, z9 := z3*z*z, z3*z3*z, z3*z3*z3
	return z + (z3+z)/(4*df) + (5*z5+16*z3+3*z)/(96*df*df) + (3*z7+19*z5+17*z3-15*z)/(384*df*df*df) +
		(79*z9+776*z7+1482*z5-1920*z3-945*z)/(92160*df*df*df*df)
}
