package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/profilevault/profilevault/vault"
)

const requestColumns = `SELECT id, subject_id, type, state, created_at, due_at, updated_at, reason, note, relationship, evidence FROM dsr_requests`

var _ vault.RequestStore = (*Store)(nil)

// Requests implements vault.RequestStore: newest first.
func (s *Store) Requests(ctx context.Context, f vault.RequestFilter) ([]vault.RequestRow, error) {
	var where []string
	var args []any
	if f.ID != "" {
		where, args = append(where, "id = ?"), append(args, f.ID)
	}
	if f.SubjectID != "" {
		where, args = append(where, "subject_id = ?"), append(args, f.SubjectID)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	q := requestColumns
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	rows, err := s.read.QueryContext(ctx, q+" ORDER BY created_at DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	return scanRequests(rows)
}

func scanRequests(rows *sql.Rows) ([]vault.RequestRow, error) {
	defer rows.Close()
	var out []vault.RequestRow
	for rows.Next() {
		var r vault.RequestRow
		var created, due, updated string
		if err := rows.Scan(&r.ID, &r.SubjectID, &r.Type, &r.State, &created, &due, &updated, &r.ReasonSealed, &r.Note, &r.Relationship, &r.EvidenceSealed); err != nil {
			return nil, err
		}
		r.CreatedAt, r.DueAt, r.UpdatedAt = parseTime(created), parseTime(due), parseTime(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}
