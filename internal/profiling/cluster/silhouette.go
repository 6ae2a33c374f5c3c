package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
)

// Silhouette returns the mean silhouette coefficient of the partition labels (values in [0, k)) of the rows
// of x, with Euclidean distances, computed exactly in O(n²). A row alone in its cluster scores 0. It returns
// NaN when the silhouette is undefined: empty or invalid input (unequal lengths, a label outside [0, k), a
// non-finite value) or fewer than two non-empty clusters.
func Silhouette(x [][]float64, labels []int, k int) float64 {
	ds, err := silhouetteInput(x, labels, k)
	if err != nil {
		return math.NaN()
	}
	idx := make([]int, ds.n)
	for i := range idx {
		idx[i] = i
	}
	return silhouetteIdx(ds, labels, k, idx, runtime.GOMAXPROCS(0))
}

// SilhouetteSample returns the mean silhouette of a uniform random sample (without replacement) of n rows,
// computed exactly on the sample (distances only between sampled rows), as is usual for large inputs. When n
// is at most 0 or at least len(x) it equals Silhouette and rng is not used. It returns NaN where Silhouette
// would, and when sampling is needed but rng is nil.
func SilhouetteSample(x [][]float64, labels []int, k, n int, rng *rand.Rand) float64 {
	ds, err := silhouetteInput(x, labels, k)
	if err != nil {
		return math.NaN()
	}
	if n > 0 && n < ds.n && rng == nil {
		return math.NaN()
	}
	return silhouetteIdx(ds, labels, k, sampleIndices(ds.n, n, rng), runtime.GOMAXPROCS(0))
}

func silhouetteInput(x [][]float64, labels []int, k int) (*dataset, error) {
	ds, err := flatten(x, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	if len(labels) != ds.n {
		return nil, fmt.Errorf("%d labels for %d rows: %w", len(labels), ds.n, ErrDimension)
	}
	for _, l := range labels {
		if l < 0 || l >= k {
			return nil, fmt.Errorf("label outside [0, %d): %w", k, ErrInvalidK)
		}
	}
	return ds, nil
}

// sampleIndices returns n distinct row indices drawn uniformly from [0, total), in increasing order, or all
// indices when n <= 0 or n >= total.
func sampleIndices(total, n int, rng *rand.Rand) []int {
	idx := make([]int, total)
	for i := range idx {
		idx[i] = i
	}
	if n <= 0 || n >= total {
		return idx
	}
	for i := 0; i < n; i++ {
		j := i + rng.IntN(total-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:n]
	slices.Sort(idx)
	return idx
}

// silhouetteIdx computes the mean silhouette over the rows idx, using only distances among those rows. Each
// row's per-cluster distance sums are computed in a fixed order, so the result does not depend on workers.
func silhouetteIdx(ds *dataset, labels []int, k int, idx []int, workers int) float64 {
	m := len(idx)
	lab := make([]int, m)
	counts := make([]int, k)
	for p, i := range idx {
		lab[p] = labels[i]
		counts[labels[i]]++
	}
	nonEmpty := 0
	for _, c := range counts {
		if c > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 2 {
		return math.NaN()
	}
	// Copy the sampled rows together for locality.
	d := ds.d
	sub := make([]float64, m*d)
	for p, i := range idx {
		copy(sub[p*d:(p+1)*d], ds.row(i))
	}
	scores := make([]float64, m)
	forChunks(m, workers, func(_, lo, hi int) {
		sums := make([]float64, k)
		for p := lo; p < hi; p++ {
			clear(sums)
			rp := sub[p*d : (p+1)*d]
			for q := 0; q < m; q++ {
				if q != p {
					sums[lab[q]] += math.Sqrt(sqDist(rp, sub[q*d:(q+1)*d]))
				}
			}
			own := lab[p]
			if counts[own] <= 1 {
				scores[p] = 0
				continue
			}
			a := sums[own] / float64(counts[own]-1)
			b := math.Inf(1)
			for c, s := range sums {
				if c != own && counts[c] > 0 {
					b = min(b, s/float64(counts[c]))
				}
			}
			if den := max(a, b); den > 0 {
				scores[p] = (b - a) / den
			}
		}
	})
	var total float64
	for _, s := range scores {
		total += s
	}
	return total / float64(m)
}
