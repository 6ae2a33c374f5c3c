package profiling

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/profilevault/profilevault/internal/profiling/rules"
)

func TestSuppress(t *testing.T) {
	tests := []struct {
		counts []int
		want   []bool
	}{
		{[]int{50, 20, 10}, []bool{false, false, false}},
		{[]int{50, 20, 9}, []bool{false, true, true}}, // one small cell hides the next smallest too
		{[]int{50, 3, 9, 0}, []bool{false, true, true, false}},
		{[]int{50, 0, 0}, []bool{false, false, false}},
		{[]int{5}, []bool{true}},
	}
	for _, tc := range tests {
		if got := suppress(tc.counts); !slices.Equal(got, tc.want) {
			t.Errorf("suppress(%v) = %v, want %v", tc.counts, got, tc.want)
		}
	}
}

func TestRFMInsightNeedsEnoughBuyers(t *testing.T) {
	var fs []Features
	for i := range 9 {
		fs = append(fs, buyer(fmt.Sprintf("s%d", i), float64(i), 1, 100))
	}
	pop, err := Fit(fs, testNow, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RFMInsight(fs, pop, testNow); !errors.Is(err, ErrNoData) {
		t.Errorf("9 buyers: %v", err)
	}
	if _, err := RFMInsight(fs, Population{}, testNow); !errors.Is(err, ErrNoData) {
		t.Errorf("no model: %v", err)
	}
	if _, err := SegmentsInsight(pop); !errors.Is(err, ErrNoData) {
		t.Errorf("no clusters: %v", err)
	}
}

func TestRulesInsightCountsSubjects(t *testing.T) {
	// Twenty subjects buy a and b once each; one more subject buys x and y together in 30 baskets. The
	// x→y rule has 30 baskets but a single subject, so it is suppressed.
	var by [][][]string
	for range 20 {
		by = append(by, [][]string{{"a", "b"}, {"c"}})
	}
	heavy := make([][]string, 30)
	for k := range heavy {
		heavy[k] = []string{"x", "y"}
	}
	by = append(by, heavy)
	rep, err := RulesInsight(by, rules.Options{MinSupport: 0.01, MinConfidence: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	has := func(a, c string) bool {
		return slices.ContainsFunc(rep.Rules, func(r rules.Rule) bool {
			return slices.Equal(r.Antecedent, []string{a}) && slices.Equal(r.Consequent, []string{c})
		})
	}
	if !has("a", "b") || has("x", "y") || rep.Suppressed < 2 {
		t.Errorf("rules %+v, suppressed %d", rep.Rules, rep.Suppressed)
	}
	if rep.Subjects != 21 || rep.Baskets != 70 {
		t.Errorf("subjects %d baskets %d", rep.Subjects, rep.Baskets)
	}
	if _, err := RulesInsight(by[:9], rules.Options{}); !errors.Is(err, ErrNoData) {
		t.Errorf("9 subjects: %v", err)
	}
	if _, err := RulesInsight(by, rules.Options{MinSupport: 2}); !errors.Is(err, rules.ErrInvalidOptions) {
		t.Errorf("bad options: %v", err)
	}
}

func TestBaskets(t *testing.T) {
	events := []Event{
		order("o1", ago(10), 100, 0, "snacks", "books", "snacks"),
		order("o1", ago(10), 100, 0, "snacks"), // the same order again
		order("o2", ago(9), 100, 0, "toys"),
		ev("cancel", ago(8.9), map[string]any{"order_id": "o2"}),
		pageView(ago(1), "shoes"),
	}
	pos := order("p1", ago(5), 50, 0, "diapers", "baby_formula")
	pos.Type = "pos_purchase"
	events = append(events, pos)
	s := Subject{ID: "s", Events: events, Allowed: allow(Transactions)}
	got := Baskets(s)
	want := [][]string{{"books", "snacks"}, {"baby_formula", "diapers"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("baskets %v, want %v", got, want)
	}
	s.Allowed = allow(Behavior)
	if Baskets(s) != nil {
		t.Error("baskets without transactions allowed")
	}
}
