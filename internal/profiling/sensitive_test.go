package profiling

import (
	"slices"
	"testing"

	"github.com/profilevault/profilevault/policies"
)

// With the policy's sensitive-inference lexicon as its screen, the engine builds interest lists from the
// other categories and brands only: 降压药 or 孕妇装 never become an interest, 茶叶 still does.
func TestSensitiveNamesFeedNoInterest(t *testing.T) {
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	screen := func(name string) bool { _, hit := pol.Inferences().Match(name); return hit }
	s := Subject{ID: "s", Allowed: allowAll(), Events: []Event{
		order("o1", ago(3), 90, 0, "降压药", "孕妇装", "茶叶"),
		order("o2", ago(2), 90, 0, "降压药", "diabetes care"),
		cartAdd(ago(1), "佛珠", "halal brand"),
	}}
	names := func(ws []Weighted) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Name)
		}
		return out
	}
	open := Extract(s, testNow, shanghai(t))
	if !slices.Contains(names(open.TopCategories), "降压药") {
		t.Fatalf("without a screen the test data has no sensitive interest: %v", names(open.TopCategories))
	}
	s.Sensitive = screen
	f := Extract(s, testNow, shanghai(t))
	if got := names(f.TopCategories); !slices.Equal(got, []string{"茶叶"}) {
		t.Errorf("categories %v, want only 茶叶", got)
	}
	for _, b := range names(f.TopBrands) {
		if screen(b) {
			t.Errorf("sensitive brand %q kept", b)
		}
	}
}

// With the policy's taxonomy, interest tags and baskets name taxonomy keys only: 茶叶 and "Coffee" become tea
// and coffee, a free product name outside the allow list feeds nothing.
func TestCategoriesOutsideTheTaxonomyFeedNothing(t *testing.T) {
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s := Subject{ID: "s", Allowed: allowAll(), Categories: pol.Taxonomy().Key, Events: []Event{
		order("o1", ago(3), 90, 0, "茶叶", "某品牌保健品", "Coffee"),
		order("o2", ago(2), 90, 0, "tea", "rare orchid"),
	}}
	f := Extract(s, testNow, shanghai(t))
	var got []string
	for _, w := range f.TopCategories {
		got = append(got, w.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"coffee", "tea"}) {
		t.Errorf("categories %v, want [coffee tea]", got)
	}
	if b := Baskets(s); len(b) != 2 || !slices.Equal(b[0], []string{"coffee", "tea"}) || !slices.Equal(b[1], []string{"tea"}) {
		t.Errorf("baskets %v", b)
	}
}
