package vault

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// DataSubjects is /v1/me: a person acting on their own data — see it, correct it, erase it, grant and
// withdraw consents, object, see who accessed it, export it (PIPL Art. 44–50).
type DataSubjects struct {
	*core
	// The domains a data subject's own requests reach, called explicitly.
	profiles  *Profiles
	consents  *ConsentRecords
	tags      *Tags
	ingestion *Ingestion
	requests  *Requests
	review    *Review
}

// DataSubjects returns the service; it shares the enforcement point's core.
func (s *Service) DataSubjects() *DataSubjects { return s.subjects }

// Data-subject actions recorded in the audit trail.
const (
	ActionMeRead          Action = "me.read"
	ActionMeUpdate        Action = "me.update"
	ActionMeExport        Action = "me.export"
	ActionMeAccessLog     Action = "me.access_log"
	ActionMeExplanation   Action = "me.explanation"
	ActionObjectionAdd    Action = "objection.add"
	ActionObjectionRemove Action = "objection.remove"
)

// PurposeDataSubjectRequest is the purpose every /v1/me call implies (PIPL Art. 50, a legal obligation).
const PurposeDataSubjectRequest = policies.PurposeDataSubjectRequest

// ObjectionPersonalizedMarketing is the objection of PIPL Art. 24: no audiences, no personalised use. Which
// purposes it shuts off is the purposes catalog's to say (Purpose.Objections).
const ObjectionPersonalizedMarketing = policies.ObjectionPersonalizedMarketing

// objected reports whether an objection of the subject shuts off purpose.
func objected(rec SubjectRecord, purpose policies.Purpose) bool {
	for kind := range rec.Objections {
		if purpose.ShutOffBy(kind) {
			return true
		}
	}
	return false
}

// meAccess turns a request to /v1/me into an access by the data subject to their own data: only a token
// whose sole role is "subject" qualifies (staff tokens get 403), and the purpose is data_subject_request
// (any other declared purpose is refused).
//
// A staff token is refused, and the refusal recorded (action names what was attempted).
func (s *core) meAccess(ctx context.Context, a Access, action Action) (Access, error) {
	if !a.Caller.IsDataSubject() {
		e := s.newEntry(ctx, a, s.Policy(), action, "")
		return a, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only a data subject's own token may do this"))
	}
	if a.Purpose != "" && a.Purpose != PurposeDataSubjectRequest {
		return a, s.refuseInvalid(ctx, a, action, a.Caller.Subject,
			Errorf(CodeInvalidArgument, "a data subject's own access implies the purpose data_subject_request; declare none or that one"))
	}
	a.Purpose, a.self = PurposeDataSubjectRequest, true
	return a, nil
}

// MeView is what a data subject sees of themselves.
type MeView struct {
	ID         string
	Fields     map[string]string
	Consents   []ConsentView
	Objections []string
	Tags       []TagView
	Notices    []Incident // the incidents the caller was notified of, newest first (as MeNotices)
	AuditSeq   int64
}

// Me returns the caller's own profile, unmasked, with their consents and objections.
func (s *DataSubjects) Me(ctx context.Context, a Access) (MeView, error) {
	a, err := s.meAccess(ctx, a, ActionMeRead)
	if err != nil {
		return MeView{}, err
	}
	// One entry (me.read, fields and tags) releases everything the page shows, from one record.
	v, rel, rec, err := s.profiles.read(ctx, a, a.Caller.Subject, nil)
	if err != nil {
		return MeView{}, err
	}
	tags, err := s.tags.tagViews(ctx, rel, rec, "", "en")
	if err != nil {
		return MeView{}, internalErr("read tags", err)
	}
	notices, err := s.review.incidentsOf(ctx, rec.ID)
	if err != nil {
		return MeView{}, internalErr("read notices", err)
	}
	return MeView{ID: v.ID, Fields: v.Fields, Consents: seenBy(a, s.consents.consentViews(rel, rec).Current), Objections: objectionKinds(rec), Tags: tags,
		Notices: notices, AuditSeq: v.AuditSeq}, nil
}

func objectionKinds(rec SubjectRecord) []string {
	out := []string{}
	for k := range rec.Objections {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MeRefuseTag deletes one of the caller's tags under every purpose and keeps it from being computed again
// while the choice stands (Algorithmic Recommendation Provisions Art. 17); MeAllowTag withdraws the choice.
func (s *DataSubjects) MeRefuseTag(ctx context.Context, a Access, key string) (int64, error) {
	a, err := s.meAccess(ctx, a, ActionTagRefuse)
	if err != nil {
		return 0, err
	}
	return s.consents.setTagRefusal(ctx, a, key, true)
}

// MeAllowTag withdraws the caller's refusal of a tag key: it is computed again at the next run.
func (s *DataSubjects) MeAllowTag(ctx context.Context, a Access, key string) (int64, error) {
	a, err := s.meAccess(ctx, a, ActionTagAllow)
	if err != nil {
		return 0, err
	}
	return s.consents.setTagRefusal(ctx, a, key, false)
}

// MeLiftRestriction lifts the caller's own restriction of processing (PIPL Art. 44): processing resumes,
// and the restriction requests still open are withdrawn with it, so that no officer is left asked to act
// on a restriction that no longer stands (the entry names them).
func (s *DataSubjects) MeLiftRestriction(ctx context.Context, a Access) (int64, error) {
	a, err := s.meAccess(ctx, a, ActionRestrictionLift)
	if err != nil {
		return 0, err
	}
	open, err := s.requests.openRequests(ctx, a.Caller.Subject, RequestRestriction)
	if err != nil {
		return 0, internalErr("read requests", err)
	}
	return s.consents.liftRestriction(ctx, a, a.Caller.Subject, func(tx Tx, now time.Time) ([]string, error) {
		return s.requests.withdrawIn(tx, open, now)
	})
}

// MeUpdate corrects the caller's own fields (PIPL Art. 46), validated like staff updates.
func (s *DataSubjects) MeUpdate(ctx context.Context, a Access, in map[string]*string) (View, error) {
	a, err := s.meAccess(ctx, a, ActionMeUpdate)
	if err != nil {
		return View{}, err
	}
	return s.profiles.updateSubject(ctx, a, a.Caller.Subject, in)
}

// MeErase erases the caller (PIPL Art. 47).
func (s *DataSubjects) MeErase(ctx context.Context, a Access) (Receipt, error) {
	a, err := s.meAccess(ctx, a, ActionSubjectErase)
	if err != nil {
		return Receipt{}, err
	}
	return s.profiles.eraseSubject(ctx, a, a.Caller.Subject)
}

// MeConsentResult is the answer to a consent change by the subject.
type MeConsentResult struct {
	Record    *ConsentView
	Withdrawn []ConsentView
	AuditSeq  int64
}

// MeSetConsent grants or withdraws the caller's consent for purpose as easily as it was given (Art. 14–15).
// A subject under 14 cannot grant consent themselves (403 guardian_consent_required); refusing a purpose
// that is not necessary never affects the rest of the account (Art. 16).
func (s *DataSubjects) MeSetConsent(ctx context.Context, a Access, purpose policies.PurposeName, granted bool, noticeVersion, recipient string) (MeConsentResult, error) {
	a, err := s.meAccess(ctx, a, ActionConsentGrant)
	if err != nil {
		return MeConsentResult{}, err
	}
	p, ok := s.Policy().Purposes().Purpose(purpose)
	if !ok {
		return MeConsentResult{}, Errorf(CodeNotFound, "unknown purpose")
	}
	if !granted {
		if !p.NeedsConsent() { // as a grant is refused: there is no consent to withdraw (recorded like any 400)
			return MeConsentResult{}, s.refuseInvalid(ctx, a, ActionConsentWithdraw, a.Caller.Subject,
				Errorf(CodeInvalidArgument, "purpose %s rests on %s, not on consent: there is no consent to withdraw (object to it, or ask for restriction or deletion)", p.Name, p.LegalBasis))
		}
		withdrawn, seq, err := s.consents.withdrawConsent(ctx, a, a.Caller.Subject, purpose)
		if ErrorCode(err) == CodeNotFound && AuditSeqOf(err) > 0 {
			return MeConsentResult{Withdrawn: []ConsentView{}, AuditSeq: AuditSeqOf(err)}, nil // nothing to withdraw
		}
		if err != nil {
			return MeConsentResult{}, err
		}
		res := MeConsentResult{Withdrawn: withdrawn, AuditSeq: seq}
		if len(withdrawn) > 0 {
			res.Record = &withdrawn[len(withdrawn)-1]
		}
		return res, nil
	}
	if noticeVersion == "" {
		noticeVersion = p.Notice.Version
	}
	kind := consent.General
	if p.ConsentKind == string(consent.Separate) {
		kind = consent.Separate
	}
	v, seq, err := s.consents.grantConsent(ctx, a, a.Caller.Subject, consent.Grant{Purpose: purpose, Kind: kind, NoticeVersion: noticeVersion,
		Method: "self_service", Recipient: recipient})
	if err != nil {
		return MeConsentResult{}, err
	}
	return MeConsentResult{Record: &v, AuditSeq: seq}, nil
}

// MeWithdrawChannel withdraws one channel of the caller's consent to purpose (Advertising Law Art. 43);
// the consent and its other channels stand.
func (s *DataSubjects) MeWithdrawChannel(ctx context.Context, a Access, purpose policies.PurposeName, channel string) (MeConsentResult, error) {
	a, err := s.meAccess(ctx, a, ActionConsentWithdraw)
	if err != nil {
		return MeConsentResult{}, err
	}
	views, seq, err := s.consents.withdrawChannel(ctx, a, a.Caller.Subject, purpose, channel)
	if err != nil {
		return MeConsentResult{}, err
	}
	res := MeConsentResult{Withdrawn: views, AuditSeq: seq}
	if len(views) > 0 {
		res.Record = &views[len(views)-1]
	}
	return res, nil
}

// SetObjection raises (on) or lifts an objection of the caller. Lifting one that was never raised is
// ErrNotFound (404).
func (s *DataSubjects) SetObjection(ctx context.Context, a Access, kind string, on bool) (int64, error) {
	a, err := s.meAccess(ctx, a, ActionObjectionAdd)
	if err != nil {
		return 0, err
	}
	seq, _, err := s.consents.setObjection(ctx, a, a.Caller.Subject, kind, on)
	return seq, err
}

// AccessLogEntry is one access to the subject's data as the subject sees it: roles and team, never another
// person's identity.
type AccessLogEntry struct {
	TS         time.Time
	ActorRoles []string
	Team       string
	Purpose    string
	Action     string
	Fields     []string
	// Categories are the categories of data the access concerned (those released, or asked for when it was
	// refused): what a tag computation, an audience selection or a collection touched, which name no field.
	Categories []string
	Decision   string
	// UnderRequest marks an access made under an approved access request; RequestReason is the request's
	// stated reason category (never its justification, never the requester).
	UnderRequest  bool
	RequestReason string
}

// AccessLogPage is one page of a subject's access log, newest first. Next continues it (empty at the end).
type AccessLogPage struct {
	Entries  []AccessLogEntry
	Next     string
	AuditSeq int64
}

// Access log page sizes.
const (
	defaultAccessLogPage = 100
	maxAccessLogPage     = 1000
)

// accessLog reads the whole access log of the subject of rec (already loaded), newest first, page by page.
func (s *Review) accessLog(ctx context.Context, rec SubjectRecord) ([]AccessLogEntry, error) {
	var out []AccessLogEntry
	var before int64
	for {
		page, next, err := s.accessLogPage(ctx, rec, before, maxAccessLogPage)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == 0 {
			return nonNil(out), nil
		}
		before = next
	}
}

// accessLogPage reads up to limit entries of the subject of rec older than before (0: the newest), newest
// first, and the cursor of the next page (0 at the end).
func (s *Review) accessLogPage(ctx context.Context, rec SubjectRecord, before int64, limit int) ([]AccessLogEntry, int64, error) {
	entries, err := s.trail.Query(ctx, audit.Filter{SubjectRef: refFor(s.gate, rec.ID, rec.RefSalt), Before: before, Limit: limit + 1})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(entries) > limit {
		entries, next = entries[:limit], entries[limit-1].Seq
	}
	out := make([]AccessLogEntry, 0, len(entries))
	reasons := map[string]string{} // grant → the request's reason category
	for _, e := range entries {
		fields := e.FieldsGranted
		if e.Decision == audit.Deny {
			fields = e.FieldsRequested
		}
		x := AccessLogEntry{TS: e.TS, ActorRoles: e.Actor.Roles, Team: e.Actor.Team, Purpose: e.Purpose,
			Action: e.Action, Fields: nonNil(fields), Categories: nonNil(e.Categories), Decision: string(e.Decision)}
		// Under an approved request: a grant the access could use. A read refused because the grant was not
		// the caller's, or had run out, used no grant, whatever it named.
		if e.GrantID != "" && !(e.Decision == audit.Deny && (e.Reason == ReasonOutsideGrant || e.Reason == ReasonGrantExpired)) {
			reason, ok := reasons[e.GrantID]
			if !ok {
				reason = s.access.reasonCategory(ctx, e.GrantID)
				reasons[e.GrantID] = reason
			}
			x.UnderRequest, x.RequestReason = true, reason
		}
		out = append(out, x)
	}
	return out, next, nil
}

// recordSelf appends the entry of a /v1/me read that returns no field values (access log, explanation).
func (s *core) recordSelf(ctx context.Context, a Access, action Action) (selfRecord, error) {
	return superseded(func() (selfRecord, error) { return s.recordSelfOnce(ctx, a, action) })
}

// selfRecord is a data subject's own access, recorded: the entry's place and the release of their data
// under it, with the record it was decided on.
type selfRecord struct {
	seq int64
	rel *release
	rec SubjectRecord
}

func (s *core) recordSelfOnce(ctx context.Context, a Access, action Action) (selfRecord, error) {
	e, err := s.beginStaff(ctx, a, s.Policy(), action, a.Caller.Subject, nil)
	if err != nil {
		return selfRecord{}, err
	}
	guard := s.seq.Guard(a.Caller.Subject)
	rec, err := s.activeSubject(ctx, a.Caller.Subject)
	if err != nil {
		return selfRecord{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
	}
	e.Decision, e.Status = audit.Allow, statusOK
	rel, err := s.gate.authorize(ctx, guard, e)
	if errors.Is(err, ErrSuperseded) {
		return selfRecord{}, err
	}
	if err != nil {
		return selfRecord{}, internalErr("audit", err)
	}
	return selfRecord{seq: rel.seq, rel: rel, rec: rec}, nil
}

// MeAccessLog returns a page of who accessed the caller's data, newest first: when, which roles and team,
// for which purpose, which fields, and whether it was allowed. cursor continues a page's Next (empty: the
// newest); limit is 1 to 1000 (default 100). The whole log is in the export.
func (s *DataSubjects) MeAccessLog(ctx context.Context, a Access, cursor string, limit int) (AccessLogPage, error) {
	a, err := s.meAccess(ctx, a, ActionMeAccessLog)
	if err != nil {
		return AccessLogPage{}, err
	}
	var before int64
	if cursor != "" {
		if before, err = strconv.ParseInt(cursor, 10, 64); err != nil || before < 1 {
			return AccessLogPage{}, s.refuseInvalid(ctx, a, ActionMeAccessLog, a.Caller.Subject, Errorf(CodeInvalidArgument, "bad cursor"))
		}
	}
	if limit <= 0 || limit > maxAccessLogPage {
		limit = defaultAccessLogPage
	}
	self, err := s.recordSelf(ctx, a, ActionMeAccessLog)
	if err != nil {
		return AccessLogPage{}, err
	}
	log, next, err := s.review.accessLogPage(ctx, self.rec, before, limit)
	if err != nil {
		return AccessLogPage{}, internalErr("read access log", err)
	}
	page := AccessLogPage{Entries: log, AuditSeq: self.seq}
	if next > 0 {
		page.Next = strconv.FormatInt(next, 10)
	}
	return page, nil
}

// PurposeExplanation tells a subject what one purpose does with their data and on which basis (Art. 17, 48).
type PurposeExplanation struct {
	Purpose       policies.PurposeName
	Description   string
	LegalBasis    string
	ConsentKind   string
	Categories    []string
	RetentionDays int
	Necessary     bool
	Recipients    []string
	NoticeVersion string
	YourConsent   string // granted, withdrawn, expired, or empty when none was given
	Objected      bool
	// Restricted says the subject restricted processing (PIPL Art. 44): it stands for every purpose.
	Restricted bool
	// ConsentBlocked says why the subject cannot give this consent themselves: the reason the grant would
	// be refused with (consent.ReasonGuardianConsentRequired under 14, ReasonAgeVerificationRequired while
	// the birth date is unknown and the purpose needs an age), or empty.
	ConsentBlocked string
}

// MeExplanation explains every purpose for the caller, in lang ("zh" or "en").
func (s *DataSubjects) MeExplanation(ctx context.Context, a Access, lang string) ([]PurposeExplanation, []TagView, int64, error) {
	a, err := s.meAccess(ctx, a, ActionMeExplanation)
	if err != nil {
		return nil, nil, 0, err
	}
	self, err := s.recordSelf(ctx, a, ActionMeExplanation)
	if err != nil {
		return nil, nil, 0, err
	}
	seq, rec := self.seq, self.rec
	tags, err := s.tags.tagViews(ctx, self.rel, rec, "", lang)
	if err != nil {
		return nil, nil, 0, internalErr("read tags", err)
	}
	// The age decides who may consent; it is read under this request's own release (the subject's data,
	// for the subject).
	birth, known := openField(self.rel.open, rec, fieldBirthDate)
	if _, err := time.Parse(time.DateOnly, string(birth)); err != nil {
		known = false
	}
	return s.explain(rec, lang, known && minorBorn(birth, s.now()), known), tags, seq, nil
}

func (s *DataSubjects) explain(rec SubjectRecord, lang string, minor, ageKnown bool) []PurposeExplanation {
	if lang != "zh" {
		lang = "en"
	}
	now := s.now()
	var out []PurposeExplanation
	for _, p := range s.Policy().Purposes().All() {
		x := PurposeExplanation{Purpose: p.Name, Description: p.Description[lang], LegalBasis: p.LegalBasis, ConsentKind: p.ConsentKind,
			Categories: p.Categories, RetentionDays: p.RetentionDays, Necessary: p.Necessary, Recipients: p.Recipients,
			NoticeVersion: p.Notice.Version, Objected: objected(rec, p), Restricted: restricted(rec)}
		for _, r := range rec.Consents {
			if r.Purpose == p.Name {
				x.YourConsent = string(r.StatusAt(now))
			}
		}
		switch { // as ConsentRecords.Grant decides
		case !p.NeedsConsent():
		case minor:
			x.ConsentBlocked = consent.ReasonGuardianConsentRequired
		case !ageKnown && p.NeedsAge():
			x.ConsentBlocked = consent.ReasonAgeVerificationRequired
		}
		out = append(out, x)
	}
	return out
}

// Export is a complete machine-readable copy of everything about the subject (PIPL Art. 45).
type Export struct {
	SubjectID      string
	ExportedAt     time.Time
	Profile        map[string]string
	Consents       []ConsentView
	ConsentHistory []ConsentView
	Objections     []string
	Events         []EventView
	Tags           []TagView
	AccessLog      []AccessLogEntry
	Requests       []RequestView
	AuditSeq       int64
	// EachEvent streams the events (decrypted, oldest first) when Events was not loaded.
	EachEvent func(fn func(EventView) error) error
	// Done frees the export's slot once the caller has written it out (streamed exports); always safe.
	Done func()
}

// MeExport gathers the caller's complete copy, tags included.
func (s *DataSubjects) MeExport(ctx context.Context, a Access) (Export, error) {
	x, err := s.meExport(ctx, a, false)
	if err == nil {
		x.Done() // loaded whole: the slot is free again
	}
	return x, err
}

// MeExportStream is MeExport without loading the events: the caller streams them with Export.EachEvent,
// so memory stays bounded whatever the subject's history.
func (s *DataSubjects) MeExportStream(ctx context.Context, a Access) (Export, error) {
	return s.meExport(ctx, a, true)
}

func (s *DataSubjects) meExport(ctx context.Context, a Access, stream bool) (_ Export, err error) {
	a, err = s.meAccess(ctx, a, ActionMeExport)
	if err != nil {
		return Export{}, err
	}
	// Exports are heavy: at most one at a time per subject, a few at once overall, and a bounded number per
	// subject an hour (429 otherwise).
	done, ok := s.exports.take(a.Caller.Subject)
	if !ok {
		e := s.newEntry(ctx, a, s.Policy(), ActionMeExport, a.Caller.Subject)
		return Export{}, s.deny(ctx, e, statusTooManyRequests, "export_busy",
			&Error{Code: CodeRateLimited, Message: "an export is already running; try again shortly", RetryAfter: 5 * time.Second})
	}
	// The hourly budget is spent only by an export that can run: a retry while one runs costs nothing.
	if s.exportRate != nil && !s.exportRate.allow(a.Caller.Subject) {
		done()
		e := s.newEntry(ctx, a, s.Policy(), ActionMeExport, a.Caller.Subject)
		return Export{}, s.deny(ctx, e, statusTooManyRequests, "export_rate",
			&Error{Code: CodeRateLimited, Message: "too many exports in the last hour; try again later",
				RetryAfter: time.Duration(float64(time.Hour) / s.exportRate.burst)})
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	v, _, _, err := s.profiles.read(ctx, a, a.Caller.Subject, nil) // records the read of every field
	if err != nil {
		return Export{}, err
	}
	// The export's own entry releases the rest of the copy, from the record it was decided on.
	self, err := s.recordSelf(ctx, a, ActionMeExport)
	if err != nil {
		return Export{}, err
	}
	seq, rel, rec := self.seq, self.rel, self.rec
	log, err := s.review.accessLog(ctx, rec)
	if err != nil {
		return Export{}, internalErr("read access log", err)
	}
	reqs, err := s.requests.requestViews(ctx, rel, rec)
	if err != nil {
		return Export{}, internalErr("read requests", err)
	}
	tags, err := s.tags.tagViews(ctx, rel, rec, "", "en")
	if err != nil {
		return Export{}, internalErr("read tags", err)
	}
	var events []EventView
	each := func(fn func(EventView) error) error { return s.ingestion.openEvents(ctx, rel, rec, fn) }
	if !stream {
		events = []EventView{}
		if err := each(func(v EventView) error { events = append(events, v); return nil }); err != nil {
			return Export{}, internalErr("read events", err)
		}
	}
	cv := s.consents.consentViews(rel, rec)
	return Export{SubjectID: rec.ID, ExportedAt: s.now().UTC(), Profile: v.Fields, Consents: nonNil(seenBy(a, cv.Current)),
		ConsentHistory: nonNil(seenBy(a, cv.History)), Objections: objectionKinds(rec), Events: events, Tags: tags,
		AccessLog: log, Requests: reqs, AuditSeq: seq, EachEvent: each, Done: done}, nil
}

// exportSlots bounds concurrent exports: one per subject, max overall.
type exportSlots struct {
	mu   sync.Mutex
	busy map[string]bool
	max  int
}

// take reserves a slot for subject; done frees it (once).
func (x *exportSlots) take(subject string) (done func(), ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.busy[subject] || len(x.busy) >= x.max {
		return nil, false
	}
	x.busy[subject] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			x.mu.Lock()
			delete(x.busy, subject)
			x.mu.Unlock()
		})
	}, true
}

// SignDocument signs a document digest with the server's checkpoint key (a C2SP signed note), so a
// receiving party can check an export manifest or an erasure receipt with the published verifier key.
func (s *Service) SignDocument(kind string, lines ...string) (string, error) {
	return s.signDocument(kind, lines...)
}

func (s *core) signDocument(kind string, lines ...string) (string, error) {
	signed, err := s.signer.SignText("profile-vault " + kind + "\n" + strings.Join(lines, "\n") + "\n")
	return string(signed), err
}

// VerifierKey is the public key that checks SignDocument signatures and checkpoints.
func (s *Service) VerifierKey() string { return s.signer.VerifierKey() }
