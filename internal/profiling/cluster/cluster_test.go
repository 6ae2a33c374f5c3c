package cluster

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// blobs returns n rows in d dimensions drawn around k centres (std sigma) whose pairwise distance is at least
// sep, with the true centre index of every row.
func blobs(t testing.TB, seed uint64, n, d, k int, sigma, sep float64) ([][]float64, []int) {
	t.Helper()
	r := newRand(seed)
	centres := make([][]float64, 0, k)
	for attempts := 0; len(centres) < k; attempts++ {
		if attempts > 100000 {
			t.Fatalf("cannot place %d centres %.1f apart", k, sep)
		}
		c := make([]float64, d)
		for j := range c {
			c[j] = r.Float64()*20 - 10
		}
		ok := true
		for _, o := range centres {
			if math.Sqrt(sqDist(c, o)) < sep {
				ok = false
				break
			}
		}
		if ok {
			centres = append(centres, c)
		}
	}
	x := make([][]float64, n)
	truth := make([]int, n)
	for i := range x {
		c := i % k
		truth[i] = c
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = centres[c][j] + sigma*r.NormFloat64()
		}
	}
	return x, truth
}

func TestStandardize(t *testing.T) {
	tests := []struct {
		name     string
		x        [][]float64
		wantMean []float64
		wantStd  []float64
	}{
		{"two columns", [][]float64{{1, 10}, {2, 20}, {3, 30}}, []float64{2, 20}, []float64{math.Sqrt(2.0 / 3), math.Sqrt(200.0 / 3)}},
		{"constant column", [][]float64{{0.1, 5}, {0.1, 7}, {0.1, 9}}, []float64{0.1, 7}, []float64{0, math.Sqrt(8.0 / 3)}},
		{"single row", [][]float64{{4, -2}}, []float64{4, -2}, []float64{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, mean, std := Standardize(tc.x)
			for j := range tc.wantMean {
				if math.Abs(mean[j]-tc.wantMean[j]) > 1e-12 || math.Abs(std[j]-tc.wantStd[j]) > 1e-12 {
					t.Fatalf("column %d: mean %v std %v, want %v %v", j, mean[j], std[j], tc.wantMean[j], tc.wantStd[j])
				}
			}
			for j := range tc.wantMean {
				var s, ss float64
				for i := range z {
					s += z[i][j]
					ss += z[i][j] * z[i][j]
				}
				n := float64(len(z))
				wantVar := 1.0
				if tc.wantStd[j] == 0 {
					wantVar = 0
				}
				if math.Abs(s/n) > 1e-12 || math.Abs(ss/n-wantVar) > 1e-12 {
					t.Fatalf("column %d: z mean %v var %v, want 0 %v", j, s/n, ss/n, wantVar)
				}
			}
			for i, row := range tc.x {
				if got := Apply(row, mean, std); !reflect.DeepEqual(got, z[i]) {
					t.Fatalf("Apply(row %d) = %v, want %v", i, got, z[i])
				}
			}
		})
	}
	if z, m, s := Standardize(nil); z != nil || m != nil || s != nil {
		t.Fatal("Standardize(nil) should return nils")
	}
	if Apply([]float64{1, 2}, []float64{0}, []float64{1}) != nil {
		t.Fatal("Apply with mismatched lengths should return nil")
	}
}

func TestKMeansRecoversBlobs(t *testing.T) {
	tests := []struct {
		name string
		k    int
		seed uint64
	}{
		{"k=3", 3, 1},
		{"k=5", 5, 2},
		{"k=8", 8, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, truth := blobs(t, tc.seed, 3000, 6, tc.k, 1, 8)
			z, _, _ := Standardize(x)
			m, err := KMeans(z, tc.k, newRand(tc.seed+100), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if ari := AdjustedRandIndex(truth, m.Labels); ari < 0.9 {
				t.Fatalf("ARI %.3f < 0.9", ari)
			}
			checkModel(t, z, m)
		})
	}
}

// checkModel verifies the invariants of a fitted model: sizes match labels, every row is labelled with its
// nearest centroid (which checks the bounded assignment against brute force), and the inertia is exact.
func checkModel(t *testing.T, x [][]float64, m Model) {
	t.Helper()
	sizes := make([]int, len(m.Centroids))
	var inertia float64
	for i, l := range m.Labels {
		sizes[l]++
		dl := sqDist(x[i], m.Centroids[l])
		inertia += dl
		if p := m.Predict(x[i]); p != l && sqDist(x[i], m.Centroids[p]) < dl*(1-1e-9) {
			t.Fatalf("row %d labelled %d but nearest centroid is %d", i, l, p)
		}
	}
	if !reflect.DeepEqual(sizes, m.Sizes) {
		t.Fatalf("sizes %v, labels give %v", m.Sizes, sizes)
	}
	if math.Abs(inertia-m.Inertia) > 1e-9*math.Max(1, inertia) {
		t.Fatalf("inertia %v, recomputed %v", m.Inertia, inertia)
	}
}

func TestKMeansDeterministic(t *testing.T) {
	x, _ := blobs(t, 7, 5000, 6, 4, 2.5, 3) // overlapping: many iterations, ties in restarts matter
	fits := []struct {
		name string
		seed uint64
		opts Options
	}{
		{"one worker", 42, Options{Workers: 1}},
		{"four workers", 42, Options{Workers: 4}},
		{"default workers", 42, Options{}},
	}
	var first Model
	for i, f := range fits {
		m, err := KMeans(x, 4, newRand(f.seed), f.opts)
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, x, m)
		if i == 0 {
			first = m
			continue
		}
		if !reflect.DeepEqual(m, first) {
			t.Fatalf("%s: model differs from %s", f.name, fits[0].name)
		}
	}
	other, err := KMeans(x, 4, newRand(43), Options{Restarts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if other.Inertia < first.Inertia*(1-1e-12) {
		t.Fatalf("one restart found lower inertia %v than four restarts %v", other.Inertia, first.Inertia)
	}
}

func TestKMeansErrors(t *testing.T) {
	good := [][]float64{{0, 0}, {1, 1}, {2, 2}}
	tests := []struct {
		name string
		x    [][]float64
		k    int
		rng  *rand.Rand
		want error
	}{
		{"empty", nil, 1, newRand(1), ErrEmpty},
		{"no columns", [][]float64{{}, {}}, 1, newRand(1), ErrEmpty},
		{"k > n", good, 4, newRand(1), ErrInvalidK},
		{"k = 0", good, 0, newRand(1), ErrInvalidK},
		{"NaN", [][]float64{{0, 0}, {math.NaN(), 1}}, 1, newRand(1), ErrNonFinite},
		{"Inf", [][]float64{{0, math.Inf(-1)}, {1, 1}}, 1, newRand(1), ErrNonFinite},
		{"ragged", [][]float64{{0, 0}, {1}}, 1, newRand(1), ErrDimension},
		{"nil rng", good, 2, nil, ErrNilRand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := KMeans(tc.x, tc.k, tc.rng, Options{}); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKMeansSmallCases(t *testing.T) {
	tests := []struct {
		name        string
		x           [][]float64
		k           int
		wantInertia float64
	}{
		{"k = n", [][]float64{{0}, {5}, {9}}, 3, 0},
		{"k = 1 is the mean", [][]float64{{0, 0}, {2, 0}, {4, 6}}, 1, 32},
		{"fewer distinct rows than k", [][]float64{{1, 1}, {1, 1}, {2, 2}, {2, 2}, {1, 1}}, 4, 0},
		{"all rows equal", [][]float64{{3}, {3}, {3}}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := KMeans(tc.x, tc.k, newRand(5), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(m.Inertia-tc.wantInertia) > 1e-12 {
				t.Fatalf("inertia %v, want %v", m.Inertia, tc.wantInertia)
			}
			checkModel(t, tc.x, m)
		})
	}
}

func TestPredict(t *testing.T) {
	m := Model{Centroids: [][]float64{{0, 0}, {10, 0}, {0, 10}}}
	tests := []struct {
		name string
		row  []float64
		want int
	}{
		{"near first", []float64{1, 1}, 0},
		{"near second", []float64{9, -1}, 1},
		{"near third", []float64{2, 7}, 2},
		{"tie goes to lower index", []float64{5, 0}, 0},
		{"wrong dimension", []float64{1}, -1},
		{"NaN", []float64{math.NaN(), 0}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.Predict(tc.row); got != tc.want {
				t.Fatalf("Predict(%v) = %d, want %d", tc.row, got, tc.want)
			}
		})
	}
	if (Model{}).Predict([]float64{1}) != -1 {
		t.Fatal("empty model should predict -1")
	}
}

func TestModelJSONExcludesLabels(t *testing.T) {
	x, _ := blobs(t, 11, 600, 3, 3, 1, 8)
	m, err := KMeans(x, 3, newRand(1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Labels != nil {
		t.Fatal("labels were serialised")
	}
	if !reflect.DeepEqual(back.Centroids, m.Centroids) || !reflect.DeepEqual(back.Sizes, m.Sizes) || back.Inertia != m.Inertia {
		t.Fatal("round trip changed the model")
	}
	for i, row := range x {
		if back.Predict(row) != m.Labels[i] {
			t.Fatalf("frozen model predicts row %d differently", i)
		}
	}
}

func TestChooseKPicksTrueK(t *testing.T) {
	tests := []struct {
		name  string
		k     int
		seed  uint64
		n     int
		sampl int
	}{
		{"k=3", 3, 21, 3000, 500},
		{"k=5", 5, 22, 3000, 500},
		{"k=5 exact silhouette", 5, 23, 500, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, truth := blobs(t, tc.seed, tc.n, 6, tc.k, 1, 8)
			z, _, _ := Standardize(x)
			m, scores, err := ChooseK(z, 2, 10, tc.sampl, newRand(tc.seed), Options{Restarts: 2})
			if err != nil {
				t.Fatal(err)
			}
			if m.K() != tc.k {
				t.Fatalf("chose k=%d, want %d (scores %v)", m.K(), tc.k, scores)
			}
			if len(scores) != 9 {
				t.Fatalf("%d scores, want 9", len(scores))
			}
			if ari := AdjustedRandIndex(truth, m.Labels); ari < 0.9 {
				t.Fatalf("ARI %.3f < 0.9", ari)
			}
			checkModel(t, z, m)
			m2, scores2, err := ChooseK(z, 2, 10, tc.sampl, newRand(tc.seed), Options{Restarts: 2})
			if err != nil || !reflect.DeepEqual(m2, m) || !reflect.DeepEqual(scores2, scores) {
				t.Fatalf("ChooseK is not deterministic (err %v)", err)
			}
		})
	}
}

func TestChooseKErrors(t *testing.T) {
	x := [][]float64{{0}, {1}, {2}, {3}}
	tests := []struct {
		name       string
		x          [][]float64
		kMin, kMax int
		rng        *rand.Rand
		want       error
	}{
		{"kMin < 2", x, 1, 3, newRand(1), ErrInvalidK},
		{"kMax < kMin", x, 3, 2, newRand(1), ErrInvalidK},
		{"kMax > n", x, 2, 5, newRand(1), ErrInvalidK},
		{"empty", nil, 2, 3, newRand(1), ErrEmpty},
		{"NaN", [][]float64{{0}, {math.NaN()}, {1}}, 2, 2, newRand(1), ErrNonFinite},
		{"nil rng", x, 2, 3, nil, ErrNilRand},
		{"all rows equal", [][]float64{{1}, {1}, {1}}, 2, 3, newRand(1), ErrUndefined},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ChooseK(tc.x, tc.kMin, tc.kMax, 0, tc.rng, Options{}); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSilhouette(t *testing.T) {
	line := [][]float64{{0}, {1}, {10}, {11}}
	tests := []struct {
		name   string
		x      [][]float64
		labels []int
		k      int
		want   float64 // NaN means undefined
	}{
		{"two pairs", line, []int{0, 0, 1, 1}, 2, (9.5/10.5 + 8.5/9.5) / 2},
		{"singleton scores 0", [][]float64{{0}, {1}, {10}}, []int{0, 0, 1}, 2, (9.0/10 + 8.0/9) / 3},
		{"empty cluster ignored", line, []int{0, 0, 2, 2}, 3, (9.5/10.5 + 8.5/9.5) / 2},
		// Clusters {0, 10} and {1, 11}: a = 10 for every point, b = 6, 5, 5, 6.
		{"bad split is negative", line, []int{0, 1, 0, 1}, 2, ((6.0-10)/10 + (5.0-10)/10 + (5.0-10)/10 + (6.0-10)/10) / 4},
		{"one cluster", line, []int{0, 0, 0, 0}, 2, math.NaN()},
		{"label out of range", line, []int{0, 0, 1, 2}, 2, math.NaN()},
		{"length mismatch", line, []int{0, 1}, 2, math.NaN()},
		{"empty", nil, nil, 2, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Silhouette(tc.x, tc.labels, tc.k)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Fatalf("Silhouette = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSilhouetteSample(t *testing.T) {
	x, truth := blobs(t, 31, 2000, 4, 4, 2, 6)
	exact := Silhouette(x, truth, 4)
	tests := []struct {
		name string
		n    int
		rng  *rand.Rand
		tol  float64
		nan  bool
	}{
		{"n >= len is exact", 2000, nil, 0, false},
		{"n <= 0 is exact", 0, nil, 0, false},
		{"sample of 600", 600, newRand(1), 0.03, false},
		{"sample needs rng", 600, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SilhouetteSample(x, truth, 4, tc.n, tc.rng)
			if tc.nan {
				if !math.IsNaN(got) {
					t.Fatalf("got %v, want NaN", got)
				}
				return
			}
			if math.Abs(got-exact) > tc.tol {
				t.Fatalf("sampled %v, exact %v", got, exact)
			}
		})
	}
	a := SilhouetteSample(x, truth, 4, 500, newRand(9))
	b := SilhouetteSample(x, truth, 4, 500, newRand(9))
	if a != b {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
}

func TestAdjustedRandIndex(t *testing.T) {
	tests := []struct {
		name string
		a, b []int
		want float64 // NaN means undefined
	}{
		{"identical", []int{0, 0, 1, 1, 2}, []int{0, 0, 1, 1, 2}, 1},
		{"relabelled", []int{0, 0, 1, 1, 2}, []int{7, 7, -1, -1, 3}, 1},
		// Hand computation: pairs together in both = 1; sum C(a_i,2) = 2; sum C(b_j,2) = 1; C(4,2) = 6;
		// expected = 2*1/6 = 1/3; max = 3/2; ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7.
		{"split one cluster", []int{0, 0, 1, 1}, []int{0, 0, 1, 2}, 4.0 / 7},
		{"symmetric", []int{0, 0, 1, 2}, []int{0, 0, 1, 1}, 4.0 / 7},
		// Every cell 1: index 0; sums 2 and 2; expected 4/6; max 2; ARI = (0 - 2/3) / (2 - 2/3) = -1/2.
		{"crossed", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
		// Contingency rows (3,1,0) and (0,2,3): index = 3+0+1+3 = 7; sums C(4,2)+C(5,2) = 16 and 3*C(3,2) = 9;
		// C(9,2) = 36; expected = 16*9/36 = 4; max = 12.5; ARI = (7-4)/(12.5-4) = 6/17.
		{"nine items", []int{0, 0, 0, 0, 1, 1, 1, 1, 1}, []int{0, 0, 0, 1, 1, 1, 2, 2, 2}, 6.0 / 17},
		{"both one cluster", []int{1, 1, 1}, []int{4, 4, 4}, 1},
		{"both singletons", []int{0, 1, 2}, []int{2, 0, 1}, 1},
		{"single item", []int{0}, []int{5}, 1},
		{"empty", nil, nil, 1},
		{"length mismatch", []int{0, 1}, []int{0}, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AdjustedRandIndex(tc.a, tc.b)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Fatalf("ARI = %v, want %v", got, tc.want)
			}
		})
	}
}

// benchData is a 100,000 × 6 standardised sample with five overlapping groups, resembling log-RFM features.
func benchData(b *testing.B) [][]float64 {
	b.Helper()
	x, _ := blobs(b, 99, 100000, 6, 5, 1.5, 5)
	z, _, _ := Standardize(x)
	return z
}

func BenchmarkKMeans100kx6(b *testing.B) {
	x := benchData(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := KMeans(x, 5, newRand(uint64(i)), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChooseK100kx6(b *testing.B) {
	x := benchData(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := ChooseK(x, 2, 10, 2000, newRand(uint64(i)), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKMeansSkewed100kx3 fits k = 5 with 4 restarts on 100,000 standardised rows of three skewed,
// unclustered columns, like log RFM (bench/rfm_compare.sh): many rows near the boundaries, so the bounds
// leave much to the full search, and the d = 3 kernels.
func BenchmarkKMeansSkewed100kx3(b *testing.B) {
	r := newRand(17)
	x := make([][]float64, 100000)
	for i := range x {
		x[i] = []float64{math.Log1p(r.ExpFloat64() * 90), math.Log1p(float64(1 + r.IntN(1+r.IntN(12)))), math.Log1p(r.ExpFloat64() * 300)}
	}
	z, _, _ := Standardize(x)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := KMeans(z, 5, newRand(uint64(i)), Options{Restarts: 4}); err != nil {
			b.Fatal(err)
		}
	}
}
