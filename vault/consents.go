package vault

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// ConsentRecords records and withdraws consents (append-only histories) for staff at collection points, and
// deletes, through the tag service, the tags that rested on a withdrawn consent in the withdrawal's own
// transaction.
type ConsentRecords struct {
	*core
	// tags is called inside a withdrawal's or objection's transaction to delete the tags that relied on it;
	// ingestion to delete the events collected under the withdrawn consent.
	tags      *Tags
	ingestion *Ingestion
}

// ConsentRecords returns the service; it shares the enforcement point's core.
func (s *Service) ConsentRecords() *ConsentRecords { return s.consents }

// Consent actions recorded in the audit trail.
const (
	ActionConsentRead     Action = "consent.read"
	ActionConsentGrant    Action = "consent.grant"
	ActionConsentWithdraw Action = "consent.withdraw"
)

// ConsentView is one consent record as API.md shows it; in a history, Action says whether the entry is the
// grant or its withdrawal.
type ConsentView struct {
	ID            string
	Action        string
	Purpose       policies.PurposeName
	Status        string
	Kind          string
	NoticeVersion string
	Method        string
	Evidence      string
	Recipient     *string
	GrantedAt     *time.Time
	WithdrawnAt   *time.Time
	ExpiresAt     *time.Time
	RecordedBy    string
	Withdraws     string
	// Channels are the channels of commercial messages a live marketing consent covers now.
	Channels []string
}

// Consents is a subject's current consent state and full history.
type Consents struct {
	Current  []ConsentView
	History  []ConsentView
	AuditSeq int64
}

// consentPreamble checks purpose, staff-ness and the consents permission, and finds the subject.
func (s *ConsentRecords) consentPreamble(ctx context.Context, a Access, action Action, id string, act policies.Act) (*policies.Set, audit.Entry, SubjectRecord, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, action); err != nil {
		return nil, audit.Entry{}, SubjectRecord{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, action, id, nil)
	if err != nil {
		return nil, e, SubjectRecord{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceConsents, act) {
		return nil, e, SubjectRecord{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not %s consents for this purpose", act))
	}
	rec, err := s.activeSubject(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, e, rec, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
	}
	if err != nil {
		return nil, e, rec, internalErr("read subject", err)
	}
	return pol, e, rec, nil
}

// ListConsents returns the current state (one per purpose and recipient) and the whole history, newest
// first.
func (s *ConsentRecords) ListConsents(ctx context.Context, a Access, id string) (Consents, error) {
	_, e, rec, err := s.consentPreamble(ctx, a, ActionConsentRead, id, policies.ActRead)
	if err != nil {
		return Consents{}, err
	}
	e.Decision, e.Status = audit.Allow, statusOK
	for _, r := range rec.Consents {
		e.ConsentIDs = append(e.ConsentIDs, r.ID)
	}
	rel, seq, err := s.gate.commit(ctx, nil, func(error) audit.Entry { return e }, id)
	if err != nil {
		return Consents{}, internalErr("audit consent read", err)
	}
	out := s.consentViews(rel, rec)
	out.AuditSeq = seq
	return out, nil
}

// seenBy hides, when a is the subject themself, who recorded each consent change (API.md: a subject sees
// roles and teams, never another person's identity): "subject" for their own changes, "staff" for the rest.
// Staff see the recorder as stored.
func seenBy(a Access, views []ConsentView) []ConsentView {
	if !a.self {
		return views
	}
	for i := range views {
		switch views[i].RecordedBy {
		case "":
		case a.Caller.Subject:
			views[i].RecordedBy = "subject"
		default:
			views[i].RecordedBy = "staff"
		}
	}
	return views
}

// consentViews renders a subject's consents, opening evidence under rel (none without one).
func (s *ConsentRecords) consentViews(rel *release, rec SubjectRecord) Consents {
	now := s.now()
	evidence := func(sealed []byte) string {
		d, ok := rec.DEKs[ClassGeneral]
		if len(sealed) == 0 || !ok || rel == nil {
			return ""
		}
		pt, err := rel.open(d, "consent_evidence", sealed)
		if err != nil {
			return ""
		}
		return string(pt)
	}
	cat := s.Policy().Purposes()
	view := func(r consent.Record) ConsentView {
		v := ConsentView{ID: r.ID, Purpose: r.Purpose, Status: string(r.StatusAt(now)), Kind: string(r.Kind),
			NoticeVersion: r.NoticeVersion, Method: r.Method, Evidence: evidence(r.EvidenceSealed),
			WithdrawnAt: r.WithdrawnAt, ExpiresAt: r.ExpiresAt, RecordedBy: r.RecordedBy}
		if p, ok := cat.Purpose(r.Purpose); ok {
			v.Channels = r.ChannelsAt(now, p.NoticeChannels(r.NoticeVersion))
		}
		at := r.GrantedAt
		v.GrantedAt = &at
		if r.Recipient != "" {
			rc := r.Recipient
			v.Recipient = &rc
		}
		return v
	}
	var out Consents
	latest := map[string]int{}
	for _, r := range rec.Consents {
		key := string(r.Purpose) + "\x00" + r.Recipient
		if i, ok := latest[key]; ok {
			// An active grant beats a newer withdrawn or expired one; otherwise the newest wins.
			if out.Current[i].Status == string(consent.Granted) && r.StatusAt(now) != consent.Granted {
				continue
			}
			out.Current[i] = view(r)
			continue
		}
		latest[key] = len(out.Current)
		out.Current = append(out.Current, view(r))
	}
	byID := map[string]consent.Record{}
	for _, r := range rec.Consents {
		byID[r.ID] = r
	}
	// The history is never rewritten: each event shows the channels as it named them, not as they stand now.
	noticeChannels := func(r consent.Record) []string {
		if p, ok := cat.Purpose(r.Purpose); ok {
			return p.NoticeChannels(r.NoticeVersion)
		}
		return nil
	}
	for _, ev := range rec.ConsentEvents {
		if ev.Action == consent.ActionGrant {
			g := byID[ev.ID]
			v := view(g)
			v.Action, v.Status, v.WithdrawnAt = consent.ActionGrant, string(consent.Granted), nil
			// A grant shows the channels it named (none named: all its notice version names).
			v.Channels = ev.Channels
			if len(v.Channels) == 0 {
				v.Channels = noticeChannels(g)
			}
			out.History = append(out.History, v)
			continue
		}
		g := byID[ev.Withdraws]
		v := view(g)
		at := ev.At
		v.ID, v.Action, v.Status, v.WithdrawnAt, v.RecordedBy, v.Withdraws = ev.ID, consent.ActionWithdraw, string(consent.Withdrawn), &at, ev.RecordedBy, ev.Withdraws
		// A withdrawal shows the channels it withdrew: those it named, or all the grant still covered.
		v.Channels = ev.Channels
		if len(v.Channels) == 0 {
			v.Channels = g.ChannelsAt(at.Add(-time.Nanosecond), noticeChannels(g))
		}
		out.History = append(out.History, v)
	}
	sort.SliceStable(out.History, func(i, j int) bool { return historyTime(out.History[i]).After(historyTime(out.History[j])) })
	sort.SliceStable(out.Current, func(i, j int) bool { return out.Current[i].Purpose < out.Current[j].Purpose })
	return out
}

func historyTime(v ConsentView) time.Time {
	if v.Action == consent.ActionWithdraw && v.WithdrawnAt != nil {
		return *v.WithdrawnAt
	}
	return *v.GrantedAt
}

// grantConsent records a consent that a collection point captured (staff: data_steward or
// customer_service under account_management). Evidence is sealed under the subject's DEK.
func (s *ConsentRecords) grantConsent(ctx context.Context, a Access, id string, g consent.Grant) (ConsentView, int64, error) {
	p, err := s.validGrant(ctx, a, id, g)
	if err != nil {
		return ConsentView{}, 0, err
	}
	_, e, rec, err := s.consentPreamble(ctx, a, ActionConsentGrant, id, policies.ActWrite)
	if err != nil {
		return ConsentView{}, 0, err
	}
	return s.grantAfterPreamble(ctx, a, id, g, p, e, rec)
}

// validGrant checks a grant against the purpose catalog, refusing (audited) one that does not hold, and
// returns its purpose.
func (s *ConsentRecords) validGrant(ctx context.Context, a Access, id string, g consent.Grant) (policies.Purpose, error) {
	p, ok := s.Policy().Purposes().Purpose(g.Purpose)
	if !ok {
		return p, s.refuseInvalid(ctx, a, ActionConsentGrant, id, Errorf(CodeInvalidArgument, "unknown purpose in consent"))
	}
	if err := g.Validate(p, s.now()); err != nil {
		return p, s.refuseInvalid(ctx, a, ActionConsentGrant, id, &Error{Code: CodeInvalidArgument, Message: err.Error()})
	}
	return p, nil
}

// grantAfterPreamble is grantConsent once the grant is valid and consentPreamble has allowed it (its entry
// e and the subject's record rec): the age rule, then the grant recorded with its entry.
func (s *ConsentRecords) grantAfterPreamble(ctx context.Context, a Access, id string, g consent.Grant, p policies.Purpose, e audit.Entry, rec SubjectRecord) (ConsentView, int64, error) {
	now := s.now().UTC()
	if err := s.ageRule(ctx, &e, rec, g, p, now); err != nil {
		return ConsentView{}, 0, err
	}
	ev := grantEvent(a, g, now)
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := s.sealGrantIn(tx, id, &ev, g.Evidence); err != nil {
			return err
		}
		return s.appendGrantIn(tx, id, ev)
	}, func(changeErr error) audit.Entry {
		return grantEntry(e, ev, changeErr)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ConsentView{}, seq, &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq}
		}
		return ConsentView{}, 0, internalErr("grant consent", err)
	}
	rec.Consents = consent.Derive([]consent.Event{ev})
	v := seenBy(a, s.consentViews(nil, SubjectRecord{DEKs: rec.DEKs, Consents: rec.Consents}).Current)[0]
	v.Evidence = g.Evidence
	return v, seq, nil
}

// ageRule refuses, with its entry e, a grant the age rule forbids: only a guardian's consent for a subject
// under 14 (PIPL Art. 31), and no consent to a purpose that needs the age while the birth date is unknown.
// The birth date is opened for it and named in e. nil if the grant may be recorded.
func (s *ConsentRecords) ageRule(ctx context.Context, e *audit.Entry, rec SubjectRecord, g consent.Grant, p policies.Purpose, now time.Time) error {
	if g.Kind == consent.Guardian {
		return nil
	}
	switch minor, known, err := s.ageAtDecision(e, rec, now); {
	case err != nil:
		return s.keyUnavailable(ctx, *e, err)
	case minor:
		return s.deny(ctx, *e, statusForbidden, consent.ReasonGuardianConsentRequired,
			Errorf(CodeGuardianConsentRequired, "the subject is under 14: only a guardian's consent can be recorded (PIPL Art. 31)"))
	case !known && p.NeedsAge():
		// Unverified, not adult: the purpose treats a child differently, so it needs the age first.
		return s.deny(ctx, *e, statusForbidden, consent.ReasonAgeVerificationRequired,
			Errorf(CodePermissionDenied, "the subject's birth date is unknown: record it (or a guardian's consent) before consent to this purpose"))
	}
	return nil
}

// grantEvent is the consent event that records g, granted now unless it is imported with the time its
// collection point captured it.
func grantEvent(a Access, g consent.Grant, now time.Time) consent.Event {
	at := now
	if g.GrantedAt != nil { // imported: when the collection point captured it
		at = g.GrantedAt.UTC()
	}
	return consent.Event{ID: newID("cns_"), Action: consent.ActionGrant, Purpose: g.Purpose, Kind: g.Kind, NoticeVersion: g.NoticeVersion,
		Method: g.Method, Recipient: g.Recipient, ExpiresAt: g.ExpiresAt, At: at, RecordedBy: a.Caller.Subject, Channels: sortedSet(g.Channels)}
}

// sealGrantIn checks, inside the writer's transaction, that the subject is still active and seals the
// grant's evidence (if any) into ev under its key. It writes nothing.
func (s *ConsentRecords) sealGrantIn(tx Tx, id string, ev *consent.Event, evidence string) error {
	if err := activeIn(tx, id); err != nil {
		return err
	}
	if evidence != "" {
		d, err := tx.DEK(id, ClassGeneral)
		if err != nil {
			return err
		}
		if ev.EvidenceSealed, err = s.gate.seal(d, "consent_evidence", []byte(evidence)); err != nil {
			return err
		}
	}
	return nil
}

// appendGrantIn records the grant ev (sealed by sealGrantIn) and marks the subject's tags stale.
func (s *ConsentRecords) appendGrantIn(tx Tx, id string, ev consent.Event) error {
	if err := tx.AppendConsent(id, ev); err != nil {
		return err
	}
	return s.tags.inputsChanged(tx, id)
}

// grantEntry completes a grant's entry e from the change's outcome.
func grantEntry(e audit.Entry, ev consent.Event, changeErr error) audit.Entry {
	e.ConsentIDs = []string{ev.ID}
	e.Reason = "purpose:" + string(ev.Purpose)
	e = finish(e, changeErr, nil)
	if changeErr == nil {
		e.Status = statusCreated
	}
	return e
}

// ImportConsent records a grant read from an import file unless the subject already holds an active grant
// of the same purpose, kind, notice version, method, recipient and expiry: re-importing a file then changes
// nothing (the check is audited like any consent access), and duplicate reports it. Otherwise it is
// GrantConsent, on the record and under the checks its duplicate check already read and made (the subject
// is not read again).
func (s *ConsentRecords) ImportConsent(ctx context.Context, a Access, id string, g consent.Grant) (duplicate bool, err error) {
	_, e, rec, err := s.consentPreamble(ctx, a, ActionConsentGrant, id, policies.ActWrite)
	if err != nil {
		return false, err
	}
	if id, ok := identicalActive(rec, g, s.now()); ok {
		// The check read the subject's consent state: it is recorded like any access.
		e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "unchanged: identical grant active purpose:"+string(g.Purpose)
		e.ConsentIDs = []string{id}
		if _, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
			return false, internalErr("audit consent import", err)
		}
		return true, nil
	}
	switch id, state := capturedBefore(rec, g); state {
	case "recorded":
		// This capture was recorded before (and withdrawn or expired since): importing it again changes nothing.
		e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "unchanged: this capture is recorded purpose:"+string(g.Purpose)
		e.ConsentIDs = []string{id}
		if _, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
			return false, internalErr("audit consent import", err)
		}
		return true, nil
	case "withdrawn_since":
		e.ConsentIDs = []string{id}
		return false, s.deny(ctx, e, statusConflict, "withdrawn_since", &Error{Code: CodeConflict, Reason: "withdrawn_since",
			Message: "the person withdrew this purpose after this grant was captured: a later withdrawal stands"})
	}
	p, err := s.validGrant(ctx, a, id, g)
	if err != nil {
		return false, err
	}
	_, _, err = s.grantAfterPreamble(ctx, a, id, g, p, e, rec)
	return false, err
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// withdrawConsent withdraws every active grant of purpose, effective for the very next request, and runs
// the tag deletion in the same transaction. ErrNotFound (404) if no consent for purpose was ever
// granted.
func (s *ConsentRecords) withdrawConsent(ctx context.Context, a Access, id string, purpose policies.PurposeName) ([]ConsentView, int64, error) {
	pol := s.Policy()
	if _, ok := pol.Purposes().Purpose(purpose); !ok {
		return nil, 0, s.refuseInvalid(ctx, a, ActionConsentWithdraw, id, Errorf(CodeInvalidArgument, "unknown purpose"))
	}
	_, e, rec, err := s.consentPreamble(ctx, a, ActionConsentWithdraw, id, policies.ActWrite)
	if err != nil {
		return nil, 0, err
	}
	now := s.now().UTC()
	var withdrawn []consent.Record
	rel, seq, err := s.withdraw(ctx, e, id, purpose, a.Caller.Subject, now, &withdrawn)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, seq, &Error{Code: CodeNotFound, Message: "no consent for this purpose was ever granted", AuditSeq: seq}
		}
		return nil, 0, internalErr("withdraw consent", err)
	}
	return seenBy(a, s.recordViews(rel, rec, withdrawn)), seq, nil
}

// recordViews returns a view of each record, as they stand now (consentViews' Current keeps one a purpose
// and recipient: a withdrawal of two grants of one purpose answered with one of them).
func (s *ConsentRecords) recordViews(rel *release, rec SubjectRecord, records []consent.Record) []ConsentView {
	views := []ConsentView{}
	for _, r := range records {
		views = append(views, s.consentViews(rel, SubjectRecord{DEKs: rec.DEKs, Consents: []consent.Record{r}}).Current...)
	}
	return views
}

// withdraw appends a withdrawal event for each active grant of purpose, deletes the tags that rested on it and records the
// entry, all in one transaction; the release covers the withdrawn records' evidence.
func (s *ConsentRecords) withdraw(ctx context.Context, e audit.Entry, id string, purpose policies.PurposeName, by string, now time.Time, out *[]consent.Record) (*release, int64, error) {
	deleted := 0
	return s.gate.commit(ctx, func(tx Tx) error {
		events, err := tx.ConsentEvents(id)
		if err != nil {
			return err
		}
		ever := false
		for _, ev := range events {
			ever = ever || (ev.Action == consent.ActionGrant && ev.Purpose == purpose)
		}
		if !ever {
			return ErrNotFound
		}
		var ids []string
		for _, r := range consent.Active(consent.Derive(events), purpose, now) {
			if err := tx.AppendConsent(id, consent.Event{ID: newID("cns_"), Action: consent.ActionWithdraw, Purpose: purpose,
				At: now, RecordedBy: by, Withdraws: r.ID}); err != nil {
				return err
			}
			at := now
			r.WithdrawnAt = &at
			*out = append(*out, r)
			ids = append(ids, r.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		// Tags computed under the purpose rested on its consent, and events collected under it were
		// collected on it alone: they go in the same transaction.
		if err := s.tags.consentWithdrawn(tx, id, purpose); err != nil {
			return err
		}
		if deleted, err = s.ingestion.consentWithdrawn(tx, id, purpose); err != nil {
			return err
		}
		return s.tags.inputsChanged(tx, id)
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "purpose:" + string(purpose)
		if deleted > 0 && changeErr == nil {
			e.Reason += " events_deleted:" + strconv.Itoa(deleted)
		}
		for _, r := range *out {
			e.ConsentIDs = append(e.ConsentIDs, r.ID)
		}
		if changeErr != nil {
			e.ConsentIDs = nil
		}
		return e
	}, id)
}

// GrantConsent is the staff form of grantConsent (see there).
func (s *ConsentRecords) GrantConsent(ctx context.Context, a Access, id string, g consent.Grant) (ConsentView, int64, error) {
	return s.grantConsent(ctx, a, id, g)
}

// WithdrawChannel is the staff form of withdrawChannel (see there).
func (s *ConsentRecords) WithdrawChannel(ctx context.Context, a Access, id string, purpose policies.PurposeName, channel string) ([]ConsentView, int64, error) {
	return s.withdrawChannel(ctx, a, id, purpose, channel)
}

// withdrawChannel withdraws one channel of commercial messages from the subject's live consents to purpose
// (Advertising Law Art. 43): the consent itself and its other channels stand, and nothing computed under it
// changes. 404 when no live consent covers the channel.
func (s *ConsentRecords) withdrawChannel(ctx context.Context, a Access, id string, purpose policies.PurposeName, channel string) ([]ConsentView, int64, error) {
	pol := s.Policy()
	p, ok := pol.Purposes().Purpose(purpose)
	if !ok || !slices.Contains(policies.Channels, channel) {
		return nil, 0, s.refuseInvalid(ctx, a, ActionConsentWithdraw, id, Errorf(CodeInvalidArgument, "unknown purpose or channel (want one of %v)", policies.Channels))
	}
	_, e, rec, err := s.consentPreamble(ctx, a, ActionConsentWithdraw, id, policies.ActWrite)
	if err != nil {
		return nil, 0, err
	}
	now := s.now().UTC()
	var changed []consent.Record
	rel, seq, err := s.gate.commit(ctx, func(tx Tx) error {
		events, err := tx.ConsentEvents(id)
		if err != nil {
			return err
		}
		for _, r := range consent.Active(consent.Derive(events), purpose, now) {
			if !slices.Contains(r.ChannelsAt(now, p.NoticeChannels(r.NoticeVersion)), channel) {
				continue
			}
			if err := tx.AppendConsent(id, consent.Event{ID: newID("cns_"), Action: consent.ActionWithdraw, Purpose: purpose,
				At: now, RecordedBy: a.Caller.Subject, Withdraws: r.ID, Channels: []string{channel}}); err != nil {
				return err
			}
			if r.ChannelsWithdrawn == nil {
				r.ChannelsWithdrawn = map[string]time.Time{}
			}
			r.ChannelsWithdrawn[channel] = now
			changed = append(changed, r)
		}
		if len(changed) == 0 {
			return ErrNotFound
		}
		return tx.Touch(id, now)
	}, func(changeErr error) audit.Entry {
		e.Reason = "channel:" + channel
		return finish(e, changeErr, nil)
	}, id)
	if errors.Is(err, ErrNotFound) {
		return nil, seq, &Error{Code: CodeNotFound, Message: "no live consent covers this channel", AuditSeq: seq}
	}
	if err != nil {
		return nil, 0, internalErr("withdraw channel", err)
	}
	return seenBy(a, s.recordViews(rel, rec, changed)), seq, nil
}

// WithdrawConsent is the staff form of withdrawConsent (see there).
func (s *ConsentRecords) WithdrawConsent(ctx context.Context, a Access, id string, purpose policies.PurposeName) ([]ConsentView, int64, error) {
	return s.withdrawConsent(ctx, a, id, purpose)
}

// RecordObjection records an objection a collection point captured (staff, e.g. a data steward under
// account_management during import).
func (s *ConsentRecords) RecordObjection(ctx context.Context, a Access, id, kind string) (int64, error) {
	if _, err := s.checkPurpose(ctx, s.Policy(), a, ActionObjectionAdd); err != nil {
		return 0, err
	}
	seq, _, err := s.setObjection(ctx, a, id, kind, true)
	return seq, err
}

// ImportObjection is RecordObjection for an import: it reports an objection the subject has already raised
// as a duplicate (recorded, with an "unchanged" entry), so an import read twice counts it once.
func (s *ConsentRecords) ImportObjection(ctx context.Context, a Access, id, kind string) (duplicate bool, err error) {
	if _, err := s.checkPurpose(ctx, s.Policy(), a, ActionObjectionAdd); err != nil {
		return false, err
	}
	_, changed, err := s.setObjection(ctx, a, id, kind, true)
	return err == nil && !changed, err
}

// setObjection raises (on) or withdraws an objection; changed says whether the subject's objections changed.
func (s *ConsentRecords) setObjection(ctx context.Context, a Access, id, kind string, on bool) (seq int64, changed bool, err error) {
	action := ActionObjectionAdd
	if !on {
		action = ActionObjectionRemove
	}
	if kind != ObjectionPersonalizedMarketing {
		return 0, false, s.refuseInvalid(ctx, a, action, id, Errorf(CodeInvalidArgument, "kind must be %s", ObjectionPersonalizedMarketing))
	}
	pol := s.Policy()
	seq, err = s.recordChoice(ctx, a, id, choice{action: action, reason: "objection:" + kind, created: on,
		forbidden: "objections are not permitted", notFound: "no such objection",
		detail: func() string {
			if on && !changed {
				return "unchanged"
			}
			return ""
		},
		apply: func(tx Tx, now time.Time) error {
			var err error
			changed, err = tx.SetObjection(id, kind, on, now)
			if err != nil {
				return err
			}
			if on {
				// The purposes the objection shuts off keep no tags of the objector.
				if err := s.tags.objectionRaised(tx, id, pol.Purposes().ShutOffBy(kind)); err != nil || !changed {
					return err // raised before, nothing the tags read has changed
				}
			}
			if !on && !changed {
				return ErrNotFound
			}
			return s.tags.inputsChanged(tx, id)
		}})
	return seq, changed, err
}

// choice is one change to a subject's standing choices about their data — an objection, a restriction, a
// refused tag — as recordChoice makes it.
type choice struct {
	action     Action
	reason     string                           // the entry's reason
	detail     func() string                    // if set, the rest of the reason, known once apply ran
	categories []string                         // the entry's categories, if any
	created    bool                             // a new choice: 201
	forbidden  string                           // the 403 message without the objections permission
	notFound   string                           // the 404 message when nothing changes
	apply      func(tx Tx, now time.Time) error // ErrNotFound when nothing changes
}

// recordChoice records a change to a standing choice, for staff (the objections permission of the declared
// purpose) or the subject themself: the subject must be active, the change and its entry commit together,
// and the subject's last change moves.
func (s *ConsentRecords) recordChoice(ctx context.Context, a Access, id string, c choice) (int64, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, c.action, id, nil)
	if err != nil {
		return 0, err
	}
	if c.categories != nil {
		e.Categories = c.categories
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceObjections, policies.ActWrite) {
		return 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "%s", c.forbidden))
	}
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := activeIn(tx, id); err != nil {
			return err
		}
		if err := c.apply(tx, now); err != nil {
			return err
		}
		return tx.Touch(id, now)
	}, func(changeErr error) audit.Entry {
		e.Reason = c.reason
		if c.detail != nil {
			if d := c.detail(); d != "" {
				e.Reason += " " + d
			}
		}
		e = finish(e, changeErr, nil)
		if changeErr == nil && c.created {
			e.Status = statusCreated
		}
		return e
	})
	if errors.Is(err, ErrNotFound) {
		return seq, &Error{Code: CodeNotFound, Message: c.notFound, AuditSeq: seq}
	}
	if err != nil {
		return 0, internalErr(string(c.action), err)
	}
	return seq, nil
}

// grantedAt returns the ids of the consent records of a subject's history that are granted and unexpired
// at now. Read the history inside the change's transaction, so that a withdrawal committed before it is
// seen.
func grantedAt(events []consent.Event, now time.Time) map[string]bool {
	out := map[string]bool{}
	for _, r := range consent.Derive(events) {
		if r.StatusAt(now) == consent.Granted {
			out[r.ID] = true
		}
	}
	return out
}

// RestrictionKind is the standing choice of PIPL Art. 44 (restricting processing), kept beside the
// objections: while it stands, staff reads (for every purpose: PIPL.md, "reason restricted on every staff
// read"), tags and collection are withheld with ReasonRestricted, and the subject's own access is
// untouched. A verified restriction request sets it; the subject lifts it (DELETE /v1/me/restriction), and
// a rejected restriction request lifts it.
const RestrictionKind = "restriction"

// ActionRestrictionLift records that processing of a subject may resume.
const ActionRestrictionLift Action = "restriction.lift"

// restricted reports whether processing of the subject is restricted (RestrictionKind): for every staff
// purpose, those under a legal obligation too — the data are stored, and what the law needs of them is
// asked for through the restriction request's workflow, not read around it.
func restricted(rec SubjectRecord) bool {
	_, ok := rec.Objections[RestrictionKind]
	return ok
}

// restrictionIn sets (on) or lifts the subject's restriction inside a change's transaction; a change marks
// the subject's tag inputs changed. It reports whether anything changed.
func (s *ConsentRecords) restrictionIn(tx Tx, subject string, on bool, at time.Time) (bool, error) {
	changed, err := tx.SetObjection(subject, RestrictionKind, on, at)
	if err != nil || !changed {
		return changed, err
	}
	return true, s.tags.inputsChanged(tx, subject)
}

// liftRestriction lifts the subject's own restriction, and in the same transaction withdraws the requests
// that asked for it (withdraw returns the ids it withdrew, which the entry's reason names). Staff cannot: a
// restriction stands with the subject's request (API.md: while it is verified, in progress or completed),
// and ends when the subject lifts it or a compliance officer rejects the request — never by one staff
// member alone.
func (s *ConsentRecords) liftRestriction(ctx context.Context, a Access, id string, withdraw func(Tx, time.Time) ([]string, error)) (int64, error) {
	var withdrawn []string
	return s.recordChoice(ctx, a, id, choice{action: ActionRestrictionLift, reason: "restriction:lifted",
		detail:    func() string { return withdrawalReason("", withdrawn) },
		forbidden: "your roles may not lift restrictions for this purpose", notFound: "no restriction stands",
		apply: func(tx Tx, now time.Time) error {
			changed, err := s.restrictionIn(tx, id, false, now)
			if err == nil && !changed {
				err = ErrNotFound
			}
			if err != nil {
				return err
			}
			withdrawn, err = withdraw(tx, now)
			return err
		}})
}

// Actions of a subject's choice about one tag (Algorithmic Recommendation Provisions Art. 17).
const (
	ActionTagRefuse Action = "tag.refuse"
	ActionTagAllow  Action = "tag.allow"
)

// tagRefusalKind is the standing choice of a subject not to carry the tag key, kept beside the
// objections ("tag:<key>"): the tag is deleted under every purpose and not stored again while it stands.
func tagRefusalKind(key string) string { return "tag:" + key }

// validTagKey reports whether key has the form of a tag key (level.name).
func validTagKey(key string) bool {
	level, name, ok := strings.Cut(key, ".")
	if !ok || len(key) > 64 || level == "" || name == "" {
		return false
	}
	for _, r := range level + name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// refusedIn returns the tag keys a subject refused, from its objection kinds (a record's, or those read
// inside a change's transaction); nil when there are none.
func refusedIn(kinds iter.Seq[string]) map[string]bool {
	var out map[string]bool
	for k := range kinds {
		if key, ok := strings.CutPrefix(k, "tag:"); ok {
			if out == nil {
				out = map[string]bool{}
			}
			out[key] = true
		}
	}
	return out
}

// setTagRefusal records the subject's refusal of a tag key (on) — deleting the tag under every purpose in
// the same transaction — or withdraws it, so that the tag may be computed again. 404 when nothing changes.
func (s *ConsentRecords) setTagRefusal(ctx context.Context, a Access, key string, on bool) (int64, error) {
	action := ActionTagAllow
	if on {
		action = ActionTagRefuse
	}
	id := a.Caller.Subject
	if !validTagKey(key) || !s.tags.knownTagKey(key) {
		return 0, s.refuseInvalid(ctx, a, action, id, Errorf(CodeInvalidArgument, "not a tag key of the vocabulary (level.name, as GET /v1/me shows them)"))
	}
	return s.recordChoice(ctx, a, id, choice{action: action, reason: "tag:" + key, categories: []string{policies.CategoryTags},
		forbidden: "tag choices are not permitted", notFound: "nothing to change for this tag",
		apply: func(tx Tx, now time.Time) error {
			changed, err := tx.SetObjection(id, tagRefusalKind(key), on, now)
			switch {
			case err != nil:
				return err
			case !changed:
				return ErrNotFound
			case on:
				return s.tags.tagRefused(tx, id, key)
			default:
				return s.tags.inputsChanged(tx, id)
			}
		}})
}

// sortedSet is s sorted without repeats (nil for none).
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
