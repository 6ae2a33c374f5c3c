package vault

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/audit"
)

// Personal information incidents (PIPL Art. 57): a compliance officer records one with the window and the
// actor (a token subject) it concerns; the vault derives the scope from the trail — the subjects whose data
// that actor was given in the window, and the categories — and queues a notice to each of them and one to
// the regulator. Everything is audited; a subject sees the notices that concern them at /v1/me/notices.

// Incident actions recorded in the trail.
const (
	ActionIncidentRecord Action = "incident.record"
	ActionIncidentRead   Action = "incident.read"
	ActionMeNotices      Action = "me.notices"
)

// Incident is a recorded incident.
type Incident struct {
	ID                      string
	CreatedAt, DiscoveredAt time.Time
	Since, Until            time.Time
	Actor                   string
	Affected                int
	Categories              []string
	Notice                  string // what the affected subjects are told (no personal data)
	Regulator               string // the regulator notice's state
	NoticesQueued           int
}

// IncidentInput is what a compliance officer records.
type IncidentInput struct {
	DiscoveredAt, Since, Until time.Time
	Actor                      string // the token subject whose accesses the incident concerns
	Notice                     string // what happened, the possible harm, the measures and whom to contact
}

// IncidentTx keeps incidents and their notices.
type IncidentTx interface {
	PutIncident(i Incident) error
	QueueIncidentNotice(incidentID, subject string) error
}

// IncidentStore reads incidents.
type IncidentStore interface {
	// Incident reads one with the number of notices queued; ErrNotFound if unknown.
	Incident(ctx context.Context, id string) (Incident, error)
	// IncidentsOf lists the incidents a subject was notified of, newest first.
	IncidentsOf(ctx context.Context, subject string) ([]Incident, error)
}

// RecordIncident records an incident (compliance officers, purpose compliance_audit, who may read the
// trail): its scope from the trail, a notice queued to each affected subject and one to the regulator.
func (s *Review) RecordIncident(ctx context.Context, a Access, in IncidentInput) (Incident, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionIncidentRecord, "")
	if err != nil {
		return Incident{}, err
	}
	if s.incidents == nil {
		return Incident{}, Errorf(CodeUnavailable, "incidents are not kept by this store")
	}
	if in.Actor == "" || len(in.Actor) > 128 || !in.Since.Before(in.Until) || in.DiscoveredAt.IsZero() || in.Notice == "" || utf8.RuneCountInString(in.Notice) > 2000 {
		return Incident{}, s.refuseInvalid(ctx, a, ActionIncidentRecord, "", Errorf(CodeInvalidArgument,
			"actor, a window (since before until), discovered_at and a notice (at most 2000 characters) are required"))
	}
	refs := map[string]bool{}
	var cats []string
	err = s.trail.Export(ctx, in.Since, in.Until, func(_ int64, canonical []byte) error {
		var x audit.Entry
		if err := json.Unmarshal(canonical, &x); err != nil {
			return err
		}
		if x.Actor.Sub != in.Actor || x.SubjectRef == "" || x.Decision == audit.Deny {
			return nil
		}
		refs[x.SubjectRef] = true
		for _, c := range x.Categories {
			if !slices.Contains(cats, c) {
				cats = append(cats, c)
			}
		}
		return nil
	})
	if err != nil {
		return Incident{}, internalErr("read trail", err)
	}
	slices.Sort(cats)
	// The trail names subjects by pseudonym only: find the active subjects behind them.
	var affected []string
	for after := ""; ; {
		ids, err := s.profiles.activeIDs(ctx, after, 500)
		if err != nil {
			return Incident{}, internalErr("list subjects", err)
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			if rec, err := s.records.Subject(ctx, id); err == nil && refs[refFor(s.gate, id, rec.RefSalt)] {
				affected = append(affected, id)
			}
		}
	}
	now := s.now().UTC()
	inc := Incident{ID: newID("inc_"), CreatedAt: now, DiscoveredAt: in.DiscoveredAt.UTC(), Since: in.Since.UTC(), Until: in.Until.UTC(),
		Actor: in.Actor, Affected: len(refs), Categories: nonNil(cats), Notice: in.Notice, Regulator: "queued", NoticesQueued: len(affected)}
	e.Categories = inc.Categories
	e.Decision, e.Status = audit.Allow, statusCreated
	e.Reason = "incident:" + inc.ID + " affected:" + strconv.Itoa(inc.Affected) + " notices:" + strconv.Itoa(len(affected)) + " regulator:queued"
	if _, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		for _, id := range affected {
			if err := tx.QueueIncidentNotice(inc.ID, id); err != nil {
				return err
			}
		}
		return nil
	}, func(error) audit.Entry { return e }); err != nil {
		return Incident{}, internalErr("record incident", err)
	}
	return inc, nil
}

// Incident reads a recorded incident (compliance officers; recorded).
func (s *Review) Incident(ctx context.Context, a Access, id string) (Incident, int64, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionIncidentRead, "")
	if err != nil {
		return Incident{}, 0, err
	}
	if s.incidents == nil {
		return Incident{}, 0, Errorf(CodeUnavailable, "incidents are not kept by this store")
	}
	inc, err := s.incidents.Incident(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Incident{}, 0, internalErr("read incident", err)
	}
	if err != nil {
		return Incident{}, 0, s.deny(ctx, e, statusNotFound, "incident_not_found", Errorf(CodeNotFound, "no such incident"))
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "incident:"+id
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return Incident{}, 0, internalErr("audit incident read", err)
	}
	return inc, seq, nil
}

// MeNotices lists the incident notices that concern the caller, newest first (recorded).
func (s *DataSubjects) MeNotices(ctx context.Context, a Access) ([]Incident, int64, error) {
	a, err := s.meAccess(ctx, a, ActionMeNotices)
	if err != nil {
		return nil, 0, err
	}
	self, err := s.recordSelf(ctx, a, ActionMeNotices)
	if err != nil {
		return nil, 0, err
	}
	list, err := s.review.incidentsOf(ctx, self.rec.ID)
	if err != nil {
		return nil, 0, internalErr("read notices", err)
	}
	return list, self.seq, nil
}

// incidentsOf lists the incidents a subject was notified of, newest first.
func (s *Review) incidentsOf(ctx context.Context, subject string) ([]Incident, error) {
	if s.incidents == nil {
		return []Incident{}, nil
	}
	list, err := s.incidents.IncidentsOf(ctx, subject)
	return nonNil(list), err
}
