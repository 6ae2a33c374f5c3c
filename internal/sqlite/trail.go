package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/seglog"
)

// Trail reads the audit trail: the entries, tiles and checkpoints from the log (internal/seglog), which is
// the record, and the review index from the database, which is derived from it (audit_index: the columns
// that review filters on). Every entry a query returns is read from the log and checked against its index
// row, so an edited row can neither relabel nor hide an entry unnoticed. The Store embeds one; OpenTrail
// opens one read-only for offline commands, beside a running server if need be.
type Trail struct {
	audit.LogViews // checkpoints, leaves and tree hashes, read from log
	db             *sql.DB
	log            audit.LogStorage
	// index, set in a running store, lets queries wait for the index to cover what the log holds.
	index *indexProgress
}

var _ audit.Store = (*Trail)(nil)

func newTrail(db *sql.DB, l audit.LogStorage) *Trail {
	return &Trail{LogViews: audit.LogViews{Log: l}, db: db, log: l}
}

// IndexWait is how long a query waits for the review index to reach the entries it must cover.
const IndexWait = 5 * time.Second

// indexProgress is how far the review index covers the log, shared by the writer that feeds it and the
// queries that wait for it.
type indexProgress struct {
	limit   time.Duration // how long a query waits (IndexWait)
	mu      sync.Mutex
	through int64         // every entry up to this seq has its index row
	want    int64         // the highest seq a query has waited for
	moved   chan struct{} // closed (and replaced) whenever through moves
	flush   chan struct{} // asks the indexer to flush the queued rows now
}

func newIndexProgress(through int64) *indexProgress {
	return &indexProgress{limit: IndexWait, through: through, moved: make(chan struct{}), flush: make(chan struct{}, 1)}
}

// advance records that the index covers every entry up to seq.
func (p *indexProgress) advance(seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq > p.through {
		p.through = seq
		close(p.moved)
		p.moved = make(chan struct{})
	}
}

// Through returns the sequence number the index covers.
func (p *indexProgress) Through() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.through
}

// wanted returns the highest seq a query has waited for.
func (p *indexProgress) wanted() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.want
}

// wait returns once the index covers seq, asking the indexer to flush; ErrIndexBehind after p.limit.
func (p *indexProgress) wait(ctx context.Context, seq int64) error {
	p.mu.Lock()
	p.want = max(p.want, seq)
	p.mu.Unlock()
	timer := time.NewTimer(p.limit)
	defer timer.Stop()
	for {
		p.mu.Lock()
		through, moved := p.through, p.moved
		p.mu.Unlock()
		if through >= seq {
			return nil
		}
		select {
		case p.flush <- struct{}{}:
		default:
		}
		select {
		case <-moved:
		case <-timer.C:
			return fmt.Errorf("%w: it covers entry %d, entry %d was asked for", audit.ErrIndexBehind, through, seq)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// OpenTrail opens the trail of the database at path and the log in logDir read-only.
func OpenTrail(path, logDir string) (*Trail, error) {
	return openReadOnlyTrail(logDir, func() (*sql.DB, error) {
		return sql.Open("sqlite", dsn(path, false)+"&mode=ro&_pragma=cache_size(-65536)")
	})
}

// openReadOnlyTrail opens the log in logDir read-only beside the database open returns, which must hold the review
// index.
func openReadOnlyTrail(logDir string, open func() (*sql.DB, error)) (*Trail, error) {
	if _, err := os.Stat(logDir); err != nil {
		return nil, fmt.Errorf("open audit trail: no log at %s", logDir)
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'audit_index'`).Scan(&n); err != nil || n == 0 {
		db.Close()
		if err == nil {
			err = errors.New("no audit index in this database")
		}
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	if err := requireLog(context.Background(), db, logDir); err != nil {
		db.Close() // a verify of no entries beside a history would report it intact
		return nil, err
	}
	l, err := seglog.Open(logDir, seglog.Options{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return newTrail(db, l), nil
}

// Close closes a trail opened with OpenTrail.
func (t *Trail) Close() error { return errors.Join(t.log.Close(), t.db.Close()) }

// Size is the number of entries in the log.
func (t *Trail) Size() int64 { return t.log.Size() }

// IndexedThrough is the sequence number up to which the review index covers the log.
func (t *Trail) IndexedThrough(ctx context.Context) (int64, error) {
	if t.index != nil {
		return t.index.Through(), nil
	}
	var n sql.NullInt64
	err := t.db.QueryRowContext(ctx, `SELECT max(seq) FROM audit_index`).Scan(&n)
	return n.Int64, err
}

// covered waits (in a running store) until the review index covers min, or the whole log when min is 0.
func (t *Trail) covered(ctx context.Context, min int64) error {
	if t.index == nil {
		return nil
	}
	if min <= 0 {
		min = t.log.Size()
	}
	return t.index.wait(ctx, min)
}

// Note returns the sealed free text stored beside an entry, or nil.
func (t *Trail) Note(ctx context.Context, seq int64) ([]byte, error) {
	var b []byte
	err := t.db.QueryRowContext(ctx, `SELECT sealed FROM audit_note WHERE seq = ?`, seq).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// entry reads entry seq from the log and checks it against the index row that selected it.
func (t *Trail) entry(seq int64, row audit.IndexRow) ([]byte, error) {
	canon, err := t.log.Entry(seq)
	if err != nil {
		return nil, fmt.Errorf("read audit entry %d: %w", seq, err)
	}
	return canon, audit.CheckIndexed(seq, canon, row)
}

const indexColumns = `seq, ts, action, subject_ref, actor, purpose, decision, grant_id`

func scanIndexRow(rows *sql.Rows) (int64, audit.IndexRow, error) {
	var seq int64
	var ts, decision string
	var ix audit.IndexRow
	err := rows.Scan(&seq, &ts, &ix.Action, &ix.SubjectRef, &ix.Actor, &ix.Purpose, &decision, &ix.GrantID)
	ix.TS, ix.Decision = parseTime(ts), audit.Decision(decision)
	return seq, ix, err
}

// Query implements audit.Store: the index selects, the log answers. It first waits for the index to cover
// f.MinSeq (every entry acknowledged when the query began, if 0).
func (t *Trail) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	if err := t.covered(ctx, f.MinSeq); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.SubjectRef != "" {
		add("subject_ref = ?", f.SubjectRef)
	}
	if f.GrantID != "" {
		add("grant_id = ?", f.GrantID)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Purpose != "" {
		add("purpose = ?", f.Purpose)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Decision != "" {
		add("decision = ?", string(f.Decision))
	}
	if !f.Since.IsZero() {
		add("ts >= ?", formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("ts < ?", formatTime(f.Until))
	}
	if f.Before > 0 {
		add("seq < ?", f.Before)
	}
	q := `SELECT ` + indexColumns + ` FROM audit_index`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := t.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		seq, row, err := scanIndexRow(rows)
		if err != nil {
			return nil, err
		}
		canon, err := t.entry(seq, row)
		if err != nil {
			return nil, err
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			return nil, fmt.Errorf("decode audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Export implements audit.Store, streaming in pages by seq so memory stays bounded and no read
// transaction is held for the whole export.
func (t *Trail) Export(ctx context.Context, since, until time.Time, fn func(seq int64, canonical []byte) error) error {
	if err := t.covered(ctx, 0); err != nil {
		return err
	}
	lo, hi := "", "9999"
	if !since.IsZero() {
		lo = formatTime(since)
	}
	if !until.IsZero() {
		hi = formatTime(until)
	}
	var after int64
	for {
		rows, err := t.db.QueryContext(ctx, `SELECT `+indexColumns+` FROM audit_index WHERE seq > ? AND ts >= ? AND ts < ? ORDER BY seq LIMIT 1000`, after, lo, hi)
		if err != nil {
			return err
		}
		type hit struct {
			seq int64
			row audit.IndexRow
		}
		var page []hit
		for rows.Next() {
			seq, row, err := scanIndexRow(rows)
			if err != nil {
				rows.Close()
				return err
			}
			page = append(page, hit{seq, row})
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, h := range page {
			canon, err := t.entry(h.seq, h.row)
			if err != nil {
				return err
			}
			if err := fn(h.seq, canon); err != nil {
				return err
			}
			after = h.seq
		}
		if len(page) < 1000 {
			return nil
		}
	}
}

// Verify implements audit.Store (audit.VerifyTrail: the log, and every review index row against its
// entry). In a running store the index is first brought up to the log.
func (t *Trail) Verify(ctx context.Context, v note.Verifier) (audit.Report, error) {
	if err := t.covered(ctx, 0); err != nil {
		return audit.Report{}, err
	}
	return audit.VerifyTrail(ctx, t.log, v, indexSource{t.db})
}

// indexSource is the review index as audit.VerifyTrail reads it.
type indexSource struct{ db *sql.DB }

func (s indexSource) IndexRows(ctx context.Context, lo, hi int64) (audit.IndexCursor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+indexColumns+` FROM audit_index WHERE seq BETWEEN ? AND ? ORDER BY seq`, lo, hi)
	if err != nil {
		return nil, err
	}
	return indexCursor{rows}, nil
}

func (s indexSource) FirstIndexRowAfter(ctx context.Context, seq int64) (int64, bool, error) {
	var past sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(seq) FROM audit_index WHERE seq > ?`, seq).Scan(&past)
	return past.Int64, past.Valid, err
}

type indexCursor struct{ rows *sql.Rows }

func (c indexCursor) Next() (int64, audit.IndexRow, bool, error) {
	if !c.rows.Next() {
		return 0, audit.IndexRow{}, false, c.rows.Err()
	}
	seq, row, err := scanIndexRow(c.rows)
	return seq, row, true, err
}

func (c indexCursor) Close() error { return c.rows.Close() }

// Log is the trail's audit log (vaultd migrate reads it whole, in order).
func (t *Trail) Log() audit.LogReader { return t.log }

// OpenReadOnly opens the database at path read-only (query_only), for a command that copies it elsewhere
// while holding the data dir's lock (vaultd migrate).
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s", path)
	}
	return sql.Open("sqlite", dsn(path, false)+"&mode=ro")
}
