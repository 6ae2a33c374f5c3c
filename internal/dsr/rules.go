package dsr

import (
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
