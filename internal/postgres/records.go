package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/vault"
)

// The storers of the domains beside the subject record: requests, identity resolution's records, access
// requests, audiences, revocations, policy versions and incidents.

// where builds a conjunction of col = value for the non-empty values, numbering parameters from 1.
func where(conds ...[2]string) (string, []any) {
	var parts []string
	var args []any
	for _, c := range conds {
		if c[1] != "" {
			args = append(args, c[1])
			parts = append(parts, fmt.Sprintf("%s = $%d", c[0], len(args)))
		}
	}
	if len(parts) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(parts, " AND "), args
}

// and adds cond ("" for none) to the conjunction w that where built.
func and(w, cond string) string {
	switch {
	case cond == "":
		return w
	case w == "":
		return " WHERE " + cond
	}
	return w + " AND " + cond
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

const requestColumns = `SELECT id, subject_id, type, state, created_at, due_at, updated_at, reason, note, relationship, evidence FROM dsr_requests`

func scanRequests(rows pgx.Rows, err error) ([]vault.RequestRow, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.RequestRow, error) {
		var q vault.RequestRow
		err := r.Scan(&q.ID, &q.SubjectID, &q.Type, &q.State, &q.CreatedAt, &q.DueAt, &q.UpdatedAt, &q.ReasonSealed, &q.Note, &q.Relationship, &q.EvidenceSealed)
		q.CreatedAt, q.DueAt, q.UpdatedAt = q.CreatedAt.UTC(), q.DueAt.UTC(), q.UpdatedAt.UTC()
		return q, err
	})
}

// Requests implements vault.RequestStore, newest first.
func (s *Store) Requests(ctx context.Context, f vault.RequestFilter) ([]vault.RequestRow, error) {
	w, args := where([2]string{"id", f.ID}, [2]string{"subject_id", f.SubjectID}, [2]string{"state", f.State})
	return scanRequests(s.db.Pool.Query(ctx, requestColumns+w+fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT %d", limitOr(f.Limit, 1000)), args...))
}

// PutRequest implements vault.RequestTx.
func (t *txn) PutRequest(r vault.RequestRow) error {
	return t.exec(`INSERT INTO dsr_requests (subject_id, id, type, state, created_at, due_at, updated_at, reason, note, relationship, evidence)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET subject_id = excluded.subject_id, type = excluded.type, state = excluded.state, created_at = excluded.created_at,
			due_at = excluded.due_at, updated_at = excluded.updated_at, reason = excluded.reason, note = excluded.note,
			relationship = excluded.relationship, evidence = excluded.evidence`,
		r.SubjectID, r.ID, r.Type, r.State, r.CreatedAt, r.DueAt, r.UpdatedAt, r.ReasonSealed, r.Note, r.Relationship, r.EvidenceSealed)
}

// Request implements vault.RequestTx.
func (t *txn) Request(id string) (vault.RequestRow, error) {
	rows, err := scanRequests(t.query(requestColumns+` WHERE id = $1`, id))
	if err != nil {
		return vault.RequestRow{}, err
	}
	if len(rows) == 0 {
		return vault.RequestRow{}, vault.ErrNotFound
	}
	return rows[0], nil
}

const mergeColumns = `SELECT id, subject_id, source, matched_on, fields_added, created_at, reverted_at, restored_subject_id, external_token FROM merges`

func scanMerges(rows pgx.Rows, err error) ([]vault.MergeRow, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.MergeRow, error) {
		var m vault.MergeRow
		err := r.Scan(&m.ID, &m.SubjectID, &m.Source, &m.MatchedOn, &m.FieldsAdded, &m.CreatedAt, &m.RevertedAt, &m.RestoredSubjectID, &m.ExternalToken)
		if len(m.FieldsAdded) == 0 {
			m.FieldsAdded = nil
		}
		m.CreatedAt, m.RevertedAt = m.CreatedAt.UTC(), utcPtr(m.RevertedAt)
		return m, err
	})
}

func oneMerge(rows pgx.Rows, err error) (vault.MergeRow, error) {
	ms, err := scanMerges(rows, err)
	if err != nil {
		return vault.MergeRow{}, err
	}
	if len(ms) == 0 {
		return vault.MergeRow{}, vault.ErrNotFound
	}
	return ms[0], nil
}

// Merges implements vault.IdentityStore, newest first, after the merge named after.
func (s *Store) Merges(ctx context.Context, after string, limit int) ([]vault.MergeRow, error) {
	cond, args, err := s.keyset(ctx, "merges", after, "<", 1)
	if err != nil {
		return nil, err
	}
	q := mergeColumns
	if cond != "" {
		q += " WHERE " + cond
	}
	return scanMerges(s.db.Pool.Query(ctx, q+fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, clampLimit(limit)), args...))
}

// keyset returns the condition and arguments, numbered from $first, that select a table's rows on the cmp
// side of the row named after in (created_at, id) order, "" for no row; vault.ErrNotFound if after names
// none.
func (s *Store) keyset(ctx context.Context, table, after, cmp string, first int) (string, []any, error) {
	if after == "" {
		return "", nil, nil
	}
	var at time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM `+table+` WHERE id = $1`, after).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, vault.ErrNotFound
	}
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("(created_at, id) %s ($%d, $%d)", cmp, first, first+1), []any{at, after}, nil
}

// Merge implements vault.IdentityStore.
func (s *Store) Merge(ctx context.Context, id string) (vault.MergeRow, error) {
	return oneMerge(s.db.Pool.Query(ctx, mergeColumns+` WHERE id = $1`, id))
}

// Reviews implements vault.IdentityStore, oldest first, after the review named after.
func (s *Store) Reviews(ctx context.Context, state, after string, limit int) ([]vault.ReviewRow, error) {
	w, args := where([2]string{"state", state})
	cond, keyArgs, err := s.keyset(ctx, "merge_reviews", after, ">", len(args)+1)
	if err != nil {
		return nil, err
	}
	w, args = and(w, cond), append(args, keyArgs...)
	rows, err := s.db.Pool.Query(ctx, `SELECT id, subject_a, subject_b, reason, state, created_at, decided_at FROM merge_reviews`+w+
		fmt.Sprintf(" ORDER BY created_at, id LIMIT %d", clampLimit(limit)), args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.ReviewRow, error) {
		var v vault.ReviewRow
		err := r.Scan(&v.ID, &v.SubjectA, &v.SubjectB, &v.Reason, &v.State, &v.CreatedAt, &v.DecidedAt)
		v.CreatedAt, v.DecidedAt = v.CreatedAt.UTC(), utcPtr(v.DecidedAt)
		return v, err
	})
}

// ImportReports implements vault.IdentityStore, newest first.
func (s *Store) ImportReports(ctx context.Context, limit int) ([]vault.ImportReport, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, created_at, report FROM import_reports ORDER BY created_at DESC, id DESC LIMIT $1`, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.ImportReport, error) {
		var rep vault.ImportReport
		var text string
		err := r.Scan(&rep.ID, &rep.CreatedAt, &text)
		rep.CreatedAt, rep.Lines = rep.CreatedAt.UTC(), strings.Split(text, "\n")
		return rep, err
	})
}

func clampLimit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}

// AccessRequests implements vault.AccessStore, newest first.
func (s *Store) AccessRequests(ctx context.Context, f vault.AccessFilter) ([]vault.AccessRequestRow, error) {
	w, args := where([2]string{"id", f.ID}, [2]string{"grant_id", f.GrantID}, [2]string{"state", f.State}, [2]string{"requested_by", f.RequestedBy})
	cond, keyArgs, err := s.keyset(ctx, "access_requests", f.After, "<", len(args)+1)
	if err != nil {
		return nil, err
	}
	w, args = and(w, cond), append(args, keyArgs...)
	return scanJSON[vault.AccessRequestRow](s.db.Pool.Query(ctx, `SELECT data FROM access_requests`+w+
		fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT %d", limitOr(f.Limit, 1000)), args...))
}

// scanJSON collects a single column of T as JSON.
func scanJSON[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var data []byte
		var v T
		if err := r.Scan(&data); err != nil {
			return v, err
		}
		return v, json.Unmarshal(data, &v)
	})
}

// EncodeAccessRequest is the access_requests.data column of a request, as PutAccessRequest stores it.
func EncodeAccessRequest(r vault.AccessRequestRow) ([]byte, error) { return json.Marshal(r) }

// EncodeAudience is the audiences.data column of an audience, as PutAudience stores it.
func EncodeAudience(r vault.AudienceRow) ([]byte, error) { return json.Marshal(r) }

// PutAccessRequest implements vault.AccessTx.
func (t *txn) PutAccessRequest(r vault.AccessRequestRow) error {
	data, err := EncodeAccessRequest(r)
	if err != nil {
		return err
	}
	var grant *string
	if r.GrantID != "" {
		grant = &r.GrantID
	}
	return t.exec(`INSERT INTO access_requests (id, grant_id, state, requested_by, created_at, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET grant_id = excluded.grant_id, state = excluded.state, requested_by = excluded.requested_by,
			created_at = excluded.created_at, data = excluded.data`, r.ID, grant, r.State, r.RequestedBy, r.CreatedAt, data)
}

// AccessRequest implements vault.AccessTx.
func (t *txn) AccessRequest(id string) (vault.AccessRequestRow, error) {
	rows, err := scanJSON[vault.AccessRequestRow](t.query(`SELECT data FROM access_requests WHERE id = $1`, id))
	if err != nil {
		return vault.AccessRequestRow{}, err
	}
	if len(rows) == 0 {
		return vault.AccessRequestRow{}, vault.ErrNotFound
	}
	return rows[0], nil
}

// PutAudience implements vault.AudienceTx.
func (t *txn) PutAudience(r vault.AudienceRow, members []vault.AudienceMember) error {
	data, err := EncodeAudience(r)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO audiences (id, created_at, data) VALUES ($1, $2, $3)`, r.ID, r.CreatedAt, data); err != nil || len(members) == 0 {
		return err
	}
	rows := make([][]any, len(members))
	for i, m := range members {
		rows[i] = []any{r.ID, m.Ref, m.SubjectID, m.Holdout}
	}
	return t.copyFrom("audience_members", []string{"audience_id", "ref", "subject_id", "holdout"}, rows)
}

// PutOutcomes implements vault.AudienceTx: what an update does not say (NULL) keeps the member's stored value.
func (t *txn) PutOutcomes(audienceID string, updates []vault.OutcomeUpdate) error {
	for _, o := range updates {
		if err := t.exec(`INSERT INTO audience_outcomes AS o (audience_id, ref, converted, order_value, retained_30, retained_60, retained_90)
			VALUES ($1, $2, coalesce($3::boolean, false), coalesce($4::double precision, 0), $5, $6, $7)
			ON CONFLICT (audience_id, ref) DO UPDATE SET converted = coalesce($3::boolean, o.converted),
				order_value = coalesce($4::double precision, o.order_value), retained_30 = coalesce($5::boolean, o.retained_30),
				retained_60 = coalesce($6::boolean, o.retained_60), retained_90 = coalesce($7::boolean, o.retained_90)`,
			audienceID, o.Ref, o.Converted, o.OrderValue, o.Retained30, o.Retained60, o.Retained90); err != nil {
			return err
		}
	}
	return nil
}

// Audience implements vault.AudienceStore.
func (s *Store) Audience(ctx context.Context, id string) (vault.AudienceRow, error) {
	rows, err := scanJSON[vault.AudienceRow](s.db.Pool.Query(ctx, `SELECT data FROM audiences WHERE id = $1`, id))
	if err != nil {
		return vault.AudienceRow{}, err
	}
	if len(rows) == 0 {
		return vault.AudienceRow{}, vault.ErrNotFound
	}
	return rows[0], nil
}

// Audiences implements vault.AudienceStore, newest first.
func (s *Store) Audiences(ctx context.Context, limit int) ([]vault.AudienceRow, error) {
	return scanJSON[vault.AudienceRow](s.db.Pool.Query(ctx, `SELECT data FROM audiences ORDER BY created_at DESC, id DESC LIMIT $1`, limitOr(limit, 1000)))
}

// AudienceMembers implements vault.AudienceStore, by ref.
func (s *Store) AudienceMembers(ctx context.Context, id, afterRef string, limit int) ([]vault.AudienceMember, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT ref, subject_id, holdout FROM audience_members WHERE audience_id = $1 AND ref > $2 ORDER BY ref LIMIT $3`,
		id, afterRef, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.AudienceMember, error) {
		var m vault.AudienceMember
		return m, r.Scan(&m.Ref, &m.SubjectID, &m.Holdout)
	})
}

// MemberRefs implements vault.AudienceStore.
func (s *Store) MemberRefs(ctx context.Context, id string, refs []string) (map[string]vault.AudienceMember, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT ref, subject_id, holdout FROM audience_members WHERE audience_id = $1 AND ref = ANY($2)`, id, refs)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.AudienceMember, error) {
		var m vault.AudienceMember
		return m, r.Scan(&m.Ref, &m.SubjectID, &m.Holdout)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]vault.AudienceMember, len(found))
	for _, m := range found {
		out[m.Ref] = m
	}
	return out, nil
}

// Outcomes implements vault.AudienceStore, with each member's group.
func (s *Store) Outcomes(ctx context.Context, id string) ([]vault.Outcome, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT o.ref, m.holdout, o.converted, o.order_value, o.retained_30, o.retained_60, o.retained_90
		FROM audience_outcomes o JOIN audience_members m ON m.audience_id = o.audience_id AND m.ref = o.ref
		WHERE o.audience_id = $1 ORDER BY o.ref`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.Outcome, error) {
		var o vault.Outcome
		return o, r.Scan(&o.Ref, &o.Holdout, &o.Converted, &o.OrderValue, &o.Retained30, &o.Retained60, &o.Retained90)
	})
}

// PutRevocation implements vault.RevocationTx.
func (t *txn) PutRevocation(r vault.Revocation) error {
	var before *time.Time
	if !r.Before.IsZero() {
		before = &r.Before
	}
	if err := t.exec(`INSERT INTO token_revocations (token_id, subject, before, at, by) VALUES ($1, $2, $3, $4, $5)`, r.TokenID, r.Subject, before, r.At, r.By); err != nil {
		return err
	}
	// Delivered to every listening node when (and only if) this transaction commits (Watch).
	return t.exec(`SELECT pg_notify('` + revocationChannel + `', '')`)
}

// Revocations implements vault.RevocationStore, in the order they were recorded.
func (s *Store) Revocations(ctx context.Context) ([]vault.Revocation, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT token_id, subject, before, at, by FROM token_revocations ORDER BY n`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.Revocation, error) {
		var v vault.Revocation
		var before *time.Time
		err := r.Scan(&v.TokenID, &v.Subject, &before, &v.At, &v.By)
		if before != nil {
			v.Before = before.UTC()
		}
		v.At = v.At.UTC()
		return v, err
	})
}

// PutPolicyInForce implements vault.PolicyTx.
func (t *txn) PutPolicyInForce(hash string, files []byte, since time.Time) error {
	if err := t.exec(`INSERT INTO policy_versions (hash, files) VALUES ($1, $2) ON CONFLICT DO NOTHING`, hash, files); err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO policy_in_force (since, hash) VALUES ($1, $2)`, since, hash); err != nil {
		return err
	}
	// Delivered to every listening node when (and only if) this transaction commits (Watch).
	return t.exec(`SELECT pg_notify('`+policyChannel+`', $1)`, hash)
}

// PolicyHistory implements vault.PolicyStore, oldest first.
func (s *Store) PolicyHistory(ctx context.Context) ([]vault.PolicyInForce, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT hash, since FROM policy_in_force ORDER BY since, n`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.PolicyInForce, error) {
		var p vault.PolicyInForce
		err := r.Scan(&p.Hash, &p.Since)
		p.Since = p.Since.UTC()
		return p, err
	})
}

// PolicyFiles implements vault.PolicyStore.
func (s *Store) PolicyFiles(ctx context.Context, hash string) ([]byte, error) {
	var b []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT files FROM policy_versions WHERE hash = $1`, hash).Scan(&b)
	return b, notFound(err)
}

// PutIncident implements vault.IncidentTx.
func (t *txn) PutIncident(i vault.Incident) error {
	cats := i.Categories
	if cats == nil {
		cats = []string{}
	}
	return t.exec(`INSERT INTO incidents (id, title, state, created_at, discovered_at, since, until, actor, affected, categories, notice, regulator)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, i.ID, i.Title, i.State, i.CreatedAt, i.DiscoveredAt, i.Since, i.Until,
		i.Actor, i.Affected, cats, []byte(i.Notice), i.Regulator)
}

// AddIncidentSubject implements vault.IncidentTx.
func (t *txn) AddIncidentSubject(incidentID, subject string) error {
	return t.exec(`INSERT INTO incident_notices (subject_id, incident_id, state) VALUES ($1, $2, 'pending') ON CONFLICT DO NOTHING`, subject, incidentID)
}

// NotifyIncident implements vault.IncidentTx.
func (t *txn) NotifyIncident(incidentID string, at time.Time) (int, error) {
	n, err := t.count(`UPDATE incidents SET state = 'notified', notified_at = $1, regulator = 'queued' WHERE id = $2 AND state = 'open'`, at, incidentID)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, vault.ErrIncidentNotOpen
	}
	return t.count(`UPDATE incident_notices SET state = 'queued' WHERE incident_id = $1 AND state = 'pending'`, incidentID)
}

const incidentColumns = `SELECT id, title, state, created_at, discovered_at, notified_at, since, until, actor, affected, categories, notice, regulator,
	(SELECT count(*) FROM incident_notices n WHERE n.incident_id = incidents.id),
	(SELECT count(*) FROM incident_notices n WHERE n.incident_id = incidents.id AND n.state = 'queued') FROM incidents`

func scanIncidents(rows pgx.Rows, err error) ([]vault.Incident, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.Incident, error) {
		var i vault.Incident
		var notice []byte
		var notified *time.Time
		err := r.Scan(&i.ID, &i.Title, &i.State, &i.CreatedAt, &i.DiscoveredAt, &notified, &i.Since, &i.Until, &i.Actor, &i.Affected, &i.Categories,
			&notice, &i.Regulator, &i.AffectedSubjects, &i.NoticesQueued)
		i.CreatedAt, i.DiscoveredAt, i.Since, i.Until, i.Notice = i.CreatedAt.UTC(), i.DiscoveredAt.UTC(), i.Since.UTC(), i.Until.UTC(), string(notice)
		if notified != nil {
			i.NotifiedAt = notified.UTC()
		}
		if i.Categories == nil {
			i.Categories = []string{}
		}
		return i, err
	})
}

// Incident implements vault.IncidentStore.
func (s *Store) Incident(ctx context.Context, id string) (vault.Incident, error) {
	list, err := scanIncidents(s.db.Pool.Query(ctx, incidentColumns+` WHERE id = $1`, id))
	if err != nil {
		return vault.Incident{}, err
	}
	if len(list) == 0 {
		return vault.Incident{}, vault.ErrNotFound
	}
	return list[0], nil
}

// Incidents implements vault.IncidentStore, newest first.
func (s *Store) Incidents(ctx context.Context) ([]vault.Incident, error) {
	return scanIncidents(s.db.Pool.Query(ctx, incidentColumns+` ORDER BY created_at DESC, id DESC`))
}

// IncidentsOf implements vault.IncidentStore, newest first: the incidents whose notice was queued to subject.
func (s *Store) IncidentsOf(ctx context.Context, subject string) ([]vault.Incident, error) {
	return scanIncidents(s.db.Pool.Query(ctx, incidentColumns+` WHERE id IN (SELECT incident_id FROM incident_notices WHERE subject_id = $1
		AND state = 'queued') ORDER BY created_at DESC, id DESC`, subject))
}
