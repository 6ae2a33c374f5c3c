package profiling

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/policies"
)

// keysInTAGS are the tag keys of the table in TAGS.md, in its order.
var keysInTAGS = []string{
	"basic.age_band", "basic.region", "basic.city_tier", "basic.member_since_band",
	"behavior.active_slot", "behavior.browse_depth", "behavior.cart_abandon_rate",
	"behavior.repurchase_interval_days", "behavior.after_sales_rate", "behavior.channel",
	"behavior.price_sensitivity", "interest.top_categories", "interest.top_brands", "interest.season_affinity",
	"value.rfm_score", "value.rfm_segment", "value.ltv_12m", "value.churn_risk", "value.lifecycle_stage",
	"attitude.sentiment", "attitude.satisfaction", "attitude.advocacy", "segment.cluster",
}

// keysBeyondTAGS are the tags this project adds to the TAGS.md table: basic.occupation_group names the
// strategy table's "business users".
var keysBeyondTAGS = []string{"basic.occupation_group"}

func TestEmbeddedVocabularyLoads(t *testing.T) {
	v, err := LoadVocabulary(EmbeddedVocabulary())
	if err != nil {
		t.Fatalf("embedded vocabulary: %v", err)
	}
	if v.Version() == "" {
		t.Error("no version")
	}
	if !slices.Equal(v.Keys(), DefaultVocabulary().Keys()) {
		t.Error("DefaultVocabulary differs from the embedded file")
	}
}

func TestDefinitionsMatchTAGSAndVocabulary(t *testing.T) {
	defs := Definitions()
	var keys []string
	for _, d := range defs {
		keys = append(keys, d.Key)
	}
	inTAGS := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return slices.Contains(keysBeyondTAGS, k) })
	if !slices.Equal(inTAGS, keysInTAGS) || len(keys) != len(keysInTAGS)+len(keysBeyondTAGS) {
		t.Fatalf("definition keys %v, want the TAGS.md table %v in its order and the additions %v", keys, keysInTAGS, keysBeyondTAGS)
	}
	v := DefaultVocabulary()
	if !slices.Equal(v.Keys(), keys) {
		t.Errorf("vocabulary keys %v, want %v", v.Keys(), keys)
	}
	levels := []string{LevelBasic, LevelBehavior, LevelInterest, LevelValue, LevelAttitude, LevelSegment}
	for _, d := range defs {
		t.Run(d.Key, func(t *testing.T) {
			e, ok := v.Entry(d.Key)
			if !ok {
				t.Fatal("no vocabulary entry")
			}
			if e.Level != d.Level || e.Purpose != d.Purpose || !slices.Equal(e.Inputs, d.Inputs) {
				t.Errorf("vocabulary %s/%s/%v, definition %s/%s/%v", e.Level, e.Purpose, e.Inputs, d.Level, d.Purpose, d.Inputs)
			}
			if !strings.HasPrefix(d.Key, d.Level+".") || !slices.Contains(levels, d.Level) {
				t.Errorf("level %q does not match key", d.Level)
			}
			if d.Purpose != policies.PurposeMarketing && d.Purpose != policies.PurposePersonalization {
				t.Errorf("purpose %q", d.Purpose)
			}
			if len(d.Inputs) == 0 || d.Description == "" {
				t.Error("no inputs or description")
			}
			for _, in := range d.Inputs {
				if !slices.Contains(InputCategories(), in) {
					t.Errorf("unknown input %q", in)
				}
			}
		})
	}
	// Every entry's values (or a sample of pattern values) are allowed; the value vocabularies of TAGS.md.
	wantValues := map[string][]string{
		KeyAgeBand:          {"<14", "14-17", "18-24", "25-34", "35-44", "45-59", "60+"},
		KeyCityTier:         {"1", "2", "3", "4+"},
		KeyActiveSlot:       {"morning", "midday", "afternoon", "evening", "night"},
		KeyChannel:          {"online", "offline", "omnichannel"},
		KeyPriceSensitivity: {"price_sensitive", "quality_seeking", "neutral"},
		KeyRFMSegment: {"champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
			"about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost"},
		KeyChurnRisk:      {"high", "medium", "low"},
		KeyLifecycleStage: {"prospect", "new", "active", "loyal", "dormant", "churned"},
		KeySatisfaction:   {"satisfied", "neutral", "dissatisfied"},
		KeyAdvocacy:       {"promoter", "passive", "detractor"},
	}
	if e, _ := v.Entry(KeyRFMSegment); !slices.Equal(SegmentNames(), e.Values) {
		t.Errorf("SegmentNames %v differ from the vocabulary %v", SegmentNames(), e.Values)
	}
	for key, vals := range wantValues {
		e, _ := v.Entry(key)
		if !slices.Equal(e.Values, vals) {
			t.Errorf("%s values %v, want %v", key, e.Values, vals)
		}
	}
}

func TestVocabularyPatterns(t *testing.T) {
	v := DefaultVocabulary()
	tests := []struct {
		key, value string
		want       bool
	}{
		{KeyRFMScore, "5-4-3", true},
		{KeyRFMScore, "6-4-3", false},
		{KeyRFMScore, "5-4", false},
		{KeySentiment, "0.45", true},
		{KeySentiment, "-1.00", true},
		{KeySentiment, "1.00", true},
		{KeySentiment, "1.20", false},
		{KeySentiment, "0.4", false},
		{KeyBrowseDepth, "4.2", true},
		{KeyBrowseDepth, "4", false},
		{KeyCartAbandonRate, "0.67", true},
		{KeyCartAbandonRate, "1.50", false},
		{KeyRepurchaseDays, "35", true},
		{KeyRepurchaseDays, "-3", false},
		{KeyAfterSalesRate, "0.25", true},
		{KeyLTV12m, "1234", true},
		{KeyLTV12m, "12.5", false},
		{KeyCluster, "cluster_3", true},
		{KeyCluster, "cluster_11", false},
		{KeyTopCategories, "snacks,skincare,books", true},
		{KeyTopCategories, "a,b,c,d", false},
		{KeyTopBrands, "悦享,优品", true},
		{KeyTopBrands, "宗教用品", false}, // runtime deny check of data-derived names
		{KeyTopCategories, "religious_books", false},
		{KeyRegion, "广东", true},
		{KeyRegion, "广东省", false},
		{KeyAgeBand, "60+", true},
		{KeyAgeBand, "", false},
		{"basic.unknown", "x", false},
	}
	for _, tc := range tests {
		if got := v.Allows(tc.key, tc.value); got != tc.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tc.key, tc.value, got, tc.want)
		}
	}
}

// vocabWith returns the embedded vocabulary file with fn applied to its decoded form.
func vocabWith(t *testing.T, fn func(f map[string]any)) []byte {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(EmbeddedVocabulary(), &f); err != nil {
		t.Fatal(err)
	}
	fn(f)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addTag(tag map[string]any) func(f map[string]any) {
	return func(f map[string]any) { f["tags"] = append(f["tags"].([]any), tag) }
}

func TestLoadVocabularyDenyList(t *testing.T) {
	tests := []struct {
		name string
		edit func(f map[string]any)
		want error
	}{
		{"shipped", func(map[string]any) {}, nil},
		{"key religion", addTag(map[string]any{"key": "interest.religion", "level": "interest", "purpose": "marketing",
			"inputs": []string{"behavior"}, "values": []string{"yes", "no"}}), ErrDenied},
		{"value 宗教", addTag(map[string]any{"key": "interest.book_theme", "level": "interest", "purpose": "marketing",
			"inputs": []string{"behavior"}, "values": []string{"历史", "宗教"}}), ErrDenied},
		{"value ethnicity in a phrase", addTag(map[string]any{"key": "basic.origin", "level": "basic",
			"purpose": "marketing", "inputs": []string{"identity"}, "values": []string{"ethnicity_han"}}), ErrDenied},
		{"value 民族", addTag(map[string]any{"key": "basic.origin", "level": "basic", "purpose": "marketing",
			"inputs": []string{"identity"}, "values": []string{"少数民族"}}), ErrDenied},
		{"plural and case", addTag(map[string]any{"key": "interest.topic", "level": "interest", "purpose": "marketing",
			"inputs": []string{"behavior"}, "values": []string{"Diseases"}}), ErrDenied},
		{"multi-word sexual life", addTag(map[string]any{"key": "attitude.x", "level": "attitude", "purpose": "marketing",
			"inputs": []string{"interactions"}, "values": []string{"active sex life"}}), ErrDenied},
		{"pattern with 暴力", addTag(map[string]any{"key": "interest.games", "level": "interest", "purpose": "marketing",
			"inputs": []string{"behavior"}, "pattern": "^暴力.*$"}), ErrDenied},
		{"word inside another word is fine", addTag(map[string]any{"key": "interest.sport", "level": "interest",
			"purpose": "marketing", "inputs": []string{"behavior"}, "values": []string{"embrace", "terrace_garden"}}), nil},
		{"empty deny list", func(f map[string]any) { f["deny"] = []string{} }, ErrVocabulary},
		{"duplicate key", addTag(map[string]any{"key": "basic.age_band", "level": "basic", "purpose": "marketing",
			"inputs": []string{"identity"}, "values": []string{"x"}}), ErrVocabulary},
		{"values and pattern", addTag(map[string]any{"key": "basic.x", "level": "basic", "purpose": "marketing",
			"inputs": []string{"identity"}, "values": []string{"x"}, "pattern": "^x$"}), ErrVocabulary},
		{"unanchored pattern", addTag(map[string]any{"key": "basic.x", "level": "basic", "purpose": "marketing",
			"inputs": []string{"identity"}, "pattern": "x+"}), ErrVocabulary},
		{"unknown input", addTag(map[string]any{"key": "basic.x", "level": "basic", "purpose": "marketing",
			"inputs": []string{"contact"}, "values": []string{"x"}}), ErrVocabulary},
		{"unknown field", func(f map[string]any) { f["extra"] = 1 }, ErrVocabulary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadVocabulary(vocabWith(t, tc.edit))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("LoadVocabulary: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := LoadVocabulary([]byte("{")); !errors.Is(err, ErrVocabulary) {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestComputeHonoursVocabulary(t *testing.T) {
	s := Subject{ID: "s1", Fields: map[string]string{"birth_date": "1990-01-01", "city": "广州"}, Allowed: allowAll(),
		Events: []Event{pageView(ago(3), "snacks")}}
	loc := shanghai(t)
	f := Extract(s, testNow, loc)
	if got := tagMap(Compute(s, f, Population{}, testNow, loc)); got[KeyAgeBand].Value != "35-44" || got[KeyCityTier].Value != "1" {
		t.Fatalf("default vocabulary: %+v", got)
	}
	tests := []struct {
		name string
		edit func(f map[string]any)
		gone string
	}{
		{"key removed", func(f map[string]any) {
			var kept []any
			for _, e := range f["tags"].([]any) {
				if e.(map[string]any)["key"] != KeyAgeBand {
					kept = append(kept, e)
				}
			}
			f["tags"] = kept
		}, KeyAgeBand},
		{"value not listed", func(f map[string]any) {
			for _, e := range f["tags"].([]any) {
				if m := e.(map[string]any); m["key"] == KeyCityTier {
					m["values"] = []string{"2", "3", "4+"}
				}
			}
		}, KeyCityTier},
		{"inputs differ from the definition", func(f map[string]any) {
			for _, e := range f["tags"].([]any) {
				if m := e.(map[string]any); m["key"] == KeyAgeBand {
					m["inputs"] = []string{"address"}
				}
			}
		}, KeyAgeBand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := LoadVocabulary(vocabWith(t, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			got := tagMap(ComputeWith(s, f, Population{}, testNow, loc, v))
			if _, ok := got[tc.gone]; ok {
				t.Errorf("%s still emitted", tc.gone)
			}
			if _, ok := got[KeyActiveSlot]; !ok {
				t.Error("unrelated tag missing")
			}
		})
	}
}
