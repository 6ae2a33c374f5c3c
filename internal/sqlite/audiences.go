package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

var _ vault.AudienceStore = (*Store)(nil)

// audienceData is the JSON stored in audiences.data: the storage form of vault.AudienceRow.
type audienceData struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Rule        string         `json:"rule"`
	Channel     string         `json:"channel"`
	Purpose     string         `json:"purpose"`
	Holdout     float64        `json:"holdout"`
	Size        int            `json:"size"`
	HoldoutSize int            `json:"holdout_size"`
	Excluded    map[string]int `json:"excluded"`
	Unmatched   int            `json:"unmatched,omitempty"`
	CreatedBy   string         `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
}

func toAudienceData(r vault.AudienceRow) ([]byte, error) {
	return json.Marshal(audienceData{ID: r.ID, Name: r.Name, Rule: r.Rule, Channel: r.Channel, Purpose: string(r.Purpose), Holdout: r.Holdout,
		Size: r.Size, HoldoutSize: r.HoldoutSize, Excluded: r.Excluded, Unmatched: r.Unmatched, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt})
}

// DecodeAudience decodes an audiences.data column (for vaultd migrate, which re-encodes it for another store).
func DecodeAudience(b []byte) (vault.AudienceRow, error) { return fromAudienceData(b) }

func fromAudienceData(b []byte) (vault.AudienceRow, error) {
	var d audienceData
	if err := json.Unmarshal(b, &d); err != nil {
		return vault.AudienceRow{}, err
	}
	return vault.AudienceRow{ID: d.ID, Name: d.Name, Rule: d.Rule, Channel: d.Channel, Purpose: policies.PurposeName(d.Purpose), Holdout: d.Holdout,
		Size: d.Size, HoldoutSize: d.HoldoutSize, Excluded: d.Excluded, Unmatched: d.Unmatched, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt}, nil
}

// PutAudience implements vault.Tx: the audience and its members, inserted once.
func (t *txn) PutAudience(r vault.AudienceRow, members []vault.AudienceMember) error {
	data, err := toAudienceData(r)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO audiences (id, created_at, data) VALUES (?, ?, ?)`, r.ID, formatTime(r.CreatedAt), data); err != nil {
		return err
	}
	// In key order, so that each row is appended at the end of the table's b-tree rather than at a random
	// place in it, with the prepared multi-row inserts, a page of rows at a time.
	members = slices.SortedFunc(slices.Values(members), func(a, b vault.AudienceMember) int { return strings.Compare(a.Ref, b.Ref) })
	args := make([]any, 0, insertWidths[insertMembers]*min(len(members), memberPage))
	for len(members) > 0 {
		n := min(len(members), memberPage)
		args = args[:0]
		for _, m := range members[:n] {
			args = append(args, r.ID, m.Ref, m.SubjectID, m.Holdout)
		}
		if _, err := t.store.insertStmts.insertRows(t.ctx, t.tx, insertMembers, args); err != nil {
			return err
		}
		members = members[n:]
	}
	return nil
}

// memberPage is how many members PutAudience hands the prepared inserts at once.
const memberPage = 1024

// Audience implements vault.AudienceStore.
func (s *Store) Audience(ctx context.Context, id string) (vault.AudienceRow, error) {
	var data []byte
	err := s.read.QueryRowContext(ctx, `SELECT data FROM audiences WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.AudienceRow{}, vault.ErrNotFound
	}
	if err != nil {
		return vault.AudienceRow{}, err
	}
	return fromAudienceData(data)
}

// AudienceMembers implements vault.AudienceStore: members after a ref, in ref order.
func (s *Store) AudienceMembers(ctx context.Context, id, afterRef string, limit int) ([]vault.AudienceMember, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT ref, subject_id, holdout FROM audience_members WHERE audience_id = ? AND ref > ? ORDER BY ref LIMIT ?`, id, afterRef, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.AudienceMember
	for rows.Next() {
		var m vault.AudienceMember
		if err := rows.Scan(&m.Ref, &m.SubjectID, &m.Holdout); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// PutOutcomes implements vault.Tx: what an update does not say (NULL) keeps the member's stored value.
func (t *txn) PutOutcomes(audienceID string, updates []vault.OutcomeUpdate) error {
	for _, o := range updates {
		if err := t.exec(`INSERT INTO audience_outcomes (audience_id, ref, converted, order_value, retained_30, retained_60, retained_90)
			VALUES (?1, ?2, coalesce(?3, 0), coalesce(?4, 0), ?5, ?6, ?7)
			ON CONFLICT (audience_id, ref) DO UPDATE SET converted = coalesce(?3, converted), order_value = coalesce(?4, order_value),
				retained_30 = coalesce(?5, retained_30), retained_60 = coalesce(?6, retained_60), retained_90 = coalesce(?7, retained_90)`,
			audienceID, o.Ref, o.Converted, o.OrderValue, o.Retained30, o.Retained60, o.Retained90); err != nil {
			return err
		}
	}
	return nil
}

// Outcomes implements vault.AudienceStore: every recorded outcome with its member's group.
func (s *Store) Outcomes(ctx context.Context, audienceID string) ([]vault.Outcome, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT o.ref, m.holdout, o.converted, o.order_value, o.retained_30, o.retained_60, o.retained_90
		FROM audience_outcomes o JOIN audience_members m ON m.audience_id = o.audience_id AND m.ref = o.ref
		WHERE o.audience_id = ? ORDER BY o.ref`, audienceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.Outcome
	for rows.Next() {
		var o vault.Outcome
		if err := rows.Scan(&o.Ref, &o.Holdout, &o.Converted, &o.OrderValue, &o.Retained30, &o.Retained60, &o.Retained90); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// MemberRefs implements vault.AudienceStore: those of refs that are members of the audience, a few hundred
// refs a statement.
func (s *Store) MemberRefs(ctx context.Context, audienceID string, refs []string) (map[string]vault.AudienceMember, error) {
	out := map[string]vault.AudienceMember{}
	err := inChunks(refs, func(in string, args []any) error {
		rows, err := s.read.QueryContext(ctx, `SELECT ref, subject_id, holdout FROM audience_members WHERE audience_id = ? AND ref IN `+in,
			append([]any{audienceID}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m vault.AudienceMember
			if err := rows.Scan(&m.Ref, &m.SubjectID, &m.Holdout); err != nil {
				return err
			}
			out[m.Ref] = m
		}
		return rows.Err()
	})
	return out, err
}

// Audiences implements vault.AudienceStore: the newest first.
func (s *Store) Audiences(ctx context.Context, limit int) ([]vault.AudienceRow, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT data FROM audiences ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.AudienceRow
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		r, err := fromAudienceData(data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
