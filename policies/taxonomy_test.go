package policies

import (
	"strings"
	"testing"
)

// The taxonomy maps a category by key, Chinese or English name, case and outer space ignored; anything
// else — a free product name — is outside it. A taxonomy that names a sensitive inference, or one name for
// two keys, does not load.
func TestTaxonomy(t *testing.T) {
	x := loadEmbedded(t).Taxonomy()
	for name, want := range map[string]string{"tea": "tea", "茶叶": "tea", " Tea ": "tea", "women's clothing": "women_clothing", "纸尿裤": "diapers"} {
		if got, ok := x.Key(name); !ok || got != want {
			t.Errorf("Key(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, outside := range []string{"降压药", "某品牌保健品", "", "tea leaves"} {
		if got, ok := x.Key(outside); ok {
			t.Errorf("Key(%q) = %q inside the taxonomy", outside, got)
		}
	}
	if keys := x.Keys(); len(keys) < 20 || keys[0] != "women_clothing" {
		t.Errorf("Keys() = %v", keys)
	}
	own := loadCustom(t, map[string]string{fileTaxonomy: `{"categories": [{"key": "vinyl", "zh": "黑胶唱片", "en": "vinyl records", "aliases": ["LP"]}]}`}).Taxonomy()
	if k, ok := own.Key("lp"); !ok || k != "vinyl" {
		t.Errorf("a deployment's alias maps to %q, %v", k, ok)
	}
	if _, ok := own.Key("tea"); ok {
		t.Error("the override did not replace the built-in taxonomy")
	}
	for _, broken := range []string{
		`{"categories": []}`,
		`{"categories": [{"key": "Tea", "zh": "茶叶", "en": "tea"}]}`,
		`{"categories": [{"key": "tea", "zh": "", "en": "tea"}]}`,
		`{"categories": [{"key": "bp", "zh": "降压药", "en": "blood pressure"}]}`,
		`{"categories": [{"key": "faith", "zh": "饰品", "en": "jewellery", "aliases": ["佛珠"]}]}`,
		`{"categories": [{"key": "a", "zh": "甲", "en": "one"}, {"key": "b", "zh": "甲", "en": "two"}]}`,
		`{"cats": []}`,
	} {
		if _, err := Load(writeDir(t, map[string]string{fileTaxonomy: broken})); err == nil || !strings.Contains(err.Error(), fileTaxonomy) {
			t.Errorf("%s loaded: %v", broken, err)
		}
	}
}
