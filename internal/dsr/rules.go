package dsr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// Rules adapts the workflow and a calendar to vault.RequestRules.
type Rules struct {
	Calendar  *Calendar
	Deadlines Deadlines
}

var _ vault.RequestRules = Rules{}

// NewRules uses the PRC calendar and the default deadlines (15 working days for every type).
func NewRules() Rules { return Rules{Calendar: PRC(), Deadlines: DefaultDeadlines()} }

// deadlinesFile is the JSON form of Deadlines: {"default": 15, "per_type": {"access": 10}}.
type deadlinesFile struct {
	Default int            `json:"default"`
	PerType map[string]int `json:"per_type"`
}

// LoadRules builds Rules from a deadlines file (nil: 15 working days for every type) and a calendar file
// in LoadCalendar's form (nil: the embedded PRC calendar) — GB/T 35273 §8.7's deadlines and the holidays
// they count around, kept configurable. Errors wrap ErrInvalidDeadline or ErrInvalidCalendar.
func LoadRules(deadlines, calendar []byte) (Rules, error) {
	r := NewRules()
	if deadlines != nil {
		dec := json.NewDecoder(bytes.NewReader(deadlines))
		dec.DisallowUnknownFields()
		var f deadlinesFile
		if err := dec.Decode(&f); err != nil {
			return Rules{}, fmt.Errorf("%w: %w", ErrInvalidDeadline, err)
		}
		r.Deadlines = Deadlines{Default: f.Default}
		if len(f.PerType) > 0 {
			r.Deadlines.PerType = map[Type]int{}
			for t, n := range f.PerType {
				r.Deadlines.PerType[Type(t)] = n
			}
		}
		if err := r.Deadlines.Validate(); err != nil {
			return Rules{}, err
		}
	}
	if calendar != nil {
		c, err := LoadCalendar(calendar)
		if err != nil {
			return Rules{}, err
		}
		r.Calendar = c
	}
	return r, nil
}

// ValidType implements vault.RequestRules.
func (r Rules) ValidType(t string) bool { _, err := ParseType(t); return err == nil }

// ValidState implements vault.RequestRules.
func (r Rules) ValidState(st string) bool { return State(st).Valid() }

// Transition implements vault.RequestRules, mapping this package's errors onto the vault's.
func (r Rules) Transition(from, to, reason string) error {
	err := Transition(State(from), State(to), reason)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrReasonRequired):
		return fmt.Errorf("%w: %v", vault.ErrReasonRequired, err)
	default:
		return fmt.Errorf("%w: %v", vault.ErrIllegalTransition, err)
	}
}

// DueAt implements vault.RequestRules.
func (r Rules) DueAt(t string, received time.Time) time.Time {
	return r.Deadlines.DueAt(r.Calendar, Type(t), received)
}

// Overdue implements vault.RequestRules.
func (r Rules) Overdue(due, now time.Time, state string) bool {
	return r.Deadlines.Overdue(due, now, State(state))
}

// AutoCompletes implements vault.RequestRules.
func (r Rules) AutoCompletes(t string) bool { return AutoCompletes(Type(t)) }
