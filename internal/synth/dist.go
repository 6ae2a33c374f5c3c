package synth

import (
	"math"
	"math/rand/v2"
)

// mix64 is the SplitMix64 finaliser: a bijection on uint64 with good avalanche, used for ids and seeds.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRand returns a PCG generator for one stream (salt) of one person (i) under a seed key.
func newRand(key, salt uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(key^salt), mix64(uint64(i)+salt)))
}

// gammaRand draws from Gamma(shape, rate) (Marsaglia–Tsang; shape < 1 by boosting).
func gammaRand(r *rand.Rand, shape, rate float64) float64 {
	if shape < 1 {
		u := r.Float64()
		for u == 0 {
			u = r.Float64()
		}
		return gammaRand(r, shape+1, rate) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x {
			return d * v / rate
		}
		if u > 0 && math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v / rate
		}
	}
}

// betaRand draws from Beta(a, b).
func betaRand(r *rand.Rand, a, b float64) float64 {
	x := gammaRand(r, a, 1)
	y := gammaRand(r, b, 1)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// poisson draws from Poisson(mean): Knuth's method below 30, a rounded normal above.
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean >= 30 {
		n := int(math.Round(mean + math.Sqrt(mean)*r.NormFloat64()))
		if n < 0 {
			return 0
		}
		return n
	}
	l := math.Exp(-mean)
	k := 0
	p := r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// geometric draws a count ≥ 1 with the given mean (≥ 1): the number of trials up to the first success.
func geometric(r *rand.Rand, mean float64) int {
	if mean <= 1 {
		return 1
	}
	q := 1 - 1/mean
	u := r.Float64()
	for u == 0 {
		u = r.Float64()
	}
	return 1 + int(math.Log(u)/math.Log(q))
}

// failures draws the number of failures before the first success of Bernoulli(p) trials.

// lognormal draws exp(mu + sigma·N(0,1)).
func lognormal(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}

// cumTable is a cumulative weight table for drawing an index with probability proportional to its weight.
type cumTable []float64

// newCum builds a table from weights.
func newCum(w []float64) cumTable {
	c := make(cumTable, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

// draw returns an index drawn from the table.
func (c cumTable) draw(r *rand.Rand) int {
	x := r.Float64() * c[len(c)-1]
	lo, hi := 0, len(c)-1
	for lo < hi {
		m := (lo + hi) / 2
		if c[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// zipfWeights returns weights 1/(k+1)^s for k < n.
func zipfWeights(n int, s float64) []float64 {
	w := make([]float64, n)
	for k := range w {
		w[k] = 1 / math.Pow(float64(k+1), s)
	}
	return w
}
