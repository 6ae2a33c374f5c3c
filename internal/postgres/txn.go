package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// txn implements vault.Tx on the transaction of one change, or of a group of changes (Store.groupTx)
// each in its own savepoint. Its statements are pipelined (pipeline).
type txn struct {
	pipeline
	// edits are what each change (by owner) did to the sets below, applied by settleEdits for the changes
	// that succeeded.
	edits map[int][]edit
	// touched are the subjects whose records the changes altered: their generations advance with them.
	touched map[string]struct{}
	// stale are the subjects whose tag inputs changed (vault.TagTx.MarkStale).
	stale map[string]struct{}
	// broken is why a failed change could not be rolled back: the transaction cannot commit.
	broken error
	// created are the subjects this transaction created, indexed the (subject, field) pairs whose blind
	// index tokens it wrote: a pair of a created subject not indexed yet has no tokens to replace. Both
	// only grow (a failed change's entries stay: the index then deletes what it need not, never less).
	created map[string]bool
	indexed map[[2]string]bool
}

// edit is one change's edit of the touched or stale set.
type edit struct {
	stale   bool // of stale, else of touched
	subject string
	on      bool
}

var _ vault.Tx = (*txn)(nil)

func newTxn(ctx context.Context, c conn) *txn {
	return &txn{pipeline: newPipeline(ctx, c), edits: map[int][]edit{}, touched: map[string]struct{}{}, stale: map[string]struct{}{},
		created: map[string]bool{}, indexed: map[[2]string]bool{}}
}

func (t *txn) note(e edit) { t.edits[t.owner] = append(t.edits[t.owner], e) }

func (t *txn) touch(subject string) { t.note(edit{subject: subject, on: true}) }

// settleEdits applies the edits of the changes that kept what they did, in their order (owners 0, 1, …, n-1).
func (t *txn) settleEdits(n int, kept func(owner int) bool) {
	for owner := range n {
		if !kept(owner) {
			continue
		}
		for _, e := range t.edits[owner] {
			set := t.touched
			if e.stale {
				set = t.stale
			}
			if e.on {
				set[e.subject] = struct{}{}
			} else {
				delete(set, e.subject)
			}
		}
	}
	clear(t.edits)
}

// exec queues q: it runs with the change's next read, or when the change ends.
func (t *txn) exec(q string, args ...any) error {
	t.queue(q, args...)
	return nil
}

// count runs q (after what is queued) and returns how many rows it affected.
func (t *txn) count(q string, args ...any) (int, error) {
	tag, err := t.execTag(q, args...)
	return int(tag.RowsAffected()), err
}

// notFound turns pgx.ErrNoRows into vault.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return vault.ErrNotFound
	}
	return err
}

// utcPtr is *t in UTC (pgx gives timestamptz in the local zone), or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateSubject implements vault.ProfileTx.
func (t *txn) CreateSubject(id, source string, refSalt []byte, at time.Time) error {
	t.touch(id)
	t.created[id] = true
	return t.exec(`INSERT INTO subjects (subject_id, state, source, ref_salt, created_at, updated_at) VALUES ($1, 'active', $2, $3, $4, $4)`,
		id, source, refSalt, at)
}

// InsertSubjects implements vault.ImportTx: each subject as CreateSubject, PutDEK, PutField and
// SetIndexTokens write it; consecutive rows of one kind go in by one statement (the pipeline's merges).
func (t *txn) InsertSubjects(subjects []vault.SubjectRows) error {
	for _, s := range subjects {
		if err := t.CreateSubject(s.ID, s.Source, s.RefSalt, s.At); err != nil {
			return err
		}
		d := s.DEK
		d.Subject = s.ID
		if err := t.PutDEK(d); err != nil {
			return err
		}
		for _, f := range s.Fields {
			if err := t.PutField(s.ID, f); err != nil {
				return err
			}
		}
		var fields []string
		byField := map[string][][]byte{}
		for _, x := range s.Index {
			if _, ok := byField[x.Field]; !ok {
				fields = append(fields, x.Field)
			}
			byField[x.Field] = append(byField[x.Field], x.Token)
		}
		for _, f := range fields {
			if err := t.SetIndexTokens(f, s.ID, byField[f]); err != nil {
				return err
			}
		}
	}
	return nil
}

// SubjectState implements vault.SubjectTx.
func (t *txn) SubjectState(id string) (string, error) {
	var st string
	err := t.queryRow(`SELECT state FROM subjects WHERE subject_id = $1`, id).Scan(&st)
	return st, notFound(err)
}

// DEK implements vault.SubjectTx.
func (t *txn) DEK(subject, class string) (vault.DEK, error) {
	d := vault.DEK{Subject: subject, Class: class}
	err := t.queryRow(`SELECT version, kek_version, wrapped FROM deks WHERE subject_id = $1 AND class = $2 ORDER BY version DESC LIMIT 1`,
		subject, class).Scan(&d.Version, &d.KEKVersion, &d.Wrapped)
	if err != nil {
		return vault.DEK{}, notFound(err)
	}
	return d, nil
}

// PutDEK implements vault.SubjectTx.
func (t *txn) PutDEK(d vault.DEK) error {
	t.touch(d.Subject)
	return t.exec(`INSERT INTO deks (subject_id, class, version, kek_version, wrapped) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject_id, class, version) DO UPDATE SET kek_version = excluded.kek_version, wrapped = excluded.wrapped, created_at = now()`,
		d.Subject, d.Class, d.Version, d.KEKVersion, d.Wrapped)
}

// Touch implements vault.SubjectTx.
func (t *txn) Touch(subject string, at time.Time) error {
	t.touch(subject)
	return t.exec(`UPDATE subjects SET updated_at = $2 WHERE subject_id = $1`, subject, at)
}

// PutField implements vault.ProfileTx: consecutive fields go in by one statement (mergeFields).
func (t *txn) PutField(subject string, f vault.SealedField) error {
	t.touch(subject)
	t.add(mergeFields, subject+"\x00"+f.Name, subject, f.Name, f.Class, int64(f.DEKVersion), f.Value, f.UpdatedAt)
	return nil
}

// mergeFields writes fields (subject, name, class, DEK version, value, time), each (subject, name) once.
var mergeFields = &mergeKind{emit: func(p *pipeline, rows [][]any) {
	queueRows(p, `INSERT INTO fields (subject_id, name, class, dek_version, value, updated_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::timestamptz[])
		ON CONFLICT (subject_id, name) DO UPDATE SET class = excluded.class, dek_version = excluded.dek_version, value = excluded.value,
		updated_at = excluded.updated_at`, rows)
}}

// DeleteField implements vault.ProfileTx.
func (t *txn) DeleteField(subject, name string) error {
	t.touch(subject)
	return t.exec(`DELETE FROM fields WHERE subject_id = $1 AND name = $2`, subject, name)
}

// SetIndex implements vault.ProfileTx.
func (t *txn) SetIndex(field, subject string, token []byte) error {
	if token == nil {
		return t.SetIndexTokens(field, subject, nil)
	}
	return t.SetIndexTokens(field, subject, [][]byte{token})
}

// SetIndexTokens implements vault.ProfileTx: consecutive calls go in by one DELETE and one INSERT
// (mergeIndex).
func (t *txn) SetIndexTokens(field, subject string, tokens [][]byte) error {
	t.touch(subject)
	k := [2]string{subject, field}
	// A subject created in this transaction has no tokens but those written in it: nothing to delete.
	replace := !t.created[subject] || t.indexed[k]
	t.indexed[k] = true
	t.add(mergeIndex, subject+"\x00"+field, subject, field, tokens, replace)
	return nil
}

// mergeIndex replaces the blind index tokens of (subject, field) pairs, each pair once: their tokens are
// deleted (unless the pair can have none yet), then the new ones inserted — for distinct pairs the same as
// one pair after the other.
var mergeIndex = &mergeKind{emit: func(p *pipeline, rows [][]any) {
	var subjects, fields, tokSubjects, tokFields []string
	var tokens [][]byte
	for _, r := range rows {
		subject, field := r[0].(string), r[1].(string)
		if r[3].(bool) {
			subjects, fields = append(subjects, subject), append(fields, field)
		}
		for _, tok := range r[2].([][]byte) {
			tokSubjects, tokFields, tokens = append(tokSubjects, subject), append(tokFields, field), append(tokens, tok)
		}
	}
	if len(subjects) > 0 {
		p.queue(`DELETE FROM blind_index b USING unnest($1::text[], $2::text[]) AS d (subject_id, field)
			WHERE b.subject_id = d.subject_id AND b.field = d.field`, subjects, fields)
	}
	if len(tokens) > 0 {
		p.queue(`INSERT INTO blind_index (subject_id, field, token) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) ON CONFLICT DO NOTHING`,
			tokSubjects, tokFields, tokens)
	}
}}

// AppendConsent implements consent.Store.
func (t *txn) AppendConsent(subject string, e consent.Event) error {
	t.touch(subject)
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return t.exec(`INSERT INTO consent_events (subject_id, id, purpose, action, at, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		subject, e.ID, e.Purpose, e.Action, e.At, data)
}

// ConsentEvents implements consent.Store.
func (t *txn) ConsentEvents(subject string) ([]consent.Event, error) {
	rows, err := t.query(`SELECT data FROM consent_events WHERE subject_id = $1 ORDER BY at, id`, subject)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (consent.Event, error) {
		var data []byte
		var e consent.Event
		if err := r.Scan(&data); err != nil {
			return e, err
		}
		return e, json.Unmarshal(data, &e)
	})
}

// SetObjection implements consent.Store.
func (t *txn) SetObjection(subject, kind string, on bool, at time.Time) (bool, error) {
	t.touch(subject)
	var n int
	var err error
	if on {
		n, err = t.count(`INSERT INTO objections (subject_id, kind, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, subject, kind, at)
	} else {
		n, err = t.count(`DELETE FROM objections WHERE subject_id = $1 AND kind = $2`, subject, kind)
	}
	return n > 0, err
}

// Objections implements consent.Store.
func (t *txn) Objections(subject string) ([]string, error) {
	return texts(t.query(`SELECT kind FROM objections WHERE subject_id = $1 ORDER BY kind`, subject))
}

// texts collects a single text column.
func texts(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Erase implements vault.ErasureTx: the keys first, then the ciphertexts, index entries, objections and
// activity; the subject row stays as a tombstone so the id is never reused and reads answer erased.
func (t *txn) Erase(subject string, at time.Time, keep []string, holdUntil time.Time) ([]string, error) {
	t.touch(subject)
	if keep == nil {
		keep = []string{}
	}
	classes, err := texts(t.query(`DELETE FROM deks WHERE subject_id = $1 AND NOT (class = ANY($2)) RETURNING class`, subject, keep))
	if err != nil {
		return nil, err
	}
	slices.Sort(classes)
	classes = slices.Compact(classes)
	for _, q := range []string{
		`DELETE FROM fields WHERE subject_id = $1`,
		// The source-record tokens stay (see vault.ProfileStore.ErasedHolders).
		`DELETE FROM blind_index WHERE subject_id = $1 AND field <> '_external_id'`,
		`DELETE FROM objections WHERE subject_id = $1`,
		`DELETE FROM subject_activity WHERE subject_id = $1`,
	} {
		if err := t.exec(q, subject); err != nil {
			return nil, err
		}
	}
	var hold *time.Time
	var shredded *string // NULL without a hold: the salt goes too
	if len(keep) > 0 {
		joined := strings.Join(classes, ",")
		hold, shredded = &holdUntil, &joined
	}
	if err := t.exec(`UPDATE subjects SET state = 'erased', source = '', ref_salt = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE ref_salt END,
		shredded = $4, updated_at = $2, erased_at = coalesce(erased_at, $2), hold_until = $3 WHERE subject_id = $1`, subject, at, hold, shredded); err != nil {
		return nil, err
	}
	return classes, nil
}

// PurgeEvents implements vault.ErasureTx.
func (t *txn) PurgeEvents(subject string, classes []string, limit int) (int, error) {
	return t.deleteEvents(`subject_id = $1 AND class = ANY($2) LIMIT $3`, subject, classes, limit)
}

// deleteEvents deletes the events the condition selects (with subject_id = $1) and their ids, and reports
// how many.
func (t *txn) deleteEvents(cond string, args ...any) (int, error) {
	var n int
	err := t.queryRow(`WITH gone AS (
			DELETE FROM events WHERE (subject_id, id) IN (SELECT subject_id, id FROM events WHERE `+cond+`) RETURNING id),
		ids AS (DELETE FROM event_ids WHERE id IN (SELECT id FROM gone))
		SELECT count(*) FROM gone`, args...).Scan(&n)
	return n, err
}

// LatestEvent implements vault.ErasureTx.
func (t *txn) LatestEvent(subject, category string) (time.Time, bool, error) {
	var ts *time.Time
	if err := t.queryRow(`SELECT max(ts) FROM events WHERE subject_id = $1 AND category = $2`, subject, category).Scan(&ts); err != nil || ts == nil {
		return time.Time{}, false, err
	}
	return ts.UTC(), true, nil
}

// Hold implements vault.ErasureTx.
func (t *txn) Hold(subject string) (vault.HeldErasure, bool, error) {
	var u, e *time.Time
	var shredded *string
	var salt []byte
	if err := t.queryRow(`SELECT hold_until, erased_at, shredded, ref_salt FROM subjects WHERE subject_id = $1`, subject).Scan(&u, &e, &shredded, &salt); err != nil {
		return vault.HeldErasure{}, false, notFound(err)
	}
	if u == nil {
		return vault.HeldErasure{}, false, nil
	}
	h := vault.HeldErasure{Until: u.UTC(), RefSalt: salt}
	if e != nil {
		h.ErasedAt = e.UTC()
	}
	if shredded != nil && *shredded != "" {
		h.Shredded = strings.Split(*shredded, ",")
	}
	return h, true, nil
}

// PutEvents implements vault.EventTx: ids already stored are skipped (event_ids), and the newest event of
// each type per subject moves the subject's activity.
func (t *txn) PutEvents(events []vault.StoredEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	var (
		subjects, ids, types, categories, sources, classes, purposes []string
		ts                                                           []time.Time
		versions                                                     []int64
		attrs                                                        [][]byte
	)
	for _, e := range events {
		subjects, ids, types, categories = append(subjects, e.SubjectID), append(ids, e.ID), append(types, e.Type), append(categories, e.Category)
		sources, classes, purposes = append(sources, e.Source), append(classes, e.Class), append(purposes, string(e.Purpose))
		ts, versions, attrs = append(ts, e.TS), append(versions, int64(e.DEKVersion)), append(attrs, e.Attrs)
	}
	var n int
	err := t.queryRow(`WITH input AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bytea[])
				WITH ORDINALITY AS x (subject_id, id, type, category, ts, source, class, dek_version, purpose, attrs, n)),
		fresh AS (INSERT INTO event_ids (id, subject_id) SELECT DISTINCT ON (id) id, subject_id FROM input ORDER BY id, n
			ON CONFLICT (id) DO NOTHING RETURNING id, subject_id),
		added AS (INSERT INTO events (subject_id, id, type, category, ts, source, class, dek_version, purpose, attrs)
			SELECT DISTINCT ON (i.id) i.subject_id, i.id, i.type, i.category, i.ts, i.source, i.class, i.dek_version, i.purpose, i.attrs
			FROM input i JOIN fresh f ON f.id = i.id AND f.subject_id = i.subject_id ORDER BY i.id, i.n RETURNING 1)
		SELECT count(*) FROM added`, subjects, ids, types, categories, ts, sources, classes, versions, purposes, attrs).Scan(&n)
	if err != nil {
		return 0, err
	}
	type key struct{ subject, typ string }
	latest := map[key]time.Time{}
	for _, e := range events {
		k := key{e.SubjectID, e.Type}
		if at, ok := latest[k]; !ok || e.TS.After(at) {
			latest[k] = e.TS
		}
	}
	keys := slices.SortedFunc(maps.Keys(latest), func(a, b key) int { // one lock order for every transaction
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return strings.Compare(a.typ, b.typ)
	})
	who, what, ats := make([]string, len(keys)), make([]string, len(keys)), make([]time.Time, len(keys))
	for i, k := range keys {
		who[i], what[i], ats[i] = k.subject, k.typ, latest[k]
		t.touch(k.subject)
	}
	return n, t.exec(`INSERT INTO subject_activity (subject_id, type, last_at) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
		ON CONFLICT (subject_id, type) DO UPDATE SET last_at = greatest(subject_activity.last_at, excluded.last_at)`, who, what, ats)
}

// ResealEvents implements vault.EventTx, in one statement.
func (t *txn) ResealEvents(events []vault.ResealedEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	subjects, ids := make([]string, len(events)), make([]string, len(events))
	olds, news := make([][]byte, len(events)), make([][]byte, len(events))
	for i, e := range events {
		subjects[i], ids[i], olds[i], news[i] = e.SubjectID, e.ID, e.Old, e.New
	}
	return t.count(`UPDATE events e SET attrs = x.new
		FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS x (subject_id, id, old, new)
		WHERE e.subject_id = x.subject_id AND e.id = x.id AND e.attrs = x.old`, subjects, ids, olds, news)
}

// DeleteEventsCollectedUnder implements vault.EventTx.
func (t *txn) DeleteEventsCollectedUnder(subject string, purpose policies.PurposeName) (int, error) {
	return t.deleteEvents(`subject_id = $1 AND purpose = $2`, subject, string(purpose))
}

// DeleteEventsOfCategory implements vault.EventTx.
func (t *txn) DeleteEventsOfCategory(subject, category string) (int, error) {
	t.touch(subject)
	n, err := t.deleteEvents(`subject_id = $1 AND category = $2`, subject, category)
	if err != nil {
		return 0, err
	}
	var types []string
	for _, typ := range policies.EventTypes() {
		if c, _ := policies.EventCategory(typ); c == category {
			types = append(types, typ)
		}
	}
	return n, t.exec(`DELETE FROM subject_activity WHERE subject_id = $1 AND type = ANY($2)`, subject, types)
}

// AddExternalID implements vault.IdentityTx (field "_external_id" of the blind index, several per subject).
func (t *txn) AddExternalID(subject string, token []byte) error {
	t.touch(subject)
	t.indexed[[2]string{subject, "_external_id"}] = true
	return t.exec(`INSERT INTO blind_index (subject_id, field, token) VALUES ($1, '_external_id', $2) ON CONFLICT DO NOTHING`, subject, token)
}

// RemoveExternalID implements vault.IdentityTx.
func (t *txn) RemoveExternalID(subject string, token []byte) error {
	t.touch(subject)
	return t.exec(`DELETE FROM blind_index WHERE subject_id = $1 AND field = '_external_id' AND token = $2`, subject, token)
}

// PutMerge implements vault.IdentityTx.
func (t *txn) PutMerge(m vault.MergeRow) error {
	added := m.FieldsAdded
	if added == nil {
		added = []string{}
	}
	return t.exec(`INSERT INTO merges (id, subject_id, source, matched_on, fields_added, created_at, external_token) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.ID, m.SubjectID, m.Source, m.MatchedOn, added, m.CreatedAt, m.ExternalToken)
}

// PutReview implements vault.IdentityTx.
func (t *txn) PutReview(r vault.ReviewRow) error {
	return t.exec(`INSERT INTO merge_reviews (id, subject_a, subject_b, reason, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, r.SubjectA, r.SubjectB, r.Reason, r.CreatedAt)
}

// Merge implements vault.IdentityTx.
func (t *txn) Merge(id string) (vault.MergeRow, error) {
	return oneMerge(t.query(mergeColumns+` WHERE id = $1`, id))
}

// RevertMerge implements vault.IdentityTx.
func (t *txn) RevertMerge(id, restored string, at time.Time) error {
	return t.exec(`UPDATE merges SET reverted_at = $2, restored_subject_id = $3 WHERE id = $1`, id, at, restored)
}

// DecideReview implements vault.IdentityTx.
func (t *txn) DecideReview(id, state string, at time.Time) (string, error) {
	var was string
	err := t.queryRow(`SELECT state FROM merge_reviews WHERE id = $1 FOR UPDATE`, id).Scan(&was)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil || was != vault.ReviewOpen {
		return was, err
	}
	return was, t.exec(`UPDATE merge_reviews SET state = $2, decided_at = $3 WHERE id = $1`, id, state, at)
}

// PutImportReport implements vault.IdentityTx.
func (t *txn) PutImportReport(id, report string, at time.Time) error {
	return t.exec(`INSERT INTO import_reports (id, created_at, report) VALUES ($1, $2, $3)`, id, at, report)
}
