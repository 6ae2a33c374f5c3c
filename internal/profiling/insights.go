package profiling

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/cart"
	"github.com/profilevault/profilevault/internal/profiling/rules"
)

// MinCell is the fewest subjects an insight cell may describe; smaller cells are suppressed.
const MinCell = 10

// segmentNames lists the RFM segments in a fixed order (best first).
var segmentNames = []string{"champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
	"about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost"}

// SegmentNames returns the RFM segment names in a fixed order, best first (the order of RFMReport cells).
func SegmentNames() []string { return slices.Clone(segmentNames) }

// RFMCell is one RFM segment of the RFM insight.
type RFMCell struct {
	// Segment is the segment name.
	Segment string `json:"segment"`
	// Subjects is the number of buyers in the segment (0 when suppressed).
	Subjects int `json:"subjects"`
	// RevenueShare is the segment's share of the total net revenue (0 when suppressed).
	RevenueShare float64 `json:"revenue_share"`
	// Suppressed is set when the cell describes fewer than MinCell subjects, or when it had to be hidden so
	// that a single small cell cannot be recovered from the total.
	Suppressed bool `json:"suppressed"`
}

// RFMReport is the RFM insight: buyers per segment and their share of net revenue.
type RFMReport struct {
	// Subjects is the number of buyers counted.
	Subjects int `json:"subjects"`
	// Segments holds one cell per segment, in SegmentNames order.
	Segments []RFMCell `json:"segments"`
}

// RFMInsight returns the RFM segment counts and revenue shares of the buyers among features (those with
// transactions allowed and at least one order) scored against pop at now. Cells of fewer than MinCell
// subjects are suppressed, together with the next smallest cell when only one would otherwise be hidden.
// It fails with ErrNoData when fewer than MinCell buyers are found or pop has no RFM edges.
func RFMInsight(features []Features, pop Population, now time.Time) (RFMReport, error) {
	if pop.RFM.Subjects == 0 {
		return RFMReport{}, fmt.Errorf("%w: population has no RFM model", ErrNoData)
	}
	counts := make([]int, len(segmentNames))
	revenue := make([]float64, len(segmentNames))
	var rep RFMReport
	var total float64
	for i := range features {
		f := &features[i]
		if !f.Categories.Has(Transactions) || f.Orders == 0 {
			continue
		}
		c := &evalCtx{f: f, pop: &pop, now: now, loc: cst}
		seg, ok := c.segment()
		if !ok {
			continue
		}
		k := slices.Index(segmentNames, seg)
		counts[k]++
		revenue[k] += f.NetSpend()
		total += f.NetSpend()
		rep.Subjects++
	}
	if rep.Subjects < MinCell {
		return RFMReport{}, fmt.Errorf("%w: fewer than %d buyers", ErrNoData, MinCell)
	}
	hide := suppress(counts)
	for k, name := range segmentNames {
		cell := RFMCell{Segment: name, Suppressed: hide[k]}
		if !hide[k] {
			cell.Subjects = counts[k]
			if total != 0 {
				cell.RevenueShare = revenue[k] / total
			}
		}
		rep.Segments = append(rep.Segments, cell)
	}
	return rep, nil
}

// suppress returns which cells to hide: every non-empty cell below MinCell, and, when exactly one cell is
// hidden, also the smallest other non-empty cell, so that the hidden one cannot be derived from the total.
func suppress(counts []int) []bool {
	hide := make([]bool, len(counts))
	hidden := 0
	for k, n := range counts {
		if n > 0 && n < MinCell {
			hide[k] = true
			hidden++
		}
	}
	if hidden == 1 {
		best := -1
		for k, n := range counts {
			if !hide[k] && n > 0 && (best < 0 || n < counts[best]) {
				best = k
			}
		}
		if best >= 0 {
			hide[best] = true
		}
	}
	return hide
}

// SegmentCell is one cluster of the segments insight.
type SegmentCell struct {
	// Cluster is the tag value (cluster_1, ...), and Name its name from the centroid, in zh and en.
	Cluster string      `json:"cluster"`
	Name    SegmentName `json:"name,omitzero"`
	// Size is the number of buyers in the cluster at the fit, and Share its share of all clustered buyers
	// (both 0 when suppressed).
	Size  int     `json:"size"`
	Share float64 `json:"share"`
	// Centroid is the cluster centre in original units (recency_days, orders, net_spend and sessions
	// transformed back from log1p, so they are geometric-mean-like; the rates as they are); nil when
	// suppressed.
	Centroid map[string]float64 `json:"centroid,omitempty"`
	// Suppressed is set for a cluster of fewer than MinCell subjects (or hidden with it).
	Suppressed bool `json:"suppressed"`
}

// SegmentsReport is the segments insight.
type SegmentsReport struct {
	// K is the number of clusters and Silhouettes the silhouette of each k tried.
	K           int             `json:"k"`
	Silhouettes map[int]float64 `json:"silhouettes"`
	// Features names the clustering features.
	Features []string `json:"features"`
	// Clusters holds one cell per cluster.
	Clusters []SegmentCell `json:"clusters"`
}

// SegmentsInsight returns the cluster sizes and centroids of the frozen segmentation. It fails with
// ErrNoData when pop has no cluster model.
func SegmentsInsight(pop Population) (SegmentsReport, error) {
	cm := pop.Cluster
	if cm == nil {
		return SegmentsReport{}, fmt.Errorf("%w: population has no cluster model (%s)", ErrNoData, pop.ClusterStatus)
	}
	rep := SegmentsReport{K: len(cm.Centroids), Silhouettes: cm.Silhouettes, Features: slices.Clone(cm.Features)}
	total := 0
	for _, n := range cm.Sizes {
		total += n
	}
	hide := suppress(cm.Sizes)
	for j := range cm.Centroids {
		cell := SegmentCell{Cluster: fmt.Sprintf("cluster_%d", j+1), Suppressed: hide[j] || cm.Sizes[j] == 0}
		if !cell.Suppressed {
			cell.Name = cm.name(j) // drawn from the centroid: hidden with it
			cell.Size = cm.Sizes[j]
			cell.Share = float64(cm.Sizes[j]) / float64(total)
			cell.Centroid = map[string]float64{}
			for c, v := range cm.original(j) {
				cell.Centroid[cm.Features[c]] = math.Round(v*100) / 100
			}
		}
		rep.Clusters = append(rep.Clusters, cell)
	}
	return rep, nil
}

// Baskets returns a subject's purchase baskets for association rules: the sorted distinct item categories
// (as Subject.category screens and maps them) of each non-cancelled order and POS purchase (one per order
// id). It returns nil unless transactions are allowed.
func Baskets(s Subject) [][]string {
	if !s.Allowed[Transactions] {
		return nil
	}
	cancelled := map[string]bool{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type == "cancel" && okCategory(e, Transactions) {
			cancelled[attrString(e.Attrs, "order_id")] = true
		}
	}
	seen := map[string]bool{}
	var out [][]string
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != "order" && e.Type != "pos_purchase" || !okCategory(e, Transactions) {
			continue
		}
		id := attrString(e.Attrs, "order_id")
		if id != "" && (cancelled[id] || seen[id]) {
			continue
		}
		seen[id] = true
		var b []string
		for _, it := range attrItems(e.Attrs) {
			if c := s.category(attrString(it, "category")); c != "" && !slices.Contains(b, c) {
				b = append(b, c)
			}
		}
		if len(b) > 0 {
			slices.Sort(b)
			out = append(out, b)
		}
	}
	return out
}

// okCategory reports whether an event's category (given or derived) is c.
func okCategory(e *Event, c string) bool {
	return EventCategory(e.Type) == c && (e.Category == "" || e.Category == c)
}

// RulesReport is the association-rules insight.
type RulesReport struct {
	// Baskets and Subjects count the baskets mined and the subjects they came from.
	Baskets  int `json:"baskets"`
	Subjects int `json:"subjects"`
	// Rules are the rules whose itemset occurs in baskets of at least MinCell distinct subjects, sorted by
	// lift (rules.Mine's order).
	Rules []rules.Rule `json:"rules"`
	// Suppressed counts the rules left out because fewer than MinCell subjects support them.
	Suppressed int `json:"suppressed"`
	// Thresholds are the thresholds the rules were mined with.
	Thresholds RulesThresholds `json:"thresholds"`
}

// DefaultRulesMinLift is the least lift of a reported rule when the caller names none: a rule whose items
// go together less often than by chance (lift below 1: buying one makes the other less likely) is not an
// association a campaign can use. The miner itself (rules.Mine, compared with Weka) filters nothing by lift;
// callers that want every rule pass min_lift 0 explicitly.
const DefaultRulesMinLift = 1.0

// RulesThresholds says how the rules of a report were mined: the FP-Growth thresholds (defaults filled
// in) and the least number of distinct subjects a reported rule needs.
type RulesThresholds struct {
	MinSupport    float64 `json:"min_support"`
	MinConfidence float64 `json:"min_confidence"`
	MaxLen        int     `json:"max_len"`
	MinLift       float64 `json:"min_lift"`
	MinSubjects   int     `json:"min_subjects"`
}

// RulesInsight mines association rules (FP-Growth, rules.Mine) over category baskets grouped by subject
// (bySubject[i] holds subject i's baskets, from Baskets). A rule is reported only when its items occur
// together in baskets of at least MinCell distinct subjects. It fails with ErrNoData for fewer than
// MinCell subjects with baskets, and passes on rules.Mine's option errors.
func RulesInsight(bySubject [][][]string, opts rules.Options) (RulesReport, error) {
	var (
		flat   [][]string
		owners []int32
		rep    RulesReport
	)
	for i, bs := range bySubject {
		if len(bs) > 0 {
			rep.Subjects++
		}
		for _, b := range bs {
			flat = append(flat, b)
			owners = append(owners, int32(i))
		}
	}
	rep.Baskets = len(flat)
	o, err := opts.Normalize()
	if err != nil {
		return RulesReport{}, err
	}
	rep.Thresholds = RulesThresholds{MinSupport: o.MinSupport, MinConfidence: o.MinConfidence, MaxLen: o.MaxLen,
		MinLift: o.MinLift, MinSubjects: MinCell}
	if rep.Subjects < MinCell {
		return RulesReport{}, fmt.Errorf("%w: fewer than %d subjects with baskets", ErrNoData, MinCell)
	}
	mined, err := rules.Mine(flat, o)
	if err != nil {
		return RulesReport{}, err
	}
	// Inverted index: item → ascending basket indices.
	index := map[string][]int32{}
	for k, b := range flat {
		for j, it := range b {
			if !slices.Contains(b[:j], it) {
				index[it] = append(index[it], int32(k))
			}
		}
	}
	rep.Rules = []rules.Rule{}
	for _, r := range mined {
		if r.Count >= MinCell && distinctOwners(index, owners, r) >= MinCell {
			rep.Rules = append(rep.Rules, r)
		} else {
			rep.Suppressed++
		}
	}
	return rep, nil
}

// distinctOwners counts the subjects with a basket holding every item of the rule.
func distinctOwners(index map[string][]int32, owners []int32, r rules.Rule) int {
	items := append(slices.Clone(r.Antecedent), r.Consequent...)
	lists := make([][]int32, len(items))
	for k, it := range items {
		lists[k] = index[it]
	}
	slices.SortFunc(lists, func(a, b []int32) int { return cmp.Compare(len(a), len(b)) })
	common := lists[0]
	for _, l := range lists[1:] {
		var next []int32
		i, j := 0, 0
		for i < len(common) && j < len(l) {
			switch {
			case common[i] < l[j]:
				i++
			case common[i] > l[j]:
				j++
			default:
				next = append(next, common[i])
				i++
				j++
			}
		}
		common = next
	}
	n, last := 0, int32(-1)
	for _, b := range common { // basket indices ascend with owners, so owners appear in runs
		if o := owners[b]; o != last {
			n++
			last = o
		}
	}
	return n
}

// purchaseFactorNames are the predictors of the purchase-factors tree, all measured at the cut WindowDays
// before extraction.
var purchaseFactorNames = []string{"days_since_last_order", "orders_before", "spend_before", "sessions_before",
	"page_views_per_session", "cart_adds_before", "deal_share", "tenure_days"}

// Importance is one feature's share of the tree's total Gini decrease.
type Importance struct {
	// Feature is the predictor's name.
	Feature string `json:"feature"`
	// Importance is its share of the total impurity decrease (the shares sum to 1 when the tree splits).
	Importance float64 `json:"importance"`
}

// FactorRule is one leaf of the purchase-factors tree.
type FactorRule struct {
	// Text renders the rule, e.g. "days_since_last_order <= 40.5 AND orders_before > 2.5 => class 1 ...".
	Text string `json:"text"`
	// Conditions are the tests on the path.
	Conditions []cart.Condition `json:"conditions"`
	// Ordered is the leaf's prediction (true: ordered in the window) and Prob the share of that class.
	Ordered bool    `json:"ordered"`
	Prob    float64 `json:"prob"`
	// Subjects is the number of subjects reaching the leaf (at least MinCell).
	Subjects int `json:"subjects"`
}

// FactorsReport is the key-purchase-factors insight.
type FactorsReport struct {
	// Target describes what the tree predicts.
	Target string `json:"target"`
	// Subjects is the number of subjects, OrderedShare the share that ordered in the window.
	Subjects     int     `json:"subjects"`
	OrderedShare float64 `json:"ordered_share"`
	// Importances are the features' importances, largest first.
	Importances []Importance `json:"importances"`
	// Rules describe the leaves, left to right.
	Rules []FactorRule `json:"rules"`
	// Tree is the tree as indented text.
	Tree string `json:"tree"`
}

// FactorsOptions tunes PurchaseFactors; zero fields select the defaults (depth 3, 50 subjects per leaf).
type FactorsOptions struct {
	// MaxDepth bounds the depth of the tree.
	MaxDepth int
	// MinLeaf is the fewest subjects per leaf; it is never below MinCell.
	MinLeaf int
}

// PurchaseFactors fits a depth-limited CART (Gini) predicting whether a subject ordered in the last
// WindowDays days from behaviour and value features measured at the start of that window (so the target
// does not leak into the predictors), over subjects with transactions and behaviour allowed who were
// already customers then. Every leaf holds at least MinCell subjects. It fails with ErrNoData when too
// few subjects or only one outcome is found.
func PurchaseFactors(features []Features, opts FactorsOptions) (FactorsReport, error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 3
	}
	if opts.MinLeaf <= 0 {
		opts.MinLeaf = 50
	}
	opts.MinLeaf = max(opts.MinLeaf, MinCell)
	var (
		x   [][]float64
		y   []int
		pos int
	)
	need := NewCategorySet(Transactions, Behavior)
	for i := range features {
		f := &features[i]
		b := &f.Before
		if !f.Categories.Contains(need) || b.TenureDays <= 0 {
			continue
		}
		recency := b.DaysSinceLastOrder
		if recency < 0 {
			recency = b.TenureDays // never ordered: as long ago as they joined
		}
		depth := 0.0
		if b.Sessions > 0 {
			depth = float64(b.PageViews) / float64(b.Sessions)
		}
		x = append(x, []float64{math.Round(recency), float64(b.Orders), math.Round(b.Spend), float64(b.Sessions),
			math.Round(depth*10) / 10, float64(b.Carts), float64(b.DealOrders) / float64(max(b.Orders, 1)),
			math.Round(b.TenureDays)})
		label := 0
		if f.OrdersLast90 > 0 {
			label = 1
			pos++
		}
		y = append(y, label)
	}
	if len(x) < 2*opts.MinLeaf || pos == 0 || pos == len(x) {
		return FactorsReport{}, fmt.Errorf("%w: too few subjects or a single outcome", ErrNoData)
	}
	tree, err := cart.Fit(x, y, purchaseFactorNames, cart.Options{MaxDepth: opts.MaxDepth, MinLeaf: opts.MinLeaf})
	if err != nil {
		return FactorsReport{}, fmt.Errorf("%w: %w", ErrNoData, err)
	}
	rep := FactorsReport{
		Target:       fmt.Sprintf("ordered in the last %d days", WindowDays),
		Subjects:     len(x),
		OrderedShare: float64(pos) / float64(len(x)),
		Tree:         tree.String(),
	}
	for name, v := range tree.Importances() {
		rep.Importances = append(rep.Importances, Importance{name, v})
	}
	slices.SortFunc(rep.Importances, func(a, b Importance) int {
		if c := cmp.Compare(b.Importance, a.Importance); c != 0 {
			return c
		}
		return cmp.Compare(a.Feature, b.Feature)
	})
	for _, r := range tree.Rules() {
		rep.Rules = append(rep.Rules, FactorRule{Text: r.String(), Conditions: r.Conditions, Ordered: r.Class == 1,
			Prob: r.Prob, Subjects: r.Support})
	}
	return rep, nil
}
