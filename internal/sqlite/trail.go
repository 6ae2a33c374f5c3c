package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
)

// Trail reads the audit trail: verification, review queries, export and proofs. The Store embeds one over
// its reader pool; OpenTrail opens one read-only for offline commands, beside a running server if need be.
type Trail struct {
	db *sql.DB
}

var _ audit.Store = (*Trail)(nil)

// OpenTrail opens the database at path read-only.
func OpenTrail(path string) (*Trail, error) {
	// A read-only scan of the whole trail: map the file and keep a large page cache to spare the syscalls.
	db, err := sql.Open("sqlite", dsn(path, false)+"&mode=ro&_pragma=mmap_size(1073741824)&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, err
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'audit_log'`).Scan(&n); err != nil || n == 0 {
		db.Close()
		if err == nil {
			err = errors.New("no audit trail in this database")
		}
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	return &Trail{db: db}, nil
}

// Close closes a trail opened with OpenTrail.
func (t *Trail) Close() error { return t.db.Close() }

// Scan implements audit.Source: entries and tree hashes merge-joined from one read transaction.
func (t *Trail) Scan(ctx context.Context, fn func(seq int64, canonical []byte, hash string, tree [][]byte, index audit.IndexRow) error) error {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	entries, err := conn.QueryContext(ctx, `SELECT seq, entry, hash, ts, action, coalesce(subject_ref, ''), coalesce(actor, ''), coalesce(purpose, ''), decision FROM audit_log ORDER BY seq`)
	if err != nil {
		return err
	}
	defer entries.Close()
	nodes, err := conn.QueryContext(ctx, `SELECT idx, hash FROM audit_tree ORDER BY idx`)
	if err != nil {
		return err
	}
	defer nodes.Close()
	var (
		pendingIdx  int64 = -1
		pendingHash []byte
		tree        [][]byte
	)
	nextNode := func() error {
		pendingIdx, pendingHash = -1, nil
		if nodes.Next() {
			return nodes.Scan(&pendingIdx, &pendingHash)
		}
		return nodes.Err()
	}
	if err := nextNode(); err != nil {
		return err
	}
	for entries.Next() {
		var seq int64
		var canon sql.RawBytes
		var hash, ts, decision string
		var ix audit.IndexRow
		if err := entries.Scan(&seq, &canon, &hash, &ts, &ix.Action, &ix.SubjectRef, &ix.Actor, &ix.Purpose, &decision); err != nil {
			return err
		}
		ix.TS, ix.Decision = parseTime(ts), audit.Decision(decision)
		tree = tree[:0]
		if seq < 1 {
			if err := fn(seq, canon, hash, nil, ix); err != nil {
				return err
			}
			continue
		}
		lo, hi := tlog.StoredHashCount(seq-1), tlog.StoredHashCount(seq)
		for idx := lo; idx < hi; idx++ {
			for pendingIdx >= 0 && pendingIdx < idx {
				if err := nextNode(); err != nil {
					return err
				}
			}
			if pendingIdx == idx {
				tree = append(tree, pendingHash)
				if err := nextNode(); err != nil {
					return err
				}
			} else {
				tree = append(tree, nil)
			}
		}
		if err := fn(seq, canon, hash, tree, ix); err != nil {
			return err
		}
	}
	return entries.Err()
}

// Checkpoints implements audit.Source.
func (t *Trail) Checkpoints(ctx context.Context) ([]audit.StoredCheckpoint, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.StoredCheckpoint
	for rows.Next() {
		var c audit.StoredCheckpoint
		if err := rows.Scan(&c.Size, &c.Note); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LatestCheckpoint implements audit.Store.
func (t *Trail) LatestCheckpoint(ctx context.Context) (audit.StoredCheckpoint, error) {
	var c audit.StoredCheckpoint
	err := t.db.QueryRowContext(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &c.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return c, audit.ErrNoCheckpoint
	}
	return c, err
}

// Leaf implements audit.Store.
func (t *Trail) Leaf(ctx context.Context, seq int64) ([]byte, error) {
	var canon []byte
	err := t.db.QueryRowContext(ctx, `SELECT entry FROM audit_log WHERE seq = ?`, seq).Scan(&canon)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, audit.ErrNoEntry
	}
	return canon, err
}

// ReadHashes implements tlog.HashReader over the stored tree.
func (t *Trail) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(context.Background(), t.db, indexes)
}

// Note returns the sealed free text stored beside an entry, or nil.
func (t *Trail) Note(ctx context.Context, seq int64) ([]byte, error) {
	var b []byte
	err := t.db.QueryRowContext(ctx, `SELECT sealed FROM audit_notes WHERE seq = ?`, seq).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// Query implements audit.Store. Filters use the indexed copy columns; the entry bytes are the record.
func (t *Trail) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.SubjectRef != "" {
		add("subject_ref = ?", f.SubjectRef)
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
	q := `SELECT entry FROM audit_log`
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
		var canon []byte
		if err := rows.Scan(&canon); err != nil {
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
	lo, hi := "", "9999"
	if !since.IsZero() {
		lo = formatTime(since)
	}
	if !until.IsZero() {
		hi = formatTime(until)
	}
	var after int64
	for {
		rows, err := t.db.QueryContext(ctx, `SELECT seq, entry FROM audit_log WHERE seq > ? AND ts >= ? AND ts < ? ORDER BY seq LIMIT 1000`, after, lo, hi)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var canon []byte
			if err := rows.Scan(&after, &canon); err != nil {
				rows.Close()
				return err
			}
			n++
			if err := fn(after, canon); err != nil {
				rows.Close()
				return err
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if n < 1000 {
			return nil
		}
	}
}

// ReindexTrail rebuilds the review index columns of every audit_log row from the row's canonical entry
// (audit.IndexOf) and reports how many rows it corrected. The entries are what the chain, the tree and
// the checkpoints protect; the index is derived from them. The caller must hold the data dir's lock.
func ReindexTrail(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT seq, entry, ts, action, coalesce(subject_ref, ''), coalesce(actor, ''), coalesce(purpose, ''), decision FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, err
	}
	type fix struct {
		seq int64
		ix  audit.IndexRow
	}
	var fixes []fix
	for rows.Next() {
		var seq int64
		var canon []byte
		var ts, decision string
		var stored audit.IndexRow
		if err := rows.Scan(&seq, &canon, &ts, &stored.Action, &stored.SubjectRef, &stored.Actor, &stored.Purpose, &decision); err != nil {
			rows.Close()
			return 0, err
		}
		stored.TS, stored.Decision = parseTime(ts), audit.Decision(decision)
		ix, err := audit.IndexOfCanonical(canon)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("entry %d does not decode: %w", seq, err)
		}
		if !ix.Equal(stored) {
			fixes = append(fixes, fix{seq, ix})
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	for _, f := range fixes {
		if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET ts = ?, action = ?, subject_ref = ?, actor = ?, purpose = ?, decision = ? WHERE seq = ?`,
			formatTime(f.ix.TS), f.ix.Action, f.ix.SubjectRef, f.ix.Actor, f.ix.Purpose, string(f.ix.Decision), f.seq); err != nil {
			return 0, err
		}
	}
	return len(fixes), tx.Commit()
}
