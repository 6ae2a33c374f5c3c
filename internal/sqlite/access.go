package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

var _ vault.AccessStore = (*Store)(nil)

const accessColumns = `SELECT data FROM access_requests`

// accessData is the JSON stored in access_requests.data: the storage form of vault.AccessRequestRow,
// named apart so that a rename in the domain does not change what is on disk.
type accessData struct {
	ID                  string     `json:"id"`
	GrantID             string     `json:"grant_id,omitempty"`
	State               string     `json:"state"`
	RequestedBy         string     `json:"requested_by"`
	RequesterRoles      []string   `json:"requester_roles"`
	Team                string     `json:"team,omitempty"`
	Purpose             string     `json:"purpose"`
	Categories          []string   `json:"categories,omitempty"`
	Fields              []string   `json:"fields,omitempty"`
	Subjects            []string   `json:"subjects"`
	Audience            string     `json:"audience,omitempty"`
	ReasonCategory      string     `json:"reason_category"`
	JustificationSealed []byte     `json:"justification_sealed"`
	DurationSeconds     int64      `json:"duration_seconds"`
	MaxReads            int        `json:"max_reads,omitempty"`
	Reads               int        `json:"reads,omitempty"`
	Approvers           []string   `json:"approvers"`
	CreatedAt           time.Time  `json:"created_at"`
	DecidedBy           string     `json:"decided_by,omitempty"`
	DecidedAt           *time.Time `json:"decided_at,omitempty"`
	Note                string     `json:"note,omitempty"`
	ExpiresAt           *time.Time `json:"expires_at,omitempty"`
	EndedAt             *time.Time `json:"ended_at,omitempty"`
}

func roleNames(rs []policies.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func roles(ns []string) []policies.Role {
	out := make([]policies.Role, len(ns))
	for i, n := range ns {
		out[i] = policies.Role(n)
	}
	return out
}

// toAccessData encodes a request for the data column (the justification is already sealed).
func toAccessData(r vault.AccessRequestRow) ([]byte, error) {
	return json.Marshal(accessData{ID: r.ID, GrantID: r.GrantID, State: r.State, RequestedBy: r.RequestedBy, RequesterRoles: roleNames(r.RequesterRoles),
		Team: r.Team, Purpose: string(r.Purpose), Categories: r.Categories, Fields: r.Fields, Subjects: r.Subjects, Audience: r.Audience,
		ReasonCategory: r.ReasonCategory, JustificationSealed: r.JustificationSealed, DurationSeconds: int64(r.Duration / time.Second), MaxReads: r.MaxReads, Reads: r.Reads,
		Approvers: roleNames(r.Approvers), CreatedAt: r.CreatedAt, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Note: r.Note,
		ExpiresAt: r.ExpiresAt, EndedAt: r.EndedAt})
}

// DecodeAccessRequest decodes an access_requests.data column (for vaultd migrate, which re-encodes it for
// another store).
func DecodeAccessRequest(b []byte) (vault.AccessRequestRow, error) { return fromAccessData(b) }

// fromAccessData decodes the data column.
func fromAccessData(b []byte) (vault.AccessRequestRow, error) {
	var d accessData
	if err := json.Unmarshal(b, &d); err != nil {
		return vault.AccessRequestRow{}, err
	}
	return vault.AccessRequestRow{ID: d.ID, GrantID: d.GrantID, State: d.State, RequestedBy: d.RequestedBy, RequesterRoles: roles(d.RequesterRoles),
		Team: d.Team, Purpose: policies.PurposeName(d.Purpose), Categories: d.Categories, Fields: d.Fields, Subjects: d.Subjects,
		Audience: d.Audience, ReasonCategory: d.ReasonCategory, JustificationSealed: d.JustificationSealed, Duration: time.Duration(d.DurationSeconds) * time.Second,
		MaxReads: d.MaxReads, Reads: d.Reads, Approvers: roles(d.Approvers), CreatedAt: d.CreatedAt, DecidedBy: d.DecidedBy, DecidedAt: d.DecidedAt,
		Note: d.Note, ExpiresAt: d.ExpiresAt, EndedAt: d.EndedAt}, nil
}

// AccessRequests implements vault.AccessStore: newest first.
func (s *Store) AccessRequests(ctx context.Context, f vault.AccessFilter) ([]vault.AccessRequestRow, error) {
	var where []string
	var args []any
	for col, v := range map[string]string{"id": f.ID, "grant_id": f.GrantID, "state": f.State, "requested_by": f.RequestedBy} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	cond, keyArgs, err := s.keyset(ctx, "access_requests", f.After, "<")
	if err != nil {
		return nil, err
	}
	if cond != "" {
		where, args = append(where, cond), append(args, keyArgs...)
	}
	q := accessColumns
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	rows, err := s.read.QueryContext(ctx, q+" ORDER BY created_at DESC, id DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	return scanAccess(rows)
}

func scanAccess(rows *sql.Rows) ([]vault.AccessRequestRow, error) {
	defer rows.Close()
	var out []vault.AccessRequestRow
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		r, err := fromAccessData(data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutAccessRequest implements vault.Tx.
func (t *txn) PutAccessRequest(r vault.AccessRequestRow) error {
	data, err := toAccessData(r)
	if err != nil {
		return err
	}
	var grant any
	if r.GrantID != "" {
		grant = r.GrantID
	}
	return t.exec(`INSERT OR REPLACE INTO access_requests (id, grant_id, state, requested_by, created_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, grant, r.State, r.RequestedBy, formatTime(r.CreatedAt), data)
}

// AccessRequest implements vault.Tx.
func (t *txn) AccessRequest(id string) (vault.AccessRequestRow, error) {
	rows, err := t.query(accessColumns+` WHERE id = ?`, id)
	if err != nil {
		return vault.AccessRequestRow{}, err
	}
	out, err := scanAccess(rows)
	if err != nil {
		return vault.AccessRequestRow{}, err
	}
	if len(out) == 0 {
		return vault.AccessRequestRow{}, vault.ErrNotFound
	}
	return out[0], nil
}
