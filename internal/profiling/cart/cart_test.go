package cart

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// uniformRows returns n rows of d features uniform on [0, 1).
func uniformRows(t testing.TB, seed uint64, n, d int) [][]float64 {
	t.Helper()
	r := newRand(seed)
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = r.Float64()
		}
	}
	return x
}

func accuracy(t *testing.T, tree Tree, x [][]float64, y []int) float64 {
	t.Helper()
	ok := 0
	for i, row := range x {
		if c, _ := tree.Predict(row); c == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(x))
}

// checkStructure verifies the invariants of a fitted tree and the options it was grown with.
func checkStructure(t *testing.T, tree Tree, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	if tree.Depth() > opts.MaxDepth {
		t.Fatalf("depth %d > MaxDepth %d", tree.Depth(), opts.MaxDepth)
	}
	for i, nd := range tree.Nodes {
		sum := 0
		for _, c := range nd.Counts {
			sum += c
		}
		if sum != nd.N {
			t.Fatalf("node %d: counts sum %d, N %d", i, sum, nd.N)
		}
		if math.Abs(nd.Gini-Gini(nd.Counts)) > 1e-15 {
			t.Fatalf("node %d: gini %v, counts give %v", i, nd.Gini, Gini(nd.Counts))
		}
		if nd.Feature < 0 {
			if nd.N < opts.MinLeaf {
				t.Fatalf("leaf %d has %d rows < MinLeaf %d", i, nd.N, opts.MinLeaf)
			}
			continue
		}
		l, r := tree.Nodes[nd.Left], tree.Nodes[nd.Right]
		if l.N+r.N != nd.N || l.Depth != nd.Depth+1 || r.Depth != nd.Depth+1 {
			t.Fatalf("node %d: children n %d+%d (depths %d, %d) for n %d depth %d", i, l.N, r.N, l.Depth, r.Depth, nd.N, nd.Depth)
		}
		want := float64(nd.N)*nd.Gini - float64(l.N)*l.Gini - float64(r.N)*r.Gini
		if nd.Decrease <= 0 || math.Abs(nd.Decrease-want) > 1e-9*float64(nd.N) {
			t.Fatalf("node %d: decrease %v, want %v > 0", i, nd.Decrease, want)
		}
	}
}

func TestGini(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		want   float64
	}{
		{"empty", nil, 0},
		{"all zero", []int{0, 0}, 0},
		{"pure", []int{10, 0}, 0},
		{"even two", []int{5, 5}, 0.5},
		{"even four", []int{1, 1, 1, 1}, 0.75},
		{"three to one", []int{3, 1}, 1 - (9.0+1)/16},        // 0.375
		{"hand example", []int{2, 3, 5}, 1 - (4.0+9+25)/100}, // 0.62
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Gini(tc.counts); math.Abs(got-tc.want) > 1e-15 {
				t.Fatalf("Gini(%v) = %v, want %v", tc.counts, got, tc.want)
			}
		})
	}
}

func TestFitSingleFeatureThreshold(t *testing.T) {
	const cut = 0.6
	tests := []struct {
		name      string
		noise     float64 // share of flipped labels
		exact     bool    // threshold must be the midpoint around cut and x2 the only split feature
		tol       float64
		minImport float64
	}{
		{"clean", 0, true, 0, 1},
		{"5% label noise", 0.05, false, 0.03, 0.8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := uniformRows(t, 3, 5000, 5)
			r := newRand(4)
			y := make([]int, len(x))
			below, above := math.Inf(-1), math.Inf(1)
			for i, row := range x {
				if row[2] > cut {
					y[i] = 1
					above = math.Min(above, row[2])
				} else {
					below = math.Max(below, row[2])
				}
				if r.Float64() < tc.noise {
					y[i] = 1 - y[i]
				}
			}
			names := []string{"recency", "frequency", "monetary", "tenure", "sessions"}
			tree, err := Fit(x, y, names, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, tree, Options{})
			root := tree.Nodes[0]
			if root.Feature != 2 {
				t.Fatalf("root splits on feature %d, want 2\n%s", root.Feature, tree)
			}
			if tc.exact {
				if want := below/2 + above/2; root.Threshold != want {
					t.Fatalf("threshold %v, want midpoint %v", root.Threshold, want)
				}
				if len(tree.Nodes) != 3 {
					t.Fatalf("clean data should give one split, got %d nodes\n%s", len(tree.Nodes), tree)
				}
				if acc := accuracy(t, tree, x, y); acc != 1 {
					t.Fatalf("training accuracy %v, want 1", acc)
				}
			} else if math.Abs(root.Threshold-cut) > tc.tol {
				t.Fatalf("threshold %v, want %v ± %v", root.Threshold, cut, tc.tol)
			}
			imp := tree.Importances()
			if imp["monetary"] < tc.minImport {
				t.Fatalf("importance of monetary %v < %v (%v)", imp["monetary"], tc.minImport, imp)
			}
			var sum float64
			for _, v := range imp {
				sum += v
			}
			if len(imp) != 5 || math.Abs(sum-1) > 1e-12 {
				t.Fatalf("importances %v: want 5 entries summing to 1", imp)
			}
		})
	}
}

func TestFitXOR(t *testing.T) {
	// y = (x0 > 0.3) XOR (x1 > 0.6), plus two irrelevant features. The thresholds are off-centre so that the
	// greedy root split finds a true boundary; depth 2 is then enough to learn the function.
	x := uniformRows(t, 5, 4000, 4)
	y := make([]int, len(x))
	for i, row := range x {
		if (row[0] > 0.3) != (row[1] > 0.6) {
			y[i] = 1
		}
	}
	test := uniformRows(t, 6, 2000, 4)
	ty := make([]int, len(test))
	for i, row := range test {
		if (row[0] > 0.3) != (row[1] > 0.6) {
			ty[i] = 1
		}
	}
	tests := []struct {
		name     string
		depth    int
		min, max float64 // accepted test accuracy
	}{
		{"depth 1 cannot", 1, 0, 0.8},
		{"depth 2 learns", 2, 0.98, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{MaxDepth: tc.depth}
			tree, err := Fit(x, y, nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, tree, opts)
			if acc := accuracy(t, tree, test, ty); acc < tc.min || acc > tc.max {
				t.Fatalf("test accuracy %v outside [%v, %v]\n%s", acc, tc.min, tc.max, tree)
			}
			imp := tree.Importances()
			if tc.depth == 2 && (imp["x0"] < 0.1 || imp["x1"] < 0.1 || imp["x2"]+imp["x3"] > 0.01) {
				t.Fatalf("importances %v: want x0 and x1 only", imp)
			}
		})
	}
}

func TestFitHonoursLimits(t *testing.T) {
	// Labels depend weakly on every feature, with much noise, so the tree wants to grow deep.
	x := uniformRows(t, 7, 3000, 3)
	r := newRand(8)
	y := make([]int, len(x))
	for i, row := range x {
		if r.Float64() < 0.2+0.6*(row[0]+row[1]*row[2])/2 {
			y[i] = 1
		}
	}
	tests := []struct {
		name string
		opts Options
	}{
		{"defaults", Options{}},
		{"depth 1", Options{MaxDepth: 1, MinLeaf: 1}},
		{"depth 3 leaf 1", Options{MaxDepth: 3, MinLeaf: 1}},
		{"depth 8 leaf 5", Options{MaxDepth: 8, MinLeaf: 5}},
		{"depth 10 leaf 200", Options{MaxDepth: 10, MinLeaf: 200}},
		{"leaf larger than half", Options{MaxDepth: 4, MinLeaf: 1501}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Fit(x, y, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkStructure(t, tree, tc.opts)
			o := tc.opts.withDefaults()
			if o.MinLeaf <= 200 && tree.Depth() != o.MaxDepth && o.MaxDepth <= 4 {
				t.Fatalf("depth %d, expected the limit %d to bind", tree.Depth(), o.MaxDepth)
			}
			if o.MinLeaf > len(x)/2 && len(tree.Nodes) != 1 {
				t.Fatalf("%d nodes, want a single leaf", len(tree.Nodes))
			}
		})
	}
}

func TestFitMulticlassLabels(t *testing.T) {
	x := uniformRows(t, 9, 3000, 2)
	y := make([]int, len(x))
	for i, row := range x {
		switch {
		case row[1] < 0.25:
			y[i] = 9
		case row[1] < 0.7:
			y[i] = 2
		default:
			y[i] = 5
		}
	}
	tree, err := Fit(x, y, []string{"a", "b"}, Options{MaxDepth: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, tree, Options{MaxDepth: 2})
	if !reflect.DeepEqual(tree.Classes, []int{2, 5, 9}) {
		t.Fatalf("classes %v", tree.Classes)
	}
	if acc := accuracy(t, tree, x, y); acc != 1 {
		t.Fatalf("accuracy %v\n%s", acc, tree)
	}
	if c, p := tree.Predict([]float64{0.5, 0.1}); c != 9 || p != 1 {
		t.Fatalf("Predict = %d, %v; want 9, 1", c, p)
	}
}

func TestFitDeterministicAndJSON(t *testing.T) {
	x := uniformRows(t, 10, 2000, 4)
	r := newRand(11)
	y := make([]int, len(x))
	for i, row := range x {
		if row[0]+0.5*row[3]+0.3*r.NormFloat64() > 0.8 {
			y[i] = 1
		}
	}
	a, err := Fit(x, y, nil, Options{MaxDepth: 5, MinLeaf: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(x, y, nil, Options{MaxDepth: 5, MinLeaf: 10})
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("refit differs (err %v)", err)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Tree
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, back) {
		t.Fatal("JSON round trip changed the tree")
	}
	for _, row := range x {
		c1, p1 := a.Predict(row)
		c2, p2 := back.Predict(row)
		if c1 != c2 || p1 != p2 {
			t.Fatal("frozen tree predicts differently")
		}
	}
}

func TestFitErrors(t *testing.T) {
	x := [][]float64{{1, 2}, {3, 4}}
	tests := []struct {
		name  string
		x     [][]float64
		y     []int
		names []string
		want  error
	}{
		{"no rows", nil, nil, nil, ErrEmpty},
		{"no features", [][]float64{{}, {}}, []int{0, 1}, nil, ErrEmpty},
		{"label count", x, []int{0}, nil, ErrDimension},
		{"ragged", [][]float64{{1, 2}, {3}}, []int{0, 1}, nil, ErrDimension},
		{"NaN", [][]float64{{1, math.NaN()}, {3, 4}}, []int{0, 1}, nil, ErrNonFinite},
		{"Inf", [][]float64{{1, 2}, {math.Inf(1), 4}}, []int{0, 1}, nil, ErrNonFinite},
		{"negative label", x, []int{0, -1}, nil, ErrLabel},
		{"name count", x, []int{0, 1}, []string{"a"}, ErrFeatureNames},
		{"duplicate names", x, []int{0, 1}, []string{"a", "a"}, ErrFeatureNames},
		{"empty name", x, []int{0, 1}, []string{"a", ""}, ErrFeatureNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Fit(tc.x, tc.y, tc.names, Options{}); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSmallAndDegenerate(t *testing.T) {
	tests := []struct {
		name      string
		x         [][]float64
		y         []int
		wantNodes int
		wantClass int
		wantProb  float64
	}{
		{"single row", [][]float64{{1}}, []int{3}, 1, 3, 1},
		{"constant feature", [][]float64{{1}, {1}, {1}, {1}}, []int{0, 1, 1, 0}, 1, 0, 0.5},
		{"pure labels", [][]float64{{1}, {2}, {3}}, []int{4, 4, 4}, 1, 4, 1},
		{"separable with leaf 1", [][]float64{{1}, {2}, {3}, {4}}, []int{0, 0, 1, 1}, 3, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Fit(tc.x, tc.y, nil, Options{MinLeaf: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(tree.Nodes) != tc.wantNodes {
				t.Fatalf("%d nodes, want %d\n%s", len(tree.Nodes), tc.wantNodes, tree)
			}
			if c, p := tree.Predict(tc.x[0]); c != tc.wantClass || p != tc.wantProb {
				t.Fatalf("Predict = %d, %v; want %d, %v", c, p, tc.wantClass, tc.wantProb)
			}
		})
	}
	if c, p := (Tree{}).Predict([]float64{1}); c != -1 || p != 0 {
		t.Fatalf("empty tree Predict = %d, %v", c, p)
	}
	tree, err := Fit([][]float64{{0, 1}, {0, 2}, {0, 3}, {0, 4}}, []int{0, 0, 1, 1}, nil, Options{MinLeaf: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := tree.Predict([]float64{0}); c != -1 {
		t.Fatalf("short row predicted %d, want -1", c)
	}
	if got := (Tree{}).Importances(); len(got) != 0 {
		t.Fatalf("empty tree importances %v", got)
	}
	single, err := Fit([][]float64{{1, 2}}, []int{1}, []string{"a", "b"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := single.Importances(); !reflect.DeepEqual(got, map[string]float64{"a": 0, "b": 0}) {
		t.Fatalf("leaf-only importances %v", got)
	}
}

func TestRulesAndString(t *testing.T) {
	x := [][]float64{}
	y := []int{}
	for i := 0; i < 400; i++ {
		v := float64(i) / 4 // 0 .. 99.75
		x = append(x, []float64{v, float64(i % 7)})
		switch {
		case v <= 25:
			y = append(y, 1)
		case v <= 50:
			y = append(y, 0)
		default:
			y = append(y, 0)
		}
	}
	// Make the right side need a second split on the same feature: above 75 is class 1 again.
	for i := range x {
		if x[i][0] > 75 {
			y[i] = 1
		}
	}
	tree, err := Fit(x, y, []string{"days_since_order", "weekday"}, Options{MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	rules := tree.Rules()
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
	}
	want := []string{
		"days_since_order <= 25.125 => class 1 (p=1.000, n=101)",
		"days_since_order > 25.125 AND days_since_order <= 75.125 => class 0 (p=1.000, n=200)",
		"days_since_order > 75.125 => class 1 (p=1.000, n=99)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rules\n%s\nwant\n%s\ntree\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), tree)
	}
	s := tree.String()
	for _, frag := range []string{"if days_since_order <= 25.125:", "else:", "  class 0 (p=1.000, n=200)"} {
		if !strings.Contains(s, frag) {
			t.Fatalf("String() lacks %q:\n%s", frag, s)
		}
	}
	if (Tree{}).Rules() != nil || (Tree{}).String() != "(empty tree)\n" {
		t.Fatal("empty tree rules or string")
	}
}

func TestMergeConditions(t *testing.T) {
	tests := []struct {
		name string
		path []Condition
		want []Condition
	}{
		{"empty", nil, nil},
		{
			"tightest upper and lower bound kept",
			[]Condition{{"a", 0, "<=", 9}, {"b", 1, ">", 1}, {"a", 0, "<=", 4}, {"a", 0, ">", 2}, {"b", 1, ">", 3}},
			[]Condition{{"a", 0, "<=", 4}, {"b", 1, ">", 3}, {"a", 0, ">", 2}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeConditions(tc.path); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkFit100kx8(b *testing.B) {
	x := uniformRows(b, 12, 100000, 8)
	r := newRand(13)
	y := make([]int, len(x))
	for i, row := range x {
		if 2*row[0]-row[3]+row[5]*row[6]+0.4*r.NormFloat64() > 0.7 {
			y[i] = 1
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Fit(x, y, nil, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
