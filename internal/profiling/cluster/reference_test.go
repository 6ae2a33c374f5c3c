package cluster

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The reference below is k-means written the plain way: k-means++ seeding with one pass over the rows per
// candidate, and Lloyd iterations that search every centre for every row. It adds in the same order as
// KMeans (rows in order within fixed chunks of chunkRows, chunks in order), so KMeans, with its bounds and
// kernels, must give exactly the same model: the bounds only decide which distances need computing.

func refSqDist(a, b []float64) float64 {
	var s float64
	for t := range a {
		dv := a[t] - b[t]
		s += float64(dv * dv)
	}
	return s
}

// refChunkSum adds f(i) over rows in order within each chunk and then the chunk sums in order.
func refChunkSum(n int, f func(i int) float64) float64 {
	var total float64
	for lo := 0; lo < n; lo += chunkRows {
		var s float64
		for i := lo; i < min(n, lo+chunkRows); i++ {
			s += f(i)
		}
		total += s
	}
	return total
}

func refSeed(x [][]float64, k int, rng *rand.Rand) [][]float64 {
	n := len(x)
	centers := [][]float64{x[rng.IntN(n)]}
	closest := make([]float64, n)
	for i := range x {
		closest[i] = refSqDist(x[i], centers[0])
	}
	trials := 2 + int(math.Log(float64(k)))
	for len(centers) < k {
		cum := make([]float64, n)
		var s float64
		for i, v := range closest {
			s += v
			cum[i] = s
		}
		cands := make([]int, trials)
		for t := range cands {
			if s <= 0 {
				cands[t] = rng.IntN(n)
				continue
			}
			r := rng.Float64() * s
			cands[t] = min(n-1, sort.Search(n, func(i int) bool { return cum[i] > r }))
		}
		best, bestPot := 0, math.Inf(1)
		for t, ci := range cands {
			pot := refChunkSum(n, func(i int) float64 { return math.Min(closest[i], refSqDist(x[i], x[ci])) })
			if pot < bestPot {
				best, bestPot = t, pot
			}
		}
		c := x[cands[best]]
		centers = append(centers, c)
		for i := range x {
			closest[i] = math.Min(closest[i], refSqDist(x[i], c))
		}
	}
	out := make([][]float64, k)
	for j, c := range centers {
		out[j] = append([]float64(nil), c...)
	}
	return out
}

// refNearest is the index of the nearest centre, the lowest on ties.
func refNearest(r []float64, centers [][]float64) int {
	best, bestD := 0, math.Inf(1)
	for j, c := range centers {
		if dj := refSqDist(r, c); dj < bestD {
			best, bestD = j, dj
		}
	}
	return best
}

func refLloyd(x [][]float64, centers [][]float64, maxIter int, tolAbs float64) ([]int, int) {
	n, k, d := len(x), len(centers), len(x[0])
	labels := make([]int, n)
	for i := range x {
		labels[i] = refNearest(x[i], centers)
	}
	for iter := 1; ; iter++ {
		old := make([][]float64, k)
		var empty []int
		for j := range centers {
			old[j] = append([]float64(nil), centers[j]...)
			count := 0
			for i := range x {
				if labels[i] == j {
					count++
				}
			}
			if count == 0 {
				empty = append(empty, j)
				continue
			}
			for t := 0; t < d; t++ {
				sum := refChunkSum(n, func(i int) float64 {
					if labels[i] == j {
						return x[i][t]
					}
					return 0 // adding +0 leaves a sum of non-zero terms unchanged
				})
				centers[j][t] = sum * (1 / float64(count))
			}
		}
		if len(empty) > 0 {
			dist := make([]float64, n)
			for i := range x {
				dist[i] = refSqDist(x[i], old[labels[i]])
			}
			for _, j := range empty {
				far := 0
				for i := range dist {
					if dist[i] > dist[far] {
						far = i
					}
				}
				dist[far] = -2
				copy(centers[j], x[far])
			}
		}
		var shift float64
		for j := range centers {
			shift += refSqDist(old[j], centers[j])
		}
		changed := 0
		for i := range x {
			if l := refNearest(x[i], centers); l != labels[i] {
				labels[i] = l
				changed++
			}
		}
		if changed == 0 || shift <= tolAbs || iter >= maxIter {
			return labels, iter
		}
	}
}

func refKMeans(x [][]float64, k int, rng *rand.Rand, opts Options) Model {
	opts = opts.withDefaults()
	ds, _ := flatten(x, 1)
	tolAbs := opts.Tol * ds.meanVariance()
	seeds := make([][][]float64, opts.Restarts)
	for r := range seeds {
		seeds[r] = refSeed(x, k, rng)
	}
	var best Model
	for r, centers := range seeds {
		labels, iters := refLloyd(x, centers, opts.MaxIter, tolAbs)
		inertia := refChunkSum(len(x), func(i int) float64 { return refSqDist(x[i], centers[labels[i]]) })
		if r == 0 || inertia < best.Inertia {
			best = Model{Centroids: centers, Inertia: inertia, Iterations: iters, Labels: labels, Sizes: make([]int, k)}
		}
	}
	for _, l := range best.Labels {
		best.Sizes[l]++
	}
	return best
}

// refCase is one dataset for comparing KMeans with the reference.
type refCase struct {
	name string
	x    [][]float64
	k    int
}

func refCases(t testing.TB) []refCase {
	r := newRand(2024)
	gen := func(n, d int, f func(i, j int) float64) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = f(i, j)
			}
		}
		return x
	}
	overlap, _ := blobs(t, 3, 5000, 2, 7, 2, 2)
	seven, _ := blobs(t, 4, 4500, 7, 6, 1.5, 3)
	return []refCase{
		// Skewed, unclustered, like standardised log RFM: many rows near boundaries, many iterations.
		{"lognormal d=3", gen(6000, 3, func(_, j int) float64 { return math.Log1p(math.Exp(r.NormFloat64() * float64(j+1))) }), 5},
		{"uniform d=1", gen(3000, 1, func(_, _ int) float64 { return r.Float64() }), 4},
		{"overlapping blobs d=2", overlap, 7},
		{"blobs d=7", seven, 6},
		// Few values per column: exact ties between centres and many duplicate rows.
		{"grid d=3", gen(5000, 3, func(_, _ int) float64 { return float64(r.IntN(4)) }), 8},
		{"grid d=2", gen(2500, 2, func(_, _ int) float64 { return float64(r.IntN(3)) }), 6},
		// Fewer distinct rows than k: empty clusters are relocated.
		{"few distinct d=3", gen(3000, 3, func(i, j int) float64 { return float64((i % 3) * (j + 1)) }), 5},
		// Large offset, small spread: the bounds are far from the values' own magnitude.
		{"offset d=3", gen(4000, 3, func(_, _ int) float64 { return 1e6 + r.NormFloat64()*1e-3 }), 5},
		{"tiny scale d=4", gen(3000, 4, func(_, _ int) float64 { return r.NormFloat64() * 1e-9 }), 5},
	}
}

func TestKMeansMatchesReference(t *testing.T) {
	for _, tc := range refCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			for _, seed := range []uint64{1, 2} {
				for _, o := range []Options{{Restarts: 3}, {Restarts: 2, Workers: 1}, {Restarts: 2, Workers: 3, MaxIter: 4}} {
					rng, refRng := newRand(seed), newRand(seed)
					got, err := KMeans(tc.x, tc.k, rng, o)
					if err != nil {
						t.Fatal(err)
					}
					want := refKMeans(tc.x, tc.k, refRng, o)
					if !reflect.DeepEqual(got, want) {
						diff := 0
						for i := range got.Labels {
							if got.Labels[i] != want.Labels[i] {
								diff++
							}
						}
						t.Fatalf("seed %d %+v: model differs from the reference: %d labels, inertia %v want %v, iterations %d want %d",
							seed, o, diff, got.Inertia, want.Inertia, got.Iterations, want.Iterations)
					}
					if a, b := rng.Uint64(), refRng.Uint64(); a != b {
						t.Fatalf("seed %d %+v: random source left in another state", seed, o)
					}
				}
			}
		})
	}
}

// TestSeedMatchesReference checks the seeding alone, for every dimension the kernels treat differently.
func TestSeedMatchesReference(t *testing.T) {
	for _, tc := range refCases(t) {
		ds, err := flatten(tc.x, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2} {
			st := newFitState(ds, tc.k, &team{size: workers, offers: make(chan *chunkJob, 8)})
			rng, refRng := newRand(9), newRand(9)
			for r := 0; r < 3; r++ {
				st.seed(rng)
				want := refSeed(tc.x, tc.k, refRng)
				for j := range want {
					if !reflect.DeepEqual(st.center(j), want[j]) {
						t.Fatalf("%s workers=%d seeding %d: centre %d = %v, want %v", tc.name, workers, r, j, st.center(j), want[j])
					}
				}
			}
		}
	}
}

// pinData is a skewed dataset made with arithmetic only (no library functions whose last bit could vary).
func pinData(n, d int, seed uint64) [][]float64 {
	r := newRand(seed)
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			u := r.Float64()
			x[i][j] = float64(float64(u*u)*u)*float64(j+2) + r.Float64()
		}
	}
	return x
}

func pinDigest(m Model) string {
	h := fnv.New64a()
	for _, l := range m.Labels {
		h.Write([]byte{byte(l)})
	}
	var cb []string
	for _, c := range m.Centroids {
		for _, v := range c {
			cb = append(cb, fmt.Sprintf("%#x", math.Float64bits(v)))
		}
	}
	return fmt.Sprintf("labels=%#x inertia=%#x iters=%d centroids=%v", h.Sum64(), math.Float64bits(m.Inertia), m.Iterations, cb)
}

// TestKMeansPinned pins models bit for bit: segments must not move when the implementation changes. The
// values were produced by the implementation before the lazy bounds and the d = 3 kernels.
func TestKMeansPinned(t *testing.T) {
	tests := []struct {
		n, d, k int
		want    string
	}{
		{5000, 3, 5, "labels=0xe1c9032bc1e6fd92 inertia=0x40ae9bb6326c6894 iters=18 centroids=[0x3ff00864286c97b1 0x4003c070883523a7 0x4008aaf77c241f7f 0x3fedc241ad04db03 0x40047d64a65afb4e 0x3fec1a07dd57dc73 0x3ffec118307d7a01 0x3febf2abef33d6d6 0x3fee93b9ea1d12fa 0x3feee65caaf4a7ec 0x3fe8c3406ee1206c 0x4009c4cd579632f1 0x3fe5663b20587a0f 0x3fe88a45eeb00eec 0x3feb297dcca52b8c]"},
		{4000, 7, 4, "labels=0x8b2c317caec861b1 inertia=0x40e1a8814c1eecf8 iters=9 centroids=[0x3ff03ed64c7969aa 0x3ff41cd0f112ce06 0x3ff99371003bbd1f 0x3ffd86508c3f0b6b 0x3ffc625cca2a8048 0x40159edecf58f62e 0x3ffd1c17de091fcf 0x3ff014fdeada72a4 0x3ff35ce7d4ce4fb7 0x3ff6b48067a2ece1 0x3ffdd755a30c8fb1 0x40126b966a02c2ef 0x3ff67ac564ecdfcc 0x3ff832ba4cc79040 0x3ff09d0b40528e49 0x3ff44269686c42c3 0x3ff7ab741739783d 0x3ffb108cace4c733 0x3ffd981dfc4f490a 0x40002424d30bdd7d 0x4018f0ba943ddc1b 0x3fef48f869533dde 0x3ff4bada90e17209 0x3ff7ad32db708f95 0x3ffa9f9c0c273376 0x3ff0bc44f6c85fb2 0x3ff282c49977b5e8 0x3ff51dbabc021da1]"},
	}
	for _, tc := range tests {
		m, err := KMeans(pinData(tc.n, tc.d, 11), tc.k, newRand(1), Options{Restarts: 4})
		if err != nil {
			t.Fatal(err)
		}
		if got := pinDigest(m); got != tc.want {
			t.Errorf("n=%d d=%d k=%d:\n got %s\nwant %s", tc.n, tc.d, tc.k, got, tc.want)
		}
	}
}

// FuzzKMeansMatchesReference builds a small dataset from the input (byte 0: columns, byte 1: k, then one
// byte per value; few distinct values give ties and duplicate rows) and compares KMeans with the reference.
func FuzzKMeansMatchesReference(f *testing.F) {
	f.Add([]byte{2, 3, 0, 0, 1, 1, 2, 2, 9, 9, 9, 8, 0, 9, 4, 4})
	f.Add([]byte{0, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 201, 255, 254})
	f.Add([]byte{3, 4, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 3 {
			return
		}
		d, k := 1+int(b[0]%4), 1+int(b[1]%6)
		vals := b[2:]
		n := min(len(vals)/d, 3*chunkRows)
		if n < k {
			return
		}
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				v := float64(vals[i*d+j])
				if b[0]&0x10 != 0 {
					v = float64(vals[i*d+j] % 4) // coarse: many ties
				}
				x[i][j] = v
			}
		}
		got, err := KMeans(x, k, newRand(uint64(len(b))), Options{Restarts: 2})
		if err != nil {
			t.Fatal(err)
		}
		if want := refKMeans(x, k, newRand(uint64(len(b))), Options{Restarts: 2}); !reflect.DeepEqual(got, want) {
			t.Fatalf("model differs from the reference: got %+v want %+v", got.Centroids, want.Centroids)
		}
	})
}

// refStandardize is Standardize one column at a time, as it was written first.
func refStandardize(x [][]float64) (z [][]float64, mean, std []float64) {
	d := len(x[0])
	n := float64(len(x))
	mean = make([]float64, d)
	std = make([]float64, d)
	for j := 0; j < d; j++ {
		lo, hi := x[0][j], x[0][j]
		var s float64
		for _, r := range x {
			v := r[j]
			s += v
			lo = math.Min(lo, v)
			hi = math.Max(hi, v)
		}
		m := s / n
		mean[j] = m
		if lo == hi {
			continue
		}
		var ss float64
		for _, r := range x {
			dv := r[j] - m
			ss += dv * dv
		}
		std[j] = math.Sqrt(ss / n)
	}
	z = make([][]float64, len(x))
	for i, r := range x {
		z[i] = make([]float64, d)
		applyInto(z[i], r, mean, std)
	}
	return z, mean, std
}

func TestStandardizeMatchesReference(t *testing.T) {
	r := newRand(31)
	x := make([][]float64, 3000)
	for i := range x {
		x[i] = []float64{r.NormFloat64() * 1e3, 7, math.Copysign(0, float64(i%2)-0.5), float64(r.IntN(5)), math.Exp(r.NormFloat64() * 4)}
	}
	withNaN := make([][]float64, 10)
	for i := range withNaN {
		withNaN[i] = []float64{float64(i), math.NaN(), math.Inf(1)}
	}
	for _, x := range [][][]float64{x, withNaN, {{1, 2}}} {
		z, mean, std := Standardize(x)
		wz, wmean, wstd := refStandardize(x)
		bits := func(v [][]float64) [][]uint64 {
			out := make([][]uint64, len(v))
			for i := range v {
				for _, f := range v[i] {
					out[i] = append(out[i], math.Float64bits(f))
				}
			}
			return out
		}
		if !reflect.DeepEqual(bits([][]float64{mean, std}), bits([][]float64{wmean, wstd})) || !reflect.DeepEqual(bits(z), bits(wz)) {
			t.Fatalf("Standardize differs from the reference: mean %v std %v, want %v %v", mean, std, wmean, wstd)
		}
	}
}

// TestFlattenNamesFirstBadRow: the rows are checked in parts at once, and the error still names the first
// offending row.
func TestFlattenNamesFirstBadRow(t *testing.T) {
	n := 5 * chunkRows
	x := make([][]float64, n)
	for i := range x {
		x[i] = []float64{float64(i), 1}
	}
	x[4*chunkRows+7] = []float64{1}          // ragged, in a later part
	x[3*chunkRows+1][1] = math.Inf(-1)       // non-finite, earlier
	x[3*chunkRows+2] = []float64{math.NaN()} // ragged and NaN, later still
	for _, workers := range []int{1, 2, 5} {
		_, err := flatten(x, workers)
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), fmt.Sprintf("row %d column 1", 3*chunkRows+1)) {
			t.Fatalf("workers=%d: err = %v", workers, err)
		}
	}
	x[3*chunkRows+1][1] = 0
	x[3*chunkRows+2] = []float64{0, 0}
	if _, err := flatten(x, 4); !errors.Is(err, ErrDimension) || !strings.Contains(err.Error(), fmt.Sprintf("row %d has 1 columns", 4*chunkRows+7)) {
		t.Fatalf("err = %v", err)
	}
}
