package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
)

// What a vaultd node asks of the database beyond the vault's storers.

// Close stops the audit log (a last integration and checkpoint if this node signs them) and closes the
// database.
func (s *Store) Close() error {
	s.stopCommitter()
	err := s.log.Close()
	s.db.Close()
	return err
}

// CountActiveSubjects returns how many subjects are not erased.
func (s *Store) CountActiveSubjects(ctx context.Context) (int, error) {
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM subjects WHERE state = 'active'`).Scan(&n)
	return n, err
}

// ActiveSubjectIDs returns up to limit ids of active subjects in creation order (for the demo's examples;
// ids are random and carry no personal data).
func (s *Store) ActiveSubjectIDs(ctx context.Context, limit int) ([]string, error) {
	return texts(s.db.Pool.Query(ctx, `SELECT subject_id FROM subjects WHERE state = 'active' ORDER BY created_at, subject_id LIMIT $1`, limit))
}

// CachedRecords is 0: the store keeps no record cache (every read goes to the database).
func (s *Store) CachedRecords() int { return 0 }

// IndexLag is 0: the review index is written with each entry.
func (s *Store) IndexLag() int64 { return 0 }

// KnownKeys returns the key fingerprints the nodes of this database have recorded, by name.
func (db *DB) KnownKeys(ctx context.Context) (map[string]string, error) {
	rows, err := db.Pool.Query(ctx, `SELECT name, fingerprint FROM node_keys`)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var name, fp string
	_, err = pgx.ForEachRow(rows, []any{&name, &fp}, func() error { out[name] = fp; return nil })
	return out, err
}

// ErrKeysDiffer means a node's keys are not those the other nodes of the database use.
var ErrKeysDiffer = errors.New("this node's keys differ from those of the database's other nodes")

// AgreeOnKeys records the fingerprints of this node's keys where none is recorded yet, and fails with
// ErrKeysDiffer, naming the keys (never their values), where a recorded one differs.
func (db *DB) AgreeOnKeys(ctx context.Context, fingerprints map[string]string) error {
	var differ []string
	for _, name := range slices.Sorted(maps.Keys(fingerprints)) {
		var recorded string
		err := db.Pool.QueryRow(ctx, `WITH ins AS (INSERT INTO node_keys (name, fingerprint) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING fingerprint)
			SELECT fingerprint FROM ins UNION ALL SELECT fingerprint FROM node_keys WHERE name = $1 LIMIT 1`, name, fingerprints[name]).Scan(&recorded)
		if err != nil {
			return fmt.Errorf("postgres: node keys: %w", err)
		}
		if recorded != fingerprints[name] {
			differ = append(differ, name)
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("%w: %v", ErrKeysDiffer, differ)
	}
	return nil
}
