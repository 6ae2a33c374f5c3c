package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ChooseK fits KMeans for every k in [kMin, kMax] and returns the model with the highest mean silhouette,
// together with the silhouette of every k. The silhouettes are computed on one uniform sample of `sample`
// rows, drawn once before fitting and shared by all k (all rows when sample <= 0 or sample >= len(x)); ties
// go to the smaller k. kMin must be at least 2 and kMax at most len(x). It returns ErrUndefined (with the
// kMin model) when no k has a defined silhouette, e.g. when all rows are equal.
func ChooseK(x [][]float64, kMin, kMax, sample int, rng *rand.Rand, opts Options) (Model, map[int]float64, error) {
	opts = opts.withDefaults()
	ds, err := flatten(x, opts.Workers)
	if err != nil {
		return Model{}, nil, err
	}
	if rng == nil {
		return Model{}, nil, ErrNilRand
	}
	if kMin < 2 || kMax < kMin || kMax > ds.n {
		return Model{}, nil, fmt.Errorf("k range [%d, %d] with %d rows: %w", kMin, kMax, ds.n, ErrInvalidK)
	}
	idx := sampleIndices(ds.n, sample, rng)
	stats := ds.stats(opts.Workers > 1)
	scores := make(map[int]float64, kMax-kMin+1)
	var best Model
	bestScore := math.Inf(-1)
	found := false
	for k := kMin; k <= kMax; k++ {
		m := fit(ds, k, rng, opts, stats)
		s := silhouetteIdx(ds, m.Labels, k, idx, opts.Workers)
		scores[k] = s
		if k == kMin {
			best = m
		}
		if s > bestScore { // NaN never wins
			best, bestScore, found = m, s, true
		}
	}
	if !found {
		return best, scores, fmt.Errorf("k range [%d, %d]: %w", kMin, kMax, ErrUndefined)
	}
	return best, scores, nil
}

// AdjustedRandIndex returns the adjusted Rand index (Hubert and Arabie) of two partitions of the same items,
// given as label slices of equal length; label values are arbitrary and need not match between a and b. It
// is 1 for identical partitions up to relabelling, about 0 for independent ones, and can be negative. Two
// trivial partitions that agree (both one cluster, or both all singletons, or fewer than two items) score 1.
// It returns NaN when the lengths differ.
func AdjustedRandIndex(a, b []int) float64 {
	if len(a) != len(b) {
		return math.NaN()
	}
	n := len(a)
	type pair struct{ x, y int }
	cont := make(map[pair]int64)
	rowSum := make(map[int]int64)
	colSum := make(map[int]int64)
	for i := range a {
		cont[pair{a[i], b[i]}]++
		rowSum[a[i]]++
		colSum[b[i]]++
	}
	// Pair counts are integers, summed exactly (so map order cannot matter) before any division.
	comb2 := func(v int64) int64 { return v * (v - 1) / 2 }
	var pIJ, pA, pB int64
	for _, v := range cont {
		pIJ += comb2(v)
	}
	for _, v := range rowSum {
		pA += comb2(v)
	}
	for _, v := range colSum {
		pB += comb2(v)
	}
	if n < 2 {
		return 1
	}
	total := float64(comb2(int64(n)))
	sumIJ, sumA, sumB := float64(pIJ), float64(pA), float64(pB)
	expected := sumA * sumB / total
	maxIdx := (sumA + sumB) / 2
	if maxIdx == expected {
		return 1
	}
	return (sumIJ - expected) / (maxIdx - expected)
}
