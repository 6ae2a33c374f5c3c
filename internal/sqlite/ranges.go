package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Range reads of a batch decision's page (an audience build reads every active subject a page at a time):
// each table is read as one range of its primary key — a walk along the leaves — instead of one index
// descent per subject, each column into a typed destination, and only what the decision uses.
const (
	// ?1 < id <= ?2 throughout.
	rangeSubjectsQuery = `SELECT id, source, created_at, updated_at, ref_salt FROM subjects
		WHERE id > ?1 AND id <= ?2 AND state = 'active' ORDER BY id`
	rangeDEKsQuery = `SELECT subject_id, class, version, kek_version, wrapped FROM deks
		WHERE subject_id > ?1 AND subject_id <= ?2 ORDER BY subject_id`
	// ?3 a JSON array of field names.
	rangeFieldsQuery = `SELECT subject_id, name, class, dek_version, value, updated_at FROM fields
		WHERE subject_id > ?1 AND subject_id <= ?2 AND name IN (SELECT value FROM json_each(?3)) ORDER BY subject_id`
	rangeConsentsQuery = `SELECT subject_id, data FROM consent_events
		WHERE subject_id > ?1 AND subject_id <= ?2 ORDER BY subject_id, at`
	rangeObjectionsQuery = `SELECT subject_id, kind, created_at FROM objections
		WHERE subject_id > ?1 AND subject_id <= ?2 ORDER BY subject_id`
	// ?3 the purpose, ?4 a JSON array of tag keys.
	rangeTagsQuery = `SELECT subject_id, purpose, key, dek_version, sealed FROM tags
		WHERE subject_id > ?1 AND subject_id <= ?2 AND purpose = ?3 AND key IN (SELECT value FROM json_each(?4))
		ORDER BY subject_id` // and, along the primary key, by key (TagRange checks: the planner sorts for an ORDER BY key)
)

// subjectsFieldsQuery is subjectsQuery reading only the fields named in ?2 (a JSON array): a tag run's
// decisions and releases open four of a record's dozen fields.
var subjectsFieldsQuery = func() string {
	from, to := "FROM fields WHERE subject_id IN ids", "FROM fields WHERE subject_id IN ids AND name IN (SELECT value FROM json_each(?2))"
	if strings.Count(subjectsQuery, from) != 1 {
		panic("sqlite: subjectsQuery reads fields differently") // at initialisation: every test of the package fails
	}
	return strings.Replace(subjectsQuery, from, to, 1)
}()

// rangeStmts are the prepared range reads (on the reader pool), and the read of a batch's records with
// some of their fields.
type rangeStmts struct {
	subjects, deks, fields, consents, objections, tags *sql.Stmt
	subjectsFields                                     *sql.Stmt // subjectsFieldsQuery
}

func prepareRanges(ctx context.Context, db *sql.DB) (rangeStmts, error) {
	var r rangeStmts
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&r.subjects, rangeSubjectsQuery}, {&r.deks, rangeDEKsQuery}, {&r.fields, rangeFieldsQuery},
		{&r.consents, rangeConsentsQuery}, {&r.objections, rangeObjectionsQuery}, {&r.tags, rangeTagsQuery},
		{&r.subjectsFields, subjectsFieldsQuery}} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			r.close()
			return rangeStmts{}, err
		}
		*p.st = st
	}
	return r, nil
}

func (r rangeStmts) close() {
	for _, st := range []*sql.Stmt{r.subjects, r.deks, r.fields, r.consents, r.objections, r.tags, r.subjectsFields} {
		if st != nil {
			st.Close()
		}
	}
}

// readRecordsWith reads the records of the subjects in list (a JSON array) in one statement, with only the
// fields named.
func (s *Store) readRecordsWith(ctx context.Context, list string, fields []string) (map[string]vault.SubjectRecord, error) {
	names, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return scanRecords(s.ranges.subjectsFields.QueryContext(ctx, list, string(names)))
}

// onlyFields returns rec with only the fields named (rec itself when fields is nil); rec's maps are not
// changed (it may be the cache's).
func onlyFields(rec vault.SubjectRecord, fields []string) vault.SubjectRecord {
	if fields == nil {
		return rec
	}
	kept := make(map[string]vault.SealedField, len(fields))
	for _, name := range fields {
		if f, ok := rec.Fields[name]; ok {
			kept[name] = f
		}
	}
	rec.Fields = kept
	return rec
}

// SubjectRange implements vault.ProfileStore: one read transaction (one snapshot), one range read per
// table of the record. The record cache is neither used nor filled: a scan would only evict the records
// interactive reads need.
func (s *Store) SubjectRange(ctx context.Context, after, through string, fields []string) (recs []vault.SubjectRecord, err error) {
	if through <= after {
		return nil, nil
	}
	names, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	query := func(st *sql.Stmt, args ...any) (*sql.Rows, error) {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	// The subjects first: every other table's rows are matched to them in id order (rows of subjects
	// that are not active are skipped).
	rows, err := query(s.ranges.subjects, after, through)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		rec := vault.SubjectRecord{State: vault.StateActive, DEKs: make(map[string]vault.DEK, 2), Fields: make(map[string]vault.SealedField, len(fields))}
		var created, updated string
		if err := rows.Scan(&rec.ID, &rec.Source, &created, &updated, &rec.RefSalt); err != nil {
			rows.Close()
			return nil, err
		}
		rec.CreatedAt, rec.UpdatedAt = parseTime(created), parseTime(updated)
		recs = append(recs, rec)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	// each walks the rows of one table (ordered by subject id) with the record each belongs to.
	each := func(st *sql.Stmt, args []any, dest []any, fn func(rec *vault.SubjectRecord) error) error {
		rows, err := query(st, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var id string
		dest = append([]any{&id}, dest...)
		i := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			for i < len(recs) && recs[i].ID < id {
				i++
			}
			if i == len(recs) {
				break
			}
			if recs[i].ID == id {
				if err := fn(&recs[i]); err != nil {
					return err
				}
			}
		}
		return rows.Err()
	}
	bounds := []any{after, through}
	var (
		a, b, at       string
		version, kekV  int64
		blob           []byte
		raw            sql.RawBytes
		consentEventOf = func(rec *vault.SubjectRecord) error {
			var ev consent.Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				return fmt.Errorf("decode consent event: %w", err)
			}
			rec.ConsentEvents = append(rec.ConsentEvents, ev)
			return nil
		}
	)
	err = each(s.ranges.deks, bounds, []any{&a, &version, &kekV, &blob}, func(rec *vault.SubjectRecord) error {
		d := vault.DEK{Subject: rec.ID, Class: a, Version: uint32(version), KEKVersion: uint32(kekV), Wrapped: blob}
		if cur, ok := rec.DEKs[d.Class]; !ok || d.Version > cur.Version {
			rec.DEKs[d.Class] = d
		}
		return nil
	})
	if err == nil && len(fields) > 0 {
		err = each(s.ranges.fields, append(bounds, string(names)), []any{&a, &b, &version, &blob, &at}, func(rec *vault.SubjectRecord) error {
			rec.Fields[a] = vault.SealedField{Name: a, Class: b, DEKVersion: uint32(version), Value: blob, UpdatedAt: parseTime(at)}
			return nil
		})
	}
	if err == nil {
		err = each(s.ranges.consents, bounds, []any{&raw}, consentEventOf)
	}
	if err == nil {
		err = each(s.ranges.objections, bounds, []any{&a, &at}, func(rec *vault.SubjectRecord) error {
			if rec.Objections == nil {
				rec.Objections = map[string]time.Time{}
			}
			rec.Objections[a] = parseTime(at)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	for i := range recs {
		recs[i].Consents = consent.Derive(recs[i].ConsentEvents)
	}
	return recs, nil
}

// TagRange implements vault.TagStore: one range read, of the columns a decision uses.
func (s *Store) TagRange(ctx context.Context, after, through string, purpose policies.PurposeName, keys []string) (map[string][]vault.StoredTag, error) {
	out := map[string][]vault.StoredTag{}
	if through <= after || len(keys) == 0 {
		return out, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	rows, err := s.ranges.tags.QueryContext(ctx, after, through, string(purpose), string(list))
	if err != nil {
		return nil, err
	}
	if err := collectTags(rows, out); err != nil {
		return nil, err
	}
	for _, tags := range out {
		if !slices.IsSortedFunc(tags, byKey) {
			slices.SortFunc(tags, byKey)
		}
	}
	return out, nil
}

func byKey(a, b vault.StoredTag) int { return strings.Compare(a.Key, b.Key) }

// collectTags adds the rows of a tag query (subject_id, purpose, key, dek_version, sealed) to out by subject,
// and closes them.
func collectTags(rows *sql.Rows, out map[string][]vault.StoredTag) error {
	defer rows.Close()
	for rows.Next() {
		var t vault.StoredTag
		if err := rows.Scan(&t.SubjectID, &t.Purpose, &t.Key, &t.DEKVersion, &t.Sealed); err != nil {
			return err
		}
		out[t.SubjectID] = append(out[t.SubjectID], t)
	}
	return rows.Err()
}
