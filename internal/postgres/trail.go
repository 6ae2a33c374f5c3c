package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
)

// Trail reads the audit trail (audit.Store) for review, export, verification and proofs: the entries,
// tiles and checkpoints of the Log, which are the record, and the review index (audit_index), derived from
// them. The index is written in the transaction that appends each entry, so it never lags the log: a query
// needs no wait for ?min_seq= (every acknowledged entry has its row when the query begins, whichever node
// appended it). Every entry a query returns is checked against the row that selected it, and Verify checks
// every row (audit.VerifyTrail), so an edited row can neither relabel nor hide an entry unnoticed.
type Trail struct {
	audit.LogViews // checkpoints, leaves and tree hashes, read from log
	log            *Log
}

var _ audit.Store = (*Trail)(nil)

// Trail returns the trail of the store's log.
func (s *Store) Trail() *Trail { return newTrail(s.log) }

func newTrail(l *Log) *Trail { return &Trail{LogViews: audit.LogViews{Log: l}, log: l} }

// upTo is the log as every node had appended it when a verification began: its size is read from the head
// row once, and the entries, checkpoints and index rows it checks are those up to it, so that entries other
// nodes append meanwhile neither move its end nor bring checkpoints past it.
type upTo struct {
	*Log
	size int64
}

func (l *Log) upToHead(ctx context.Context) (upTo, error) {
	var size int64
	err := l.db.Pool.QueryRow(ctx, "SELECT size FROM audit_log_head").Scan(&size)
	return upTo{Log: l, size: size}, err
}

func (l upTo) Size() int64 { return l.size }

func (l upTo) Scan(from int64, fn func(seq int64, canonical []byte) error) error {
	return l.scanTo(from, l.size, fn)
}

func (l upTo) Checkpoints() ([]audit.StoredCheckpoint, error) {
	cps, err := l.Log.Checkpoints()
	return slices.DeleteFunc(cps, func(c audit.StoredCheckpoint) bool { return c.Size > l.size }), err
}

func (l upTo) Verify(v note.Verifier) (audit.Report, error) { return audit.VerifyLog(l, v) }

// Note returns the sealed free text stored beside entry seq, or nil.
func (t *Trail) Note(ctx context.Context, seq int64) ([]byte, error) { return t.log.Note(ctx, seq) }

// Verify implements audit.Store (audit.VerifyTrail: the log, and every review index row against its entry).
func (t *Trail) Verify(ctx context.Context, v note.Verifier) (audit.Report, error) {
	l, err := t.log.upToHead(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	return audit.VerifyTrail(ctx, l, v, indexSource{t.log.db})
}

const selectIndex = `SELECT i.seq, i.ts, i.ts_ns, i.action, i.subject_ref, i.actor, i.purpose, i.decision, i.grant_id`

// scanIndex reads a row of selectIndex (and what follows it in dest).
func scanIndex(row pgx.CollectableRow, dest ...any) (int64, audit.IndexRow, error) {
	var seq int64
	var ts time.Time
	var ns int16
	var decision string
	var ix audit.IndexRow
	err := row.Scan(append([]any{&seq, &ts, &ns, &ix.Action, &ix.SubjectRef, &ix.Actor, &ix.Purpose, &decision, &ix.GrantID}, dest...)...)
	ix.TS, ix.Decision = ts.UTC().Add(time.Duration(ns)), audit.Decision(decision)
	return seq, ix, err
}

// hit is an index row with its entry (nil if the log has none).
type hit struct {
	seq   int64
	row   audit.IndexRow
	canon []byte
}

// hits runs a query of selectIndex joined to the entries and checks each entry against its row.
func (t *Trail) hits(ctx context.Context, q string, args ...any) ([]hit, error) {
	rows, err := t.log.db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	hs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hit, error) {
		var h hit
		var err error
		h.seq, h.row, err = scanIndex(r, &h.canon)
		return h, err
	})
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.canon == nil {
			return nil, fmt.Errorf("%w: review index row %d has no entry in the log (run vaultd audit verify)", audit.ErrIndexTampered, h.seq)
		}
		if err := audit.CheckIndexed(h.seq, h.canon, h.row); err != nil {
			return nil, err
		}
	}
	return hs, nil
}

const fromIndex = ` FROM audit_index i LEFT JOIN audit_log_entries e ON e.seq = i.seq`

// Query implements audit.Store: the index selects, the log answers. The index never lags the log, so
// f.MinSeq needs no wait.
func (t *Trail) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		for i := range v {
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)+i+1), 1)
		}
		where, args = append(where, cond), append(args, v...)
	}
	if f.SubjectRef != "" {
		add("i.subject_ref = ?", f.SubjectRef)
	}
	if f.GrantID != "" {
		add("i.grant_id = ?", f.GrantID)
	}
	if f.Actor != "" {
		add("i.actor = ?", f.Actor)
	}
	if f.Purpose != "" {
		add("i.purpose = ?", f.Purpose)
	}
	if f.Action != "" {
		add("i.action = ?", f.Action)
	}
	if f.Decision != "" {
		add("i.decision = ?", string(f.Decision))
	}
	if !f.Since.IsZero() {
		us, ns := splitTime(f.Since)
		add("(i.ts, i.ts_ns) >= (?, ?)", us, ns)
	}
	if !f.Until.IsZero() {
		us, ns := splitTime(f.Until)
		add("(i.ts, i.ts_ns) < (?, ?)", us, ns)
	}
	if f.Before > 0 {
		add("i.seq < ?", f.Before)
	}
	q := selectIndex + `, e.canonical` + fromIndex
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY i.seq DESC LIMIT %d", max(f.Limit, 0))
	hs, err := t.hits(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out := make([]audit.Entry, 0, len(hs))
	for _, h := range hs {
		var e audit.Entry
		if err := json.Unmarshal(h.canon, &e); err != nil {
			return nil, fmt.Errorf("decode audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// exportPage is how many entries Export reads per query.
const exportPage = 1000

// Export implements audit.Store, streaming in pages by seq so memory stays bounded and no transaction is
// held for the whole export.
func (t *Trail) Export(ctx context.Context, since, until time.Time, fn func(seq int64, canonical []byte) error) error {
	cond, args := "", []any{}
	if !since.IsZero() {
		us, ns := splitTime(since)
		cond, args = cond+" AND (i.ts, i.ts_ns) >= ($3, $4)", append(args, us, ns)
	}
	if !until.IsZero() {
		us, ns := splitTime(until)
		n := len(args) + 3
		cond, args = cond+fmt.Sprintf(" AND (i.ts, i.ts_ns) < ($%d, $%d)", n, n+1), append(args, us, ns)
	}
	var after int64
	for {
		hs, err := t.hits(ctx, selectIndex+`, e.canonical`+fromIndex+` WHERE i.seq > $1`+cond+` ORDER BY i.seq LIMIT $2`,
			append([]any{after, exportPage}, args...)...)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if err := fn(h.seq, h.canon); err != nil {
				return err
			}
			after = h.seq
		}
		if len(hs) < exportPage {
			return nil
		}
	}
}

// indexSource is the review index as audit.VerifyTrail reads it.
type indexSource struct{ db *DB }

func (s indexSource) IndexRows(ctx context.Context, lo, hi int64) (audit.IndexCursor, error) {
	rows, err := s.db.Pool.Query(ctx, selectIndex+` FROM audit_index i WHERE i.seq BETWEEN $1 AND $2 ORDER BY i.seq`, lo, hi)
	if err != nil {
		return nil, err
	}
	return indexCursor{rows}, nil
}

// FirstIndexRowAfter finds the first row after seq whose entry is not in the log. Rows of entries that
// other nodes appended while the verification ran have their entries: they are not invented.
func (s indexSource) FirstIndexRowAfter(ctx context.Context, seq int64) (int64, bool, error) {
	var past *int64
	err := s.db.Pool.QueryRow(ctx, `SELECT min(i.seq) FROM audit_index i WHERE i.seq > $1
		AND NOT EXISTS (SELECT 1 FROM audit_log_entries e WHERE e.seq = i.seq)`, seq).Scan(&past)
	if err != nil || past == nil {
		return 0, false, err
	}
	return *past, true, nil
}

type indexCursor struct{ rows pgx.Rows }

func (c indexCursor) Next() (int64, audit.IndexRow, bool, error) {
	if !c.rows.Next() {
		return 0, audit.IndexRow{}, false, c.rows.Err()
	}
	seq, row, err := scanIndex(c.rows)
	return seq, row, true, err
}

func (c indexCursor) Close() error {
	c.rows.Close()
	return c.rows.Err()
}

// ReadTrail is the trail of a database opened by an offline command (vaultd audit verify|export): it
// reads, and never appends, integrates or signs; the nodes serving the database go on meanwhile.
type ReadTrail struct {
	*Trail
	db *DB
}

// OpenTrail opens the audit trail of the database dsn names for reading.
func OpenTrail(ctx context.Context, dsn string) (*ReadTrail, error) {
	db, err := OpenExisting(ctx, dsn)
	if err != nil {
		return nil, err
	}
	l, err := db.OpenLog(ctx, LogOptions{}) // no signer: no integrator, no lease
	if err != nil {
		db.Close()
		return nil, err
	}
	return &ReadTrail{Trail: newTrail(l), db: db}, nil
}

// Close closes the database.
func (t *ReadTrail) Close() error {
	err := t.log.Close()
	t.db.Close()
	return err
}
