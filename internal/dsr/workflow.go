package dsr

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the kind of a data-subject request.
type Type string

// The request types (PIPL Art. 44–48).
const (
	TypeAccess      Type = "access"      // access and a copy (Art. 45)
	TypePortability Type = "portability" // transfer in a machine-readable form (Art. 45)
	TypeCorrection  Type = "correction"  // correction or completion (Art. 46)
	TypeDeletion    Type = "deletion"    // deletion (Art. 47)
	TypeRestriction Type = "restriction" // restriction or refusal of processing (Art. 44)
	TypeExplanation Type = "explanation" // explanation of the processing rules (Art. 48)
	// TypeDeceasedRelative is a close relative of a deceased subject exercising the rights of Art. 45-47
	// for their own lawful, legitimate interests (Art. 49); staff record it, and it starts received.
	TypeDeceasedRelative Type = "deceased_relative"
)

// State is where a data-subject request stands in the workflow.
type State string

// The request states. Completed, rejected and withdrawn are final.
const (
	StateReceived   State = "received"    // accepted, identity not yet verified
	StateVerified   State = "verified"    // the requester's identity is verified
	StateInProgress State = "in_progress" // someone is working on it
	StateCompleted  State = "completed"   // fulfilled (final)
	StateRejected   State = "rejected"    // refused with a reason (final)
	StateWithdrawn  State = "withdrawn"   // withdrawn by its subject before it was answered (final)
)

// MaxReasonLen is the largest number of characters (Unicode code points) a transition reason may
// have after trimming surrounding white space.
const MaxReasonLen = 1000

// DefaultWorkingDays is the default time to answer a request of any type, in working days:
// stricter than the 30 days of GB/T 35273-2020 §8.7.
const DefaultWorkingDays = 15

// maxWorkingDays bounds a configured deadline (about a year and a half of working days).
const maxWorkingDays = 366

var (
	// ErrIllegalTransition is returned (wrapped) by Transition for a move the workflow does not allow.
	ErrIllegalTransition = errors.New("dsr: illegal state transition")
	// ErrReasonRequired is returned (wrapped) by Transition when a rejection has no reason, or a
	// reason is longer than MaxReasonLen characters.
	ErrReasonRequired = errors.New("dsr: a reason of 1 to 1000 characters is required")
	// ErrUnknownType is returned (wrapped) by ParseType for a string that names no request type.
	ErrUnknownType = errors.New("dsr: unknown request type")
	// ErrUnknownState is returned (wrapped) by ParseState, and by Transition, together with
	// ErrIllegalTransition, for a state that is not one of the six.
	ErrUnknownState = errors.New("dsr: unknown request state")
	// ErrInvalidDeadline is returned (wrapped) by Deadlines.Validate.
	ErrInvalidDeadline = errors.New("dsr: invalid deadline")
)

// allTypes lists the request types in a stable order.
var allTypes = []Type{TypeAccess, TypePortability, TypeCorrection, TypeDeletion, TypeRestriction, TypeExplanation, TypeDeceasedRelative}

// allStates lists the request states in workflow order.
var allStates = []State{StateReceived, StateVerified, StateInProgress, StateCompleted, StateRejected, StateWithdrawn}

// legal holds every allowed transition.
var legal = map[[2]State]bool{
	{StateReceived, StateVerified}:    true,
	{StateReceived, StateRejected}:    true,
	{StateVerified, StateInProgress}:  true,
	{StateVerified, StateCompleted}:   true,
	{StateVerified, StateRejected}:    true,
	{StateInProgress, StateCompleted}: true,
	{StateInProgress, StateRejected}:  true,
	{StateReceived, StateWithdrawn}:   true,
	{StateVerified, StateWithdrawn}:   true,
	{StateInProgress, StateWithdrawn}: true,
}

// Types returns every request type, in a stable order; the slice is the caller's.
func Types() []Type { return append([]Type(nil), allTypes...) }

// States returns every request state, in workflow order; the slice is the caller's.
func States() []State { return append([]State(nil), allStates...) }

// ParseType returns the request type named exactly by s (lower case, as in the API), or an error
// wrapping ErrUnknownType. The error does not repeat s.
func ParseType(s string) (Type, error) {
	for _, t := range allTypes {
		if s == string(t) {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: want one of access, portability, correction, deletion, restriction, explanation, deceased_relative", ErrUnknownType)
}

// ParseState returns the request state named exactly by s, or an error wrapping ErrUnknownState.
// The error does not repeat s.
func ParseState(s string) (State, error) {
	for _, st := range allStates {
		if s == string(st) {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: want one of received, verified, in_progress, completed, rejected, withdrawn", ErrUnknownState)
}

// Valid reports whether s is one of the six request states.
func (s State) Valid() bool {
	_, err := ParseState(string(s))
	return err == nil
}

// Final reports whether s is a final state (completed, rejected or withdrawn), from which no move is legal.
func (s State) Final() bool { return s == StateCompleted || s == StateRejected || s == StateWithdrawn }

// NormalizeReason returns reason with surrounding white space removed: the form Transition
// measures and the form to store.
func NormalizeReason(reason string) string { return strings.TrimSpace(reason) }

// Transition checks a move of a request from one state to another. The legal moves are
// received→verified, received→rejected, verified→in_progress, verified→completed,
// verified→rejected, in_progress→completed and in_progress→rejected, and from any state that is not
// final to withdrawn (the subject's move, not an officer's); anything else, including staying in
// the same state and any move out of a final state, wraps
// ErrIllegalTransition (a state that is not one of the six also wraps ErrUnknownState). A
// move to rejected needs a reason that is non-empty after trimming; any reason longer than
// MaxReasonLen characters after trimming is refused. Both wrap ErrReasonRequired. Legality is
// checked before the reason.
func Transition(from, to State, reason string) error {
	if !from.Valid() || !to.Valid() {
		return fmt.Errorf("%w: %w", ErrIllegalTransition, ErrUnknownState)
	}
	if !legal[[2]State{from, to}] {
		if from.Final() {
			return fmt.Errorf("%w: %s is final", ErrIllegalTransition, from)
		}
		return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, from, to)
	}
	r := NormalizeReason(reason)
	if to == StateRejected && r == "" {
		return fmt.Errorf("%w: a rejection must say why", ErrReasonRequired)
	}
	if utf8.RuneCountInString(r) > MaxReasonLen {
		return fmt.Errorf("%w: the reason is longer than %d characters", ErrReasonRequired, MaxReasonLen)
	}
	return nil
}

// Deadlines says how many working days a request of each type may take. A type missing from
// PerType, or with a value below 1, takes Default; a Default below 1 means DefaultWorkingDays.
// The zero value therefore gives 15 working days for every type.
type Deadlines struct {
	// Default is the number of working days for every type not in PerType.
	Default int
	// PerType overrides Default for individual types.
	PerType map[Type]int
}

// DefaultDeadlines returns 15 working days for every type (stricter than GB/T 35273-2020 §8.7).
func DefaultDeadlines() Deadlines { return Deadlines{Default: DefaultWorkingDays} }

// Validate reports, wrapping ErrInvalidDeadline, a Default or per-type value outside 1 to 366
// working days (Default may also be 0, meaning DefaultWorkingDays), or a per-type entry for an
// unknown type.
func (d Deadlines) Validate() error {
	if d.Default < 0 || d.Default > maxWorkingDays {
		return fmt.Errorf("%w: default %d is outside 1..%d working days", ErrInvalidDeadline, d.Default, maxWorkingDays)
	}
	for t, n := range d.PerType {
		if _, err := ParseType(string(t)); err != nil {
			return fmt.Errorf("%w: per-type deadline for an unknown type", ErrInvalidDeadline)
		}
		if n < 1 || n > maxWorkingDays {
			return fmt.Errorf("%w: %s deadline %d is outside 1..%d working days", ErrInvalidDeadline, t, n, maxWorkingDays)
		}
	}
	return nil
}

// Days returns the number of working days a request of type typ may take.
func (d Deadlines) Days(typ Type) int {
	if n := d.PerType[typ]; n >= 1 {
		return n
	}
	if d.Default >= 1 {
		return d.Default
	}
	return DefaultWorkingDays
}

// DueAt returns when a request of type typ whose clock started at received is due: the end of
// the Days(typ)-th working day after received's date in cal (see Calendar.AddWorkingDays),
// in UTC. received is the moment the clock starts: identity verification per GB/T 35273 §8.7,
// which for requests made with a subject's own token is their creation. A nil cal means PRC().
func (d Deadlines) DueAt(cal *Calendar, typ Type, received time.Time) time.Time {
	if cal == nil {
		cal = PRC()
	}
	return cal.AddWorkingDays(received, d.Days(typ))
}

// Overdue reports whether a request in state is overdue at now: it is not final and now is after
// due. A zero due (no due date) is never overdue.
func (d Deadlines) Overdue(due, now time.Time, state State) bool {
	return !due.IsZero() && !state.Final() && now.After(due)
}

// AutoCompletes reports whether the system fulfils a request of type t at once: access and
// portability (the export of /v1/me/export) and explanation (/v1/me/explanation) do; correction,
// deletion and restriction do not, because they need a person or a separate action (PATCH /v1/me,
// erasure with its legal-hold check, an objection or restriction).
func AutoCompletes(t Type) bool {
	switch t {
	case TypeAccess, TypePortability, TypeExplanation:
		return true
	}
	return false
}
