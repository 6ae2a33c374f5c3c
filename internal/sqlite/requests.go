package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

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

// PutPolicyInForce implements vault.Tx.
func (t *txn) PutPolicyInForce(hash string, files []byte, since time.Time) error {
	if err := t.exec(`INSERT OR IGNORE INTO policy_versions (hash, files) VALUES (?, ?)`, hash, files); err != nil {
		return err
	}
	return t.exec(`INSERT INTO policy_in_force (since, hash) VALUES (?, ?)`, formatTime(since), hash)
}

// PolicyHistory implements vault.PolicyStore.
func (s *Store) PolicyHistory(ctx context.Context) ([]vault.PolicyInForce, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT since, hash FROM policy_in_force ORDER BY since, rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.PolicyInForce
	for rows.Next() {
		var since, hash string
		if err := rows.Scan(&since, &hash); err != nil {
			return nil, err
		}
		out = append(out, vault.PolicyInForce{Hash: hash, Since: parseTime(since)})
	}
	return out, rows.Err()
}

// PolicyFiles implements vault.PolicyStore.
func (s *Store) PolicyFiles(ctx context.Context, hash string) ([]byte, error) {
	var b []byte
	err := s.read.QueryRowContext(ctx, `SELECT files FROM policy_versions WHERE hash = ?`, hash).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vault.ErrNotFound
	}
	return b, err
}

// PutIncident implements vault.Tx.
func (t *txn) PutIncident(i vault.Incident) error {
	return t.exec(`INSERT INTO incidents (id, title, state, created_at, discovered_at, since, until, actor, affected, categories,
		description, regulator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, i.ID, i.Title, i.State, formatTime(i.CreatedAt),
		formatTime(i.DiscoveredAt), formatTime(i.Since), formatTime(i.Until), i.Actor, i.Affected,
		strings.Join(i.Categories, ","), []byte(i.Notice), i.Regulator)
}

// AddIncidentSubject implements vault.Tx.
func (t *txn) AddIncidentSubject(incidentID, subject string) error {
	return t.exec(`INSERT OR IGNORE INTO incident_notices (incident_id, subject_id, state) VALUES (?, ?, 'pending')`, incidentID, subject)
}

// NotifyIncident implements vault.Tx.
func (t *txn) NotifyIncident(incidentID string, at time.Time) (int, error) {
	res, err := t.execResult(`UPDATE incidents SET state = 'notified', notified_at = ?, regulator = 'queued' WHERE id = ? AND state = 'open'`,
		formatTime(at), incidentID)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, errors.Join(err, vault.ErrIncidentNotOpen)
	}
	res, err = t.execResult(`UPDATE incident_notices SET state = 'queued' WHERE incident_id = ? AND state = 'pending'`, incidentID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const incidentColumns = `SELECT id, title, state, created_at, discovered_at, notified_at, since, until, actor, affected, categories, description,
	regulator, (SELECT count(*) FROM incident_notices n WHERE n.incident_id = incidents.id),
	(SELECT count(*) FROM incident_notices n WHERE n.incident_id = incidents.id AND n.state = 'queued') FROM incidents`

// Incident implements vault.IncidentStore.
func (s *Store) Incident(ctx context.Context, id string) (vault.Incident, error) {
	list, err := s.scanIncidents(ctx, incidentColumns+` WHERE id = ?`, id)
	if err != nil {
		return vault.Incident{}, err
	}
	if len(list) == 0 {
		return vault.Incident{}, vault.ErrNotFound
	}
	return list[0], nil
}

// Incidents implements vault.IncidentStore.
func (s *Store) Incidents(ctx context.Context) ([]vault.Incident, error) {
	return s.scanIncidents(ctx, incidentColumns+` ORDER BY created_at DESC, id DESC`)
}

// IncidentsOf implements vault.IncidentStore: the incidents whose notice was queued to subject.
func (s *Store) IncidentsOf(ctx context.Context, subject string) ([]vault.Incident, error) {
	return s.scanIncidents(ctx, incidentColumns+` WHERE id IN (SELECT incident_id FROM incident_notices WHERE subject_id = ? AND state = 'queued')
		ORDER BY created_at DESC, id DESC`, subject)
}

func (s *Store) scanIncidents(ctx context.Context, q string, args ...any) ([]vault.Incident, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.Incident
	for rows.Next() {
		var i vault.Incident
		var created, discovered, notified, since, until, cats string
		var notice []byte
		if err := rows.Scan(&i.ID, &i.Title, &i.State, &created, &discovered, &notified, &since, &until, &i.Actor, &i.Affected, &cats, &notice,
			&i.Regulator, &i.AffectedSubjects, &i.NoticesQueued); err != nil {
			return nil, err
		}
		i.CreatedAt, i.DiscoveredAt, i.Since, i.Until = parseTime(created), parseTime(discovered), parseTime(since), parseTime(until)
		if notified != "" {
			i.NotifiedAt = parseTime(notified)
		}
		i.Categories, i.Notice = []string{}, string(notice)
		if cats != "" {
			i.Categories = strings.Split(cats, ",")
		}
		out = append(out, i)
	}
	return out, rows.Err()
}
