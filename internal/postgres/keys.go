package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/vault"
)

// dekPage is how many DEKs one query of DEKs reads.
const dekPage = 1000

func scanDEKs(rows pgx.Rows, err error) ([]vault.DEK, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.DEK, error) {
		var d vault.DEK
		return d, r.Scan(&d.Subject, &d.Class, &d.Version, &d.KEKVersion, &d.Wrapped)
	})
}

// DEKs implements vault.KeyStore, in pages (no long read transaction).
func (s *Store) DEKs(ctx context.Context, fn func(vault.DEK) error) error {
	var last vault.DEK
	for {
		page, err := scanDEKs(s.db.Pool.Query(ctx, `SELECT subject_id, class, version, kek_version, wrapped FROM deks
			WHERE (subject_id, class, version) > ($1, $2, $3) ORDER BY subject_id, class, version LIMIT $4`, last.Subject, last.Class, int64(last.Version), dekPage))
		if err != nil {
			return err
		}
		for _, d := range page {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(page) < dekPage {
			return nil
		}
		last = page[len(page)-1]
	}
}

// DEKsBelow implements vault.KeyStore.
func (s *Store) DEKsBelow(ctx context.Context, v uint32, limit int, fn func([]vault.DEK) error) error {
	if limit <= 0 {
		limit = 500
	}
	var last vault.DEK
	for {
		page, err := scanDEKs(s.db.Pool.Query(ctx, `SELECT subject_id, class, version, kek_version, wrapped FROM deks
			WHERE kek_version < $1 AND (kek_version, subject_id, class, version) > ($2, $3, $4, $5)
			ORDER BY kek_version, subject_id, class, version LIMIT $6`, int64(v), int64(last.KEKVersion), last.Subject, last.Class, int64(last.Version), limit))
		if err != nil || len(page) == 0 {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		last = page[len(page)-1]
	}
}

// CountDEKsBelow implements vault.KeyStore.
func (s *Store) CountDEKsBelow(ctx context.Context, v uint32) (int, error) {
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM deks WHERE kek_version < $1`, int64(v)).Scan(&n)
	return n, err
}

const rotationColumns = `SELECT id, kek_version, state, holder, lease_until, started_at, updated_at, finished_at, total, rewrapped, retired, error FROM key_rotations`

const latestRotation = rotationColumns + ` ORDER BY started_at DESC, id DESC LIMIT 1`

func scanRotation(row pgx.Row) (vault.Rotation, error) {
	var r vault.Rotation
	var finished *time.Time
	var retired []int64
	if err := row.Scan(&r.ID, &r.KEKVersion, &r.State, &r.Holder, &r.LeaseUntil, &r.StartedAt, &r.UpdatedAt, &finished, &r.Total, &r.Rewrapped,
		&retired, &r.Error); err != nil {
		return vault.Rotation{}, notFound(err)
	}
	r.LeaseUntil, r.StartedAt, r.UpdatedAt = r.LeaseUntil.UTC(), r.StartedAt.UTC(), r.UpdatedAt.UTC()
	if finished != nil {
		r.FinishedAt = finished.UTC()
	}
	for _, v := range retired {
		r.Retired = append(r.Retired, uint32(v))
	}
	return r, nil
}

// Rotation implements vault.KeyStore.
func (s *Store) Rotation(ctx context.Context, id string) (vault.Rotation, error) {
	return scanRotation(s.db.Pool.QueryRow(ctx, rotationColumns+` WHERE id = $1`, id))
}

// LatestRotation implements vault.KeyStore.
func (s *Store) LatestRotation(ctx context.Context) (vault.Rotation, error) {
	return scanRotation(s.db.Pool.QueryRow(ctx, latestRotation))
}

// LatestRotation implements vault.KeyTx.
func (t *txn) LatestRotation() (vault.Rotation, error) {
	return scanRotation(t.queryRow(latestRotation))
}

// PutRotation implements vault.KeyTx.
func (t *txn) PutRotation(r vault.Rotation) error {
	retired := make([]int64, len(r.Retired))
	for i, v := range r.Retired {
		retired[i] = int64(v)
	}
	var finished *time.Time
	if !r.FinishedAt.IsZero() {
		finished = &r.FinishedAt
	}
	return t.exec(`INSERT INTO key_rotations (id, kek_version, state, holder, lease_until, started_at, updated_at, finished_at, total, rewrapped, retired, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET kek_version = excluded.kek_version, state = excluded.state, holder = excluded.holder,
			lease_until = excluded.lease_until, started_at = excluded.started_at, updated_at = excluded.updated_at, finished_at = excluded.finished_at,
			total = excluded.total, rewrapped = excluded.rewrapped, retired = excluded.retired, error = excluded.error`,
		r.ID, int64(r.KEKVersion), r.State, r.Holder, r.LeaseUntil, r.StartedAt, r.UpdatedAt, finished, r.Total, r.Rewrapped, retired, r.Error)
}

// KEKUsage implements vault.KeyTx.
func (t *txn) KEKUsage() (map[uint32]int, error) {
	rows, err := t.query(`SELECT kek_version, count(*) FROM deks GROUP BY kek_version`)
	if err != nil {
		return nil, err
	}
	out := map[uint32]int{}
	var v int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&v, &n}, func() error { out[uint32(v)] = n; return nil })
	return out, err
}

// RetireKEK implements vault.KeyTx: from then on the deks trigger refuses a row wrapped under version.
func (t *txn) RetireKEK(version uint32, at time.Time) error {
	return t.exec(`INSERT INTO retired_keks (version, retired_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, int64(version), at)
}

// RewrapDEK implements vault.KeyTx: only a row still wrapped under from changes, and the subject's
// generation does not move (nothing about the subject changed).
func (t *txn) RewrapDEK(d vault.DEK, from uint32) (bool, error) {
	n, err := t.count(`UPDATE deks SET kek_version = $1, wrapped = $2 WHERE subject_id = $3 AND class = $4 AND version = $5 AND kek_version = $6`,
		int64(d.KEKVersion), d.Wrapped, d.Subject, d.Class, int64(d.Version), int64(from))
	return n == 1, err
}
