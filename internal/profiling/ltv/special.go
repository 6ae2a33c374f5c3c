package ltv

import (
	"math"
	"math/rand/v2"
)

// digamma returns ψ(x) for x > 0: the recurrence ψ(x) = ψ(x+1) − 1/x up to
// x ≥ 10, then the asymptotic series (truncation error below 1e-15).
func digamma(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 1) {
		if math.IsInf(x, 1) {
			return x
		}
		return math.NaN()
	}
	var acc float64
	for x < 10 {
		acc -= 1 / x
		x++
	}
	x2 := 1 / (x * x)
	series := x2 * (1.0/12 - x2*(1.0/120-x2*(1.0/252-x2*(1.0/240-x2*(1.0/132-x2*(691.0/32760-x2/12))))))
	return acc + math.Log(x) - 0.5/x - series
}

// lgamma returns ln|Γ(x)|.
func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// lbeta returns ln B(a, b).
func lbeta(a, b float64) float64 { return lgamma(a) + lgamma(b) - lgamma(a+b) }

// logGammaVariate returns the logarithm of a Gamma(shape, 1) draw, using
// Marsaglia & Tsang (2000) with the U^(1/shape) boost for shape < 1, kept in
// log space so that very small shapes do not underflow.
func logGammaVariate(rng *rand.Rand, shape float64) float64 {
	boost := 0.0
	if shape < 1 {
		u := 1 - rng.Float64() // (0, 1]
		boost = math.Log(u) / shape
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		z := rng.NormFloat64()
		v := 1 + c*z
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if math.Log(u) < 0.5*z*z+d-d*v+d*math.Log(v) {
			return math.Log(d*v) + boost
		}
	}
}

// betaVariate returns a Beta(a, b) draw as X/(X+Y) with X ~ Gamma(a) and
// Y ~ Gamma(b), computed in log space.
func betaVariate(rng *rand.Rand, a, b float64) float64 {
	lx, ly := logGammaVariate(rng, a), logGammaVariate(rng, b)
	return 1 / (1 + math.Exp(ly-lx))
}

// softplus returns ln(1 + e^y) without overflow.
func softplus(y float64) float64 {
	if y > 0 {
		return y + math.Log1p(math.Exp(-y))
	}
	return math.Log1p(math.Exp(y))
}
