package policies

import (
	"errors"
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
func (d Terms) Match(s string) (string, bool) { return d.match(newText(s)) }

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
