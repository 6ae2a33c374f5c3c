package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// tagsQuery reads a subject's stored tags.
const tagsQuery = `SELECT purpose, key, level, inputs, consent_ids, computed_at, dek_version, sealed
	FROM tags WHERE subject_id = ? ORDER BY purpose, key`

// Tags implements vault.Store: the subject's stored tags, sealed.
func (s *Store) Tags(ctx context.Context, subject string) ([]vault.StoredTag, error) {
	rows, err := s.stmtTags.QueryContext(ctx, subject) // prepared: audience builds read every subject's tags
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.StoredTag
	for rows.Next() {
		t := vault.StoredTag{SubjectID: subject}
		var inputs, consents, at string
		if err := rows.Scan(&t.Purpose, &t.Key, &t.Level, &inputs, &consents, &at, &t.DEKVersion, &t.Sealed); err != nil {
			return nil, err
		}
		t.Inputs, t.ConsentIDs, t.ComputedAt = splitList(inputs), splitList(consents), parseTime(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// CurrentDEKs implements vault.Store: the newest DEK of class of each subject that has one.
func (s *Store) CurrentDEKs(ctx context.Context, subjects []string, class string) (map[string]vault.DEK, error) {
	out := make(map[string]vault.DEK, len(subjects))
	err := inChunks(subjects, func(in string, args []any) error {
		rows, err := s.read.QueryContext(ctx, `SELECT subject_id, version, kek_version, wrapped FROM deks
			WHERE class = ? AND subject_id IN `+in, append([]any{class}, args...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			d := vault.DEK{Class: class}
			if err := rows.Scan(&d.Subject, &d.Version, &d.KEKVersion, &d.Wrapped); err != nil {
				rows.Close()
				return err
			}
			if cur, ok := out[d.Subject]; !ok || d.Version > cur.Version {
				out[d.Subject] = d
			}
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	return out, err
}

// TagsOf implements vault.TagStore.
func (s *Store) TagsOf(ctx context.Context, subjects []string, purpose policies.PurposeName, keys []string) (map[string][]vault.StoredTag, error) {
	out := map[string][]vault.StoredTag{}
	if len(keys) == 0 {
		return out, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	err = inChunks(subjects, func(in string, args []any) error {
		rows, err := s.read.QueryContext(ctx, `SELECT subject_id, purpose, key, dek_version, sealed FROM tags
			WHERE purpose = ? AND key IN (SELECT value FROM json_each(?)) AND subject_id IN `+in,
			append([]any{string(purpose), string(list)}, args...)...)
		if err != nil {
			return err
		}
		return collectTags(rows, out)
	})
	for _, tags := range out {
		slices.SortFunc(tags, byKey)
	}
	return out, err
}

// inChunks calls fn for ids in chunks of up to 500, with the chunk's "(?, ?, …)" list and its arguments.
func inChunks[T any](ids []T, fn func(in string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if err := fn("(?"+strings.Repeat(", ?", n-1)+")", args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// TagModel implements vault.Store: the frozen population model (ok false before the first full run).
func (s *Store) TagModel(ctx context.Context) (model []byte, fittedAt time.Time, ok bool, err error) {
	var at string
	err = s.read.QueryRowContext(ctx, `SELECT model, fitted_at FROM tag_models WHERE id = 'current'`).Scan(&model, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, err
	}
	return model, parseTime(at), true, nil
}

// Queries of TagSubjects: ?1 a JSON array of subject ids, each table read along its subject index.
const (
	tagSubjectsQuery   = `SELECT id FROM subjects WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'active'`
	tagConsentsQuery   = `SELECT subject_id, data FROM consent_events WHERE subject_id IN (SELECT value FROM json_each(?1)) ORDER BY subject_id, at, id`
	tagObjectionsQuery = `SELECT subject_id, kind FROM objections WHERE subject_id IN (SELECT value FROM json_each(?1)) ORDER BY subject_id, kind`
	// ?2 the class.
	tagDEKsQuery = `SELECT subject_id, version, kek_version, wrapped FROM deks WHERE subject_id IN (SELECT value FROM json_each(?1)) AND class = ?2`
	// tagsDeleteQuery deletes the tags of purpose ?2 of the subjects in ?1.
	tagsDeleteQuery = `DELETE FROM tags WHERE subject_id IN (SELECT value FROM json_each(?1)) AND purpose = ?2`
)

// TagSubjects implements vault.TagTx: one statement per table for the whole batch, rather than
// SubjectState, ConsentEvents, Objections and DEK once per subject.
func (t *txn) TagSubjects(subjects []string, class string) (map[string]vault.TagSubject, error) {
	out := vault.TagSubjectRows{}
	if len(subjects) == 0 {
		return out, nil
	}
	list, err := json.Marshal(subjects)
	if err != nil {
		return nil, err
	}
	// each scans the rows of one query into dest (after the subject's id) and hands each to fn.
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
	ids, err := scanIDs(t.query(tagSubjectsQuery, string(list)))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out.Active(id)
	}
	var (
		data, wrapped []byte
		kind          string
		version, kekV int64
	)
	args := []any{string(list)}
	err = each(tagConsentsQuery, args, []any{&data}, func(id string) error { return out.ConsentEvent(id, data) })
	if err == nil {
		err = each(tagObjectionsQuery, args, []any{&kind}, func(id string) error { out.Objection(id, kind); return nil })
	}
	if err == nil {
		err = each(tagDEKsQuery, append(args, class), []any{&version, &kekV, &wrapped}, func(id string) error {
			out.DEK(vault.DEK{Subject: id, Class: class, Version: uint32(version), KEKVersion: uint32(kekV), Wrapped: wrapped})
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutTags implements vault.TagTx: the batch's tags of each purpose are deleted by one statement, and its
// rows inserted by the largest multi-row inserts.
func (t *txn) PutTags(sets []vault.TagSet) error {
	kept, purposes, byPurpose := vault.ResolveTagSets(sets)
	n := 0
	for _, set := range kept {
		n += len(set.Tags)
	}
	for _, p := range purposes {
		list, err := json.Marshal(byPurpose[p])
		if err != nil {
			return err
		}
		if err := t.exec(tagsDeleteQuery, string(list), p); err != nil {
			return err
		}
	}
	args := make([]any, 0, n*insertWidths[insertTags])
	for _, set := range kept {
		for _, tg := range set.Tags {
			args = append(args, set.Subject, set.Purpose, tg.Key, tg.Level, strings.Join(tg.Inputs, ","),
				strings.Join(tg.ConsentIDs, ","), formatTime(tg.ComputedAt), tg.DEKVersion, tg.Sealed)
		}
	}
	_, err := t.store.insertStmts.insertRows(t.ctx, t.tx, insertTags, args)
	return err
}

// DeleteTags implements vault.Tx: every tag of the subject computed under purpose ("" for all).
func (t *txn) DeleteTags(subject string, purpose policies.PurposeName) error {
	if purpose == "" {
		return t.exec(`DELETE FROM tags WHERE subject_id = ?`, subject)
	}
	return t.exec(`DELETE FROM tags WHERE subject_id = ? AND purpose = ?`, subject, purpose)
}

// PutTagModel implements vault.Tx.
func (t *txn) PutTagModel(model []byte, at time.Time) error {
	return t.exec(`INSERT OR REPLACE INTO tag_models (id, fitted_at, model) VALUES ('current', ?, ?)`, formatTime(at), model)
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// DirtySubjects implements vault.Store: subjects whose tag inputs changed, oldest change first.
func (s *Store) DirtySubjects(ctx context.Context, limit int) ([]string, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT subject_id FROM tag_dirty ORDER BY marked_seq, subject_id LIMIT ?`, limit))
}

// ClearDirty implements vault.Tx: the subject's tags reflect every change marked before audit sequence
// number seen; a change marked later stays pending.
func (t *txn) ClearDirty(subject string, seen int64) error {
	if seen == math.MaxInt64 {
		t.setStale(subject, false) // nothing of this batch stays pending either
	}
	return t.exec(`DELETE FROM tag_dirty WHERE subject_id = ? AND marked_seq < ?`, subject, seen)
}

// MarkStale implements vault.Tx: the row is written with the batch's first sequence number (markDirty).
func (t *txn) MarkStale(subject string) error {
	t.setStale(subject, true)
	return nil
}

// DeleteTag implements vault.Tx.
func (t *txn) DeleteTag(subject, key string) error {
	return t.exec(`DELETE FROM tags WHERE subject_id = ? AND key = ?`, subject, key)
}

// setStale adds subject to the batch's stale set or removes it, noting what it was so that a failed change
// can be undone (undoStale).
func (t *txn) setStale(subject string, on bool) {
	if t.stale == nil {
		t.stale = map[string]struct{}{}
	}
	_, was := t.stale[subject]
	t.staleUndo = append(t.staleUndo, staleMark{subject, was})
	if on {
		t.stale[subject] = struct{}{}
	} else {
		delete(t.stale, subject)
	}
}

// staleMark is what the stale set held for a subject before a change's setStale.
type staleMark struct {
	subject string
	was     bool
}

// undoStale restores the stale set to what it was before the current change (rolled back to its
// savepoint), so that a failed change marks nothing.
func (t *txn) undoStale() {
	for i := len(t.staleUndo) - 1; i >= 0; i-- {
		if m := t.staleUndo[i]; m.was {
			t.stale[m.subject] = struct{}{}
		} else {
			delete(t.stale, m.subject)
		}
	}
	t.staleUndo = t.staleUndo[:0]
}
