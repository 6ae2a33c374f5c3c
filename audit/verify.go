package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// StoredCheckpoint is a signed checkpoint as the store keeps it.
type StoredCheckpoint struct {
	Size int64
	Note []byte
}

// Source is the trail as verification reads it. internal/sqlite implements it.
type Source interface {
	// Scan calls fn with every stored entry in ascending seq order, all from one snapshot: its seq column,
	// canonical bytes, stored chain hash (hex), the Merkle tree hashes stored for it (tlog stored-hash
	// indexes tlog.StoredHashCount(seq-1) up to tlog.StoredHashCount(seq); nil where one is missing), and
	// the review index row stored beside it.
	Scan(ctx context.Context, fn func(seq int64, canonical []byte, hash string, tree [][]byte, index IndexRow) error) error
	// Checkpoints returns every stored checkpoint in ascending size order.
	Checkpoints(ctx context.Context) ([]StoredCheckpoint, error)
}

// Report is the outcome of a verification.
type Report struct {
	OK          bool   `json:"ok"`
	Entries     int64  `json:"entries"`
	Head        string `json:"head,omitempty"`
	Checkpoints int    `json:"checkpoints"`
	FirstBadSeq int64  `json:"first_bad_seq,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// errStop ends the walk at the first bad entry.
var errStop = errors.New("stop")

// Verify recomputes the whole trail: every entry's hash and its link to the previous entry, the sequence
// without gaps, every stored Merkle tree hash, and the root at every checkpoint, whose signature it checks
// with v. It names the
// first bad sequence number. A checkpoint is a promise about everything up to its size, so a trail cut
// short behind its last checkpoint is caught too; entries after the last checkpoint are protected by the
// chain only until the next checkpoint is signed (hand checkpoints to an outside witness for more).
func Verify(ctx context.Context, src Source, v note.Verifier) (Report, error) {
	stored, err := src.Checkpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	type cpCheck struct {
		cp  Checkpoint
		err error
	}
	checks := make([]cpCheck, len(stored))
	for i, sc := range stored {
		c, err := OpenCheckpoint(sc.Note, v)
		if err == nil && c.Size != sc.Size {
			err = fmt.Errorf("signed size %d differs from the stored size", c.Size)
		}
		c.Size = sc.Size
		checks[i] = cpCheck{cp: c, err: err}
	}
	rep := Report{Checkpoints: len(stored)}
	fail := func(seq int64, format string, args ...any) error {
		rep.FirstBadSeq, rep.Reason = seq, fmt.Sprintf(format, args...)
		return errStop
	}
	prev := GenesisHash
	var front Frontier
	next := 0
	var want int64 = 1
	err = src.Scan(ctx, func(seq int64, canonical []byte, hash string, tree [][]byte, index IndexRow) error {
		if seq != want {
			return fail(want, "entry %d is missing (next stored entry is %d)", want, seq)
		}
		if !bytes.HasPrefix(canonical, []byte(`{"seq":`+strconv.FormatInt(seq, 10)+`,`)) {
			return fail(seq, "entry %d does not hold its own sequence number (moved or swapped)", seq)
		}
		if !bytes.HasSuffix(canonical, []byte(`,"prev_hash":"`+prev+`"}`)) {
			return fail(seq, "entry %d is not chained to entry %d", seq, seq-1)
		}
		leaf := LeafHash(canonical)
		if HexHash(leaf) != hash {
			return fail(seq, "entry %d does not match its hash (content changed)", seq)
		}
		stored := front.Append(leaf)
		if len(stored) != len(tree) {
			return fail(seq, "entry %d: the Merkle tree holds %d hashes for it, want %d", seq, len(tree), len(stored))
		}
		for k, h := range stored {
			if !bytes.Equal(tree[k], h[:]) {
				return fail(seq, "entry %d: stored Merkle tree hash differs from the recomputed one", seq)
			}
		}
		// The columns that reviews filter on must say what the entry says: an index row edited to hide an
		// entry from a filtered review (or relabel it) is tampering like any other.
		ix, err := IndexOfCanonical(canonical)
		if err != nil {
			return fail(seq, "entry %d does not decode: %v", seq, err)
		}
		if col := ix.differs(index); col != "" {
			return fail(seq, "entry %d: its review index column %s differs from the entry", seq, col)
		}
		for next < len(checks) && checks[next].cp.Size == seq {
			c := checks[next]
			if c.err != nil {
				return fail(seq, "checkpoint at size %d: %v", seq, c.err)
			}
			if front.Root() != c.cp.Root {
				return fail(seq, "checkpoint at size %d: Merkle root differs from the entries", seq)
			}
			next++
		}
		if next < len(checks) && checks[next].cp.Size < seq {
			return fail(checks[next].cp.Size, "checkpoint at size %d does not line up with the entries", checks[next].cp.Size)
		}
		prev, want = hash, seq+1
		rep.Entries, rep.Head = seq, hash
		return nil
	})
	if errors.Is(err, errStop) {
		return rep, nil
	}
	if err != nil {
		return Report{}, err
	}
	if next < len(checks) {
		return Report{Entries: rep.Entries, Checkpoints: len(stored), FirstBadSeq: rep.Entries + 1,
			Reason: fmt.Sprintf("the trail ends at %d but a checkpoint covers %d entries (truncated)", rep.Entries, checks[next].cp.Size)}, nil
	}
	rep.OK = true
	return rep, nil
}

// IndexRow is what the review queries filter on, stored beside each entry. It is derived from the entry
// (IndexOf) and checked against it by Verify.
type IndexRow struct {
	TS         time.Time
	Action     string
	SubjectRef string
	Actor      string // the staff sub, or the data subject's pseudonym
	Purpose    string
	Decision   Decision
}

// indexed is the part of an entry that its index row repeats (decoding only it keeps verify fast).
type indexed struct {
	TS         time.Time `json:"ts"`
	Actor      Actor     `json:"actor"`
	Purpose    string    `json:"purpose"`
	Action     string    `json:"action"`
	SubjectRef string    `json:"subject_ref"`
	Decision   Decision  `json:"decision"`
}

// IndexOf is the review index row of an entry: the one definition of how entries are indexed.
func IndexOf(e Entry) IndexRow {
	actor := e.Actor.Sub
	if actor == "" {
		actor = e.Actor.Pseudonym
	}
	return IndexRow{TS: e.TS, Action: e.Action, SubjectRef: e.SubjectRef, Actor: actor, Purpose: e.Purpose, Decision: e.Decision}
}

// IndexOfCanonical is IndexOf of an entry in its canonical encoding, decoding only the indexed part.
func IndexOfCanonical(canonical []byte) (IndexRow, error) {
	var e indexed
	if err := json.Unmarshal(canonical, &e); err != nil {
		return IndexRow{}, err
	}
	return IndexOf(Entry{TS: e.TS, Action: e.Action, SubjectRef: e.SubjectRef, Actor: e.Actor, Purpose: e.Purpose, Decision: e.Decision}), nil
}

// Equal reports whether two index rows say the same (times compared as instants).
func (r IndexRow) Equal(o IndexRow) bool { return r.differs(o) == "" }

// differs names the first column in which r and stored differ ("" if none).
func (r IndexRow) differs(stored IndexRow) string {
	switch {
	case !r.TS.Equal(stored.TS):
		return "ts"
	case r.Action != stored.Action:
		return "action"
	case r.SubjectRef != stored.SubjectRef:
		return "subject_ref"
	case r.Actor != stored.Actor:
		return "actor"
	case r.Purpose != stored.Purpose:
		return "purpose"
	case r.Decision != stored.Decision:
		return "decision"
	}
	return ""
}

// Filter selects entries for review.
type Filter struct {
	SubjectRef string
	Actor      string // a staff sub or a data subject's pseudonym
	Purpose    string
	Action     string
	Decision   Decision
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	Before     int64     // cursor: only entries with seq < Before; 0 starts at the newest
	Limit      int
}

// ErrNoCheckpoint means no checkpoint has been signed yet.
var ErrNoCheckpoint = errors.New("no checkpoint signed yet")

// ErrNoEntry means no entry has that sequence number.
var ErrNoEntry = errors.New("no such audit entry")

// Store is the trail as review, export and proofs read it. internal/sqlite implements it.
type Store interface {
	Source
	// Query returns entries matching f, newest first, at most f.Limit.
	Query(ctx context.Context, f Filter) ([]Entry, error)
	// Export streams entries with since <= ts < until (zero times are open ends), oldest first.
	Export(ctx context.Context, since, until time.Time, fn func(seq int64, canonical []byte) error) error
	// LatestCheckpoint returns the newest signed checkpoint, or ErrNoCheckpoint.
	LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error)
	// Leaf returns an entry's canonical bytes, or ErrNoEntry.
	Leaf(ctx context.Context, seq int64) ([]byte, error)
	// ReadHashes reads Merkle tree hashes by tlog stored-hash index (tlog.HashReader).
	ReadHashes(indexes []int64) ([]tlog.Hash, error)
}
