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

// Personal information incidents (PIPL Art. 57): a compliance officer records one — a title, when it was
// detected, a summary the affected subjects will read, and optionally the actor (a token subject) and the
// window it concerns — and the vault derives the scope from the trail: the subjects whose data was given
// out in the window (to that actor, if one is named) and the categories. The incident is open; notifying
// it queues a notice to each affected subject and records the regulator report. Every step is audited; a
// subject sees the notices that concern them at /v1/me/notices and in /v1/me.

// Incident actions recorded in the trail.
const (
	ActionIncidentRecord Action = "incident.record"
	ActionIncidentRead   Action = "incident.read"
	ActionIncidentList   Action = "incident.list"
	ActionIncidentNotify Action = "incident.notify"
	ActionMeNotices      Action = "me.notices"
)

// Incident states.
const (
	IncidentOpen     = "open"     // recorded, its scope derived; nobody told yet
	IncidentNotified = "notified" // notices queued to the affected subjects and the regulator report recorded
)

// ErrIncidentNotOpen is IncidentTx.NotifyIncident's answer for an incident already notified.
var ErrIncidentNotOpen = errors.New("vault: the incident is not open")

// Incident is a recorded incident.
type Incident struct {
	ID                      string
	Title                   string
	State                   string // IncidentOpen or IncidentNotified
	CreatedAt, DiscoveredAt time.Time
	NotifiedAt              time.Time // zero while open
	Since, Until            time.Time
	Actor                   string // "" when the incident names no actor
	Affected                int    // pseudonyms of subjects in the scope (the trail's count)
	Categories              []string
	Notice                  string // the summary the affected subjects are told (no personal data)
	Regulator               string // the regulator report's state: "pending" while open, then "queued"
	AffectedSubjects        int    // subjects in the scope who can be told (active when it was recorded)
	NoticesQueued           int
}

// IncidentInput is what a compliance officer records.
type IncidentInput struct {
	Title        string
	DiscoveredAt time.Time // when it was detected
	Since, Until time.Time // the window; zero Since: from the start of the trail, zero Until: now
	Actor        string    // the token subject whose accesses it concerns; "" for every access in the window
	Notice       string    // the summary: what happened, the possible harm, the measures and whom to contact
}

// IncidentTx keeps incidents and their notices.
type IncidentTx interface {
	// PutIncident records a new incident, open (NotifyIncident sets when it was notified).
	PutIncident(i Incident) error
	// AddIncidentSubject records a subject in an incident's scope, not yet notified.
	AddIncidentSubject(incidentID, subject string) error
	// NotifyIncident marks an open incident notified at at, its regulator report queued, and queues the
	// notice to each subject in its scope; it returns how many, or ErrIncidentNotOpen.
	NotifyIncident(incidentID string, at time.Time) (int, error)
}

// IncidentStore reads incidents.
type IncidentStore interface {
	// Incident reads one with the number of subjects in its scope and of notices queued; ErrNotFound if
	// unknown.
	Incident(ctx context.Context, id string) (Incident, error)
	// Incidents lists every incident, newest first.
	Incidents(ctx context.Context) ([]Incident, error)
	// IncidentsOf lists the incidents a subject was notified of, newest first.
	IncidentsOf(ctx context.Context, subject string) ([]Incident, error)
}

// RecordIncident records an open incident (compliance officers, purpose compliance_audit, who may read the
// trail) with its scope from the trail; NotifyIncident tells the people concerned.
func (s *Review) RecordIncident(ctx context.Context, a Access, in IncidentInput) (Incident, int64, error) {
	pol, e, err := s.mayReadTrail(ctx, a, ActionIncidentRecord, "")
	if err != nil {
		return Incident{}, 0, err
	}
	if s.incidents == nil {
		return Incident{}, 0, Errorf(CodeUnavailable, "incidents are not kept by this store")
	}
	now := s.now().UTC()
	if in.Until.IsZero() {
		in.Until = now
	}
	if in.Title == "" || utf8.RuneCountInString(in.Title) > 200 || len(in.Actor) > 128 || !in.Since.Before(in.Until) ||
		in.DiscoveredAt.IsZero() || in.Notice == "" || utf8.RuneCountInString(in.Notice) > 2000 {
		return Incident{}, 0, s.refuseInvalid(ctx, a, ActionIncidentRecord, "", Errorf(CodeInvalidArgument,
			"title (at most 200 characters), detected_at and summary (at most 2000 characters) are required; actor is at most 128 bytes; since must be before until"))
	}
	if soon := now.Add(time.Minute); in.DiscoveredAt.After(soon) || in.Until.After(soon) || in.DiscoveredAt.Year() < 2000 {
		// The scope is read from the trail now and never again: an until in the future left out what came
		// after this moment, though the incident said it covered it.
		return Incident{}, 0, s.refuseInvalid(ctx, a, ActionIncidentRecord, "", Errorf(CodeInvalidArgument,
			"detected_at and until may not be in the future (the scope is read from the trail now), nor detected_at before 2000"))
	}
	refs := map[string]bool{}
	var cats []string
	err = s.trail.Export(ctx, in.Since, in.Until, func(_ int64, canonical []byte) error {
		var x audit.Entry
		if err := json.Unmarshal(canonical, &x); err != nil {
			return err
		}
		if in.Actor != "" && x.Actor.Sub != in.Actor || x.SubjectRef == "" || x.Decision == audit.Deny {
			return nil
		}
		refs[x.SubjectRef] = true
		for _, c := range releasedCategories(pol.Schema(), x) {
			if !slices.Contains(cats, c) {
				cats = append(cats, c)
			}
		}
		return nil
	})
	if err != nil {
		return Incident{}, 0, internalErr("read trail", err)
	}
	slices.Sort(cats)
	// The trail names subjects by pseudonym only: find the active subjects behind them.
	var affected []string
	for after := ""; ; {
		ids, err := s.profiles.activeIDs(ctx, after, 500)
		if err != nil {
			return Incident{}, 0, internalErr("list subjects", err)
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
	inc := Incident{ID: newID("inc_"), Title: in.Title, State: IncidentOpen, CreatedAt: now, DiscoveredAt: in.DiscoveredAt.UTC(),
		Since: in.Since.UTC(), Until: in.Until.UTC(), Actor: in.Actor, Affected: len(refs), Categories: nonNil(cats), Notice: in.Notice,
		Regulator: "pending", AffectedSubjects: len(affected)}
	e.Categories = inc.Categories
	e.Reason = "incident:" + inc.ID + " affected:" + strconv.Itoa(inc.Affected) + " subjects:" + strconv.Itoa(len(affected))
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		for _, id := range affected {
			if err := tx.AddIncidentSubject(inc.ID, id); err != nil {
				return err
			}
		}
		return nil
	}, func(cerr error) audit.Entry {
		if e = finish(e, cerr, nil); cerr == nil {
			e.Status = statusCreated
		}
		return e
	})
	if err != nil {
		return Incident{}, 0, internalErr("record incident", err)
	}
	return inc, seq, nil
}

// NotifyIncident queues the notice of an open incident to each subject in its scope and records the
// regulator report (compliance officers; recorded). An incident is notified once: again is a conflict.
func (s *Review) NotifyIncident(ctx context.Context, a Access, id string) (Incident, int64, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionIncidentNotify, "")
	if err != nil {
		return Incident{}, 0, err
	}
	if s.incidents == nil {
		return Incident{}, 0, Errorf(CodeUnavailable, "incidents are not kept by this store")
	}
	if _, err := s.incidents.Incident(ctx, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Incident{}, 0, s.deny(ctx, e, statusNotFound, "incident_not_found", Errorf(CodeNotFound, "no such incident"))
		}
		return Incident{}, 0, internalErr("read incident", err)
	}
	var queued int
	seq, err := s.seq.Commit(ctx, func(tx Tx) (err error) {
		queued, err = tx.NotifyIncident(id, s.now().UTC())
		return err
	}, func(cerr error) audit.Entry {
		if errors.Is(cerr, ErrIncidentNotOpen) {
			e.Decision, e.Status, e.Reason = audit.Deny, statusConflict, "incident_already_notified incident:"+id
			return e
		}
		if e = finish(e, cerr, nil); cerr == nil {
			e.Reason = "incident:" + id + " notices:" + strconv.Itoa(queued) + " regulator:queued"
		}
		return e
	})
	if errors.Is(err, ErrIncidentNotOpen) {
		return Incident{}, 0, &Error{Code: CodeConflict, Message: "the incident was already notified", AuditSeq: seq}
	}
	if err != nil {
		return Incident{}, 0, internalErr("notify incident", err)
	}
	inc, err := s.incidents.Incident(ctx, id)
	if err != nil {
		return Incident{}, 0, internalErr("read incident", err)
	}
	return inc, seq, nil
}

// Incidents lists every recorded incident, newest first (compliance officers; recorded).
func (s *Review) Incidents(ctx context.Context, a Access) ([]Incident, int64, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionIncidentList, "")
	if err != nil {
		return nil, 0, err
	}
	if s.incidents == nil {
		return nil, 0, Errorf(CodeUnavailable, "incidents are not kept by this store")
	}
	list, err := s.incidents.Incidents(ctx)
	if err != nil {
		return nil, 0, internalErr("list incidents", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "incidents:"+strconv.Itoa(len(list))
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return nil, 0, internalErr("audit incident list", err)
	}
	return nonNil(list), seq, nil
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
