package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/seglog"
)

// importLegacyTrail moves a trail kept in the database (audit_log and audit_checkpoints, the format before
// the segment log) into a new log in logDir, once: when logDir holds no log yet and the database holds
// entries. The entries must be numbered and chained without a gap, and every checkpoint must verify under
// signer (when given) and sign the tree of the entries it covers, or nothing moves and the store does not
// open. The old tables stay as they are, no longer written.
func importLegacyTrail(ctx context.Context, db *sql.DB, logDir string, signer *audit.Signer) error {
	if names, _ := filepath.Glob(filepath.Join(logDir, "segments", "*.log")); len(names) > 0 {
		return nil
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n == 0 {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return err
	}
	var cps []audit.StoredCheckpoint
	for rows.Next() {
		var c audit.StoredCheckpoint
		if err := rows.Scan(&c.Size, &c.Note); err != nil {
			rows.Close()
			return err
		}
		if signer != nil {
			if _, err := audit.OpenCheckpoint(c.Note, signer.Verifier()); err != nil {
				rows.Close()
				return fmt.Errorf("move the audit trail into %s: checkpoint at size %d: %w", logDir, c.Size, err)
			}
		}
		cps = append(cps, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	entries := func(yield func([]byte) error) error {
		var after int64
		for {
			rows, err := db.QueryContext(ctx, `SELECT seq, entry FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 10000`, after)
			if err != nil {
				return err
			}
			got := 0
			for rows.Next() {
				var canon []byte
				if err := rows.Scan(&after, &canon); err != nil {
					rows.Close()
					return err
				}
				got++
				if err := yield(canon); err != nil {
					rows.Close()
					return err
				}
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil || got < 10000 {
				return err
			}
		}
	}
	moved, err := seglog.Import(logDir, entries, cps)
	if err == nil && moved != n {
		err = fmt.Errorf("%d of %d entries moved", moved, n)
	}
	if err != nil {
		return fmt.Errorf("move the audit trail into %s: %w", logDir, err)
	}
	return nil
}

// recoverLog brings the database in line with the log at startup: an aborted entry for every write-ahead
// intent whose change the database never recorded (the process stopped between the two), then the review
// index rows of every entry it lacks. It sets the writer's chain head.
func (s *Store) recoverLog(ctx context.Context) error {
	var committed, through sql.NullInt64
	if err := s.write.QueryRowContext(ctx, `SELECT (SELECT max(id) FROM audit_intents), (SELECT through FROM audit_recovery WHERE one = 1)`).
		Scan(&committed, &through); err != nil {
		return fmt.Errorf("read audit intents: %w", err)
	}
	size, head := s.auditLog.Head()
	var open []audit.Entry         // intents after the last committed one, in log order
	cancelled := map[string]bool{} // reasons of the aborted entries already in the log
	err := s.auditLog.Scan(max(committed.Int64, through.Int64)+1, func(seq int64, canon []byte) error {
		isIntent, isAbort := bytes.Contains(canon, []byte(`"intent":`)), bytes.Contains(canon, []byte(`"action":"`+audit.ActionAborted+`"`))
		if !isIntent && !isAbort {
			return nil
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			return fmt.Errorf("decode audit entry %d: %w", seq, err)
		}
		switch {
		case e.Action == audit.ActionAborted:
			cancelled[e.Reason] = true // the writer cancelled it when the commit failed
		case e.Intent > committed.Int64:
			open = append(open, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var aborted []audit.Entry
	now := time.Now()
	for _, e := range open {
		if a := audit.Aborted(e, now); !cancelled[a.Reason] {
			aborted = append(aborted, a)
		}
	}
	s.headSeq, s.headHash = size, head
	if len(aborted) > 0 {
		canons, _, err := s.chain(aborted)
		if err != nil {
			return err
		}
		if err := s.auditLog.AppendBatch(ctx, size+1, canons); err != nil {
			return fmt.Errorf("cancel uncommitted intents: %w", err)
		}
		s.headSeq, s.headHash = s.auditLog.Head()
		s.log.Warn("audit recovery: changes whose intents were logged but never committed are marked aborted", "entries", len(aborted))
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO audit_recovery (one, through) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET through = excluded.through`, s.headSeq); err != nil {
		return err
	}
	indexed, err := catchUpIndex(ctx, s.write, s.auditLog)
	if err != nil {
		return fmt.Errorf("rebuild the audit review index: %w", err)
	}
	s.index = newIndexProgress(indexed)
	s.Trail.index = s.index
	return nil
}

// chain numbers and chains entries after the writer's head and returns their canonical bytes and the new
// head hash (the writer's head is not moved).
func (s *Store) chain(entries []audit.Entry) ([][]byte, string, error) {
	seq, head := s.headSeq, s.headHash
	out := make([][]byte, 0, len(entries))
	for _, e := range entries {
		e.Seq, e.PrevHash = seq+1, head
		canon, err := e.Canonical()
		if err != nil {
			return nil, "", err
		}
		out = append(out, canon)
		seq, head = e.Seq, audit.HexHash(audit.LeafHash(canon))
	}
	return out, head, nil
}

// catchUpIndex adds the review index rows of the log's entries after the last indexed one, in one
// sequential pass over the log and a transaction per 4,096 rows, and returns the sequence number the index
// then covers.
func catchUpIndex(ctx context.Context, db *sql.DB, l audit.LogReader) (int64, error) {
	var last sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(seq) FROM audit_index`).Scan(&last); err != nil {
		return 0, err
	}
	var (
		tx *sql.Tx
		st *sql.Stmt
	)
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	commit := func() error {
		err := errors.Join(st.Close(), tx.Commit())
		tx = nil
		return err
	}
	indexed := last.Int64
	err := l.Scan(last.Int64+1, func(seq int64, canon []byte) error {
		if tx == nil {
			var err error
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
			if st, err = tx.PrepareContext(ctx, `INSERT INTO audit_index (`+indexColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
				return err
			}
		}
		ix, err := audit.IndexOfCanonical(canon)
		if err != nil {
			return fmt.Errorf("entry %d does not decode: %w", seq, err)
		}
		if _, err := st.ExecContext(ctx, indexArgs(seq, ix)...); err != nil {
			return err
		}
		if indexed = seq; seq%4096 == 0 {
			return commit()
		}
		return nil
	})
	if err == nil && tx != nil {
		err = commit()
	}
	return indexed, err
}

// indexArgs are the audit_index column values of entry seq.
func indexArgs(seq int64, ix audit.IndexRow) []any {
	return []any{seq, formatTime(ix.TS), ix.Action, ix.SubjectRef, ix.Actor, ix.Purpose, string(ix.Decision), ix.GrantID}
}

// ReindexTrail rebuilds the review index from the log: rows that differ from their entry are corrected,
// missing ones added, rows past the log removed. It reports how many rows it changed. The entries are what
// the chain, the tree and the checkpoints protect; the index is derived from them. The caller must hold
// the data dir's lock.
func ReindexTrail(ctx context.Context, path, logDir string) (int, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		return 0, err
	}
	l, err := seglog.Open(logDir, seglog.Options{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("open audit log: %w", err)
	}
	defer l.Close()
	// The index is rebuilt from an intact log only: rows of entries a damaged or cut log has lost are the
	// last trace of them.
	cps, err := l.Checkpoints()
	if err != nil {
		return 0, fmt.Errorf("read checkpoints: %w", err)
	}
	if n := len(cps); n > 0 && cps[n-1].Size > l.Size() {
		return 0, fmt.Errorf("the audit log is damaged: its newest checkpoint covers %d entries but only %d can be read; nothing was changed (vaultd audit verify locates the damage; restore the log first)", cps[n-1].Size, l.Size())
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+indexColumns+` FROM audit_index ORDER BY seq`)
	if err != nil {
		return 0, err
	}
	stored := map[int64]audit.IndexRow{}
	for rows.Next() {
		seq, ix, err := scanIndexRow(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		stored[seq] = ix
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	changed := 0
	err = l.Scan(1, func(seq int64, canon []byte) error {
		ix, err := audit.IndexOfCanonical(canon)
		if err != nil {
			return fmt.Errorf("entry %d does not decode: %w", seq, err)
		}
		old, ok := stored[seq]
		delete(stored, seq)
		if ok && old.Equal(ix) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO audit_index (`+indexColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, indexArgs(seq, ix)...); err != nil {
			return err
		}
		changed++
		return nil
	})
	if err != nil {
		return 0, err
	}
	for seq := range stored { // rows past the log
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_index WHERE seq = ?`, seq); err != nil {
			return 0, err
		}
		changed++
	}
	return changed, tx.Commit()
}
