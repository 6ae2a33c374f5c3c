package vault

import (
	"errors"
	"hash/maphash"
	"sync/atomic"
)

// The order of the trail is the truth. A read decided from a snapshot of a subject and appended after a
// change to that subject (a consent withdrawal, an objection, an erasure, a correction) would release what
// the change removed, and the trail would show the release after the change. So every release carries a
// Guard — the subject's change generation, taken before its record was read — and the sequencer, in the
// ordering step that gives the release's entry its place, drops the release (ErrSuperseded) if a change to
// the subject was ordered since: one earlier in the batch being built, or one committed after the guard
// was taken. The caller then decides again from a fresh record. Stores share this one implementation.

// ErrSuperseded means a change to the subject was ordered after the release's decision was made: nothing
// was appended, nothing may be released, and the caller decides again.
var ErrSuperseded = errors.New("a change to the subject was ordered after the decision")

// Guard is what a release's decision saw of its subject.
type Guard struct {
	Subject    string
	Generation uint64
}

// generationStripes is the number of counters subjects hash onto; a collision only makes a release decide
// again once more.
const generationStripes = 1 << 14

// Generations counts the committed changes of subjects, in stripes (bounded memory whatever the number of
// subjects). A Generations is safe for concurrent use; make it with NewGenerations.
type Generations struct {
	seed    maphash.Seed
	stripes [generationStripes]atomic.Uint64
}

// NewGenerations returns a ready Generations.
func NewGenerations() *Generations { return &Generations{seed: maphash.MakeSeed()} }

func (g *Generations) stripe(subject string) *atomic.Uint64 {
	return &g.stripes[maphash.String(g.seed, subject)%generationStripes]
}

// Guard takes the subject's generation; take it before reading the record the decision uses.
func (g *Generations) Guard(subject string) Guard {
	return Guard{Subject: subject, Generation: g.stripe(subject).Load()}
}

// Stale reports, in the sequencer's ordering step, whether a release decided under guard must be decided
// again: pending reports a subject changed by an operation ordered earlier in the batch being built (not
// committed yet), and a generation that moved means a change committed since the guard was taken.
func (g *Generations) Stale(guard Guard, pending func(subject string) bool) bool {
	return pending(guard.Subject) || g.stripe(guard.Subject).Load() != guard.Generation
}

// Advance records that a batch changing subjects committed (or failed: a needless retry is harmless). The
// sequencer calls it after the commit and after dropping the subjects from every cache, so a guard taken
// afterwards goes with a fresh record.
func (g *Generations) Advance(subjects map[string]struct{}) {
	for s := range subjects {
		g.stripe(s).Add(1)
	}
}
