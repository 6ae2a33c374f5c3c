// Package cart owns the depth-limited CART classification tree (Gini impurity) behind the tag engine's "key
// purchase factors" insight: fitting on numeric features, prediction, normalised impurity-decrease feature
// importances, and a readable description of the splits (rules and an indented text form).
//
// It is pure computation over plain slices: no I/O, no globals, no randomness; the fitted Tree has only
// exported fields and serialises to JSON so that it can be frozen. Fitting presorts every feature once and
// keeps each node's rows sorted per feature by stable partitioning, so the best split of a node is found by one
// linear scan per feature; ties between splits go to the lower feature index and then the lower threshold.
package cart

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Sentinel errors returned (wrapped) by Fit.
var (
	// ErrEmpty reports an input with no rows or no features.
	ErrEmpty = errors.New("cart: empty input")
	// ErrDimension reports rows of unequal length or a label count different from the row count.
	ErrDimension = errors.New("cart: dimension mismatch")
	// ErrNonFinite reports a NaN or infinite feature value.
	ErrNonFinite = errors.New("cart: non-finite value")
	// ErrLabel reports a negative class label.
	ErrLabel = errors.New("cart: invalid class label")
	// ErrFeatureNames reports feature names of the wrong count, or empty or duplicate names.
	ErrFeatureNames = errors.New("cart: invalid feature names")
)

// Default values used for zero (or negative) fields of Options.
const (
	// DefaultMaxDepth is the default maximum depth of the tree.
	DefaultMaxDepth = 4
	// DefaultMinLeaf is the default minimum number of training rows per leaf.
	DefaultMinLeaf = 20
)

// Options limits the size of the tree. The zero value selects the defaults.
type Options struct {
	// MaxDepth is the maximum number of splits on any root-to-leaf path (default DefaultMaxDepth).
	MaxDepth int
	// MinLeaf is the minimum number of training rows in every leaf (default DefaultMinLeaf). Keeping it at 10
	// or more keeps every leaf a reportable aggregate under the insights' small-cell suppression.
	MinLeaf int
}

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MinLeaf <= 0 {
		o.MinLeaf = DefaultMinLeaf
	}
	return o
}

// Node is one node of a Tree. A leaf has Feature -1; a split node sends a row to Left when
// row[Feature] <= Threshold and to Right otherwise (including when the value is NaN).
type Node struct {
	// Feature is the index of the split feature, or -1 for a leaf.
	Feature int `json:"feature"`
	// Threshold is the split point: the midpoint between the two training values it separates.
	Threshold float64 `json:"threshold"`
	// Left and Right are the indices in Tree.Nodes of the children of a split node (0 for a leaf).
	Left  int `json:"left"`
	Right int `json:"right"`
	// Depth is the number of splits above the node (0 for the root).
	Depth int `json:"depth"`
	// N is the number of training rows reaching the node.
	N int `json:"n"`
	// Counts holds the number of training rows of each class at the node, in Tree.Classes order.
	Counts []int `json:"counts"`
	// Gini is the Gini impurity of the node's training rows.
	Gini float64 `json:"gini"`
	// Class is the majority class label at the node (the smaller label on ties).
	Class int `json:"class"`
	// Prob is the share of the majority class at the node.
	Prob float64 `json:"prob"`
	// Decrease is the weighted impurity decrease of the split, N·Gini − N_L·Gini_L − N_R·Gini_R (0 for leaves).
	Decrease float64 `json:"decrease"`
}

// Tree is a fitted classification tree. Nodes[0] is the root; nodes are stored in depth-first pre-order
// (a node, its left subtree, its right subtree).
type Tree struct {
	// FeatureNames names the features, in column order.
	FeatureNames []string `json:"feature_names"`
	// Classes lists the distinct training labels in increasing order.
	Classes []int `json:"classes"`
	// Nodes holds the nodes, root first.
	Nodes []Node `json:"nodes"`
}

// Gini returns the Gini impurity 1 − Σ p_c² of a vector of class counts, or 0 when the counts sum to 0.
// Negative counts are treated as 0.
func Gini(counts []int) float64 {
	var n, ss float64
	for _, c := range counts {
		if c > 0 {
			n += float64(c)
			ss += float64(c) * float64(c)
		}
	}
	if n == 0 {
		return 0
	}
	return 1 - ss/(n*n)
}

// Fit grows a CART classification tree on the numeric feature matrix x (rows of equal length) and
// non-negative class labels y. featureNames names the columns; nil means "x0", "x1", …. A node becomes a leaf
// when it is pure, at MaxDepth, has fewer than 2·MinLeaf rows, or no split with both sides of at least
// MinLeaf rows lowers the impurity. Fit is deterministic.
func Fit(x [][]float64, y []int, featureNames []string, opts Options) (Tree, error) {
	if len(x) == 0 || len(x[0]) == 0 {
		return Tree{}, ErrEmpty
	}
	n, d := len(x), len(x[0])
	if n > math.MaxInt32 {
		return Tree{}, fmt.Errorf("%d rows: %w", n, ErrDimension)
	}
	if len(y) != n {
		return Tree{}, fmt.Errorf("%d labels for %d rows: %w", len(y), n, ErrDimension)
	}
	names, err := checkNames(featureNames, d)
	if err != nil {
		return Tree{}, err
	}
	cols := make([][]float64, d)
	for f := range cols {
		cols[f] = make([]float64, n)
	}
	for i, r := range x {
		if len(r) != d {
			return Tree{}, fmt.Errorf("row %d has %d columns, want %d: %w", i, len(r), d, ErrDimension)
		}
		for f, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return Tree{}, fmt.Errorf("row %d column %d: %w", i, f, ErrNonFinite)
			}
			cols[f][i] = v
		}
	}
	for i, c := range y {
		if c < 0 {
			return Tree{}, fmt.Errorf("row %d: %w", i, ErrLabel)
		}
	}
	classes := slices.Compact(slices.Sorted(slices.Values(y)))
	cls := make([]int32, n)
	for i, c := range y {
		k, _ := slices.BinarySearch(classes, c)
		cls[i] = int32(k)
	}
	b := &builder{
		opts:    opts.withDefaults(),
		cols:    cols,
		cls:     cls,
		nClass:  len(classes),
		order:   presort(cols),
		goLeft:  make([]bool, n),
		scratch: make([]int32, n),
	}
	t := Tree{FeatureNames: names, Classes: classes}
	b.grow(&t, 0, n, 0)
	return t, nil
}

func checkNames(names []string, d int) ([]string, error) {
	if names == nil {
		out := make([]string, d)
		for f := range out {
			out[f] = "x" + strconv.Itoa(f)
		}
		return out, nil
	}
	if len(names) != d {
		return nil, fmt.Errorf("%d names for %d features: %w", len(names), d, ErrFeatureNames)
	}
	seen := make(map[string]bool, d)
	for f, s := range names {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("feature %d: empty or duplicate name: %w", f, ErrFeatureNames)
		}
		seen[s] = true
	}
	return slices.Clone(names), nil
}

// presort returns, per feature, the row indices sorted by value (ties by row index), sorting features in
// parallel. Values are finite (checked by Fit), so plain comparisons are a total order.
func presort(cols [][]float64) [][]int32 {
	type entry struct {
		v float64
		i int32
	}
	order := make([][]int32, len(cols))
	work := make(chan int, len(cols))
	for f := range cols {
		work <- f
	}
	close(work)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(cols)); w++ {
		wg.Go(func() {
			buf := make([]entry, len(cols[0]))
			for f := range work {
				for i, v := range cols[f] {
					buf[i] = entry{v, int32(i)}
				}
				slices.SortFunc(buf, func(a, b entry) int {
					switch {
					case a.v < b.v:
						return -1
					case a.v > b.v:
						return 1
					}
					return cmp.Compare(a.i, b.i)
				})
				o := make([]int32, len(buf))
				for k, e := range buf {
					o[k] = e.i
				}
				order[f] = o
			}
		})
	}
	wg.Wait()
	return order
}

// builder holds the training data during Fit. For every feature f, order[f][lo:hi] lists the rows of the
// node covering [lo, hi), sorted by that feature.
type builder struct {
	opts    Options
	cols    [][]float64
	cls     []int32
	nClass  int
	order   [][]int32
	goLeft  []bool
	scratch []int32
}

type split struct {
	feature   int
	pos       int // number of rows going left
	threshold float64
	score     float64 // Σ_children Σ_c n_c² / n_child, to maximise
}

// grow appends the node for rows [lo, hi) and its subtree, returning the node's index.
func (b *builder) grow(t *Tree, lo, hi, depth int) int {
	counts := make([]int, b.nClass)
	for _, i := range b.order[0][lo:hi] {
		counts[b.cls[i]]++
	}
	n := hi - lo
	node := Node{Feature: -1, Depth: depth, N: n, Counts: counts, Gini: Gini(counts)}
	best := 0
	for c, v := range counts {
		if v > counts[best] {
			best = c
		}
	}
	node.Class = t.Classes[best]
	node.Prob = float64(counts[best]) / float64(n)
	idx := len(t.Nodes)
	t.Nodes = append(t.Nodes, node)
	if depth >= b.opts.MaxDepth || n < 2*b.opts.MinLeaf || node.Gini == 0 {
		return idx
	}
	s, ok := b.bestSplit(lo, hi, counts)
	if !ok {
		return idx
	}
	var sumSq int64
	for _, v := range counts {
		sumSq += int64(v) * int64(v)
	}
	b.partition(lo, hi, s)
	t.Nodes[idx].Feature = s.feature
	t.Nodes[idx].Threshold = s.threshold
	t.Nodes[idx].Decrease = s.score - float64(sumSq)/float64(n)
	left := b.grow(t, lo, lo+s.pos, depth+1)
	right := b.grow(t, lo+s.pos, hi, depth+1)
	t.Nodes[idx].Left, t.Nodes[idx].Right = left, right
	return idx
}

// bestSplit scans every feature's sorted rows of [lo, hi) and returns the split maximising the impurity
// decrease, if one lowers the impurity with at least MinLeaf rows on each side.
func (b *builder) bestSplit(lo, hi int, counts []int) (split, bool) {
	n := hi - lo
	minLeaf := b.opts.MinLeaf
	var sumSq int64
	for _, v := range counts {
		sumSq += int64(v) * int64(v)
	}
	parent := float64(sumSq) / float64(n)
	best := split{feature: -1, score: parent + 1e-12*float64(n)} // must beat the parent by more than rounding
	left := make([]int64, b.nClass)
	right := make([]int64, b.nClass)
	for f, ord := range b.order {
		col := b.cols[f]
		rows := ord[lo:hi]
		if col[rows[0]] == col[rows[n-1]] {
			continue // constant in this node
		}
		clear(left)
		for c, v := range counts {
			right[c] = int64(v)
		}
		ssL, ssR := int64(0), sumSq
		for p := 0; p < n-minLeaf; p++ {
			c := b.cls[rows[p]]
			ssL += 2*left[c] + 1
			left[c]++
			ssR -= 2*right[c] - 1
			right[c]--
			nL := p + 1
			if nL < minLeaf {
				continue
			}
			v, next := col[rows[p]], col[rows[p+1]]
			if v == next {
				continue
			}
			score := float64(ssL)/float64(nL) + float64(ssR)/float64(n-nL)
			if score > best.score {
				best = split{feature: f, pos: nL, threshold: midpoint(v, next), score: score}
			}
		}
	}
	return best, best.feature >= 0
}

// midpoint returns a threshold t with a <= t < b, the midpoint when representable.
func midpoint(a, b float64) float64 {
	t := a/2 + b/2
	if t < a || t >= b {
		return a
	}
	return t
}

// partition stably splits every feature's rows of [lo, hi) into the left rows followed by the right rows.
func (b *builder) partition(lo, hi int, s split) {
	for _, i := range b.order[s.feature][lo : lo+s.pos] {
		b.goLeft[i] = true
	}
	for _, i := range b.order[s.feature][lo+s.pos : hi] {
		b.goLeft[i] = false
	}
	for _, ord := range b.order {
		rows := ord[lo:hi]
		l, r := 0, 0
		for _, i := range rows {
			if b.goLeft[i] {
				rows[l] = i
				l++
			} else {
				b.scratch[r] = i
				r++
			}
		}
		copy(rows[l:], b.scratch[:r])
	}
}

// leaf returns the index of the leaf reached by row, or -1 when the tree is empty or the row is too short.
func (t Tree) leaf(row []float64) int {
	if len(t.Nodes) == 0 {
		return -1
	}
	i := 0
	for steps := 0; steps <= len(t.Nodes); steps++ {
		nd := t.Nodes[i]
		if nd.Feature < 0 {
			return i
		}
		if nd.Feature >= len(row) || nd.Left <= i || nd.Right <= i || nd.Left >= len(t.Nodes) || nd.Right >= len(t.Nodes) {
			return -1 // short row, or a malformed (e.g. hand-edited) tree: children always follow their parent
		}
		if row[nd.Feature] <= nd.Threshold {
			i = nd.Left
		} else {
			i = nd.Right
		}
	}
	return -1
}

// Predict returns the majority class of the leaf that row reaches and that class's share among the leaf's
// training rows. It returns (-1, 0) when the tree is empty or row has fewer columns than a split needs. A NaN
// value goes to the right child.
func (t Tree) Predict(row []float64) (class int, prob float64) {
	i := t.leaf(row)
	if i < 0 {
		return -1, 0
	}
	return t.Nodes[i].Class, t.Nodes[i].Prob
}

// Importances returns, for every feature name, the total weighted Gini decrease of the splits on that
// feature divided by the total over all splits, so the values sum to 1 when the tree has any split; they are
// all 0 when it has none.
func (t Tree) Importances() map[string]float64 {
	out := make(map[string]float64, len(t.FeatureNames))
	sums := make([]float64, len(t.FeatureNames))
	var total float64
	for _, nd := range t.Nodes {
		if nd.Feature >= 0 && nd.Feature < len(sums) && nd.Decrease > 0 {
			sums[nd.Feature] += nd.Decrease
			total += nd.Decrease
		}
	}
	for f, name := range t.FeatureNames {
		if total > 0 {
			out[name] = sums[f] / total
		} else {
			out[name] = 0
		}
	}
	return out
}

// Depth returns the largest depth of any node (0 for a single leaf or an empty tree).
func (t Tree) Depth() int {
	d := 0
	for _, nd := range t.Nodes {
		d = max(d, nd.Depth)
	}
	return d
}

// Condition is one test on the path to a leaf: Feature Op Threshold, with Op "<=" or ">".
type Condition struct {
	// Feature is the feature's name and Index its column.
	Feature string `json:"feature"`
	Index   int    `json:"index"`
	// Op is "<=" (left branch) or ">" (right branch).
	Op string `json:"op"`
	// Threshold is the split point.
	Threshold float64 `json:"threshold"`
}

// String renders the condition as "name <= 1.5".
func (c Condition) String() string { return c.Feature + " " + c.Op + " " + formatFloat(c.Threshold) }

// Rule describes one leaf: the conjunction of conditions leading to it and its prediction.
type Rule struct {
	// Conditions are the tests on the path, with repeated tests of a feature in the same direction merged
	// into the tightest one; ordered by first use on the path.
	Conditions []Condition `json:"conditions"`
	// Class and Prob are the leaf's prediction and the share of that class among its training rows.
	Class int     `json:"class"`
	Prob  float64 `json:"prob"`
	// Support is the number of training rows reaching the leaf.
	Support int `json:"support"`
}

// String renders the rule as "a <= 1 AND b > 2 => class 1 (p=0.900, n=40)".
func (r Rule) String() string {
	parts := make([]string, len(r.Conditions))
	for i, c := range r.Conditions {
		parts[i] = c.String()
	}
	lhs := strings.Join(parts, " AND ")
	if lhs == "" {
		lhs = "always"
	}
	return fmt.Sprintf("%s => class %d (p=%.3f, n=%d)", lhs, r.Class, r.Prob, r.Support)
}

// Rules returns one rule per leaf, in left-to-right order.
func (t Tree) Rules() []Rule {
	if len(t.Nodes) == 0 {
		return nil
	}
	var out []Rule
	var walk func(i int, path []Condition)
	walk = func(i int, path []Condition) {
		nd := t.Nodes[i]
		if nd.Feature < 0 || nd.Left <= i || nd.Right <= i || nd.Left >= len(t.Nodes) || nd.Right >= len(t.Nodes) {
			out = append(out, Rule{Conditions: mergeConditions(path), Class: nd.Class, Prob: nd.Prob, Support: nd.N})
			return
		}
		name := t.featureName(nd.Feature)
		walk(nd.Left, append(slices.Clip(path), Condition{Feature: name, Index: nd.Feature, Op: "<=", Threshold: nd.Threshold}))
		walk(nd.Right, append(slices.Clip(path), Condition{Feature: name, Index: nd.Feature, Op: ">", Threshold: nd.Threshold}))
	}
	walk(0, nil)
	return out
}

func (t Tree) featureName(f int) string {
	if f >= 0 && f < len(t.FeatureNames) {
		return t.FeatureNames[f]
	}
	return "x" + strconv.Itoa(f)
}

// mergeConditions keeps, per feature and direction, only the tightest test, at the position of its first use.
func mergeConditions(path []Condition) []Condition {
	var out []Condition
	for _, c := range path {
		merged := false
		for j := range out {
			if out[j].Index == c.Index && out[j].Op == c.Op {
				if (c.Op == "<=" && c.Threshold < out[j].Threshold) || (c.Op == ">" && c.Threshold > out[j].Threshold) {
					out[j].Threshold = c.Threshold
				}
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, c)
		}
	}
	return out
}

// String renders the tree as indented if/else text with each node's size and impurity, e.g.
//
//	if recency_days <= 45.5:  # n=1000 gini=0.480
//	  class 1 (p=0.800, n=400)
//	else:
//	  class 0 (p=0.900, n=600)
func (t Tree) String() string {
	if len(t.Nodes) == 0 {
		return "(empty tree)\n"
	}
	var sb strings.Builder
	var walk func(i int, indent string)
	walk = func(i int, indent string) {
		nd := t.Nodes[i]
		if nd.Feature < 0 || nd.Left <= i || nd.Right <= i || nd.Left >= len(t.Nodes) || nd.Right >= len(t.Nodes) {
			fmt.Fprintf(&sb, "%sclass %d (p=%.3f, n=%d)\n", indent, nd.Class, nd.Prob, nd.N)
			return
		}
		fmt.Fprintf(&sb, "%sif %s <= %s:  # n=%d gini=%.3f\n", indent, t.featureName(nd.Feature), formatFloat(nd.Threshold), nd.N, nd.Gini)
		walk(nd.Left, indent+"  ")
		fmt.Fprintf(&sb, "%selse:\n", indent)
		walk(nd.Right, indent+"  ")
	}
	walk(0, "")
	return sb.String()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
