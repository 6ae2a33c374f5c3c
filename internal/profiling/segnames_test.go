package profiling

import (
	"slices"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/profiling/rules"
)

func TestSegmentNamesComeFromCentroids(t *testing.T) {
	// Columns: recency, orders, spend, sessions, browse depth, cart abandonment, deal share (z units).
	cm := &ClusterModel{Centroids: [][]float64{
		{-1.1, 1.3, 1.6, 0.2, 0.1, -0.2, 0.1},  // recent, frequent, high spend
		{1.2, -0.9, -0.7, -0.3, 0, 0.1, 1.4},   // lapsed, occasional, low spend, deal-seeking
		{0.1, -0.2, 0.3, 0.1, 0.2, 0.1, -0.1},  // near the mean everywhere
		{0.2, 0.1, 0.1, 0.3, 0.2, 0.2, 0.3},    // also near the mean: must be told apart from the one above
		{1.0, -0.8, -0.6, -0.1, 0.1, 0.9, 0.2}, // lapsed, occasional, low spend, abandons carts
	}}
	names := cm.Names()
	want := []string{
		"recent, frequent, high spend",
		"lapsed, occasional, low spend, deal-seeking",
	}
	for j, w := range want {
		if names[j].EN != w {
			t.Errorf("segment %d: %q, want %q", j+1, names[j].EN, w)
		}
	}
	if names[0].ZH != "近期下单、高频、高消费" {
		t.Errorf("zh name %q", names[0].ZH)
	}
	if names[4].EN != "lapsed, occasional, low spend, abandons carts" {
		t.Errorf("segment 5: %q", names[4].EN)
	}
	seen := map[string]bool{}
	for j, n := range names {
		if n.EN == "" || n.ZH == "" || seen[n.EN] {
			t.Errorf("segment %d: name %+v empty or not unique in %v", j+1, n, names)
		}
		seen[n.EN] = true
	}
	// Segments 3 and 4 both sit near the mean: the column that sets them furthest apart names them.
	if names[2].EN == "average" || names[3].EN == "average" {
		t.Errorf("two average segments not told apart: %q, %q", names[2].EN, names[3].EN)
	}
	if again := cm.Names(); !slices.Equal(again, names) {
		t.Errorf("names differ between calls: %v, %v", names, again)
	}
	// Identical centroids fall back to their numbers.
	twins := (&ClusterModel{Centroids: [][]float64{{0.1, 0, 0}, {0.1, 0, 0}}}).Names()
	if twins[0] == twins[1] {
		t.Errorf("identical centroids share a name: %v", twins)
	}
}

func TestSegmentNamesOnTheShop(t *testing.T) {
	subs := shopSubjects(smallShop(), func(int) map[string]bool { return allowAll() })
	loc := shanghai(t)
	feats := make([]Features, len(subs))
	for i, s := range subs {
		feats[i] = Extract(s, testNow, loc)
	}
	pop, err := Fit(feats, testNow, Options{Seed: 1})
	if err != nil || pop.Cluster == nil {
		t.Fatalf("fit: %v (%s)", err, pop.ClusterStatus)
	}
	seen := map[string]bool{}
	for j, n := range pop.Cluster.SegmentNames {
		if n.EN == "" || n.ZH == "" || seen[n.EN] {
			t.Errorf("segment %d: %+v (all: %v)", j+1, n, pop.Cluster.SegmentNames)
		}
		seen[n.EN] = true
	}
	// Clusters are numbered by spend, highest first: the first is not named low spend, the last not high.
	names := pop.Cluster.SegmentNames
	if first, last := names[0].EN, names[len(names)-1].EN; contains(first, "low spend") || contains(last, "high spend") {
		t.Errorf("names against the spend order: first %q, last %q", first, last)
	}
	t.Logf("segments: %v", names)
}

func contains(name, word string) bool { return slices.Contains(strings.Split(name, ", "), word) }

func TestRulesInsightSaysItsThresholdsAndTakesMaxLen(t *testing.T) {
	// Fifteen subjects buy the same five categories together: with max_len 5 the 5-item rules appear;
	// with the default 3 they cannot.
	var by [][][]string
	for range 15 {
		by = append(by, [][]string{{"a", "b", "c", "d", "e"}, {"a", "b"}})
	}
	def, err := RulesInsight(by, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if def.Thresholds != (RulesThresholds{MinSupport: rules.DefaultMinSupport, MinConfidence: rules.DefaultMinConfidence, MaxLen: 3, MinSubjects: MinCell}) {
		t.Errorf("default thresholds %+v", def.Thresholds)
	}
	longest := func(rep RulesReport) int {
		n := 0
		for _, r := range rep.Rules {
			n = max(n, len(r.Antecedent)+len(r.Consequent))
		}
		return n
	}
	if longest(def) != 3 {
		t.Errorf("default max_len gave rules of %d items", longest(def))
	}
	five, err := RulesInsight(by, rules.Options{MaxLen: 5, MinConfidence: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if five.Thresholds.MaxLen != 5 || five.Thresholds.MinConfidence != 0.5 || longest(five) != 5 {
		t.Errorf("max_len 5: thresholds %+v, longest rule %d", five.Thresholds, longest(five))
	}
}
