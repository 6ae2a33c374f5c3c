package profiling

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/profilevault/profilevault/policies"
)

//go:embed vocabulary.json
var embeddedVocabulary []byte

// VocabularyEntry is one tag of the vocabulary: its key, level, purpose and inputs, and either the list of
// allowed values or, for numeric and list-valued tags, a pattern every value must match.
type VocabularyEntry struct {
	// Key, Level, Purpose and Inputs must equal the tag's Definition.
	Key     string               `json:"key"`
	Level   string               `json:"level"`
	Purpose policies.PurposeName `json:"purpose"`
	Inputs  []string             `json:"inputs"`
	// Values lists the allowed values (empty for a pattern tag).
	Values []string `json:"values,omitempty"`
	// Pattern is an anchored regular expression (RE2) every value must match (empty for an enumerated tag).
	Pattern string `json:"pattern,omitempty"`
	// Number says the values are decimal numbers (a pattern tag): audience rules compare them as numbers,
	// whatever the digits a rule writes, and compare the other tags only with values the list allows.
	Number bool `json:"number,omitempty"`

	values  map[string]bool
	pattern *regexp.Regexp
}

// Vocabulary is a parsed, checked tag vocabulary: tag names and values come from it, and none of them
// matches the deny list. A Vocabulary is immutable once loaded and safe for concurrent use.
type Vocabulary struct {
	version string
	deny    policies.Terms
	entries map[string]*VocabularyEntry
	keys    []string
}

// vocabularyFile is the JSON shape of a vocabulary file.
type vocabularyFile struct {
	Version string             `json:"version"`
	Deny    []string           `json:"deny"`
	Tags    []*VocabularyEntry `json:"tags"`
}

// LoadVocabulary parses and checks a vocabulary file. It fails with ErrVocabulary when the file is not valid
// JSON, a key is repeated or empty, an entry has neither or both of values and pattern, or a pattern does not
// compile or is not anchored; and with ErrDenied when a key, a value or a pattern's text matches a term of
// the deny list (GB/T 35273 §7.4: ethnicity, race, religion, disability, disease, sexual life, obscene,
// superstitious and violent terms, in English and Chinese). The deny list must not be empty.
func LoadVocabulary(raw []byte) (Vocabulary, error) {
	var f vocabularyFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Vocabulary{}, fmt.Errorf("%w: %w", ErrVocabulary, err)
	}
	if len(f.Deny) == 0 {
		return Vocabulary{}, fmt.Errorf("%w: empty deny list", ErrVocabulary)
	}
	deny, err := policies.NewTerms(f.Deny)
	if err != nil {
		return Vocabulary{}, fmt.Errorf("%w: deny list: %w", ErrVocabulary, err)
	}
	v := Vocabulary{version: f.Version, deny: deny, entries: make(map[string]*VocabularyEntry, len(f.Tags))}
	for i, e := range f.Tags {
		if e == nil || e.Key == "" {
			return Vocabulary{}, fmt.Errorf("%w: tag %d has no key", ErrVocabulary, i)
		}
		if _, dup := v.entries[e.Key]; dup {
			return Vocabulary{}, fmt.Errorf("%w: tag %q listed twice", ErrVocabulary, e.Key)
		}
		if term, bad := deny.Match(e.Key); bad {
			return Vocabulary{}, fmt.Errorf("%w: tag key %q matches %q", ErrDenied, e.Key, term)
		}
		if (len(e.Values) == 0) == (e.Pattern == "") {
			return Vocabulary{}, fmt.Errorf("%w: tag %q needs exactly one of values and pattern", ErrVocabulary, e.Key)
		}
		if e.Number && e.Pattern == "" {
			return Vocabulary{}, fmt.Errorf("%w: number tag %q needs a pattern", ErrVocabulary, e.Key)
		}
		e.values = make(map[string]bool, len(e.Values))
		for _, val := range e.Values {
			if val == "" || e.values[val] {
				return Vocabulary{}, fmt.Errorf("%w: tag %q has an empty or repeated value", ErrVocabulary, e.Key)
			}
			if term, bad := deny.Match(val); bad {
				return Vocabulary{}, fmt.Errorf("%w: a value of tag %q matches %q", ErrDenied, e.Key, term)
			}
			e.values[val] = true
		}
		if e.Pattern != "" {
			if !strings.HasPrefix(e.Pattern, "^") || !strings.HasSuffix(e.Pattern, "$") {
				return Vocabulary{}, fmt.Errorf("%w: pattern of tag %q is not anchored", ErrVocabulary, e.Key)
			}
			if term, bad := deny.Match(e.Pattern); bad {
				return Vocabulary{}, fmt.Errorf("%w: pattern of tag %q matches %q", ErrDenied, e.Key, term)
			}
			re, err := regexp.Compile(e.Pattern)
			if err != nil {
				return Vocabulary{}, fmt.Errorf("%w: pattern of tag %q: %w", ErrVocabulary, e.Key, err)
			}
			e.pattern = re
		}
		for _, in := range e.Inputs {
			if categoryBit(in) == 0 {
				return Vocabulary{}, fmt.Errorf("%w: tag %q has an unknown input category", ErrVocabulary, e.Key)
			}
		}
		e.Inputs = NewCategorySet(e.Inputs...).Names()
		v.entries[e.Key] = e
		v.keys = append(v.keys, e.Key)
	}
	return v, nil
}

// defaultVocabulary is the embedded vocabulary, parsed once; it never changes afterwards.
var defaultVocabulary = func() Vocabulary {
	v, err := LoadVocabulary(embeddedVocabulary)
	if err != nil {
		panic(err) // the embedded file is checked by the package tests
	}
	return v
}()

// DefaultVocabulary returns the vocabulary shipped with the package (vocabulary.json).
func DefaultVocabulary() Vocabulary { return defaultVocabulary }

// EmbeddedVocabulary returns a copy of the raw vocabulary.json shipped with the package, for deployments
// that start their own file from it.
func EmbeddedVocabulary() []byte { return slices.Clone(embeddedVocabulary) }

// Version returns the vocabulary file's version string.
func (v Vocabulary) Version() string { return v.version }

// Keys returns the tag keys of the vocabulary in file order.
func (v Vocabulary) Keys() []string { return slices.Clone(v.keys) }

// Entry returns the entry of a tag key.
func (v Vocabulary) Entry(key string) (VocabularyEntry, bool) {
	e, ok := v.entries[key]
	if !ok {
		return VocabularyEntry{}, false
	}
	out := *e
	out.Inputs, out.Values = slices.Clone(e.Inputs), slices.Clone(e.Values)
	return out, true
}

// Has reports whether the vocabulary has the tag key.
func (v Vocabulary) Has(key string) bool {
	_, ok := v.entries[key]
	return ok
}

// Allows reports whether the vocabulary has the tag key and allows the value: listed among the entry's
// values, or matching its pattern and no deny-list term (list-valued tags carry names from the data, so
// they are checked when computed).
func (v Vocabulary) Allows(key, value string) bool {
	e, ok := v.entries[key]
	if !ok || value == "" {
		return false
	}
	if e.pattern == nil {
		return e.values[value]
	}
	if !e.pattern.MatchString(value) {
		return false
	}
	_, bad := v.deny.Match(value)
	return !bad
}

// Describe says what audience rules need of key: the purpose its tags are computed for, and whether its
// values are numbers ("" and false for a key the vocabulary does not have).
func (v Vocabulary) Describe(key string) (purpose string, number bool) {
	e, ok := v.entries[key]
	if !ok {
		return "", false
	}
	return string(e.Purpose), e.Number
}

// Denied reports whether s matches a term of the vocabulary's deny list.
func (v Vocabulary) Denied(s string) bool { _, bad := v.deny.Match(s); return bad }
