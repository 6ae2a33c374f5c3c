package postgres

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

const tagColumns = `SELECT subject_id, purpose, key, level, inputs, consent_ids, computed_at, dek_version, sealed FROM tags`

func scanTags(rows pgx.Rows, err error) ([]vault.StoredTag, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.StoredTag, error) {
		var t vault.StoredTag
		var purpose string
		err := r.Scan(&t.SubjectID, &purpose, &t.Key, &t.Level, &t.Inputs, &t.ConsentIDs, &t.ComputedAt, &t.DEKVersion, &t.Sealed)
		t.Purpose, t.ComputedAt = policies.PurposeName(purpose), t.ComputedAt.UTC()
		return t, err
	})
}

// Tags implements vault.TagStore.
func (s *Store) Tags(ctx context.Context, subject string) ([]vault.StoredTag, error) {
	return scanTags(s.db.Pool.Query(ctx, tagColumns+` WHERE subject_id = $1 ORDER BY purpose, key`, subject))
}

// TagRange implements vault.TagStore.
func (s *Store) TagRange(ctx context.Context, after, through string, purpose policies.PurposeName, keys []string) (map[string][]vault.StoredTag, error) {
	out := map[string][]vault.StoredTag{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT subject_id, key, dek_version, sealed FROM tags
		WHERE subject_id > $1 AND subject_id <= $2 AND purpose = $3 AND key = ANY($4) ORDER BY subject_id, key`, after, through, string(purpose), keys)
	return bySubject(rows, err, purpose, out)
}

// bySubject collects the rows of a tag query (subject_id, key, dek_version, sealed) into out by subject.
func bySubject(rows pgx.Rows, err error, purpose policies.PurposeName, out map[string][]vault.StoredTag) (map[string][]vault.StoredTag, error) {
	if err != nil {
		return nil, err
	}
	tags, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.StoredTag, error) {
		t := vault.StoredTag{Purpose: purpose}
		return t, r.Scan(&t.SubjectID, &t.Key, &t.DEKVersion, &t.Sealed)
	})
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		out[t.SubjectID] = append(out[t.SubjectID], t)
	}
	return out, nil
}

// TagsOf implements vault.TagStore.
func (s *Store) TagsOf(ctx context.Context, subjects []string, purpose policies.PurposeName, keys []string) (map[string][]vault.StoredTag, error) {
	out := map[string][]vault.StoredTag{}
	if len(keys) == 0 || len(subjects) == 0 {
		return out, nil
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT subject_id, key, dek_version, sealed FROM tags
		WHERE subject_id = ANY($1) AND purpose = $2 AND key = ANY($3) ORDER BY subject_id, key`, subjects, string(purpose), keys)
	return bySubject(rows, err, purpose, out)
}

// TagModel implements vault.TagStore.
func (s *Store) TagModel(ctx context.Context) (model []byte, fittedAt time.Time, ok bool, err error) {
	err = s.db.Pool.QueryRow(ctx, `SELECT model, fitted_at FROM tag_models WHERE id = 'current'`).Scan(&model, &fittedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	return model, fittedAt.UTC(), err == nil, err
}

// CurrentDEKs implements vault.TagStore.
func (s *Store) CurrentDEKs(ctx context.Context, subjects []string, class string) (map[string]vault.DEK, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT DISTINCT ON (subject_id) subject_id, version, kek_version, wrapped FROM deks
		WHERE subject_id = ANY($1) AND class = $2 ORDER BY subject_id, version DESC`, subjects, class)
	if err != nil {
		return nil, err
	}
	deks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.DEK, error) {
		d := vault.DEK{Class: class}
		return d, r.Scan(&d.Subject, &d.Version, &d.KEKVersion, &d.Wrapped)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]vault.DEK, len(deks))
	for _, d := range deks {
		out[d.Subject] = d
	}
	return out, nil
}

// DirtySubjects implements vault.TagStore: the oldest mark first.
func (s *Store) DirtySubjects(ctx context.Context, limit int) ([]string, error) {
	return texts(s.db.Pool.Query(ctx, `SELECT subject_id FROM tag_dirty ORDER BY marked_seq, subject_id LIMIT $1`, limit))
}

// TagSubjects implements vault.TagTx: one query per table for the whole batch.
func (t *txn) TagSubjects(subjects []string, class string) (map[string]vault.TagSubject, error) {
	out := vault.TagSubjectRows{}
	if len(subjects) == 0 {
		return out, nil
	}
	ids, err := texts(t.query(`SELECT subject_id FROM subjects WHERE subject_id = ANY($1) AND state = 'active'`, subjects))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out.Active(id)
	}
	// each scans the rows of q into dest (after the subject's id) and hands each to fn.
	each := func(q string, args []any, dest []any, fn func(id string) error) error {
		rows, err := t.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var id string
		dest = append([]any{&id}, dest...)
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if err := fn(id); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var (
		data, wrapped []byte
		kind          string
		version, kekV int64
	)
	err = each(`SELECT subject_id, data FROM consent_events WHERE subject_id = ANY($1) ORDER BY subject_id, at, id`, []any{subjects}, []any{&data},
		func(id string) error { return out.ConsentEvent(id, data) })
	if err == nil {
		err = each(`SELECT subject_id, kind FROM objections WHERE subject_id = ANY($1) ORDER BY subject_id, kind`, []any{subjects}, []any{&kind},
			func(id string) error { out.Objection(id, kind); return nil })
	}
	if err == nil {
		err = each(`SELECT subject_id, version, kek_version, wrapped FROM deks WHERE subject_id = ANY($1) AND class = $2`, []any{subjects, class},
			[]any{&version, &kekV, &wrapped}, func(id string) error {
				out.DEK(vault.DEK{Subject: id, Class: class, Version: uint32(version), KEKVersion: uint32(kekV), Wrapped: slices.Clone(wrapped)})
				return nil
			})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutTags implements vault.TagTx: one DELETE per purpose for the batch, then one COPY of its rows.
func (t *txn) PutTags(sets []vault.TagSet) error {
	kept, purposes, byPurpose := vault.ResolveTagSets(sets)
	var rows [][]any
	for _, set := range kept {
		for _, g := range set.Tags {
			inputs, consents := g.Inputs, g.ConsentIDs
			if inputs == nil {
				inputs = []string{}
			}
			if consents == nil {
				consents = []string{}
			}
			rows = append(rows, []any{set.Subject, string(set.Purpose), g.Key, g.Level, inputs, consents, g.ComputedAt, int64(g.DEKVersion), g.Sealed})
		}
	}
	for _, p := range purposes {
		if err := t.exec(`DELETE FROM tags WHERE subject_id = ANY($1) AND purpose = $2`, byPurpose[p], string(p)); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return t.copyFrom("tags", []string{"subject_id", "purpose", "key", "level", "inputs", "consent_ids", "computed_at", "dek_version", "sealed"}, rows)
}

// DeleteTags implements vault.TagTx ("" for every purpose).
func (t *txn) DeleteTags(subject string, purpose policies.PurposeName) error {
	if purpose == "" {
		return t.exec(`DELETE FROM tags WHERE subject_id = $1`, subject)
	}
	return t.exec(`DELETE FROM tags WHERE subject_id = $1 AND purpose = $2`, subject, string(purpose))
}

// DeleteTag implements vault.TagTx.
func (t *txn) DeleteTag(subject, key string) error {
	return t.exec(`DELETE FROM tags WHERE subject_id = $1 AND key = $2`, subject, key)
}

// MarkStale implements vault.TagTx: the mark is written with the change's first sequence number
// (Store.run).
func (t *txn) MarkStale(subject string) error {
	t.note(edit{stale: true, subject: subject, on: true})
	return nil
}

// ClearDirty implements vault.TagTx.
func (t *txn) ClearDirty(subject string, seen int64) error {
	if seen == math.MaxInt64 {
		t.note(edit{stale: true, subject: subject}) // nothing of this change (or of the group's earlier ones) stays pending either
	}
	return t.exec(`DELETE FROM tag_dirty WHERE subject_id = $1 AND marked_seq < $2`, subject, seen)
}

// PutTagModel implements vault.TagTx.
func (t *txn) PutTagModel(model []byte, at time.Time) error {
	return t.exec(`INSERT INTO tag_models (id, fitted_at, model) VALUES ('current', $1, $2)
		ON CONFLICT (id) DO UPDATE SET fitted_at = excluded.fitted_at, model = excluded.model`, at, model)
}
