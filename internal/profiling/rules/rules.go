// Package rules owns association-rule mining over category baskets for the
// tag engine's population insights ("buyers of baby formula also buy
// diapers").
//
// Frequent itemsets are found with FP-Growth (an FP-tree with a header table
// and recursive conditional pattern bases); rules X→Y are then derived from
// them with support, confidence, lift, leverage and conviction. A basket is a
// list of item names (product category names); an item listed twice in one
// basket counts once. The support denominator is the number of baskets,
// including empty ones.
//
// The package is pure computation: no I/O, no globals that mutate, and its
// output is deterministic for a given input regardless of basket order or
// item order within baskets.
package rules

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Option defaults, applied by Mine when the corresponding Options field is
// zero, and the limit on Options.MaxLen.
const (
	// DefaultMinSupport is the minimum itemset support (a fraction of
	// baskets) used when Options.MinSupport is zero.
	DefaultMinSupport = 0.01
	// DefaultMinConfidence is the minimum rule confidence used when
	// Options.MinConfidence is zero.
	DefaultMinConfidence = 0.1
	// DefaultMaxLen is the maximum itemset size used when Options.MaxLen is
	// zero.
	DefaultMaxLen = 3
	// MaxItemsetLen is the largest Options.MaxLen that Mine accepts; it bounds
	// the 2^k antecedents enumerated per itemset of size k.
	MaxItemsetLen = 10
)

// InfiniteConviction is the sentinel stored in Rule.Conviction when the
// rule's confidence is exactly 1 (the antecedent never occurs without the
// consequent), where conviction is mathematically +Inf. It is
// math.MaxFloat64, so JSON encoding never fails; compare with == to detect it.
const InfiniteConviction = math.MaxFloat64

// ErrInvalidOptions is returned (wrapped) by Mine when an Options field is out
// of range.
var ErrInvalidOptions = errors.New("rules: invalid options")

// Options configures Mine. A zero field takes its documented default.
// Thresholds are compared with the metric as a float64 computed from the
// integer counts with a single rounding, so a confidence of exactly 21/105
// passes MinConfidence 0.2 and a support of exactly 14/200 passes
// MinSupport 0.07.
type Options struct {
	// MinSupport is the minimum fraction of baskets that must contain an
	// itemset for it to be frequent; it must be in (0, 1]. Zero means
	// DefaultMinSupport.
	MinSupport float64
	// MaxLen is the maximum number of items in an itemset (antecedent plus
	// consequent); it must be in [1, MaxItemsetLen]. Zero means DefaultMaxLen.
	MaxLen int
	// MinConfidence is the minimum confidence of a reported rule; it must be
	// in (0, 1]. Zero means DefaultMinConfidence.
	MinConfidence float64
	// MinLift, when positive, drops rules whose lift is below it. Zero means
	// no lift filter; negative values are invalid.
	MinLift float64
}

// DefaultOptions returns the Options that Mine uses for a zero Options value.
func DefaultOptions() Options {
	return Options{
		MinSupport:    DefaultMinSupport,
		MaxLen:        DefaultMaxLen,
		MinConfidence: DefaultMinConfidence,
	}
}

// Itemset is a frequent set of items with its absolute and relative support.
type Itemset struct {
	// Items holds the item names in ascending lexicographic order.
	Items []string `json:"items"`
	// Count is the number of baskets containing every item.
	Count int `json:"count"`
	// Support is Count divided by the number of baskets.
	Support float64 `json:"support"`
}

// Rule is an association rule Antecedent → Consequent with its metrics.
type Rule struct {
	// Antecedent holds the left-hand items in ascending lexicographic order.
	Antecedent []string `json:"antecedent"`
	// Consequent holds the right-hand items in ascending lexicographic order.
	Consequent []string `json:"consequent"`
	// Support is the fraction of baskets containing antecedent and
	// consequent together.
	Support float64 `json:"support"`
	// Confidence is P(consequent | antecedent).
	Confidence float64 `json:"confidence"`
	// Lift is Confidence divided by the consequent's support.
	Lift float64 `json:"lift"`
	// Leverage is Support minus the product of the antecedent's and the
	// consequent's supports.
	Leverage float64 `json:"leverage"`
	// Conviction is (1 − support(consequent)) / (1 − Confidence), or
	// InfiniteConviction when Confidence is 1.
	Conviction float64 `json:"conviction"`
	// Count is the number of baskets containing antecedent and consequent
	// together.
	Count int `json:"count"`
}

// Mine finds the frequent itemsets of baskets with FP-Growth and returns the
// association rules derived from them that pass opts' thresholds. Rules are
// sorted by lift descending, then confidence descending, then antecedent and
// consequent in lexicographic order. An empty input yields an empty, non-nil
// slice. It returns an error wrapping ErrInvalidOptions when opts is out of
// range.
func Mine(baskets [][]string, opts Options) ([]Rule, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	res := mineItemsets(baskets, o.MinSupport, o.MaxLen)
	return res.rules(o.MinConfidence, o.MinLift), nil
}

// FrequentItemsets returns every itemset of at most maxLen items whose
// support in baskets is at least minSupport, found with FP-Growth. Unlike
// Mine it applies no defaults and never fails: minSupport ≤ 0 keeps every
// itemset that occurs at least once, minSupport > 1 (or NaN) keeps none, and
// maxLen ≤ 0 means no size limit. The result is sorted by size, then by items
// in lexicographic order.
func FrequentItemsets(baskets [][]string, minSupport float64, maxLen int) []Itemset {
	return mineItemsets(baskets, minSupport, maxLen).itemsets()
}

// Normalize returns opts with every zero field set to its default, or an error wrapping
// ErrInvalidOptions naming the field out of range: the thresholds Mine would use.
func (o Options) Normalize() (Options, error) { return o.normalize() }

func (o Options) normalize() (Options, error) {
	if o.MinSupport == 0 {
		o.MinSupport = DefaultMinSupport
	}
	if o.MaxLen == 0 {
		o.MaxLen = DefaultMaxLen
	}
	if o.MinConfidence == 0 {
		o.MinConfidence = DefaultMinConfidence
	}
	// The negated comparisons also reject NaN.
	if !(o.MinSupport > 0 && o.MinSupport <= 1) {
		return o, fmt.Errorf("%w: MinSupport must be in (0, 1]", ErrInvalidOptions)
	}
	if o.MaxLen < 1 || o.MaxLen > MaxItemsetLen {
		return o, fmt.Errorf("%w: MaxLen must be in [1, %d]", ErrInvalidOptions, MaxItemsetLen)
	}
	if !(o.MinConfidence > 0 && o.MinConfidence <= 1) {
		return o, fmt.Errorf("%w: MinConfidence must be in (0, 1]", ErrInvalidOptions)
	}
	if !(o.MinLift >= 0) || math.IsInf(o.MinLift, 1) {
		return o, fmt.Errorf("%w: MinLift must be finite and non-negative", ErrInvalidOptions)
	}
	return o, nil
}

// minCountFor returns the smallest count c ≥ 1 with c/n ≥ minSupport, using
// the same floating-point comparison a caller would, or n+1 when no count
// qualifies.
func minCountFor(n int, minSupport float64) int {
	if n == 0 || !(minSupport <= 1) {
		return n + 1
	}
	if minSupport <= 0 {
		return 1
	}
	nf := float64(n)
	c := int(math.Ceil(minSupport * nf))
	for c > 1 && float64(c-1)/nf >= minSupport {
		c--
	}
	for c <= n && float64(c)/nf < minSupport {
		c++
	}
	return max(c, 1)
}

// mined holds FP-Growth output in rank space: item ranks index names, which
// are ordered by descending frequency then name.
type mined struct {
	n     int      // number of baskets
	names []string // rank → item name
	sets  []rankSet
}

type rankSet struct {
	items []int32 // ascending ranks
	count int
}

func mineItemsets(baskets [][]string, minSupport float64, maxLen int) *mined {
	m := &mined{n: len(baskets)}
	minCount := minCountFor(len(baskets), minSupport)
	if minCount > len(baskets) {
		return m
	}

	// Pass 1: assign ids, count each item once per basket, keep a flat copy.
	ids := make(map[string]int32)
	var names []string
	var counts []int
	var stamp []int
	flat := make([]int32, 0, len(baskets)*3)
	offs := make([]int, len(baskets)+1)
	for b, basket := range baskets {
		for _, s := range basket {
			id, ok := ids[s]
			if !ok {
				id = int32(len(names))
				ids[s] = id
				names = append(names, s)
				counts = append(counts, 0)
				stamp = append(stamp, -1)
			}
			if stamp[id] != b {
				stamp[id] = b
				counts[id]++
				flat = append(flat, id)
			}
		}
		offs[b+1] = len(flat)
	}

	// Rank the frequent items: descending count, then name.
	var freq []int32
	for id, c := range counts {
		if c >= minCount {
			freq = append(freq, int32(id))
		}
	}
	slices.SortFunc(freq, func(a, b int32) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(names[a], names[b])
	})
	if len(freq) == 0 {
		return m
	}
	rankOf := make([]int32, len(names))
	for i := range rankOf {
		rankOf[i] = -1
	}
	m.names = make([]string, len(freq))
	for r, id := range freq {
		rankOf[id] = int32(r)
		m.names[r] = names[id]
	}

	// Pass 2: build the FP-tree from each basket's frequent items in rank
	// order.
	tree := newTree(len(freq), len(baskets))
	var path []int32
	for b := range baskets {
		path = path[:0]
		for _, id := range flat[offs[b]:offs[b+1]] {
			if r := rankOf[id]; r >= 0 {
				path = append(path, r)
			}
		}
		slices.Sort(path)
		tree.insert(path, 1)
	}

	g := growth{minCount: minCount, maxLen: maxLen, out: &m.sets}
	g.mine(tree, nil)
	return m
}

// fpNode is a node of an FP-tree stored in an arena; index 0 is the root and
// -1 means none.
type fpNode struct {
	item    int32
	parent  int32
	child   int32 // first child
	sibling int32 // next sibling
	next    int32 // next node with the same item (header-table link)
	count   int
}

// fpTree is an FP-tree over item ranks [0, len(heads)) with its header table.
type fpTree struct {
	nodes  []fpNode
	heads  []int32 // item → first node in its node-link chain
	counts []int   // item → total count in the tree
}

func newTree(nItems, sizeHint int) *fpTree {
	t := &fpTree{
		nodes:  make([]fpNode, 1, min(sizeHint, 1<<16)+1),
		heads:  make([]int32, nItems),
		counts: make([]int, nItems),
	}
	t.nodes[0] = fpNode{item: -1, parent: -1, child: -1, sibling: -1, next: -1}
	for i := range t.heads {
		t.heads[i] = -1
	}
	return t
}

// insert adds path (ascending ranks) with weight w.
func (t *fpTree) insert(path []int32, w int) {
	cur := int32(0)
	for _, item := range path {
		c := t.nodes[cur].child
		for c >= 0 && t.nodes[c].item != item {
			c = t.nodes[c].sibling
		}
		if c < 0 {
			c = int32(len(t.nodes))
			t.nodes = append(t.nodes, fpNode{
				item:    item,
				parent:  cur,
				child:   -1,
				sibling: t.nodes[cur].child,
				next:    t.heads[item],
			})
			t.nodes[cur].child = c
			t.heads[item] = c
		}
		t.nodes[c].count += w
		t.counts[item] += w
		cur = c
	}
}

// growth carries the FP-Growth recursion parameters.
type growth struct {
	minCount int
	maxLen   int // ≤ 0: unlimited
	out      *[]rankSet
}

func (g *growth) emit(suffix []int32, item int32, count int) []int32 {
	set := make([]int32, len(suffix)+1)
	copy(set, suffix)
	set[len(suffix)] = item
	sorted := slices.Clone(set)
	slices.Sort(sorted)
	*g.out = append(*g.out, rankSet{items: sorted, count: count})
	return set
}

// mine emits suffix ∪ {item} for every frequent item of t (t is the
// conditional tree of suffix) and recurses into conditional pattern bases.
func (g *growth) mine(t *fpTree, suffix []int32) {
	for item := int32(len(t.heads)) - 1; item >= 0; item-- {
		c := t.counts[item]
		if c < g.minCount {
			continue
		}
		set := g.emit(suffix, item, c)
		if g.maxLen > 0 && len(set) >= g.maxLen {
			continue
		}
		// Count items on the prefix paths (the conditional pattern base);
		// every item above a node has a smaller rank.
		condCounts := make([]int, item)
		found := false
		for n := t.heads[item]; n >= 0; n = t.nodes[n].next {
			w := t.nodes[n].count
			for p := t.nodes[n].parent; p > 0; p = t.nodes[p].parent {
				condCounts[t.nodes[p].item] += w
			}
		}
		for _, cc := range condCounts {
			if cc >= g.minCount {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		if g.maxLen > 0 && len(set)+1 == g.maxLen {
			// The next level is the last: its itemsets' counts are exactly
			// condCounts, so no conditional tree is needed.
			for j := item - 1; j >= 0; j-- {
				if condCounts[j] >= g.minCount {
					g.emit(set, j, condCounts[j])
				}
			}
			continue
		}
		cond := newTree(int(item), 0)
		var path []int32
		for n := t.heads[item]; n >= 0; n = t.nodes[n].next {
			path = path[:0]
			for p := t.nodes[n].parent; p > 0; p = t.nodes[p].parent {
				if it := t.nodes[p].item; condCounts[it] >= g.minCount {
					path = append(path, it)
				}
			}
			if len(path) == 0 {
				continue
			}
			slices.Reverse(path)
			cond.insert(path, t.nodes[n].count)
		}
		g.mine(cond, set)
	}
}

func (m *mined) namesOf(ranks []int32) []string {
	out := make([]string, len(ranks))
	for i, r := range ranks {
		out[i] = m.names[r]
	}
	slices.Sort(out)
	return out
}

func (m *mined) itemsets() []Itemset {
	out := make([]Itemset, 0, len(m.sets))
	for _, s := range m.sets {
		out = append(out, Itemset{
			Items:   m.namesOf(s.items),
			Count:   s.count,
			Support: float64(s.count) / float64(m.n),
		})
	}
	slices.SortFunc(out, func(a, b Itemset) int {
		if c := cmp.Compare(len(a.Items), len(b.Items)); c != 0 {
			return c
		}
		return slices.Compare(a.Items, b.Items)
	})
	return out
}

func rankKey(buf []byte, ranks []int32) []byte {
	buf = buf[:0]
	for _, r := range ranks {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(r))
	}
	return buf
}

func (m *mined) rules(minConfidence, minLift float64) []Rule {
	out := []Rule{}
	if m.n == 0 {
		return out
	}
	countOf := make(map[string]int, len(m.sets))
	var key []byte
	for _, s := range m.sets {
		key = rankKey(key, s.items)
		countOf[string(key)] = s.count
	}
	lookup := func(ranks []int32) int {
		key = rankKey(key, ranks)
		return countOf[string(key)]
	}

	nf := float64(m.n)
	var ante, cons []int32
	for _, s := range m.sets {
		k := len(s.items)
		if k < 2 {
			continue
		}
		for mask := 1; mask < 1<<k-1; mask++ {
			ante, cons = ante[:0], cons[:0]
			for i, r := range s.items {
				if mask&(1<<i) != 0 {
					ante = append(ante, r)
				} else {
					cons = append(cons, r)
				}
			}
			// Every subset of a frequent itemset is frequent and no longer,
			// so both counts are present.
			cx, cy := lookup(ante), lookup(cons)
			conf := float64(s.count) / float64(cx)
			if conf < minConfidence {
				continue
			}
			// Computed symmetrically so that lift(X→Y) == lift(Y→X).
			lift := float64(s.count) * nf / (float64(cx) * float64(cy))
			if minLift > 0 && lift < minLift {
				continue
			}
			sy := float64(cy) / nf
			conv := InfiniteConviction
			if s.count != cx {
				conv = (1 - sy) / (1 - conf)
			}
			out = append(out, Rule{
				Antecedent: m.namesOf(ante),
				Consequent: m.namesOf(cons),
				Support:    float64(s.count) / nf,
				Confidence: conf,
				Lift:       lift,
				Leverage:   float64(s.count)/nf - (float64(cx)/nf)*sy,
				Conviction: conv,
				Count:      s.count,
			})
		}
	}
	slices.SortFunc(out, compareRules)
	return out
}

func compareRules(a, b Rule) int {
	if c := cmp.Compare(b.Lift, a.Lift); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Confidence, a.Confidence); c != 0 {
		return c
	}
	if c := slices.Compare(a.Antecedent, b.Antecedent); c != 0 {
		return c
	}
	return slices.Compare(a.Consequent, b.Consequent)
}
