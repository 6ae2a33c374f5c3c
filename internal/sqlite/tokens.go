package sqlite

import (
	"context"

	"github.com/profilevault/profilevault/vault"
)

var _ vault.RevocationStore = (*Store)(nil)

// PutRevocation implements vault.Tx.
func (t *txn) PutRevocation(r vault.Revocation) error {
	before := ""
	if !r.Before.IsZero() {
		before = formatTime(r.Before)
	}
	return t.exec(`INSERT INTO token_revocations (token_id, subject, before, at, by) VALUES (?, ?, ?, ?, ?)`,
		r.TokenID, r.Subject, before, formatTime(r.At), r.By)
}

// Revocations implements vault.RevocationStore.
func (s *Store) Revocations(ctx context.Context) ([]vault.Revocation, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT token_id, subject, before, at, by FROM token_revocations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.Revocation
	for rows.Next() {
		var r vault.Revocation
		var before, at string
		if err := rows.Scan(&r.TokenID, &r.Subject, &before, &at, &r.By); err != nil {
			return nil, err
		}
		if before != "" {
			r.Before = parseTime(before)
		}
		r.At = parseTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
