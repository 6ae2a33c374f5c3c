package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// Key rotation's storage: DEK pages by KEK version, the retired-version register (its triggers are in
// migration 0012) and the rotation lease rows.

var _ vault.KeyStore = (*Store)(nil)

// DEKs implements vault.KeyStore. It reads in pages so it never holds a long read transaction.
func (s *Store) DEKs(ctx context.Context, fn func(vault.DEK) error) error {
	type key struct {
		subject, class string
		version        uint32
	}
	var after key
	for {
		page, err := s.dekPage(ctx, `SELECT subject_id, class, version, kek_version, wrapped FROM deks
			WHERE (subject_id, class, version) > (?, ?, ?) ORDER BY subject_id, class, version LIMIT 1000`,
			after.subject, after.class, after.version)
		if err != nil {
			return err
		}
		for _, d := range page {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		last := page[len(page)-1]
		after = key{last.Subject, last.Class, last.Version}
	}
}

// DEKsBelow implements vault.KeyStore, through the index on kek_version. Each page is read afresh, so a
// DEK moved by the caller between pages is not seen again.
func (s *Store) DEKsBelow(ctx context.Context, v uint32, limit int, fn func([]vault.DEK) error) error {
	if limit <= 0 {
		limit = 500
	}
	var afterVersion uint32
	var afterSubject, afterClass string
	var afterDEK uint32
	for {
		page, err := s.dekPage(ctx, `SELECT subject_id, class, version, kek_version, wrapped FROM deks
			WHERE kek_version < ?1 AND (kek_version, subject_id, class, version) > (?2, ?3, ?4, ?5)
			ORDER BY kek_version, subject_id, class, version LIMIT ?6`,
			v, afterVersion, afterSubject, afterClass, afterDEK, limit)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		last := page[len(page)-1]
		afterVersion, afterSubject, afterClass, afterDEK = last.KEKVersion, last.Subject, last.Class, last.Version
	}
}

func (s *Store) dekPage(ctx context.Context, q string, args ...any) ([]vault.DEK, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var page []vault.DEK
	for rows.Next() {
		var d vault.DEK
		if err := rows.Scan(&d.Subject, &d.Class, &d.Version, &d.KEKVersion, &d.Wrapped); err != nil {
			rows.Close()
			return nil, err
		}
		page = append(page, d)
	}
	return page, errors.Join(rows.Err(), rows.Close())
}

// CountDEKsBelow implements vault.KeyStore.
func (s *Store) CountDEKsBelow(ctx context.Context, v uint32) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM deks WHERE kek_version < ?`, v).Scan(&n)
	return n, err
}

const rotationColumns = `id, kek_version, state, holder, lease_until, started_at, updated_at, finished_at, total, rewrapped, retired, error`

// Rotation implements vault.KeyStore.
func (s *Store) Rotation(ctx context.Context, id string) (vault.Rotation, error) {
	return scanRotation(s.read.QueryRowContext(ctx, `SELECT `+rotationColumns+` FROM key_rotations WHERE id = ?`, id))
}

// LatestRotation implements vault.KeyStore.
func (s *Store) LatestRotation(ctx context.Context) (vault.Rotation, error) {
	return scanRotation(s.read.QueryRowContext(ctx, latestRotationQuery))
}

const latestRotationQuery = `SELECT ` + rotationColumns + ` FROM key_rotations ORDER BY started_at DESC, id DESC LIMIT 1`

func scanRotation(row *sql.Row) (vault.Rotation, error) {
	var r vault.Rotation
	var lease, started, updated, finished, retired string
	err := row.Scan(&r.ID, &r.KEKVersion, &r.State, &r.Holder, &lease, &started, &updated, &finished, &r.Total, &r.Rewrapped, &retired, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.Rotation{}, vault.ErrNotFound
	}
	if err != nil {
		return vault.Rotation{}, err
	}
	r.LeaseUntil, r.StartedAt, r.UpdatedAt = parseTime(lease), parseTime(started), parseTime(updated)
	if finished != "" {
		r.FinishedAt = parseTime(finished)
	}
	for _, f := range strings.Split(retired, ",") {
		if v, err := strconv.ParseUint(f, 10, 32); err == nil {
			r.Retired = append(r.Retired, uint32(v))
		}
	}
	return r, nil
}

// KEKUsage implements vault.KeyTx.
func (t *txn) KEKUsage() (map[uint32]int, error) {
	rows, err := t.query(`SELECT kek_version, count(*) FROM deks GROUP BY kek_version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]int{}
	for rows.Next() {
		var v uint32
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[v] = n
	}
	return out, rows.Err()
}

// RetireKEK implements vault.KeyTx.
func (t *txn) RetireKEK(version uint32, at time.Time) error {
	return t.exec(`INSERT OR IGNORE INTO retired_keks (version, retired_at) VALUES (?, ?)`, version, formatTime(at))
}

// LatestRotation implements vault.KeyTx.
func (t *txn) LatestRotation() (vault.Rotation, error) {
	return scanRotation(t.queryRow(latestRotationQuery))
}

// PutRotation implements vault.KeyTx.
func (t *txn) PutRotation(r vault.Rotation) error {
	retired := make([]string, len(r.Retired))
	for i, v := range r.Retired {
		retired[i] = strconv.FormatUint(uint64(v), 10)
	}
	finished := ""
	if !r.FinishedAt.IsZero() {
		finished = formatTime(r.FinishedAt)
	}
	return t.exec(`INSERT OR REPLACE INTO key_rotations (`+rotationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.KEKVersion, r.State, r.Holder, formatTime(r.LeaseUntil), formatTime(r.StartedAt), formatTime(r.UpdatedAt),
		finished, r.Total, r.Rewrapped, strings.Join(retired, ","), r.Error)
}
