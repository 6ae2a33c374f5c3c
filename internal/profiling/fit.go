package profiling

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/cluster"
	"github.com/profilevault/profilevault/internal/profiling/ltv"
)

// Fit defaults.
const (
	// DefaultKMin and DefaultKMax bound the number of clusters tried.
	DefaultKMin = 2
	DefaultKMax = 10
	// DefaultSilhouetteSample is the number of rows the silhouette of each k is computed on.
	DefaultSilhouetteSample = 2000
	// DefaultRestarts is the number of k-means++ seedings per k.
	DefaultRestarts = 2
	// DefaultMinClusterSubjects is the fewest buyers with behaviour data needed to fit clusters.
	DefaultMinClusterSubjects = 50
	// DefaultIntervalDays is the repurchase interval assumed when no buyer has two orders.
	DefaultIntervalDays = 180.0
	// ltvHorizonDays is the horizon of value.ltv_12m.
	ltvHorizonDays = 365.0
)

// Model status values recorded in Population.
const (
	StatusOK           = "ok"
	StatusNoData       = "no_data"
	StatusNotConverged = "not_converged"
	StatusUnusable     = "unusable"
	StatusTooFew       = "too_few_subjects"
)

// Options tunes Fit; the zero value selects the defaults.
type Options struct {
	// Seed seeds the k-means++ seedings and the silhouette sample.
	Seed uint64
	// KMin and KMax bound the number of clusters tried (defaults 2 and 10).
	KMin, KMax int
	// SilhouetteSample is the number of rows the silhouettes are computed on (default 2,000).
	SilhouetteSample int
	// Restarts is the number of k-means++ seedings per k (default 2).
	Restarts int
	// MinClusterSubjects is the fewest clusterable buyers needed to fit clusters (default 50).
	MinClusterSubjects int
}

func (o Options) withDefaults() (Options, error) {
	if o.KMin == 0 {
		o.KMin = DefaultKMin
	}
	if o.KMax == 0 {
		o.KMax = DefaultKMax
	}
	if o.SilhouetteSample == 0 {
		o.SilhouetteSample = DefaultSilhouetteSample
	}
	if o.Restarts == 0 {
		o.Restarts = DefaultRestarts
	}
	if o.MinClusterSubjects == 0 {
		o.MinClusterSubjects = DefaultMinClusterSubjects
	}
	if o.KMin < 2 || o.KMax < o.KMin || o.SilhouetteSample < 0 || o.Restarts < 0 || o.MinClusterSubjects < 0 {
		return o, fmt.Errorf("%w: cluster range or sample", ErrInvalidOptions)
	}
	return o, nil
}

// Edge is a frozen quintile boundary: a subject whose (value, subject id) is at or above (Value, After) in
// lexicographic order is in the upper quintile. After is the shortest string that separates the two
// subjects on either side of the boundary when they tie on the value (so it is at most a prefix of an id),
// and "" otherwise.
type Edge struct {
	// Value is the ranking value at the boundary.
	Value float64 `json:"value"`
	// After is the subject-id separator used when the boundary splits a tie ("" otherwise).
	After string `json:"after,omitempty"`
}

// RFMModel holds the frozen quintile edges of R, F and M (four each, ascending; fewer when the population
// has fewer than five buyers). R is ranked on minus the days since the last order, so higher is better for
// all three.
type RFMModel struct {
	// Subjects is the number of buyers the edges were computed over.
	Subjects int `json:"subjects"`
	// R, F and M are the edges of minus the days since the last order, of the order count and of the net
	// revenue.
	R []Edge `json:"r"`
	F []Edge `json:"f"`
	M []Edge `json:"m"`
}

// LTVModel holds the fitted BG/NBD (time in days) and Gamma-Gamma (CNY) parameters.
type LTVModel struct {
	// BGNBD is the purchase-count and dropout model, with Alpha in days.
	BGNBD ltv.BGNBD `json:"bgnbd"`
	// GammaGamma is the spend-per-purchase model, with V in CNY.
	GammaGamma ltv.GammaGamma `json:"gamma_gamma"`
}

// ClusterModel holds the frozen segmentation: feature names, standardisation and centroids (in z units),
// cluster sizes and the silhouette of each k tried (where defined). Clusters are numbered by descending centroid net spend,
// so cluster_1 is the highest-value segment.
type ClusterModel struct {
	// Features names the columns: log1p of recency_days, orders, net_spend and sessions, then browse_depth,
	// cart_abandon_rate and deal_share.
	Features []string `json:"features"`
	// Mean and Std are the frozen standardisation of each column.
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
	// Centroids are the cluster centres in standardised units, cluster_1 first.
	Centroids [][]float64 `json:"centroids"`
	// Sizes are the numbers of buyers in each cluster at the fit.
	Sizes []int `json:"sizes"`
	// Silhouettes maps each k tried to its sampled mean silhouette.
	Silhouettes map[int]float64 `json:"silhouettes"`
	// SegmentNames name the clusters from their centroids (Names), cluster_1 first.
	SegmentNames []SegmentName `json:"segment_names,omitempty"`
}

// name returns cluster j's name (computed from the centroids for a model frozen before names existed).
func (cm *ClusterModel) name(j int) SegmentName {
	if j < len(cm.SegmentNames) {
		return cm.SegmentNames[j]
	}
	return cm.Names()[j]
}

// SeasonModel holds the population's season shares: Overall is the share of all interest weight in each
// season (spring, summer, autumn, winter) and Lift[c][s] the category's share in season s divided by
// Overall[s].
type SeasonModel struct {
	// Overall is the population's share of interest weight per season.
	Overall [4]float64 `json:"overall"`
	// Lift is each category's season share relative to Overall (categories with little weight are left out).
	Lift map[string][4]float64 `json:"lift"`
}

// Population holds the frozen population parameters of a full run; tags of a subject recomputed between
// full runs use them unchanged. It is JSON-serialisable and holds no per-subject value.
type Population struct {
	// Version is the algorithm version, FittedAt the time of the run, Subjects and Buyers the numbers of
	// subjects and of subjects with an order the run saw.
	Version  string    `json:"version"`
	FittedAt time.Time `json:"fitted_at"`
	Subjects int       `json:"subjects"`
	Buyers   int       `json:"buyers"`
	// RFM holds the quintile edges.
	RFM RFMModel `json:"rfm"`
	// MedianRepurchaseDays is the median over buyers with two or more orders of their median interval
	// (DefaultIntervalDays when there are none); MedianOrderValue the median over buyers of their mean
	// order value.
	MedianRepurchaseDays float64 `json:"median_repurchase_days"`
	MedianOrderValue     float64 `json:"median_order_value"`
	// LTV holds the BG/NBD and Gamma-Gamma fits, or nil when LTVStatus is not "ok" (the fits did not
	// converge, had no repeat buyers, or the spend model has no finite mean); value.ltv_12m and the
	// P(alive) part of value.churn_risk are then left out.
	LTV       *LTVModel `json:"ltv,omitempty"`
	LTVStatus string    `json:"ltv_status"`
	// Cluster holds the segmentation, or nil when ClusterStatus is not "ok".
	Cluster       *ClusterModel `json:"cluster,omitempty"`
	ClusterStatus string        `json:"cluster_status"`
	// Season holds the population season shares.
	Season SeasonModel `json:"season"`
}

// Fit fits the population models over the features of consenting subjects at now: RFM quintile edges over
// buyers whose features include transactions, the population medians, BG/NBD and Gamma-Gamma, season
// shares over subjects with transactions and behaviour, and K-Means over buyers with behaviour (k chosen by
// silhouette on a sample). A model that cannot be fitted is recorded by its status and left out; Fit fails
// only on invalid options or an empty input.
func Fit(subjects []Features, now time.Time, opts Options) (Population, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Population{}, err
	}
	if len(subjects) == 0 {
		return Population{}, fmt.Errorf("%w: no subjects", ErrNoData)
	}
	pop := Population{Version: Version, FittedAt: now, Subjects: len(subjects)}
	var buyers []*Features
	for i := range subjects {
		f := &subjects[i]
		if f.Categories.Has(Transactions) && f.Orders > 0 {
			buyers = append(buyers, f)
		}
	}
	pop.Buyers = len(buyers)
	pop.RFM = fitRFM(buyers, now)
	pop.MedianRepurchaseDays, pop.MedianOrderValue = populationMedians(buyers)
	pop.LTV, pop.LTVStatus = fitLTV(buyers, now)
	pop.Season = fitSeason(subjects)
	pop.Cluster, pop.ClusterStatus = fitCluster(buyers, now, o)
	return pop, nil
}

// rfmValues returns the R, F and M ranking values of a buyer at now (R is minus the whole days since the
// last order).
func rfmValues(f *Features, now time.Time) (r, fr, m float64) {
	return 0 - math.Floor(daysBetween(f.LastOrder, now)), float64(f.Orders), math.Round(f.NetSpend()*100) / 100
}

// daysBetween returns the days from a to b (0 when b is before a).
func daysBetween(a, b time.Time) float64 { return max(b.Sub(a).Hours()/24, 0) }

// ranked is a value with its subject id, for quintiles.
type ranked struct {
	v  float64
	id string
}

func compareRanked(a, b ranked) int {
	if a.v != b.v {
		if a.v < b.v {
			return -1
		}
		return 1
	}
	return strings.Compare(a.id, b.id)
}

func fitRFM(buyers []*Features, now time.Time) RFMModel {
	m := RFMModel{Subjects: len(buyers)}
	if len(buyers) == 0 {
		return m
	}
	rs, fs, ms := make([]ranked, len(buyers)), make([]ranked, len(buyers)), make([]ranked, len(buyers))
	for i, f := range buyers {
		r, fr, mv := rfmValues(f, now)
		rs[i], fs[i], ms[i] = ranked{r, f.SubjectID}, ranked{fr, f.SubjectID}, ranked{mv, f.SubjectID}
	}
	m.R, m.F, m.M = quintileEdges(rs), quintileEdges(fs), quintileEdges(ms)
	return m
}

// quintileEdges sorts xs by (value, id) and returns the boundaries where position i gets score
// 1 + floor(5i/n): boundary k (1..4) lies before position ceil(k·n/5).
func quintileEdges(xs []ranked) []Edge {
	slices.SortFunc(xs, compareRanked)
	n := len(xs)
	var out []Edge
	for k := 1; k <= 4; k++ {
		p := (k*n + 4) / 5
		if p <= 0 || p >= n {
			continue
		}
		below, above := xs[p-1], xs[p]
		e := Edge{Value: above.v}
		if below.v == above.v {
			e.After = separator(below.id, above.id)
		}
		out = append(out, e)
	}
	return out
}

// separator returns the shortest prefix of b that sorts after a (a < b).
func separator(a, b string) string {
	for l := 1; l <= len(b); l++ {
		if b[:l] > a {
			return b[:l]
		}
	}
	return b
}

// score returns the quintile score (1–5) of (v, id) against frozen edges.
func score(edges []Edge, v float64, id string) int {
	s := 1
	for _, e := range edges {
		if v > e.Value || v == e.Value && id >= e.After {
			s++
		}
	}
	return s
}

func populationMedians(buyers []*Features) (interval, orderValue float64) {
	var iv, ov []float64
	for _, f := range buyers {
		if f.RepurchaseDays >= 0 {
			iv = append(iv, f.RepurchaseDays)
		}
		ov = append(ov, f.GrossSpend/float64(f.Orders))
	}
	interval = DefaultIntervalDays
	if len(iv) > 0 {
		interval = median(iv)
	}
	if len(ov) > 0 {
		orderValue = median(ov)
	}
	return interval, orderValue
}

// customerOf returns the BG/NBD summary of a buyer at now, in days: repeat purchase days, the span from the
// first to the last order, and the age of the first order.
func customerOf(f *Features, now time.Time) ltv.Customer {
	c := ltv.Customer{Frequency: float64(max(f.PurchaseDays-1, 0)), T: daysBetween(f.FirstOrder, now)}
	if c.Frequency > 0 {
		c.Recency = min(daysBetween(f.FirstOrder, f.LastOrder), c.T)
	}
	return c
}

// monetaryOf returns the mean gross spend per repeat purchase day (0 without repeats).
func monetaryOf(f *Features) float64 {
	if f.PurchaseDays <= 1 {
		return 0
	}
	return f.RepeatSpend / float64(f.PurchaseDays-1)
}

func fitLTV(buyers []*Features, now time.Time) (*LTVModel, string) {
	if len(buyers) == 0 {
		return nil, StatusNoData
	}
	data := make([]ltv.Customer, len(buyers))
	freq, mon := make([]float64, len(buyers)), make([]float64, len(buyers))
	for i, f := range buyers {
		data[i] = customerOf(f, now)
		if m := monetaryOf(f); m > 0 {
			freq[i], mon[i] = data[i].Frequency, m
		}
	}
	bg, err := ltv.FitBGNBD(data)
	if err != nil {
		return nil, ltvStatus(err)
	}
	gg, err := ltv.FitGammaGamma(freq, mon)
	if err != nil {
		return nil, ltvStatus(err)
	}
	if !(gg.Q > 1) {
		return nil, StatusUnusable
	}
	return &LTVModel{BGNBD: bg, GammaGamma: gg}, StatusOK
}

func ltvStatus(err error) string {
	switch {
	case errors.Is(err, ltv.ErrNotConverged):
		return StatusNotConverged
	case errors.Is(err, ltv.ErrNoData):
		return StatusNoData
	}
	return StatusUnusable
}

func fitSeason(subjects []Features) SeasonModel {
	var m SeasonModel
	cats := map[string][4]float64{}
	var total float64
	for i := range subjects {
		f := &subjects[i]
		if !f.Categories.Contains(NewCategorySet(Transactions, Behavior)) {
			continue
		}
		for c, w := range f.SeasonCategories {
			a := cats[c]
			for s := range 4 {
				a[s] += w[s]
				m.Overall[s] += w[s]
				total += w[s]
			}
			cats[c] = a
		}
	}
	if total == 0 {
		return m
	}
	for s := range 4 {
		m.Overall[s] /= total
	}
	m.Lift = make(map[string][4]float64, len(cats))
	for c, a := range cats {
		sum := a[0] + a[1] + a[2] + a[3]
		if sum < minSeasonWeight {
			continue
		}
		var l [4]float64
		for s := range 4 {
			if m.Overall[s] > 0 {
				l[s] = a[s] / sum / m.Overall[s]
			}
		}
		m.Lift[c] = l
	}
	return m
}

// minSeasonWeight is the least population weight a category needs for its season lift to be kept.
const minSeasonWeight = 50.0

// clusterFeatureNames are the segmentation features, in column order.
var clusterFeatureNames = []string{"recency_days", "orders", "net_spend", "sessions", "browse_depth",
	"cart_abandon_rate", "deal_share"}

// clusterLogColumns marks the columns clustered as log1p of the value.
var clusterLogColumns = []bool{true, true, true, true, false, false, false}

// clusterRow returns the raw segmentation features of a buyer at now. A rate without a denominator — browse
// depth without a page view, cart abandonment without a cart — is NaN, not 0: a shop customer who never
// browsed online has no browse depth, and counting it as 0 put such buyers in a "shallow browsing" segment.
// imputeMean gives those cells the column's mean, so they pull no centroid either way.
func clusterRow(f *Features, now time.Time) []float64 {
	return []float64{
		math.Log1p(math.Floor(daysBetween(f.LastOrder, now))),
		math.Log1p(float64(f.Orders)),
		math.Log1p(max(f.NetSpend(), 0)),
		math.Log1p(float64(f.Sessions)),
		rateOf(f.PageViews, f.PageViewSessions),
		rateOf(f.CartsAbandoned, f.Carts),
		float64(f.DealOrders) / float64(max(f.Orders, 1)),
	}
}

// rateOf returns n/d, NaN when d is 0.
func rateOf(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

// imputeMean replaces the NaN cells of rows by their column's mean over the rows that have it (0 for a
// column no row has).
func imputeMean(rows [][]float64) {
	if len(rows) == 0 {
		return
	}
	sum, n := make([]float64, len(rows[0])), make([]float64, len(rows[0]))
	for _, r := range rows {
		for j, v := range r {
			if !math.IsNaN(v) {
				sum[j] += v
				n[j]++
			}
		}
	}
	for _, r := range rows {
		for j, v := range r {
			if math.IsNaN(v) {
				r[j] = sum[j] / max(n[j], 1)
			}
		}
	}
}

// clusterable reports whether a buyer's features can be segmented.
func clusterable(f *Features) bool {
	return f.Orders > 0 && f.Categories.Contains(NewCategorySet(Transactions, Behavior))
}

func fitCluster(buyers []*Features, now time.Time, o Options) (*ClusterModel, string) {
	var rows [][]float64
	for _, f := range buyers {
		if clusterable(f) {
			rows = append(rows, clusterRow(f, now))
		}
	}
	if len(rows) < max(o.MinClusterSubjects, o.KMin+1) {
		return nil, StatusTooFew
	}
	imputeMean(rows)
	z, mean, std := cluster.Standardize(rows)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed))
	kMax := min(o.KMax, len(rows)-1)
	model, sil, err := cluster.ChooseK(z, o.KMin, kMax, o.SilhouetteSample, rng, cluster.Options{Restarts: o.Restarts})
	if err != nil {
		return nil, StatusUnusable
	}
	// Number clusters by descending centroid net spend (ties by the original index).
	k := model.K()
	order := make([]int, k)
	for j := range order {
		order[j] = j
	}
	mcol := slices.Index(clusterFeatureNames, "net_spend")
	slices.SortStableFunc(order, func(a, b int) int {
		va, vb := model.Centroids[a][mcol], model.Centroids[b][mcol]
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	cm := &ClusterModel{Features: slices.Clone(clusterFeatureNames), Mean: mean, Std: std, Silhouettes: map[int]float64{}}
	for kk, v := range sil {
		if !math.IsNaN(v) && !math.IsInf(v, 0) { // undefined silhouettes are left out (and JSON has no NaN)
			cm.Silhouettes[kk] = v
		}
	}
	for _, j := range order {
		cm.Centroids = append(cm.Centroids, slices.Clone(model.Centroids[j]))
		cm.Sizes = append(cm.Sizes, model.Sizes[j])
	}
	cm.SegmentNames = cm.Names()
	return cm, StatusOK
}

// predict returns the 0-based cluster of a buyer, or -1.
func (cm *ClusterModel) predict(f *Features, now time.Time) int {
	row := clusterRow(f, now)
	if len(row) != len(cm.Mean) {
		return -1
	}
	for j, v := range row {
		if math.IsNaN(v) {
			row[j] = cm.Mean[j] // as imputeMean did when the model was fitted
		}
	}
	z := cluster.Apply(row, cm.Mean, cm.Std)
	if z == nil {
		return -1
	}
	return cluster.Model{Centroids: cm.Centroids}.Predict(z)
}

// original returns centroid j in original units (log1p columns transformed back).
func (cm *ClusterModel) original(j int) []float64 {
	out := make([]float64, len(cm.Features))
	for c := range out {
		v := cm.Mean[c] + cm.Centroids[j][c]*cm.Std[c]
		if c < len(clusterLogColumns) && clusterLogColumns[c] {
			v = math.Expm1(v)
		}
		out[c] = v
	}
	return out
}
