package profiling

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/profilevault/profilevault/policies"
)

// Version identifies the tag engine's feature definitions, thresholds and model choices; it is recorded as
// the algorithm version of every tag (attitude.sentiment adds the sentiment lexicon's version).
const Version = "profiling-2026.12-1"

// Sentinel errors of this package; each is wrapped with %w and a message that never holds personal data.
var (
	// ErrNoData reports a fit or insight without any usable subject.
	ErrNoData = errors.New("profiling: no data")
	// ErrVocabulary reports a vocabulary file that cannot be parsed or is inconsistent.
	ErrVocabulary = errors.New("profiling: invalid vocabulary")
	// ErrDenied reports a vocabulary whose tag key, value or pattern matches the GB/T 35273 §7.4 deny list.
	ErrDenied = errors.New("profiling: vocabulary term on the deny list")
	// ErrInvalidOptions reports options out of range.
	ErrInvalidOptions = errors.New("profiling: invalid options")
)

// Input categories a tag may read (the field and event categories of API.md that feed profiling).
const (
	Transactions = "transactions"
	Behavior     = "behavior"
	Interactions = "interactions"
	Identity     = "identity"
	Address      = "address"
	Demographic  = "demographic"
)

// Tag levels.
const (
	LevelBasic    = "basic"
	LevelBehavior = "behavior"
	LevelInterest = "interest"
	LevelValue    = "value"
	LevelAttitude = "attitude"
	LevelSegment  = "segment"
)

// inputOrder lists the input categories in a fixed order; a CategorySet's bit k stands for inputOrder[k].
var inputOrder = [...]string{Transactions, Behavior, Interactions, Identity, Address, Demographic}

// InputCategories returns every input category, in a fixed order.
func InputCategories() []string { return slices.Clone(inputOrder[:]) }

// EventCategory returns the category of an event type (policies.EventCategory, the one definition), or ""
// for an unknown type.
func EventCategory(eventType string) string {
	c, _ := policies.EventCategory(eventType)
	return c
}

// Event is one decrypted event of a subject.
type Event struct {
	// ID is the event id.
	ID string
	// Type is the event type of API.md (page_view, order, review, ...).
	Type string
	// Category is the event's category; when empty it is derived from Type with EventCategory.
	Category string
	// Source is app, web, pos, crm or erp.
	Source string
	// TS is when the event happened.
	TS time.Time
	// Attrs are the type's attributes (API.md): strings, numbers (json.Number, float64 or integers) and, for
	// order items, a list of objects.
	Attrs map[string]any
}

// Subject is what the vault hands over for one subject: only data of Allowed categories is present (the
// vault filters, and this package checks again).
type Subject struct {
	// ID is the subject id.
	ID string
	// Fields are profile fields by schema name; only birth_date (identity), province and city (address)
	// are ever read.
	Fields map[string]string
	// CreatedAt is when the subject registered (zero when unknown).
	CreatedAt time.Time
	// Events are the subject's events, oldest first.
	Events []Event
	// Allowed lists the input categories the legal basis covers for the purpose being computed.
	Allowed map[string]bool
	// Sensitive, when set, reports product category and brand names that reveal or let one infer
	// sensitive personal information (policies.Inferences): they feed no interest, season or segment.
	Sensitive func(name string) bool
	// Categories, when set, maps a product category name to its key in the policy's taxonomy
	// (policies.Taxonomy); a name outside it feeds no interest, season, segment or basket. Nil keeps names
	// as they are.
	Categories func(name string) (key string, ok bool)
	// Refused are the tag keys the subject refused: they are not computed, and no other tag uses their
	// value to decide or explain itself (the lifecycle stage does not name a refused RFM segment).
	Refused map[string]bool
}

// category returns the name under which a product category feeds the profile, or "" when it feeds nothing:
// screened as sensitive, or outside the taxonomy.
func (s *Subject) category(name string) string {
	if name == "" || s.Sensitive != nil && s.Sensitive(name) {
		return ""
	}
	if s.Categories != nil {
		key, ok := s.Categories(name)
		if !ok {
			return ""
		}
		return key
	}
	return name
}

// brand returns the brand name as it feeds the profile, or "" when screened as sensitive.
func (s *Subject) brand(name string) string {
	if name == "" || s.Sensitive != nil && s.Sensitive(name) {
		return ""
	}
	return name
}

// CategorySet is a set of input categories. It serialises to JSON as a sorted list of category names.
type CategorySet uint8

// categoryBit returns the bit of category c, or 0 for a name that is not an input category.
func categoryBit(c string) CategorySet {
	for k, n := range inputOrder {
		if n == c {
			return 1 << k
		}
	}
	return 0
}

// NewCategorySet returns the set of the given categories; names that are not input categories are ignored.
func NewCategorySet(categories ...string) CategorySet {
	var s CategorySet
	for _, c := range categories {
		s |= categoryBit(c)
	}
	return s
}

// SetOf returns the set of the categories whose value in allowed is true.
func SetOf(allowed map[string]bool) CategorySet {
	var s CategorySet
	for c, ok := range allowed {
		if ok {
			s |= categoryBit(c)
		}
	}
	return s
}

// Has reports whether the set holds category c.
func (s CategorySet) Has(c string) bool { b := categoryBit(c); return b != 0 && s&b == b }

// Contains reports whether every category of o is in s.
func (s CategorySet) Contains(o CategorySet) bool { return s&o == o }

// Names returns the categories of the set in the fixed order of InputCategories.
func (s CategorySet) Names() []string {
	out := []string{}
	for k, n := range inputOrder {
		if s&(1<<k) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// MarshalJSON encodes the set as a list of category names.
func (s CategorySet) MarshalJSON() ([]byte, error) { return json.Marshal(s.Names()) }

// UnmarshalJSON decodes a list of category names; an unknown name is an error.
func (s *CategorySet) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	var out CategorySet
	for _, n := range names {
		bit := categoryBit(n)
		if bit == 0 {
			return fmt.Errorf("%w: unknown input category", ErrInvalidOptions)
		}
		out |= bit
	}
	*s = out
	return nil
}

// Definition declares a tag: its key, level, the purpose it serves and the input categories it reads. A tag
// is computed for a subject only when every input is allowed.
type Definition struct {
	// Key is the tag key, e.g. "value.rfm_segment".
	Key string `json:"key"`
	// Level is basic, behavior, interest, value, attitude or segment.
	Level string `json:"level"`
	// Purpose is marketing or personalization.
	Purpose policies.PurposeName `json:"purpose"`
	// Inputs are the input categories the tag reads.
	Inputs []string `json:"inputs"`
	// Description says in English how the value is computed.
	Description string `json:"description"`
}

// Explanation is a plain-language explanation of a tag value in Chinese and English.
type Explanation struct {
	// ZH is the Chinese explanation.
	ZH string `json:"zh"`
	// EN is the English explanation.
	EN string `json:"en"`
}

// Tag is one computed tag of a subject.
type Tag struct {
	// Key, Level and Purpose repeat the definition.
	Key     string               `json:"key"`
	Level   string               `json:"level"`
	Purpose policies.PurposeName `json:"purpose"`
	// Value is the tag value from the vocabulary.
	Value string `json:"value"`
	// Inputs are the input categories the value was computed from (the definition's, and for
	// basic.member_since_band the category of the first event when it predates registration).
	Inputs []string `json:"inputs"`
	// Explanation says in plain language why the subject has this value.
	Explanation Explanation `json:"explanation"`
	// AlgorithmVersion identifies the algorithm that computed the value.
	AlgorithmVersion string `json:"algorithm_version"`
}
