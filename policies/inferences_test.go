package policies

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
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

// Match scans a value once for every category's terms (termScan), and Terms.Match once for its terms; they
// must answer as matching each category's terms in turn does: the embedded lexicon and one with overlapping terms of several
// categories, multi-word and prefix Latin terms and a term without letters, over values built from the
// terms' pieces, mixed case and random text.
func TestInferencesScanMatchesEachList(t *testing.T) {
	custom, err := parseInferences([]byte(`{"categories": {
		"a_first": ["blood pressure", "压药", "x-ray"],
		"b_second": ["降压", "blood", "pressure pills", "β-blocker"],
		"c_third": ["--", "安全"],
		"d_fourth": ["pill", "降"]}}`)) // parsed only: Load refuses a term that matches every taxonomy name
	if err != nil {
		t.Fatal(err)
	}
	for name, x := range map[string]*Inferences{"embedded": loadEmbedded(t).Inferences(), "custom": custom} {
		t.Run(name, func(t *testing.T) {
			var pieces []string
			for _, c := range x.categories {
				for _, s := range x.terms[c].substrings {
					r := []rune(s)
					pieces = append(pieces, s, string(r[:len(r)/2+1]), string(r[len(r)/2:]))
				}
				for _, w := range x.terms[c].words {
					for _, word := range w {
						pieces = append(pieces, word, strings.ToUpper(word), word[:len(word)/2+1], "x"+word)
					}
				}
			}
			pieces = append(pieces, " ", ",", "-", "的", "Care", "2026", "¥1,299", "\u00e9t\u00e9", "")
			rng := rand.New(rand.NewPCG(21, 21))
			values := []string{"", " ", "-", "BLOOD   Pressure!", "bloodpressure", "blood pressures", "降压药", "x ray", "Blood, pressure pills"}
			for range 20_000 {
				var b strings.Builder
				for range rng.IntN(6) {
					if rng.IntN(3) == 0 {
						b.WriteString(string(rune(0x20 + rng.IntN(0x60))))
					}
					b.WriteString(pieces[rng.IntN(len(pieces))])
				}
				values = append(values, b.String())
			}
			answers := map[string]int{} // by category, "" for none
			terms := map[string]int{}   // the terms Terms.Match answered, "" for none
			for _, v := range values {
				cat, ok := x.Match(v)
				wantCat, wantOK := x.matchEach(v)
				if cat != wantCat || ok != wantOK {
					t.Fatalf("%q: Match says %q %v, each list in turn %q %v", v, cat, ok, wantCat, wantOK)
				}
				answers[cat]++
				// Terms.Match, on its own scan, answers the first term in order, as matching the terms
				// in turn does.
				for _, c := range x.categories {
					term, ok := x.terms[c].Match(v)
					wantTerm, wantOK := x.terms[c].match(newText(v))
					if term != wantTerm || ok != wantOK {
						t.Fatalf("%q: %s's Terms.Match says %q %v, the terms in turn %q %v", v, c, term, ok, wantTerm, wantOK)
					}
					terms[term]++
				}
			}
			if len(answers) < 3 || answers[""] > len(values)*9/10 || len(terms) < 10 {
				t.Fatalf("answers %v, terms %v: the values test too little", answers, terms)
			}
		})
	}
}

// The scan's shortcuts are exact: the runes lowerText does not look up have no lower case, and
// joinedWords joins the words splitWords finds.
func TestScanShortcuts(t *testing.T) {
	for r := rune(0x2e80); r < 0xa000; r++ {
		if unicode.ToLower(r) != r {
			t.Fatalf("U+%04X has a lower case", r)
		}
	}
	for _, s := range []string{"", " ", "-a-", "Blood  PRESSURE 2026", "年龄段为 25-34 岁", "x\xffy", "été, Ärger ½", "ａｂｃ ABC", "a\u00a0b\tc\n"} {
		if got, want := lowerText(s), strings.ToLower(s); got != want {
			t.Errorf("lowerText(%q) = %q, want %q", s, got, want)
		}
		low := strings.ToLower(s)
		if got, want := joinedWords(low), " "+strings.Join(splitWords(low), " "); got != want {
			t.Errorf("joinedWords(%q) = %q, want %q", low, got, want)
		}
	}
}
