package dsr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTransitionMatrix(t *testing.T) {
	legalMoves := map[[2]State]bool{
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
	// Every pair of the six states, including staying put: 10 legal, 26 illegal.
	var nLegal, nIllegal int
	for _, from := range States() {
		for _, to := range States() {
			err := Transition(from, to, "identity could not be verified")
			if legalMoves[[2]State{from, to}] {
				nLegal++
				if err != nil {
					t.Errorf("Transition(%s, %s) = %v, want nil", from, to, err)
				}
				continue
			}
			nIllegal++
			if !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("Transition(%s, %s) = %v, want ErrIllegalTransition", from, to, err)
			}
			if errors.Is(err, ErrUnknownState) {
				t.Errorf("Transition(%s, %s) = %v, should not wrap ErrUnknownState", from, to, err)
			}
		}
	}
	if nLegal != 10 || nIllegal != 26 {
		t.Errorf("checked %d legal and %d illegal moves, want 10 and 26", nLegal, nIllegal)
	}
}

func TestTransitionUnknownStates(t *testing.T) {
	tests := []struct {
		name     string
		from, to State
	}{
		{"unknown target", StateVerified, "done"},
		{"unknown source", "pending", StateCompleted},
		{"empty target", StateReceived, ""},
		{"case matters", StateReceived, "Verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Transition(tt.from, tt.to, "x")
			if !errors.Is(err, ErrIllegalTransition) || !errors.Is(err, ErrUnknownState) {
				t.Errorf("Transition(%q, %q) = %v, want ErrIllegalTransition and ErrUnknownState", tt.from, tt.to, err)
			}
		})
	}
}

func TestTransitionReason(t *testing.T) {
	longest := strings.Repeat("拒", MaxReasonLen)
	tests := []struct {
		name     string
		from, to State
		reason   string
		want     error
	}{
		{"rejection without reason", StateReceived, StateRejected, "", ErrReasonRequired},
		{"rejection with blank reason", StateVerified, StateRejected, " \t\n ", ErrReasonRequired},
		{"rejection with reason", StateInProgress, StateRejected, "legal hold on transactions", nil},
		{"rejection with 1000 characters", StateVerified, StateRejected, longest, nil},
		{"1000 characters plus surrounding space", StateVerified, StateRejected, "  " + longest + "\n", nil},
		{"rejection with 1001 characters", StateVerified, StateRejected, longest + "x", ErrReasonRequired},
		{"completion needs no reason", StateVerified, StateCompleted, "", nil},
		{"verification needs no reason", StateReceived, StateVerified, "", nil},
		{"completion note too long", StateInProgress, StateCompleted, longest + "x", ErrReasonRequired},
		{"illegal move is reported before a missing reason", StateCompleted, StateRejected, "", ErrIllegalTransition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Transition(tt.from, tt.to, tt.reason)
			if tt.want == nil {
				if err != nil {
					t.Errorf("Transition = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Transition = %v, want %v", err, tt.want)
			}
		})
	}
	if got := NormalizeReason("  no identity proof \n"); got != "no identity proof" {
		t.Errorf("NormalizeReason = %q", got)
	}
}

func TestFinal(t *testing.T) {
	tests := []struct {
		s    State
		want bool
	}{
		{StateReceived, false}, {StateVerified, false}, {StateInProgress, false},
		{StateCompleted, true}, {StateRejected, true},
	}
	for _, tt := range tests {
		if got := tt.s.Final(); got != tt.want {
			t.Errorf("%s.Final() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
		err  error
	}{
		{"access", TypeAccess, nil},
		{"portability", TypePortability, nil},
		{"correction", TypeCorrection, nil},
		{"deletion", TypeDeletion, nil},
		{"restriction", TypeRestriction, nil},
		{"explanation", TypeExplanation, nil},
		{"", "", ErrUnknownType},
		{"Access", "", ErrUnknownType},
		{" access", "", ErrUnknownType},
		{"erasure", "", ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("ParseType(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
			if tt.in == "erasure" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
	if n := len(Types()); n != 7 {
		t.Errorf("Types() has %d entries, want 7", n)
	}
}

func TestParseState(t *testing.T) {
	for _, s := range States() {
		if got, err := ParseState(string(s)); got != s || err != nil {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
	}
	for _, in := range []string{"", "open", "IN_PROGRESS", "in-progress"} {
		if _, err := ParseState(in); !errors.Is(err, ErrUnknownState) {
			t.Errorf("ParseState(%q) = %v, want ErrUnknownState", in, err)
		}
	}
}

func TestAutoCompletes(t *testing.T) {
	tests := []struct {
		t    Type
		want bool
	}{
		{TypeAccess, true},
		{TypePortability, true},
		{TypeExplanation, true},
		{TypeCorrection, false},
		{TypeDeletion, false},
		{TypeRestriction, false},
		{"unknown", false},
	}
	for _, tt := range tests {
		if got := AutoCompletes(tt.t); got != tt.want {
			t.Errorf("AutoCompletes(%s) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestDeadlinesDueAt(t *testing.T) {
	cal := PRC()
	// Received Fri 2026-02-13 (see TestAddWorkingDays): 15 working days → Thu 2026-03-12;
	// 10 working days → 1 Sat 02-14, 2..5 Tue 02-24..Fri 27, 6 Sat 28, 7..10 Mon 03-02..Thu 5.
	received := date(t, "2026-02-13")
	custom := Deadlines{Default: 15, PerType: map[Type]int{TypeDeletion: 10}}
	tests := []struct {
		name string
		d    Deadlines
		cal  *Calendar
		typ  Type
		want string
	}{
		{"default access", DefaultDeadlines(), cal, TypeAccess, "2026-03-12"},
		{"default deletion", DefaultDeadlines(), cal, TypeDeletion, "2026-03-12"},
		{"zero value means 15", Deadlines{}, cal, TypeCorrection, "2026-03-12"},
		{"nil calendar means PRC", DefaultDeadlines(), nil, TypeRestriction, "2026-03-12"},
		{"per-type override", custom, cal, TypeDeletion, "2026-03-05"},
		{"other types keep the default", custom, cal, TypeAccess, "2026-03-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.DueAt(tt.cal, tt.typ, received)
			if want := endOfDay(t, tt.want); !got.Equal(want) {
				t.Errorf("DueAt = %s, want %s", got, want)
			}
		})
	}
	for _, typ := range Types() {
		if n := DefaultDeadlines().Days(typ); n != 15 {
			t.Errorf("default deadline of %s is %d, want 15", typ, n)
		}
	}
}

func TestDeadlinesValidate(t *testing.T) {
	tests := []struct {
		name string
		d    Deadlines
		ok   bool
	}{
		{"default", DefaultDeadlines(), true},
		{"zero value", Deadlines{}, true},
		{"per type", Deadlines{Default: 15, PerType: map[Type]int{TypeDeletion: 15, TypeAccess: 5}}, true},
		{"negative default", Deadlines{Default: -1}, false},
		{"huge default", Deadlines{Default: 10000}, false},
		{"zero per type", Deadlines{Default: 15, PerType: map[Type]int{TypeAccess: 0}}, false},
		{"unknown type", Deadlines{Default: 15, PerType: map[Type]int{"erasure": 5}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidDeadline)) {
				t.Errorf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestOverdue(t *testing.T) {
	due := time.Date(2026, 3, 12, 15, 59, 59, 999_000_000, time.UTC)
	after := due.Add(time.Millisecond)
	before := due.Add(-time.Hour)
	d := DefaultDeadlines()
	tests := []struct {
		name  string
		due   time.Time
		now   time.Time
		state State
		want  bool
	}{
		{"received, past due", due, after, StateReceived, true},
		{"verified, past due", due, after, StateVerified, true},
		{"in progress, past due", due, after, StateInProgress, true},
		{"completed, past due", due, after, StateCompleted, false},
		{"rejected, past due", due, after, StateRejected, false},
		{"exactly at due", due, due, StateInProgress, false},
		{"before due", due, before, StateVerified, false},
		{"no due date", time.Time{}, after, StateVerified, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Overdue(tt.due, tt.now, tt.state); got != tt.want {
				t.Errorf("Overdue = %v, want %v", got, tt.want)
			}
		})
	}
}
