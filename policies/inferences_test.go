package policies

import (
	"strings"
	"testing"
)

// The sensitive-inference lexicon catches the values a compliance officer found in interest tags — each
// in its category — and leaves ordinary product names alone; a deployment overrides it with --policy-dir,
// and a broken file changes nothing.
func TestSensitiveInferences(t *testing.T) {
	x := loadEmbedded(t).Inferences()
	for value, want := range map[string]string{
		"降压药,清真食品":        "health",
		"diabetes care":   "health",
		"假发,助听器":          "disability",
		"佛珠,香烛":           "religion",
		"孕妇装,验孕棒":         "pregnancy",
		"Halal snacks":    "religion",
		"Maternity dress": "pregnancy",
		"payday loans":    "finances",
		"安全套":             "sexual_life",
	} {
		got, ok := x.Match(value)
		if !ok {
			t.Errorf("%q passes the screen", value)
			continue
		}
		// A value may hit several categories; it must at least hit the one it proxies.
		if got != want {
			if _, also := loadEmbedded(t).Inferences().terms[want].Match(value); !also {
				t.Errorf("%q: category %s, want %s", value, got, want)
			}
		}
	}
	for _, ok := range []string{"茶叶,咖啡,零食", "diapers,toys", "running shoes", "家居,厨具", "books"} {
		if c, bad := x.Match(ok); bad {
			t.Errorf("%q screened as %s", ok, c)
		}
	}
	own := loadCustom(t, map[string]string{fileInferences: `{"categories": {"health": ["vitamin"]}}`}).Inferences()
	if _, bad := own.Match("vitamin c"); !bad {
		t.Error("a deployment's own lexicon is not used")
	}
	if _, bad := own.Match("diabetes care"); bad {
		t.Error("the override did not replace the built-in lexicon")
	}
	for _, broken := range []string{`{"categories": {}}`, `{"categories": {"health": []}}`, `{"categories": {"health": [" "]}}`, `{"cats": {}}`} {
		if _, err := Load(writeDir(t, map[string]string{fileInferences: broken})); err == nil || !strings.Contains(err.Error(), fileInferences) {
			t.Errorf("%s loaded: %v", broken, err)
		}
	}
}

// A Matcher answers as Match does, the first time and when it answers from memory, for hits and misses,
// mixed-case Latin words and Han substrings.
func TestInferencesMatcher(t *testing.T) {
	x := loadEmbedded(t).Inferences()
	match := x.Matcher()
	values := []string{"降压药,清真食品", "Diabetes Care", "diapers,toys", "Maternity dress", "books", "安全套", "running shoes"}
	for round := range 2 {
		for _, v := range values {
			wantCat, wantOK := x.Match(v)
			if cat, ok := match(v); cat != wantCat || ok != wantOK {
				t.Errorf("round %d, %q: matcher says %q %v, Match %q %v", round, v, cat, ok, wantCat, wantOK)
			}
		}
	}
}
