package profiling

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/profiling/ltv"
)

// ltvParams are the published CDNOW fits in days (r, alpha = 4.413532 weeks, a, b; p, q, v).
var ltvParams = LTVModel{
	BGNBD:      ltv.BGNBD{R: 0.242593, Alpha: 4.413532 * 7, A: 0.792886, B: 2.425752},
	GammaGamma: ltv.GammaGamma{P: 6.25, Q: 3.74, V: 108.15},
}

// buyer returns features of a buyer with the given id, days since last order, orders and net spend.
func buyer(id string, days float64, n int, spend float64) Features {
	return Features{SubjectID: id, ExtractedAt: testNow, Categories: NewCategorySet(Transactions), Age: -1,
		Orders: n, PurchaseDays: n, FirstOrder: ago(days + 10*float64(n-1)), LastOrder: ago(days), GrossSpend: spend,
		RepeatSpend: spend * float64(n-1) / float64(n), RepurchaseDays: -1}
}

func TestQuintileScoresMatchRanks(t *testing.T) {
	// For every population size and many tie patterns, the frozen edges give each member the score
	// 1 + floor(5i/n) of its position i in the (value, id) order.
	r := rand.New(rand.NewPCG(3, 3))
	for n := 1; n <= 40; n++ {
		for trial := range 5 {
			xs := make([]ranked, n)
			for i := range xs {
				xs[i] = ranked{float64(r.IntN(1 + trial*3)), fmt.Sprintf("id%03d", r.IntN(1000)*100+i)}
			}
			edges := quintileEdges(slices.Clone(xs))
			slices.SortFunc(xs, compareRanked)
			for i, x := range xs {
				if got, want := score(edges, x.v, x.id), 1+5*i/n; got != want {
					t.Fatalf("n=%d trial=%d position %d (%v): score %d, want %d", n, trial, i, x, got, want)
				}
			}
		}
	}
}

func TestRFMQuintilesWithTies(t *testing.T) {
	// Ten buyers, all with one order: F ties are broken by subject id.
	var fs []Features
	for i := range 10 {
		fs = append(fs, buyer(fmt.Sprintf("s%02d", i), 5, 1, float64(100*(i/2+1))))
	}
	pop, err := Fit(fs, testNow, Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc := shanghai(t)
	for i, f := range fs {
		s := Subject{ID: f.SubjectID, Allowed: allow(Transactions)}
		got := tagMap(Compute(s, f, pop, testNow, loc))[KeyRFMScore].Value
		// R: all tie → by id; F: all tie → by id; M: pairs tie (100,100,200,200,...) → by id within pairs.
		q := i/2 + 1
		if want := fmt.Sprintf("%d-%d-%d", q, q, q); got != want {
			t.Errorf("%s: score %q, want %q", f.SubjectID, got, want)
		}
	}
	if len(pop.RFM.F) != 4 || pop.RFM.F[0] != (Edge{Value: 1, After: "s02"}) {
		t.Errorf("F edges %+v", pop.RFM.F)
	}
	// A subject recomputed between full runs is placed by the frozen edges, ties again by id.
	tests := []struct {
		id    string
		days  float64
		n     int
		spend float64
		want  string
	}{
		{"s045", 5, 1, 300, "3-3-3"}, // between s04 and s05 in every ranking
		{"s10", 5, 1, 500, "5-5-5"},  // after s09
		{"a", 5, 1, 100, "1-1-1"},    // before s00
		{"s05", 1, 2, 2000, "5-5-5"}, // strictly better values
		{"s05", 30, 1, 50, "1-3-1"},  // worse R and M; F tie by id
	}
	for _, tc := range tests {
		f := buyer(tc.id, tc.days, tc.n, tc.spend)
		s := Subject{ID: tc.id, Allowed: allow(Transactions)}
		if got := tagMap(Compute(s, f, pop, testNow, loc))[KeyRFMScore].Value; got != tc.want {
			t.Errorf("%s: score %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestSeparator(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"s01", "s02", "s02"},
		{"abc123", "abd000", "abd"},
		{"a", "ab", "ab"},
		{"x", "y", "y"},
	} {
		got := separator(tc.a, tc.b)
		if got != tc.want || !(got > tc.a && got <= tc.b) {
			t.Errorf("separator(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestFitSmallPopulationLeavesModelsOut(t *testing.T) {
	fs := []Features{buyer("a", 3, 1, 100), buyer("b", 30, 2, 300), buyer("c", 90, 1, 50)}
	pop, err := Fit(fs, testNow, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pop.LTV != nil || pop.LTVStatus == StatusOK {
		t.Errorf("LTV fitted on 3 buyers: %s", pop.LTVStatus)
	}
	if pop.Cluster != nil || pop.ClusterStatus != StatusTooFew {
		t.Errorf("cluster status %s", pop.ClusterStatus)
	}
	s := Subject{ID: "b", Allowed: allow(Transactions)}
	got := tagMap(Compute(s, fs[1], pop, testNow, nil))
	if _, ok := got[KeyLTV12m]; ok {
		t.Error("ltv_12m without a model")
	}
	if got[KeyRFMScore].Value == "" || got[KeyChurnRisk].Value == "" {
		t.Errorf("rfm or churn missing: %+v", got)
	}
}

// A buyer who never viewed a page online has no browse depth, and one who never added to a cart no cart
// abandonment rate: counted as 0, those shop customers formed a "shallow browsing" segment. The rates
// without a denominator take the column's mean, so the model's means are over the buyers who have them and
// the segments of shop customers are named for what they did.
func TestSegmentsLeaveOutRatesWithoutADenominator(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var fs []Features
	var online int
	var abandon float64
	for i := range 400 {
		f := buyer(fmt.Sprintf("s%03d", i), float64(1+rng.IntN(300)), 1+rng.IntN(6), float64(20+rng.IntN(2000)))
		f.Categories = NewCategorySet(Transactions, Behavior)
		if i%4 != 0 { // three in four browse online, five pages a session, and add to carts
			f.Sessions = 1 + rng.IntN(40)
			f.PageViewSessions, f.PageViews = f.Sessions, 5*f.Sessions
			f.Carts, f.CartsAbandoned = 4, rng.IntN(5)
			online++
			abandon += float64(f.CartsAbandoned) / 4
		}
		fs = append(fs, f)
	}
	pop, err := Fit(fs, testNow, Options{})
	if err != nil || pop.Cluster == nil {
		t.Fatalf("fit: %v (cluster %s)", err, pop.ClusterStatus)
	}
	depth, cart := slices.Index(clusterFeatureNames, "browse_depth"), slices.Index(clusterFeatureNames, "cart_abandon_rate")
	if m := pop.Cluster.Mean[depth]; m != 5 {
		t.Errorf("browse depth mean %v, want 5 (the online buyers')", m)
	}
	if m, want := pop.Cluster.Mean[cart], abandon/float64(online); math.Abs(m-want) > 1e-12 {
		t.Errorf("cart abandonment mean %v, want %v (over the buyers with carts)", m, want)
	}
	for i := 0; i < len(fs); i += 4 {
		j := pop.Cluster.predict(&fs[i], testNow)
		if name := pop.Cluster.SegmentNames[j].EN; strings.Contains(name, "browsing") || strings.Contains(name, "carts") {
			t.Fatalf("a buyer who never browsed online is in segment %d %q", j+1, name)
		}
	}
}

func TestFitErrors(t *testing.T) {
	if _, err := Fit(nil, testNow, Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("empty: %v", err)
	}
	for _, o := range []Options{{KMin: 1}, {KMin: 5, KMax: 3}, {SilhouetteSample: -1}} {
		if _, err := Fit([]Features{buyer("a", 1, 1, 1)}, testNow, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestPopulationJSONRoundTrip(t *testing.T) {
	shop := smallShop()
	subs := shopSubjects(shop, func(int) map[string]bool { return allowAll() })
	loc := shanghai(t)
	feats := make([]Features, len(subs))
	for i, s := range subs {
		feats[i] = Extract(s, testNow, loc)
	}
	pop, err := Fit(feats, testNow, Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pop)
	if err != nil {
		t.Fatal(err)
	}
	var back Population
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	fb, err := json.Marshal(feats[:50])
	if err != nil {
		t.Fatal(err)
	}
	var featsBack []Features
	if err := json.Unmarshal(fb, &featsBack); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		a := Compute(subs[i], feats[i], pop, testNow, loc)
		c := Compute(subs[i], featsBack[i], back, testNow, loc)
		if !reflect.DeepEqual(a, c) {
			t.Fatalf("subject %d: tags differ after a JSON round trip:\n%+v\n%+v", i, a, c)
		}
	}
	// Refitting is deterministic.
	again, err := Fit(feats, testNow, Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(again)
	if string(b) != string(b2) {
		t.Error("Fit is not deterministic")
	}
}

func TestCategorySetJSON(t *testing.T) {
	s := NewCategorySet(Identity, Transactions)
	b, err := json.Marshal(s)
	if err != nil || string(b) != `["transactions","identity"]` {
		t.Fatalf("%s %v", b, err)
	}
	var back CategorySet
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Errorf("%v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["contact"]`), &back); err == nil {
		t.Error("unknown category accepted")
	}
}
