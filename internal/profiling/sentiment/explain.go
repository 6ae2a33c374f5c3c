package sentiment

import (
	"cmp"
	"math"
	"slices"
	"unicode/utf8"
)

// MaxPhrases is the most phrases an Explanation lists.
const MaxPhrases = 8

// minPhraseWeight is the smallest |weight| of a listed phrase.
const minPhraseWeight = 0.05

// Contribution is one phrase of a text and how far it moved the score.
type Contribution struct {
	Phrase     string  // the text's own characters, e.g. "不会再买", "not worth"
	Start, End int     // byte offsets of Phrase in the text
	Weight     float64 // signed share of Evidence: positive pushes towards Positive
}

// Explanation says why a text got its score: the phrases that moved it, each with its
// signed weight, largest first. For Chinese the weights are log-odds of the trained model
// (character n-grams and lexicon words, which overlap, are merged into phrases); for
// English they are the lexicon weights after negation, degree, contrast and question rules.
type Explanation struct {
	Lang     Lang
	Score    float64 // Score(text)
	Label    Label   // LabelOf(Score)
	Evidence float64 // the sum the score is a squashed form of: the sum of all contributions
	// Phrases lists at most MaxPhrases phrases of |Weight| ≥ 0.05, by decreasing |Weight|;
	// smaller contributions make up the rest of Evidence.
	Phrases []Contribution
}

// Explain scores text and says which phrases drove the score (PIPL Art. 24: an automated
// decision's basis can be shown). Explain(text).Score == Score(text).
func Explain(text string) Explanation {
	tr := &trace{}
	ex := Explanation{Lang: DetectLanguage(text)}
	var parts []contrib
	m, z, lexSum := scoreText(text, ex.Lang, tr)
	ex.Score, ex.Evidence = modelScore(m, z, lexSum), z
	for _, c := range tr.lex {
		parts = append(parts, contrib{start: c.start, end: c.end, w: m.lex * c.w})
	}
	if ex.Lang == Chinese {
		ex.Phrases = mergeSpans(text, append(parts, tr.feats...))
	} else {
		ex.Phrases = wordSpans(text, parts, tr.feats)
	}
	ex.Label = LabelOf(ex.Score)
	slices.SortStableFunc(ex.Phrases, func(a, b Contribution) int {
		if c := cmp.Compare(math.Abs(b.Weight), math.Abs(a.Weight)); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
	n := 0
	for _, p := range ex.Phrases {
		if math.Abs(p.Weight) >= minPhraseWeight && n < MaxPhrases {
			ex.Phrases[n] = p
			n++
		}
	}
	ex.Phrases = ex.Phrases[:n]
	return ex
}

// wordSpans groups English contributions: a lexicon unit's span ("had to return") takes
// the word features inside it; every other word is a phrase of its own. Identical spans
// add up (a phrase hit twice by post-degree words, say); phrases are in text order.
func wordSpans(text string, lexParts, feats []contrib) []Contribution {
	var out []Contribution
	add := func(c contrib) {
		if c.start < 0 || c.end > len(text) || c.start >= c.end {
			return
		}
		if i := slices.IndexFunc(out, func(o Contribution) bool { return o.Start <= c.start && c.end <= o.End }); i >= 0 {
			out[i].Weight += c.w
			return
		}
		out = append(out, Contribution{Phrase: text[c.start:c.end], Start: c.start, End: c.end, Weight: c.w})
	}
	for _, c := range lexParts {
		add(c)
	}
	for _, c := range feats {
		add(c)
	}
	slices.SortStableFunc(out, func(a, b Contribution) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// mergeSpans turns overlapping contributions (character n-grams and lexicon words) into
// phrases: each contribution is spread evenly over the characters of its span, and a
// phrase is a maximal run of adjacent characters whose shares have the same sign and are
// not negligible, within one run of Han characters or Latin letters.
func mergeSpans(text string, parts []contrib) []Contribution {
	if len(parts) == 0 {
		return nil
	}
	// Rune starts of text, and each rune's share.
	var starts []int
	for i := range text {
		starts = append(starts, i)
	}
	starts = append(starts, len(text))
	share := make([]float64, len(starts)-1)
	idx := func(off int) int { // index of the rune starting at off
		i, _ := slices.BinarySearch(starts, off)
		return i
	}
	for _, c := range parts {
		if c.start < 0 || c.end > len(text) || c.start >= c.end {
			continue
		}
		a, b := idx(c.start), idx(c.end)
		if b <= a {
			continue
		}
		for i := a; i < b; i++ {
			share[i] += c.w / float64(b-a)
		}
	}
	const eps = 0.01
	var out []Contribution
	cur := -1 // index in out of the open phrase
	for i := range share {
		r, _ := utf8.DecodeRuneInString(text[starts[i]:])
		c := classify(r)
		inWord := c == classHan || c == classWord || c == classApos
		if !inWord || math.Abs(share[i]) < eps {
			if inWord || c != classIgnore {
				cur = -1
			}
			continue
		}
		if cur >= 0 && (out[cur].Weight > 0) == (share[i] > 0) {
			out[cur].End = starts[i+1]
			out[cur].Weight += share[i]
			continue
		}
		out = append(out, Contribution{Start: starts[i], End: starts[i+1], Weight: share[i]})
		cur = len(out) - 1
	}
	for i := range out {
		out[i].Phrase = text[out[i].Start:out[i].End]
	}
	return out
}
