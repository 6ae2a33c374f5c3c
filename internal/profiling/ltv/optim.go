package ltv

import (
	"fmt"
	"math"
)

// objective returns the function value at x and stores the gradient in grad
// (which has len(x) elements).
type objective func(x, grad []float64) float64

const (
	// maxLogParam bounds |log θ| (in the internally rescaled units, where
	// time is measured in tenths of the longest T and spend in multiples of
	// the median): a fit that ends outside [e^−12, e^12] ≈ [6e-6, 1.6e5] is
	// heading for a degenerate limit (e.g. Gamma or Beta shapes → ∞, all
	// customers alike) and is reported as not identified.
	maxLogParam = 12
	// gradTol is the infinity norm of the gradient of the mean negative
	// log-likelihood (with respect to the log-parameters) below which the
	// optimiser stops.
	gradTol = 1e-10
	// acceptTol is the largest gradient norm still accepted as a stationary
	// point when the optimiser stops for lack of progress (rounding).
	acceptTol = 1e-6
	// maxStep caps a step in log-parameter space.
	maxStep = 3
	// maxIter caps the Newton iterations; well-posed fits need about 10.
	maxIter = 200
)

// minimizeLog minimises obj over log-parameters starting from x0 with a
// Levenberg–Marquardt-damped Newton method: the Hessian is a forward
// difference of the analytic gradient, the damping μ grows until the damped
// Newton step decreases obj and shrinks again after a success, so the method
// moves between Newton steps near the optimum and short gradient steps far
// from it. It returns an error wrapping ErrNotConverged if it does not end at
// a stationary point inside the parameter box.
func minimizeLog(obj objective, x0 []float64) ([]float64, error) {
	d := len(x0)
	x := append([]float64(nil), x0...)
	g := make([]float64, d)
	f := obj(x, g)
	if !finite(f) || !finiteAll(g) {
		return nil, fmt.Errorf("%w: objective not finite at the starting point", ErrNotConverged)
	}
	h := make([]float64, d*d)
	m := make([]float64, d*d)
	step := make([]float64, d)
	xn := make([]float64, d)
	gn := make([]float64, d)
	gh := make([]float64, d)
	mu := 0.0
	for iter := 0; iter < maxIter; iter++ {
		if infNorm(g) <= gradTol {
			break
		}
		// Forward-difference Hessian of the analytic gradient, symmetrised.
		for j := 0; j < d; j++ {
			copy(xn, x)
			e := 1e-6 * math.Max(1, math.Abs(x[j]))
			xn[j] += e
			obj(xn, gh)
			for i := 0; i < d; i++ {
				h[i*d+j] = (gh[i] - g[i]) / e
			}
		}
		for i := 0; i < d; i++ {
			for j := 0; j < i; j++ {
				s := (h[i*d+j] + h[j*d+i]) / 2
				h[i*d+j], h[j*d+i] = s, s
			}
		}
		scale := 0.0
		for i := 0; i < d; i++ {
			scale = math.Max(scale, math.Abs(h[i*d+i]))
		}
		scale = math.Max(scale, 1e-12)
		accepted := false
		for try := 0; try < 60; try++ {
			copy(m, h)
			for i := 0; i < d; i++ {
				m[i*d+i] += mu * scale
			}
			if !choleskySolve(m, g, step, d) {
				mu = math.Max(1e-8, 10*mu)
				continue
			}
			if n := infNorm(step); n > maxStep {
				for i := range step {
					step[i] *= maxStep / n
				}
			}
			for i := range xn {
				xn[i] = x[i] - step[i]
			}
			fn := math.Inf(1)
			if inBox(xn, 2*maxLogParam) {
				fn = obj(xn, gn)
			}
			// Accept a decrease, or (at the level of rounding) a point with a
			// smaller gradient.
			if finite(fn) && finiteAll(gn) &&
				(fn < f || fn <= f+1e-14*math.Abs(f) && infNorm(gn) < infNorm(g)) {
				accepted = true
				copy(x, xn)
				copy(g, gn)
				f = fn
				mu /= 10
				if mu < 1e-10 {
					mu = 0
				}
				break
			}
			mu = math.Max(1e-8, 10*mu)
		}
		if !accepted || !inBox(x, maxLogParam) {
			break
		}
	}
	if !inBox(x, maxLogParam) {
		return nil, fmt.Errorf("%w: a parameter diverges towards 0 or infinity (the data do not identify the model; too few or too uniform customers?)",
			ErrNotConverged)
	}
	if n := infNorm(g); !(n <= acceptTol) {
		return nil, fmt.Errorf("%w: stopped at gradient norm %.3g with |log parameter| up to %.1f (the data may not identify the model)",
			ErrNotConverged, n, infNorm(x))
	}
	return x, nil
}

// choleskySolve solves m·out = b for a symmetric m (row-major, d×d), which it
// overwrites with its Cholesky factor. It reports false if m is not
// numerically positive definite.
func choleskySolve(m, b, out []float64, d int) bool {
	for j := 0; j < d; j++ {
		s := m[j*d+j]
		for k := 0; k < j; k++ {
			s -= m[j*d+k] * m[j*d+k]
		}
		if !(s > 0) {
			return false
		}
		m[j*d+j] = math.Sqrt(s)
		for i := j + 1; i < d; i++ {
			s := m[i*d+j]
			for k := 0; k < j; k++ {
				s -= m[i*d+k] * m[j*d+k]
			}
			m[i*d+j] = s / m[j*d+j]
		}
	}
	for i := 0; i < d; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= m[i*d+k] * out[k]
		}
		out[i] = s / m[i*d+i]
	}
	for i := d - 1; i >= 0; i-- {
		s := out[i]
		for k := i + 1; k < d; k++ {
			s -= m[k*d+i] * out[k]
		}
		out[i] = s / m[i*d+i]
	}
	return true
}

func infNorm(v []float64) float64 {
	n := 0.0
	for _, x := range v {
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		n = math.Max(n, math.Abs(x))
	}
	return n
}

func inBox(x []float64, bound float64) bool {
	for _, v := range x {
		if !(math.Abs(v) <= bound) {
			return false
		}
	}
	return true
}

func finiteAll(x []float64) bool {
	for _, v := range x {
		if !finite(v) {
			return false
		}
	}
	return true
}
