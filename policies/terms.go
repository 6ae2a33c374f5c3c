package policies

import (
	"errors"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Terms matches words and phrases in text, as the deny lists of tag vocabularies and the sensitive-inference
// lexicon need: a term with Han (or other non-Latin) letters matches as a substring; a Latin term matches
// whole words, a word counting as a match when it starts with the term's last word ("religions",
// "violently"), and a multi-word term ("sexual life") matches a run of consecutive words. Case is ignored.
type Terms struct {
	substrings []string
	words      [][]string
	scan       *termScan // the terms numbered in match's order (nil: search them in turn)
}

// NewTerms compiles terms; an empty term is an error.
func NewTerms(terms []string) (Terms, error) {
	var d Terms
	for _, t := range terms {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			return Terms{}, errors.New("empty term")
		}
		if isLatin(t) {
			d.words = append(d.words, splitWords(t))
		} else {
			d.substrings = append(d.substrings, t)
		}
	}
	d.scan = &termScan{}
	d.scan.add(d, func(k int) int { return k })
	return d, nil
}

// Len is the number of terms.
func (d Terms) Len() int { return len(d.substrings) + len(d.words) }

// isLatin reports whether s holds only ASCII characters.
func isLatin(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// splitWords splits lower-cased s into runs of ASCII letters and digits.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r >= utf8.RuneSelf || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	})
}

// text is a value prepared for matching: lower-cased once, split into words at most once, so that several
// term lists (the lexicon's categories) can be matched against it without redoing either.
type text struct {
	low   string
	words []string
	split bool
}

func newText(s string) *text { return &text{low: strings.ToLower(s)} }

// latinWords returns the text's words, splitting it on first use.
func (t *text) latinWords() []string {
	if !t.split {
		t.words, t.split = splitWords(t.low), true
	}
	return t.words
}

// Match returns the first term that s matches.
func (d Terms) Match(s string) (string, bool) {
	if d.scan == nil {
		return d.match(newText(s))
	}
	k := d.scan.first(s)
	switch {
	case k < len(d.substrings):
		return d.substrings[k], true
	case k < d.Len():
		return strings.Join(d.words[k-len(d.substrings)], " "), true
	}
	return "", false
}

// match returns the first term that x matches, searching for the terms in turn (the reference the scans
// are tested against).

func (d Terms) match(x *text) (string, bool) {
	for _, t := range d.substrings {
		if strings.Contains(x.low, t) {
			return t, true
		}
	}
	if len(d.words) == 0 {
		return "", false
	}
	words := x.latinWords()
	for _, t := range d.words {
		n := len(t)
		for i := 0; i+n <= len(words); i++ {
			ok := true
			for j := range n {
				w := words[i+j]
				if j < n-1 && w != t[j] || j == n-1 && !strings.HasPrefix(w, t[j]) {
					ok = false
					break
				}
			}
			if ok {
				return strings.Join(t, " "), true
			}
		}
	}
	return "", false
}

// termScan finds the lowest-numbered term that occurs in a text — of one term list (Terms.Match, the
// terms numbered in order) or of several (Inferences.Match, each list's terms numbered by the list) —
// scanning the text once instead of searching it for every term: tag values and explanations are screened
// by every category of the sensitive-inference lexicon and by the vocabulary's deny list, and a tag run
// stores about a million of them.
//
// A Latin term's words match where the text's words (splitWords) hold them in a row, the last one as a
// prefix; that is where " " + the term's words joined by " " occurs in " " + the text's words joined by
// " ", so both kinds of term are substrings of some form of the text. A scan looks up, at each byte, the
// two bytes starting there in a bitmap of the terms' first two bytes, and compares only the terms that
// start so.
type termScan struct {
	first2 [1 << 16 / 64]uint64  // bit b: some term starts with the two bytes b
	starts map[uint16][]scanTerm // the terms by their first two bytes
	words  bool                  // whether any term is Latin
	every  int                   // 1 + the lowest number of a term that matches every text; 0 if none
}

// scanTerm is one term as the scan looks for it.
type scanTerm struct {
	s    string // lower-cased; a Latin term as " w1 w2 …"
	list int    // the term's number
	word bool   // Latin: searched in the joined words
}

// add adds the terms of d, the k-th (its substrings first, then its Latin terms) numbered number(k).
func (sc *termScan) add(d Terms, number func(k int) int) {
	if sc.starts == nil {
		sc.starts = map[uint16][]scanTerm{}
	}
	put := func(t scanTerm) {
		// At least two bytes: a substring term holds a multi-byte rune, a Latin one is " " and a word.
		k := uint16(t.s[0])<<8 | uint16(t.s[1])
		sc.first2[k>>6] |= 1 << (k & 63)
		sc.starts[k] = append(sc.starts[k], t)
	}
	for k, s := range d.substrings {
		put(scanTerm{s: s, list: number(k)})
	}
	for k, w := range d.words {
		i := number(len(d.substrings) + k)
		if len(w) == 0 { // a Latin term without letters or digits matches every text (Terms.match)
			if sc.every == 0 || i+1 < sc.every {
				sc.every = i + 1
			}
			continue
		}
		sc.words = true
		put(scanTerm{s: " " + strings.Join(w, " "), list: i, word: true})
	}
}

// first returns the lowest number of a term in value (math.MaxInt if none).
func (sc *termScan) first(value string) int {
	best := math.MaxInt
	if sc.every > 0 {
		best = sc.every - 1
	}
	low := lowerText(value)
	sc.find(low, false, &best)
	if sc.words && best > 0 {
		sc.find(joinedWords(low), true, &best)
	}
	return best
}

// lowerText is strings.ToLower(s), without looking up the case of the runes of CJK scripts
// (U+2E80–U+9FFF), which have none: the explanations screened are mostly Chinese.
func lowerText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune {
				if r >= 0x2e80 && r < 0xa000 {
					return r
				}
				return unicode.ToLower(r)
			}, s)
		}
	}
	return strings.ToLower(s)
}

// joinedWords is " " + strings.Join(splitWords(low), " ") in one pass: a multi-byte rune's bytes (and an
// invalid byte) are all at least utf8.RuneSelf, so a byte is a word's exactly when it is an ASCII letter
// or digit.
func joinedWords(low string) string {
	b := make([]byte, 1, len(low)+1)
	b[0] = ' '
	in := false
	for i := 0; i < len(low); i++ {
		c := low[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			if !in && len(b) > 1 {
				b = append(b, ' ')
			}
			b, in = append(b, c), true
		} else {
			in = false
		}
	}
	return string(b)
}

// find lowers *best to the number of any term below it (of the kind word) in text.
func (sc *termScan) find(text string, word bool, best *int) {
	for i := 0; i+1 < len(text); i++ {
		k := uint16(text[i])<<8 | uint16(text[i+1])
		if sc.first2[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, t := range sc.starts[k] {
			if t.word == word && t.list < *best && strings.HasPrefix(text[i:], t.s) {
				*best = t.list
			}
		}
	}
}
