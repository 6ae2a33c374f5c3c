package cluster

import "math"

// Standardize returns the column-wise z-scores of x together with the column means and (population, ddof 0)
// standard deviations used, so that the same transform can be applied later with Apply. A column whose values
// are all equal gets std 0 and z-scores 0. All rows must have the length of the first row; an empty x yields
// nil results. Non-finite values propagate into the results (KMeans rejects them).
func Standardize(x [][]float64) (z [][]float64, mean, std []float64) {
	if len(x) == 0 {
		return nil, nil, nil
	}
	d := len(x[0])
	n := float64(len(x))
	mean = make([]float64, d)
	std = make([]float64, d)
	// Column statistics in row order, all columns in one pass over the rows (each column's sum in the same
	// order as one column at a time). The builtin min and max treat NaN and ±0 as math.Min and math.Max do.
	lo, hi := make([]float64, d), make([]float64, d)
	copy(lo, x[0])
	copy(hi, x[0])
	for _, r := range x {
		for j := range mean {
			v := r[j]
			mean[j] += v
			lo[j] = min(lo[j], v)
			hi[j] = max(hi[j], v)
		}
	}
	for j := range mean {
		mean[j] /= n
	}
	for _, r := range x {
		for j, m := range mean {
			dv := r[j] - m
			std[j] += dv * dv
		}
	}
	for j := range std {
		if lo[j] == hi[j] {
			std[j] = 0 // constant column (exactly): std 0, not a rounding residue
			continue
		}
		std[j] = math.Sqrt(std[j] / n)
	}
	z = make([][]float64, len(x))
	flat := make([]float64, len(x)*d)
	for i, r := range x {
		z[i] = flat[i*d : (i+1)*d : (i+1)*d]
		applyInto(z[i], r, mean, std)
	}
	return z, mean, std
}

// Apply standardises one new row with frozen parameters from Standardize: (v - mean) / std per column, and 0
// for a column whose std is 0. It returns nil when the lengths of row, mean and std differ.
func Apply(row, mean, std []float64) []float64 {
	if len(row) != len(mean) || len(row) != len(std) {
		return nil
	}
	out := make([]float64, len(row))
	applyInto(out, row, mean, std)
	return out
}

func applyInto(dst, row, mean, std []float64) {
	for j := range dst {
		if std[j] == 0 {
			dst[j] = 0
			continue
		}
		dst[j] = (row[j] - mean[j]) / std[j]
	}
}
