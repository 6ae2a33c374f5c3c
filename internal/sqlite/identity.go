package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/profilevault/profilevault/vault"
)

var _ vault.IdentityStore = (*Store)(nil)

const (
	mergeColumns  = `SELECT id, subject_id, source, matched_on, fields_added, created_at, reverted_at, restored_subject_id, external_token FROM merges`
	reviewColumns = `SELECT id, subject_a, subject_b, reason, state, created_at, decided_at FROM merge_reviews`
	reportColumns = `SELECT id, created_at, report FROM import_reports`
)

// Merges implements vault.IdentityStore: newest first, after the merge named after.
func (s *Store) Merges(ctx context.Context, after string, limit int) ([]vault.MergeRow, error) {
	cond, args, err := s.keyset(ctx, "merges", after, "<")
	if err != nil {
		return nil, err
	}
	q := mergeColumns
	if cond != "" {
		q += ` WHERE ` + cond
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, clampLimit(limit))...)
	if err != nil {
		return nil, err
	}
	return scanMerges(rows)
}

// keyset returns the condition and arguments that select a table's rows on the cmp side of the row named
// after in (created_at, id) order, "" for no row; vault.ErrNotFound if after names none.
func (s *Store) keyset(ctx context.Context, table, after, cmp string) (string, []any, error) {
	if after == "" {
		return "", nil, nil
	}
	var at string
	err := s.read.QueryRowContext(ctx, `SELECT created_at FROM `+table+` WHERE id = ?`, after).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, vault.ErrNotFound
	}
	if err != nil {
		return "", nil, err
	}
	return `(created_at, id) ` + cmp + ` (?, ?)`, []any{at, after}, nil
}

// Merge implements vault.IdentityStore.
func (s *Store) Merge(ctx context.Context, id string) (vault.MergeRow, error) {
	rows, err := s.read.QueryContext(ctx, mergeColumns+` WHERE id = ?`, id)
	if err != nil {
		return vault.MergeRow{}, err
	}
	return firstMerge(rows)
}

// Reviews implements vault.IdentityStore: oldest first (a queue), after the review named after, optionally
// only one state.
func (s *Store) Reviews(ctx context.Context, state, after string, limit int) ([]vault.ReviewRow, error) {
	cond, args, err := s.keyset(ctx, "merge_reviews", after, ">")
	if err != nil {
		return nil, err
	}
	var where []string
	if cond != "" {
		where = append(where, cond)
	}
	if state != "" {
		where, args = append(where, `state = ?`), append(args, state)
	}
	q := reviewColumns
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY created_at, id LIMIT ?`, append(args, clampLimit(limit))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.ReviewRow
	for rows.Next() {
		var r vault.ReviewRow
		var created string
		var decided sql.NullString
		if err := rows.Scan(&r.ID, &r.SubjectA, &r.SubjectB, &r.Reason, &r.State, &created, &decided); err != nil {
			return nil, err
		}
		r.CreatedAt, r.DecidedAt = parseTime(created), nullTime(decided)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ImportReports implements vault.IdentityStore: newest first.
func (s *Store) ImportReports(ctx context.Context, limit int) ([]vault.ImportReport, error) {
	rows, err := s.read.QueryContext(ctx, reportColumns+` ORDER BY created_at DESC, id DESC LIMIT ?`, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.ImportReport
	for rows.Next() {
		var r vault.ImportReport
		var created, text string
		if err := rows.Scan(&r.ID, &created, &text); err != nil {
			return nil, err
		}
		r.CreatedAt, r.Lines = parseTime(created), strings.Split(text, "\n")
		out = append(out, r)
	}
	return out, rows.Err()
}

// Merge implements vault.Tx: the merge as the transaction sees it; ErrNotFound if there is none.
func (t *txn) Merge(id string) (vault.MergeRow, error) {
	rows, err := t.query(mergeColumns+` WHERE id = ?`, id)
	if err != nil {
		return vault.MergeRow{}, err
	}
	return firstMerge(rows)
}

// RevertMerge implements vault.Tx.
func (t *txn) RevertMerge(id, restored string, at time.Time) error {
	return t.exec(`UPDATE merges SET reverted_at = ?, restored_subject_id = ? WHERE id = ?`, formatTime(at), restored, id)
}

// RemoveExternalID implements vault.Tx.
func (t *txn) RemoveExternalID(subject string, token []byte) error {
	t.touch(subject)
	return t.exec(`DELETE FROM blind_index WHERE field = '_external_id' AND token = ? AND subject_id = ?`, token, subject)
}

// DecideReview implements vault.Tx: it closes the review if it is open and returns the state it had ("" if
// there is no such review).
func (t *txn) DecideReview(id, state string, at time.Time) (string, error) {
	var was string
	err := t.queryRow(`SELECT state FROM merge_reviews WHERE id = ?`, id).Scan(&was)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil || was != vault.ReviewOpen {
		return was, err
	}
	return was, t.exec(`UPDATE merge_reviews SET state = ?, decided_at = ? WHERE id = ?`, state, formatTime(at), id)
}

func firstMerge(rows *sql.Rows) (vault.MergeRow, error) {
	out, err := scanMerges(rows)
	if err != nil {
		return vault.MergeRow{}, err
	}
	if len(out) == 0 {
		return vault.MergeRow{}, vault.ErrNotFound
	}
	return out[0], nil
}

func scanMerges(rows *sql.Rows) ([]vault.MergeRow, error) {
	defer rows.Close()
	var out []vault.MergeRow
	for rows.Next() {
		var m vault.MergeRow
		var added, created string
		var reverted, restored sql.NullString
		if err := rows.Scan(&m.ID, &m.SubjectID, &m.Source, &m.MatchedOn, &added, &created, &reverted, &restored, &m.ExternalToken); err != nil {
			return nil, err
		}
		if added != "" {
			m.FieldsAdded = strings.Split(added, ",")
		}
		m.CreatedAt, m.RevertedAt, m.RestoredSubjectID = parseTime(created), nullTime(reverted), restored.String
		out = append(out, m)
	}
	return out, rows.Err()
}

func nullTime(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

func clampLimit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}
