package sentiment

import (
	"strings"
	"testing"
)

// Drivers name lexicon entries with the sign of their push, never the text around them.
func TestDriversNameTheLexiconNotTheText(t *testing.T) {
	for _, tc := range []struct {
		text     string
		want     string // an entry among the drivers
		negative bool
	}{
		{"宝宝用了过敏，质量太差了，不会再买了", "不会再买", true},
		{"物流很快，宝宝很喜欢", "喜欢", false},
		{"I had to return it, the battery died after a month.", "had to return", true},
		{"Works great, love it.", "great", false},
	} {
		ds := Drivers(tc.text, 3)
		found := false
		for _, d := range ds {
			if strings.Contains(d.Phrase, tc.want) && d.Negative == tc.negative {
				found = true
			}
			if !sentimentEntry(lex.zh, d.Phrase) && !sentimentEntry(lex.en, d.Phrase) {
				t.Errorf("%q: driver %q is not a lexicon entry", tc.text, d.Phrase)
			}
			if strings.Contains(d.Phrase, "宝宝") || strings.Contains(d.Phrase, "battery") {
				t.Errorf("%q: driver %q quotes the text", tc.text, d.Phrase)
			}
		}
		if !found || len(ds) > 3 {
			t.Errorf("%q: drivers %+v, want %q (negative %v) among at most 3", tc.text, ds, tc.want, tc.negative)
		}
	}
	if ds := Drivers("收到了", 3); len(ds) != 0 {
		t.Errorf("a neutral text has drivers %+v", ds)
	}
}
