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
// fewer than two values a side, or when neither side's values vary: the data give no spread to build an
// interval from, and a difference without one is not called significant).
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
		return Interval{Estimate: d, Lo: math.NaN(), Hi: math.NaN()}
	}
	df := (v1 + v0) * (v1 + v0) / (v1*v1/float64(treated.N-1) + v0*v0/float64(holdout.N-1))
	t := tQuantile975(df)
	return Interval{Estimate: d, Lo: d - t*se, Hi: d + t*se}
}

// tQuantile975 is the 0.975 quantile of Student's t with df > 0 degrees of freedom (the Welch–Satterthwaite
// df need not be whole), found by bisection on the distribution function to about 1e-12: small samples
// give a few degrees of freedom, where an expansion around the normal quantile is far too small (at 1 df
// the quantile is 12.71).
func tQuantile975(df float64) float64 {
	lo, hi := 0.0, 4.0
	for tUpper(hi, df) > 0.025 {
		lo, hi = hi, hi*2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if tUpper(mid, df) > 0.025 {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-12*hi {
			break
		}
	}
	return (lo + hi) / 2
}

// tUpper is P(T > t) for t ≥ 0 and Student's t with df degrees of freedom: I_x(df/2, 1/2) / 2 with
// x = df / (df + t²).
func tUpper(t, df float64) float64 {
	return regIncBeta(df/(df+t*t), df/2, 0.5) / 2
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), by its continued fraction (modified
// Lentz), on the side where it converges fast.
func regIncBeta(x, a, b float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaFraction(x, a, b) / a
	}
	return 1 - front*betaFraction(1-x, b, a)/b
}

// betaFraction evaluates the continued fraction of the incomplete beta function.
func betaFraction(x, a, b float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 500; m++ {
		mf := float64(m)
		for _, num := range [2]float64{
			mf * (b - mf) * x / ((a + 2*mf - 1) * (a + 2*mf)),
			-(a + mf) * (a + b + mf) * x / ((a + 2*mf) * (a + 2*mf + 1)),
		} {
			d = 1 + num*d
			if math.Abs(d) < tiny {
				d = tiny
			}
			c = 1 + num/c
			if math.Abs(c) < tiny {
				c = tiny
			}
			d = 1 / d
			h *= d * c
		}
		if math.Abs(d*c-1) < eps {
			break
		}
	}
	return h
}
