package audit

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// StoredCheckpoint is a signed checkpoint as the store keeps it.
type StoredCheckpoint struct {
	Size int64
	Note []byte
}

// Report is the outcome of a verification.
type Report struct {
	OK          bool   `json:"ok"`
	Entries     int64  `json:"entries"`
	Head        string `json:"head,omitempty"`
	Checkpoints int    `json:"checkpoints"`
	FirstBadSeq int64  `json:"first_bad_seq,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Indexed is how far the review index covers the log (verified row by row; rows the index has not
	// reached yet are lag, not tampering).
	Indexed int64 `json:"indexed,omitempty"`
}

// IndexRow is what the review queries filter on, stored beside each entry. It is derived from the entry
// (IndexOf) and checked against it by the store's Verify.
type IndexRow struct {
	TS         time.Time
	Action     string
	SubjectRef string
	Actor      string // the staff sub, or the data subject's pseudonym
	Purpose    string
	Decision   Decision
	GrantID    string // the access grant a read relied on
}

// indexed is the part of an entry that its index row repeats (decoding only it keeps verify fast).
type indexed struct {
	TS         time.Time `json:"ts"`
	Actor      Actor     `json:"actor"`
	Purpose    string    `json:"purpose"`
	Action     string    `json:"action"`
	SubjectRef string    `json:"subject_ref"`
	Decision   Decision  `json:"decision"`
	GrantID    string    `json:"grant_id"`
}

// IndexOf is the review index row of an entry: the one definition of how entries are indexed.
func IndexOf(e Entry) IndexRow {
	actor := e.Actor.Sub
	if actor == "" {
		actor = e.Actor.Pseudonym
	}
	return IndexRow{TS: e.TS, Action: e.Action, SubjectRef: e.SubjectRef, Actor: actor, Purpose: e.Purpose, Decision: e.Decision, GrantID: e.GrantID}
}

// IndexOfCanonical is IndexOf of an entry in its canonical encoding, decoding only the indexed part.
func IndexOfCanonical(canonical []byte) (IndexRow, error) {
	if row, ok := indexOfFast(canonical); ok {
		return row, nil
	}
	return indexOfDecoded(canonical)
}

// indexOfDecoded is IndexOfCanonical by encoding/json: the reference.
func indexOfDecoded(canonical []byte) (IndexRow, error) {
	var e indexed
	if err := json.Unmarshal(canonical, &e); err != nil {
		return IndexRow{}, err
	}
	return IndexOf(Entry{TS: e.TS, Action: e.Action, SubjectRef: e.SubjectRef, Actor: e.Actor, Purpose: e.Purpose, Decision: e.Decision, GrantID: e.GrantID}), nil
}

// Equal reports whether two index rows say the same (times compared as instants).
func (r IndexRow) Equal(o IndexRow) bool { return r.Differs(o) == "" }

// Differs names the first column in which r and stored differ ("" if none).
func (r IndexRow) Differs(stored IndexRow) string {
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
	case r.GrantID != stored.GrantID:
		return "grant_id"
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
	GrantID    string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	Before     int64     // cursor: only entries with seq < Before; 0 starts at the newest
	Limit      int
	// MinSeq is the entry the review index must reach before the query runs (0: every entry acknowledged
	// when the query began).
	MinSeq int64
}

// ErrNoCheckpoint means no checkpoint has been signed yet.
var ErrNoCheckpoint = errors.New("no checkpoint signed yet")

// ErrNoEntry means no entry has that sequence number.
var ErrNoEntry = errors.New("no such audit entry")

// ErrIndexBehind means the review index did not reach the entry a query asked for in time.
var ErrIndexBehind = errors.New("the audit review index is behind the log")

// ErrLogMissing reports an audit log that is empty, or gone, beside a database that holds what only a trail
// produces (subjects, review index rows): a new log would reuse the sequence numbers of the history it
// replaces, and a verify of it would check nothing. Storage drivers refuse to open such a log.
var ErrLogMissing = errors.New("the audit log is missing")

// ErrIndexTampered means a review index row does not say what its entry says.
var ErrIndexTampered = errors.New("audit review index tampered")

// Store is the trail as review, export and proofs read it. internal/sqlite implements it.
type Store interface {
	// Checkpoints returns every signed checkpoint in ascending size order.
	Checkpoints(ctx context.Context) ([]StoredCheckpoint, error)
	// Verify checks the whole trail under the checkpoint verifier v and names the first bad entry.
	Verify(ctx context.Context, v note.Verifier) (Report, error)
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
