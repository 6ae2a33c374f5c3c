package policies

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Inferences is the sensitive-inference lexicon (inferences.json): terms whose presence in a tag value
// reveals, or lets one infer, sensitive personal information — health, religion, ethnicity, disability,
// pregnancy, sexual life, finances (PIPL Art. 28; GB/T 35273 §7.4) — by category. The tag engine leaves
// matching names out of the lists it builds, and the vault never stores a tag value that matches.
type Inferences struct {
	categories []string
	terms      map[string]Terms
	scan       termScan // every category's terms, for Match in one pass over a value
}

type inferencesFile struct {
	About      string              `json:"about"`
	Categories map[string][]string `json:"categories"`
}

// parseInferences decodes and validates inferences.json.
func parseInferences(raw []byte) (*Inferences, error) {
	var f inferencesFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, fileInferences, err)
	}
	if len(f.Categories) == 0 {
		return nil, fmt.Errorf("%w: %s: no categories", ErrInvalid, fileInferences)
	}
	x := &Inferences{terms: make(map[string]Terms, len(f.Categories))}
	for name, list := range f.Categories {
		if !validName(name) || len(list) == 0 {
			return nil, fmt.Errorf("%w: %s: category %q needs a valid name and at least one term", ErrInvalid, fileInferences, name)
		}
		t, err := NewTerms(list)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: category %q: %w", ErrInvalid, fileInferences, name, err)
		}
		x.terms[name] = t
		x.categories = append(x.categories, name)
	}
	slices.Sort(x.categories)
	for i, c := range x.categories {
		x.scan.add(x.terms[c], func(int) int { return i })
	}
	return x, nil
}

// Categories returns the lexicon's categories, sorted.
func (x *Inferences) Categories() []string { return slices.Clone(x.categories) }

// Match reports the sensitive category a value lets one infer, if any (the first in sorted order).
func (x *Inferences) Match(value string) (category string, ok bool) {
	if i := x.scan.first(value); i < len(x.categories) {
		return x.categories[i], true
	}
	return "", false
}

// matchEach is Match term list by term list (Terms.match for each category in order): what termScan
// must answer the same as.
func (x *Inferences) matchEach(value string) (category string, ok bool) {
	t := newText(value) // lower-cased and split once for every category
	for _, c := range x.categories {
		if _, hit := x.terms[c].match(t); hit {
			return c, true
		}
	}
	return "", false
}

// matcherLimit is how many answers a Matcher remembers.
const matcherLimit = 1 << 16

// Matcher returns Match with its answers remembered, for one batch or run whose values repeat (tag values
// and explanations, product names). It holds the values it has seen until it is dropped — they may be
// derived from personal data — so keep it no longer than that work. It is safe for concurrent use and
// stops remembering after matcherLimit values.
func (x *Inferences) Matcher() func(value string) (category string, ok bool) {
	var mu sync.Mutex
	seen := map[string]string{} // value → the category it matched, "" for none
	return func(value string) (string, bool) {
		mu.Lock()
		c, known := seen[value]
		mu.Unlock()
		if !known {
			c, _ = x.Match(value)
			mu.Lock()
			if len(seen) < matcherLimit {
				seen[value] = c
			}
			mu.Unlock()
		}
		return c, c != ""
	}
}

// Inferences returns the sensitive-inference lexicon in force.
func (s *Set) Inferences() *Inferences { return s.inferences }
