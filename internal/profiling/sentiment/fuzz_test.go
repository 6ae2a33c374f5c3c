package sentiment

import (
	"math"
	"testing"
	"unicode/utf8"
)

func FuzzScore(f *testing.F) {
	for _, s := range []string{"", "not bad", "不好", "太贵了，但是质量很好", "very very good 👍", "\xff", "GREAT!!!", "不会再买了！！", "请问可以开发票吗", "iPhone 不太好用 OK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s := Score(text)
		if math.IsNaN(s) || s < -1 || s > 1 {
			t.Fatalf("Score(%q) = %v, out of [-1, 1]", text, s)
		}
		if again := Score(text); again != s {
			t.Fatalf("Score(%q) not deterministic: %v then %v", text, s, again)
		}
		if got := Classify(text); got != LabelOf(s) {
			t.Fatalf("Classify(%q) = %s, LabelOf(Score) = %s", text, got, LabelOf(s))
		}
		if text == "" && s != 0 {
			t.Fatalf("empty text scored %v", s)
		}
		ex := Explain(text)
		if ex.Score != s || ex.Label != LabelOf(s) || len(ex.Phrases) > MaxPhrases {
			t.Fatalf("Explain(%q) = %v %s (%d phrases), Score = %v", text, ex.Score, ex.Label, len(ex.Phrases), s)
		}
		for _, p := range ex.Phrases {
			if p.Start < 0 || p.End > len(text) || p.Start >= p.End || text[p.Start:p.End] != p.Phrase || math.IsNaN(p.Weight) {
				t.Fatalf("Explain(%q): bad phrase %+v", text, p)
			}
		}
		if utf8.ValidString(text) {
			_ = DetectLanguage(text)
		}
	})
}

// review60 holds 60-character reviews, one per language.
var review60 = map[string]string{
	"en": "Fast delivery, but the fabric is not very soft. Still good!!",
	"zh": "物流很快，包装也很严实，但是衣服有点偏小，客服态度非常好，帮我换了大一码，穿着很舒服，面料也不错，总体来说还是很满意的。",
}

func BenchmarkScore(b *testing.B) {
	for _, lang := range []string{"en", "zh"} {
		text := review60[lang]
		if n := utf8.RuneCountInString(text); n != 60 {
			b.Fatalf("%s review has %d characters, want 60", lang, n)
		}
		b.Run(lang, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Score(text)
			}
		})
	}
}
