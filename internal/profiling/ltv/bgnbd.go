package ltv

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// BGNBD holds the parameters of a fitted BG/NBD model: while alive, a
// customer purchases as a Poisson process with rate lambda ~ Gamma(R, Alpha)
// (shape R, rate Alpha in the data's time unit); after each repeat purchase the
// customer drops out for good with probability p ~ Beta(A, B).
type BGNBD struct {
	// R is the shape of the Gamma distribution of purchase rates.
	R float64
	// Alpha is the rate (inverse scale) of the Gamma distribution of purchase
	// rates, in the time unit of the data.
	Alpha float64
	// A is the first shape parameter of the Beta distribution of dropout
	// probabilities.
	A float64
	// B is the second shape parameter of the Beta distribution of dropout
	// probabilities.
	B float64
}

func (m BGNBD) valid() bool {
	return finite(m.R) && finite(m.Alpha) && finite(m.A) && finite(m.B) &&
		m.R > 0 && m.Alpha > 0 && m.A > 0 && m.B > 0
}

// bgData is the fitting workspace: customers grouped by their (whole-number)
// frequency so that the Gamma-function terms are computed once per distinct
// frequency rather than once per customer.
type bgData struct {
	xs    []float64 // distinct frequencies
	count []float64 // customers per distinct frequency
	group []int32   // per customer: index into xs
	rec   []float64 // per customer recency (scaled)
	tt    []float64 // per customer T (scaled)
	n     float64
	// scratch, per group
	sw4 []float64
}

func newBGData(data []Customer, scale float64) *bgData {
	d := &bgData{
		group: make([]int32, len(data)),
		rec:   make([]float64, len(data)),
		tt:    make([]float64, len(data)),
		n:     float64(len(data)),
	}
	idx := map[float64]int32{}
	for i, c := range data {
		g, ok := idx[c.Frequency]
		if !ok {
			g = int32(len(d.xs))
			idx[c.Frequency] = g
			d.xs = append(d.xs, c.Frequency)
			d.count = append(d.count, 0)
		}
		d.count[g]++
		d.group[i] = g
		d.rec[i] = c.Recency / scale
		d.tt[i] = c.T / scale
	}
	d.sw4 = make([]float64, len(d.xs))
	return d
}

// logLik returns the total log-likelihood at (r, alpha, a, b) and, if grad is
// non-nil, stores its gradient with respect to the log-parameters.
func (d *bgData) logLik(r, alpha, a, b float64, grad []float64) float64 {
	lgR, _ := math.Lgamma(r)
	lgB, _ := math.Lgamma(b)
	lgAB, _ := math.Lgamma(a + b)
	lnA, lnAlpha := math.Log(a), math.Log(alpha)
	var psiR, psiB, psiAB float64
	if grad != nil {
		psiR, psiB, psiAB = digamma(r), digamma(b), digamma(a+b)
	}
	var ll, gr, gAlpha, ga, gb float64
	// Terms that depend on the frequency only.
	for g, x := range d.xs {
		w := d.count[g]
		lgRX, _ := math.Lgamma(r + x)
		lgBX, _ := math.Lgamma(b + x)
		lgABX, _ := math.Lgamma(a + b + x)
		ll += w * (lgRX - lgR + lgAB + lgBX - lgB - lgABX)
		if grad != nil {
			psiABX := digamma(a + b + x)
			gr += w * (digamma(r+x) - psiR)
			ga += w * (psiAB - psiABX)
			gb += w * (psiAB + digamma(b+x) - psiB - psiABX)
		}
		d.sw4[g] = 0
	}
	ll += d.n * r * lnAlpha
	gr += d.n * lnAlpha
	gAlpha += d.n * r / alpha
	// Per-customer mixture of "alive at T" and "dropped out after t_x".
	for i, g := range d.group {
		x := d.xs[g]
		k := r + x
		lT := math.Log(alpha + d.tt[i])
		a3 := -k * lT
		if x == 0 {
			ll += a3
			gr -= lT
			gAlpha -= k / (alpha + d.tt[i])
			continue
		}
		lR := math.Log(alpha + d.rec[i])
		a4 := lnA - math.Log(b+x-1) - k*lR
		// log(exp(a3) + exp(a4)) and the weight of the second component.
		var lse, w4 float64
		if a4 > a3 {
			e := math.Exp(a3 - a4)
			lse = a4 + math.Log1p(e)
			w4 = 1 / (1 + e)
		} else {
			e := math.Exp(a4 - a3)
			lse = a3 + math.Log1p(e)
			w4 = e / (1 + e)
		}
		w3 := 1 - w4
		ll += lse
		if grad != nil {
			gr -= w3*lT + w4*lR
			gAlpha -= k * (w3/(alpha+d.tt[i]) + w4/(alpha+d.rec[i]))
			d.sw4[g] += w4
		}
	}
	if grad != nil {
		for g, x := range d.xs {
			if x > 0 {
				ga += d.sw4[g] / a
				gb -= d.sw4[g] / (b + x - 1)
			}
		}
		grad[0], grad[1], grad[2], grad[3] = r*gr, alpha*gAlpha, a*ga, b*gb
	}
	return ll
}

// FitBGNBD fits the BG/NBD model to data by maximum likelihood. Times are
// rescaled internally for conditioning, and Alpha is returned in the data's
// own time unit. It returns an error wrapping ErrNoData if data is empty or
// no customer has a repeat purchase, ErrInvalidInput if a customer fails
// Customer.Validate, and ErrNotConverged if the optimiser does not reach a
// stationary point with finite parameters.
func FitBGNBD(data []Customer) (BGNBD, error) {
	if len(data) == 0 {
		return BGNBD{}, fmt.Errorf("%w: no customers", ErrNoData)
	}
	maxT, repeat := 0.0, false
	for i, c := range data {
		if err := c.Validate(); err != nil {
			return BGNBD{}, fmt.Errorf("customer %d: %w", i, err)
		}
		maxT = math.Max(maxT, c.T)
		repeat = repeat || c.Frequency > 0
	}
	if !repeat {
		return BGNBD{}, fmt.Errorf("%w: no customer has a repeat purchase", ErrNoData)
	}
	if maxT == 0 {
		return BGNBD{}, fmt.Errorf("%w: every customer has T = 0", ErrNoData)
	}
	// As in lifetimes: measure time so that the longest T is 10 units.
	scale := maxT / 10
	d := newBGData(data, scale)
	obj := func(x, grad []float64) float64 {
		r, alpha, a, b := math.Exp(x[0]), math.Exp(x[1]), math.Exp(x[2]), math.Exp(x[3])
		ll := d.logLik(r, alpha, a, b, grad)
		for j := range grad {
			grad[j] = -grad[j] / d.n
		}
		return -ll / d.n
	}
	x, err := minimizeLog(obj, []float64{0, 0, 0, 0})
	if err != nil {
		return BGNBD{}, err
	}
	return BGNBD{R: math.Exp(x[0]), Alpha: math.Exp(x[1]) * scale, A: math.Exp(x[2]), B: math.Exp(x[3])}, nil
}

// LogLikelihood returns the total log-likelihood of data under m (the sum
// over customers, as in Fader, Hardie & Lee 2005, equation 6). It returns NaN
// if m has a non-positive or non-finite parameter or a customer fails
// Customer.Validate.
func (m BGNBD) LogLikelihood(data []Customer) float64 {
	if !m.valid() {
		return math.NaN()
	}
	for _, c := range data {
		if c.Validate() != nil {
			return math.NaN()
		}
	}
	return newBGData(data, 1).logLik(m.R, m.Alpha, m.A, m.B, nil)
}

// logOddsDead returns log(P(dead)/P(alive)) for a customer with x > 0.
func (m BGNBD) logOddsDead(c Customer) float64 {
	k := m.R + c.Frequency
	return math.Log(m.A) - math.Log(m.B+c.Frequency-1) +
		k*(math.Log(m.Alpha+c.T)-math.Log(m.Alpha+c.Recency))
}

// ProbAlive returns the probability that customer c is still alive at the
// end of observation (Fader, Hardie & Lee 2005, equation 13). It is 1 for a
// customer without repeat purchases, because the model only lets customers
// drop out after a repeat purchase. It returns NaN if m or c is invalid.
func (m BGNBD) ProbAlive(c Customer) float64 {
	if !m.valid() || c.Validate() != nil {
		return math.NaN()
	}
	if c.Frequency == 0 {
		return 1
	}
	return 1 / (1 + math.Exp(m.logOddsDead(c)))
}

// ExpectedPurchases returns the expected number of purchases customer c makes
// in the next t time units, (T, T+t], given the summary c (Fader, Hardie & Lee
// 2005, equation 10). It is 0 for t = 0, increases with t, and returns NaN if
// t is negative or non-finite, or m or c is invalid.
//
// It evaluates P(alive) times E[(1 − (1 + p·u)^−(r+x)) / p] with
// p ~ Beta(a, b+x) and u = t/(alpha+T), which equals the paper's
// (a+b+x−1)/(a−1)·[1 − ((α+T)/(α+T+t))^(r+x)·2F1(r+x, b+x; a+b+x−1; z)]
// with z = t/(α+T+t). The Gauss hypergeometric function is Euler-transformed
// to 2F1(a+b−1−r, a−1; a+b+x−1; z), whose parameters stay moderate for heavy
// buyers, and summed as a power series with the removable singularities at
// a = 1 and a+b+x−1 = 0 cancelled analytically; for horizons longer than
// about 1,000·(α+T), where the series converges too slowly, the expectation
// over p is integrated numerically instead.
func (m BGNBD) ExpectedPurchases(t float64, c Customer) float64 {
	if !m.valid() || c.Validate() != nil || !finite(t) || t < 0 {
		return math.NaN()
	}
	if t == 0 {
		return 0
	}
	return m.ProbAlive(c) * bgCondMean(m.R, m.A, m.B, c.Frequency, t/(m.Alpha+c.T))
}

// bgCondMean returns E[(1 − (1 + p·u)^−k)/p] for p ~ Beta(a, b+x),
// k = r+x and u = t/(α+T). It sums the hypergeometric series in
// z = u/(1+u) for z ≤ seriesMaxZ and integrates numerically beyond, where the
// series would need too many terms, or if the series loses precision.
func bgCondMean(r, a, b, x, u float64) float64 {
	if z := u / (1 + u); z <= seriesMaxZ {
		if v, ok := bgCondMeanSeries(r, a, b, x, z, -math.Log1p(u), seriesMaxTerms); ok {
			return v
		}
	}
	return bgCondMeanQuad(r, a, b, x, u)
}

const (
	// seriesMaxZ is the largest z (u ≤ 999) for which the power series is
	// summed; it then needs at most about 40,000 terms.
	seriesMaxZ = 0.999
	// seriesMaxTerms caps the series; past it the quadrature is used.
	seriesMaxTerms = 100000
)

// bgCondMeanSeries evaluates the closed form C·[1 − (1−z)^ε·F]/ε with
// ε = a−1, C = a+b+x−1, A' = a+b−1−r and F = 2F1(A', ε; C; z), as
//
//	C·[1−(1−z)^ε]/ε − (1−z)^ε · Σ_{n≥1} (A')_n (a)_{n−1} z^n / ((C+1)_{n−1} n!),
//
// i.e. with the factors ε and C divided out of the series, so it is finite
// for every a, b > 0 (C > −1 always holds). ok is false if the series did
// not converge within maxTerms terms or cancellation cost over four digits.
func bgCondMeanSeries(r, a, b, x, z, lnq float64, maxTerms int) (v float64, ok bool) {
	eps := a - 1
	c := a + b + x - 1
	ap := a + b - 1 - r
	var head float64 // C·[1−(1−z)^ε]/ε
	if eps == 0 {
		head = -c * lnq
	} else {
		head = -c * math.Expm1(eps*lnq) / eps
	}
	term := ap * z
	sum := term
	// The term ratio ρ(n) = z(A'+n)(a+n−1)/((C+n)(n+1)) tends to z < 1; the
	// numerator of ρ(n)−1 is a concave quadratic in n, so once n is past its
	// vertex and ρ < 1 the terms shrink for good, and the tail is bounded by
	// |term|·ρ̂/(1−ρ̂) with ρ̂ = max(ρ, z).
	vertex := (z*(ap+a-1) - c - 1) / (2 * (1 - z))
	largest := math.Max(math.Abs(term), math.Abs(head))
	for n := 1.0; n < float64(maxTerms); n++ {
		ratio := (ap + n) * (a + n - 1) * z / ((c + n) * (n + 1))
		if n >= vertex {
			rho := math.Max(math.Abs(ratio), z)
			if term == 0 || rho < 1 && math.Abs(term)*rho <= 1e-16*(1-rho)*math.Abs(sum) {
				v := head - math.Exp(eps*lnq)*sum
				// Alternating terms (A' < 0) or head ≈ sum cancel; give up
				// if more than four digits would be lost.
				return v, largest <= 1e4*math.Abs(v)
			}
		}
		term *= ratio
		sum += term
		largest = math.Max(largest, math.Abs(term))
	}
	return 0, false
}

// bgCondMeanQuad evaluates E[(1 − (1 + p·u)^−k)/p], p ~ Beta(a, b+x), by
// tanh-sinh (double-exponential) quadrature of
//
//	∫₀¹ p^(a−2) (1−p)^(b+x−1) (1 − (1+pu)^−k) dp / B(a, b+x)
//
// in s, where p = 1/(1+e^(−2s)), evaluated in log space with p and 1−p computed
// separately so both endpoint singularities are resolved. The substitution
// s = c + (π/2)·sinh(t) is centred on the bulk of Beta(a, b+x) and cut off on
// each side where the integrand has fallen e^−45 below its largest value: a
// fitted population can put that bulk far from p = ½ (a = 29, b = 153 puts it
// near p = 0.16), and a range centred on ½ misses it. The step is halved until
// two successive estimates agree to 1e-12 relative, or stop getting closer
// (the rounding of the log-space integrand is then reached).
func bgCondMeanQuad(r, a, b, x, u float64) float64 {
	bb := b + x
	k := r + x
	lnB := lbeta(a, bb)
	lnU, lnK, lnK1 := math.Log(u), math.Log(k), math.Log(k+1)
	// The log of the integrand times dp/ds = 2p(1−p), at s.
	logg := func(s float64) float64 {
		lnp := -softplus(-2 * s) // p = 1/(1+e^(−2s))
		lnq := -softplus(2 * s)  // 1−p
		var lng float64          // ln(1 − (1+pu)^−k)
		if lny := lnp + lnU; lny+lnK1 < -20 {
			// (k+1)·y < e^−20: two terms of the binomial series are exact
			// to rounding, and y itself may underflow.
			lng = lnK + lny + math.Log1p(-(k+1)/2*math.Exp(lny))
		} else {
			lng = math.Log(-math.Expm1(-k * math.Log1p(math.Exp(lny))))
		}
		return (a-1)*lnp + bb*lnq + lng + math.Ln2 - lnB
	}
	// Centre: the mode of Beta(a, b+x), p = a/(a+b+x), in s. The integrand is
	// unimodal in s; reach doubles the distance on one side until the
	// integrand there has fallen e^-45 below the largest value seen. The
	// right side's search may raise that largest value, so the left side is
	// reached once more against it (nothing further left can raise it again).
	c := 0.5 * (math.Log(a) - math.Log(bb))
	top := logg(c)
	reach := func(d, dir float64) float64 {
		for ; d < 1e8; d *= 2 {
			v := logg(c + dir*d)
			top = math.Max(top, v)
			if v < top-45 {
				break
			}
		}
		return d
	}
	lo := reach(0.25, -1)
	hi := reach(0.25, 1)
	lo = reach(lo, -1)
	tLo, tHi := math.Asinh(lo*2/math.Pi), math.Asinh(hi*2/math.Pi)
	f := func(t float64) float64 {
		return math.Exp(logg(c+math.Pi/2*math.Sinh(t)) + math.Log(math.Pi/2*math.Cosh(t)))
	}
	h := math.Max(tLo, tHi) / 8
	sum := f(0)
	for t := h; t <= tHi+h/2; t += h {
		sum += f(t)
	}
	for t := h; t <= tLo+h/2; t += h {
		sum += f(-t)
	}
	est := h * sum
	change := math.Inf(1)
	for level := 0; level < 12; level++ {
		h /= 2
		for t := h; t <= tHi+h/2; t += 2 * h {
			sum += f(t)
		}
		for t := h; t <= tLo+h/2; t += 2 * h {
			sum += f(-t)
		}
		next := h * sum
		d := math.Abs(next - est)
		if d <= 1e-12*math.Abs(next) || level >= 3 && d >= change {
			return next
		}
		est, change = next, d
	}
	return est
}

// Simulate draws one synthetic customer per entry of T (each customer's
// observation length) from the model, using rng: lambda ~ Gamma(R, Alpha),
// p ~ Beta(A, B), exponential inter-purchase times, and dropout with
// probability p after each repeat purchase (the lifetimes generator's
// convention). It returns an error wrapping ErrInvalidInput if m has a
// non-positive parameter or an entry of T is negative or not finite.
func (m BGNBD) Simulate(rng *rand.Rand, T []float64) ([]Customer, error) {
	if !m.valid() {
		return nil, fmt.Errorf("%w: BG/NBD parameters must be positive and finite", ErrInvalidInput)
	}
	for i, t := range T {
		if !finite(t) || t < 0 {
			return nil, fmt.Errorf("%w: T %d is NaN, infinite or negative", ErrInvalidInput, i)
		}
	}
	out := make([]Customer, len(T))
	for i, horizon := range T {
		lambda := math.Exp(logGammaVariate(rng, m.R)) / m.Alpha
		p := betaVariate(rng, m.A, m.B)
		var x, tx, now float64
		for {
			now += rng.ExpFloat64() / lambda
			if !(now <= horizon) {
				break
			}
			x, tx = x+1, now
			if rng.Float64() < p {
				break
			}
		}
		out[i] = Customer{Frequency: x, Recency: tx, T: horizon}
	}
	return out, nil
}
