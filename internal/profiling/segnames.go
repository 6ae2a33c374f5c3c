package profiling

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// SegmentName is a segment's name in both languages, drawn from its centroid.
type SegmentName struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// descriptor is one word of a segment name: the side of the population a centroid sits on in one column.
type descriptor struct {
	col      int
	high     bool
	zh, en   string
	strength float64 // |z|: how far from the population's mean the centroid sits
}

// clusterWords are the words for a centroid above (high) or below the mean of each clustering column
// (clusterFeatureNames order). Recency is days since the last order: below the mean is recent.
var clusterWords = [][2][2]string{
	{{"近期下单", "recent"}, {"久未下单", "lapsed"}},
	{{"低频", "occasional"}, {"高频", "frequent"}},
	{{"低消费", "low spend"}, {"高消费", "high spend"}},
	{{"少访问", "rare visits"}, {"常访问", "many visits"}},
	{{"浅浏览", "shallow browsing"}, {"深度浏览", "deep browsing"}},
	{{"少弃购", "rarely abandons carts"}, {"常弃购", "abandons carts"}},
	{{"少用优惠", "full price"}, {"偏好优惠", "deal-seeking"}},
}

const (
	// nameZ is how far (in standard deviations) a centroid must sit from the mean for recency, orders or
	// spend to name it; behaviour columns name it only from extraZ, or to tell two segments apart.
	nameZ  = 0.5
	extraZ = 0.8
)

// Names names every segment from its centroid: recency, frequency and spend where the centroid is at least
// half a standard deviation from the population's mean ("recent, frequent, high spend"), then the most
// marked behaviour column if any is far out. Segments whose names would coincide get the column that sets
// them furthest apart; the last resort is the segment's number. The names depend on the centroids alone,
// so they are stable across runs on the same data.
func (cm *ClusterModel) Names() []SegmentName {
	k := len(cm.Centroids)
	words := make([][]descriptor, k)
	for j, c := range cm.Centroids {
		for col := 0; col < min(3, len(c)); col++ {
			if d, ok := describe(col, c[col], nameZ); ok {
				words[j] = append(words[j], d)
			}
		}
		var extra []descriptor
		for col := 3; col < len(c) && col < len(clusterWords); col++ {
			if d, ok := describe(col, c[col], extraZ); ok {
				extra = append(extra, d)
			}
		}
		if len(extra) > 0 {
			words[j] = append(words[j], slices.MaxFunc(extra, func(a, b descriptor) int { return cmp.Compare(a.strength, b.strength) }))
		}
	}
	names := make([]SegmentName, k)
	for j := range words {
		names[j] = join(words[j])
	}
	// Tell apart segments that share a name: add, to each, its most distinctive unused column.
	for _, group := range sameNames(names) {
		for _, j := range group {
			if d, ok := distinctive(cm.Centroids, group, j, words[j]); ok {
				words[j] = append(words[j], d)
				names[j] = join(words[j])
			}
		}
	}
	for _, group := range sameNames(names) {
		for _, j := range group {
			names[j].ZH += fmt.Sprintf("（客群 %d）", j+1)
			names[j].EN += fmt.Sprintf(" (segment %d)", j+1)
		}
	}
	return names
}

func describe(col int, z, threshold float64) (descriptor, bool) {
	if col >= len(clusterWords) || math.Abs(z) < threshold || math.IsNaN(z) {
		return descriptor{}, false
	}
	side := 0
	if z > 0 {
		side = 1
	}
	w := clusterWords[col][side]
	return descriptor{col: col, high: z > 0, zh: w[0], en: w[1], strength: math.Abs(z)}, true
}

// distinctive returns the descriptor of the column, not yet in used, where segment j's centroid is
// furthest from the others of its group.
func distinctive(centroids [][]float64, group []int, j int, used []descriptor) (descriptor, bool) {
	best, bestGap := -1, 0.0
	for col := range min(len(centroids[j]), len(clusterWords)) {
		if slices.ContainsFunc(used, func(d descriptor) bool { return d.col == col }) {
			continue
		}
		gap := math.Inf(1)
		for _, o := range group {
			if o != j {
				gap = min(gap, math.Abs(centroids[j][col]-centroids[o][col]))
			}
		}
		if gap > bestGap && centroids[j][col] != 0 {
			best, bestGap = col, gap
		}
	}
	if best < 0 {
		return descriptor{}, false
	}
	return describe(best, centroids[j][best], 0)
}

func join(ds []descriptor) SegmentName {
	if len(ds) == 0 {
		return SegmentName{ZH: "中等", EN: "average"}
	}
	zh, en := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		zh[i], en[i] = d.zh, d.en
	}
	return SegmentName{ZH: strings.Join(zh, "、"), EN: strings.Join(en, ", ")}
}

// sameNames returns the groups (two or more segments) that share an English name, in segment order.
func sameNames(names []SegmentName) [][]int {
	by := map[string][]int{}
	var order []string
	for j, n := range names {
		if by[n.EN] == nil {
			order = append(order, n.EN)
		}
		by[n.EN] = append(by[n.EN], j)
	}
	var out [][]int
	for _, en := range order {
		if len(by[en]) > 1 {
			out = append(out, by[en])
		}
	}
	return out
}
