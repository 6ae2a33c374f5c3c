package vault

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Requests is the data-subject request workflow: requests filed by subjects, the compliance officer's queue
// and its transitions, with working-day deadlines.
type Requests struct {
	*core
	store RequestStore
	rules RequestRules
	// consents sets and lifts a restriction with the request that asks for it; profiles erases the subject
	// of a deletion request when it is completed.
	consents *ConsentRecords
	profiles *Profiles
	// review finds the correction that fulfilled a correction request.
	review *Review
}

// Requests returns the service; it shares the enforcement point's core.
func (s *Service) Requests() *Requests { return s.requests }

// Request workflow actions recorded in the audit trail.
const (
	ActionRequestCreate     Action = "request.create"
	ActionRequestRead       Action = "request.read"
	ActionRequestTransition Action = "request.transition"
	ActionRequestWithdraw   Action = "request.withdraw"
)

// RequestRules is the domain logic of the data-subject request workflow (PIPL Art. 50): types, legal
// transitions, working-day deadlines. internal/dsr implements it.
type RequestRules interface {
	// ValidType reports whether t is a request type.
	ValidType(t string) bool
	// ValidState reports whether st is a request state.
	ValidState(st string) bool
	// Transition returns an error wrapping ErrIllegalTransition or ErrReasonRequired when the move is not
	// allowed.
	Transition(from, to, reason string) error
	// DueAt is the deadline of a request of type t received at received.
	DueAt(t string, received time.Time) time.Time
	// Overdue reports whether a request in state, due at due, is overdue at now.
	Overdue(due, now time.Time, state string) bool
	// AutoCompletes reports whether the subject can serve requests of type t themselves at once.
	AutoCompletes(t string) bool
}

// Errors RequestRules.Transition wraps.
var (
	ErrIllegalTransition = errors.New("illegal request transition")
	ErrReasonRequired    = errors.New("a rejection needs a reason")
)

// Request states the vault itself sets or acts on.
const (
	RequestReceived  = "received"
	RequestVerified  = "verified"
	RequestCompleted = "completed"
	RequestRejected  = "rejected"
	// RequestWithdrawn is the final state of a request its subject withdrew before it was answered: by
	// withdrawing it, or, for a restriction request, by lifting the restriction it set.
	RequestWithdrawn = "withdrawn"
)

// RequestRestriction is the request type of PIPL Art. 44: the vault restricts processing while it stands.
const RequestRestriction = "restriction"

// RequestDeletion is the request type of PIPL Art. 47: completing it erases the subject.
const RequestDeletion = "deletion"

// RequestCorrection is the request type of PIPL Art. 46: it is complete once the subject's data was corrected.
const RequestCorrection = "correction"

// RequestDeceasedRelative is a close relative of a deceased subject exercising their rights (PIPL Art. 49).
const RequestDeceasedRelative = "deceased_relative"

// Relationships a deceased subject's relative may claim (Civil Code Art. 1045: close relatives).
var relativeRelationships = []string{"spouse", "parent", "child", "sibling", "grandparent", "grandchild"}

// RequestRow is a stored request. The rejection reason is sealed under the subject's DEK.
type RequestRow struct {
	ID, SubjectID, Type, State  string
	CreatedAt, DueAt, UpdatedAt time.Time
	ReasonSealed                []byte
	Note                        string
	// Relationship and EvidenceSealed are a deceased subject's relative's (RequestDeceasedRelative).
	Relationship   string
	EvidenceSealed []byte
}

// RequestFilter selects requests for the compliance queue or a subject.
type RequestFilter struct {
	ID        string
	SubjectID string
	State     string
	Limit     int
}

// RequestStore keeps requests (internal/sqlite implements it).
type RequestStore interface {
	Requests(ctx context.Context, f RequestFilter) ([]RequestRow, error)
}

// RequestView is a request as API.md shows it.
type RequestView struct {
	ID        string
	Type      string
	State     string
	CreatedAt time.Time
	DueAt     time.Time
	UpdatedAt time.Time
	Overdue   bool
	Reason    string
	Note      string
	// Relationship is a deceased subject's relative's (RequestDeceasedRelative).
	Relationship string
}

// selfServiceNotes tells the subject, on a request they can also serve themselves, where the answer is
// already; the transport adds the route. The request still starts verified and a compliance officer
// completes it (API.md: requests made with a subject token start verified).
var selfServiceNotes = map[string]string{
	"access":      "your data export is available now and at any time; this request is answered within the deadline",
	"portability": "your data export is available now as a portable archive; this request is answered within the deadline",
	"explanation": "the explanation of how your data is used is available now; this request is answered within the deadline",
}

// ownRequests opens the entry of a data subject's action on their own requests (a, from meAccess), refused
// without the permission to file requests: withdrawing one is the counterpart of filing it.
func (s *Requests) ownRequests(ctx context.Context, a Access, action Action) (audit.Entry, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, action, a.Caller.Subject, nil)
	if err != nil {
		return e, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceRequests, policies.ActCreate) {
		return e, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "requests are not permitted"))
	}
	return e, nil
}

// MeCreateRequest files a request by the caller. A subject's own token is verification, so it starts
// verified; a request the subject can also serve themselves (access, portability, explanation) says where.
func (s *Requests) MeCreateRequest(ctx context.Context, a Access, typ string) (RequestView, int64, error) {
	a, err := s.meAccess(ctx, a, ActionRequestCreate)
	if err != nil {
		return RequestView{}, 0, err
	}
	if !s.rules.ValidType(typ) || typ == RequestDeceasedRelative {
		return RequestView{}, 0, s.refuseInvalid(ctx, a, ActionRequestCreate, a.Caller.Subject,
			Errorf(CodeInvalidArgument, "type must be access, portability, correction, deletion, restriction or explanation"))
	}
	e, err := s.ownRequests(ctx, a, ActionRequestCreate)
	if err != nil {
		return RequestView{}, 0, err
	}
	now := s.now().UTC()
	if err := s.overBudget(ctx, e, a.Caller.Subject, now); err != nil {
		return RequestView{}, 0, err
	}
	row := RequestRow{ID: newID("req_"), SubjectID: a.Caller.Subject, Type: typ, State: RequestVerified,
		CreatedAt: now, DueAt: s.rules.DueAt(typ, now).UTC(), UpdatedAt: now}
	if s.rules.AutoCompletes(typ) {
		row.Note = selfServiceNotes[typ]
	}
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := activeIn(tx, row.SubjectID); err != nil {
			return err
		}
		if err := tx.PutRequest(row); err != nil {
			return err
		}
		if typ == RequestRestriction {
			// The subject's own token verified the request: processing is restricted from now on.
			_, err = s.consents.restrictionIn(tx, row.SubjectID, true, now)
		}
		return err
	}, func(changeErr error) audit.Entry {
		e.Reason = "request:" + row.ID + " type:" + typ + " state:" + row.State
		e = finish(e, changeErr, nil)
		if changeErr == nil {
			e.Status = statusCreated
		}
		return e
	})
	if errors.Is(err, ErrNotFound) {
		return RequestView{}, seq, &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq}
	}
	if err != nil {
		return RequestView{}, 0, internalErr("create request", err)
	}
	return s.requestView(nil, row, SubjectRecord{}), seq, nil
}

// overBudget refuses (recording e as rate_limited, with how long to wait) a request by subject beyond
// requestsPerDay in any 24 hours; nil when they may file one now.
func (s *Requests) overBudget(ctx context.Context, e audit.Entry, subject string, now time.Time) error {
	wait, err := s.requestBudget(ctx, subject, now)
	if err != nil {
		return internalErr("count requests", err)
	}
	if wait > 0 {
		return s.deny(ctx, e, statusTooManyRequests, "rate_limited",
			&Error{Code: CodeRateLimited, Message: "too many requests in 24 hours", RetryAfter: wait})
	}
	return nil
}

// requestBudget returns how long subject must wait before filing another request (0 if they may now).
func (s *Requests) requestBudget(ctx context.Context, subject string, now time.Time) (time.Duration, error) {
	rows, err := s.store.Requests(ctx, RequestFilter{SubjectID: subject, Limit: s.requestsPerDay + 1})
	if err != nil {
		return 0, err
	}
	window := now.Add(-24 * time.Hour)
	var recent []time.Time
	for _, r := range rows {
		if r.CreatedAt.After(window) {
			recent = append(recent, r.CreatedAt)
		}
	}
	if len(recent) < s.requestsPerDay {
		return 0, nil
	}
	// Another may be filed once the requestsPerDay-th newest leaves the window.
	slices.SortFunc(recent, func(a, b time.Time) int { return b.Compare(a) })
	return max(recent[s.requestsPerDay-1].Add(24*time.Hour).Sub(now), time.Second), nil
}

// requestView renders a request, its sealed rejection reason opened under rel (none without one).
func (s *Requests) requestView(rel *release, r RequestRow, rec SubjectRecord) RequestView {
	v := RequestView{ID: r.ID, Type: r.Type, State: r.State, CreatedAt: r.CreatedAt, DueAt: r.DueAt, UpdatedAt: r.UpdatedAt,
		Overdue: s.rules.Overdue(r.DueAt, s.now(), r.State), Note: r.Note, Relationship: r.Relationship}
	if len(r.ReasonSealed) == 0 || rel == nil {
		return v
	}
	if sealed, ok := bytes.CutPrefix(r.ReasonSealed, reasonUnderNoteKey); ok {
		if pt, err := s.gate.openNote(sealed, []byte(reasonAD(r.ID))); err == nil {
			v.Reason = string(pt)
		}
	} else if d, ok := rec.DEKs[ClassGeneral]; ok {
		if pt, err := rel.open(d, reasonAD(r.ID), r.ReasonSealed); err == nil {
			v.Reason = string(pt)
		}
	}
	return v
}

// reasonUnderNoteKey marks a rejection reason sealed under the vault's note key, not the subject's DEK:
// the reason of a request whose subject was erased (their key is gone), kept for the record of why it was
// refused. A value sealed under a DEK starts with its format byte (1), never this.
var reasonUnderNoteKey = []byte("note:")

// reasonAD is what a request's rejection reason is sealed to.
func reasonAD(id string) string { return "request_reason:" + id }

// sealReason seals a rejection reason under the subject's general DEK, or, if the subject was erased and
// that key is gone, under the note key (reasonUnderNoteKey): the reason is never dropped.
func (s *Requests) sealReason(tx Tx, r RequestRow, reason string) ([]byte, error) {
	d, err := tx.DEK(r.SubjectID, ClassGeneral)
	switch {
	case err == nil:
		return s.gate.seal(d, reasonAD(r.ID), []byte(reason))
	case errors.Is(err, ErrNotFound):
		sealed, err := s.gate.sealNote([]byte(reason), []byte(reasonAD(r.ID)))
		return append(slices.Clip(reasonUnderNoteKey), sealed...), err
	default:
		return nil, err
	}
}

// requestViews lists a subject's requests, newest first, reasons opened under rel.
func (s *Requests) requestViews(ctx context.Context, rel *release, rec SubjectRecord) ([]RequestView, error) {
	rows, err := s.store.Requests(ctx, RequestFilter{SubjectID: rec.ID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]RequestView, 0, len(rows))
	for _, r := range rows {
		out = append(out, s.requestView(rel, r, rec))
	}
	return out, nil
}

// MeRequests lists the caller's requests with their states, deadlines and any rejection reason.
func (s *Requests) MeRequests(ctx context.Context, a Access) ([]RequestView, int64, error) {
	a, err := s.meAccess(ctx, a, ActionRequestRead)
	if err != nil {
		return nil, 0, err
	}
	self, err := s.recordSelf(ctx, a, ActionRequestRead)
	if err != nil {
		return nil, 0, err
	}
	seq, rel, rec := self.seq, self.rel, self.rec
	views, err := s.requestViews(ctx, rel, rec)
	if err != nil {
		return nil, 0, internalErr("read requests", err)
	}
	return views, seq, nil
}

// QueueItem is a request in the compliance queue: the subject appears by pseudonym only.
type QueueItem struct {
	RequestView
	SubjectRef string
}

// RequestQueue is the compliance officer's queue (purpose compliance_audit), optionally by state or
// overdue only. Reading it is recorded.
func (s *Requests) RequestQueue(ctx context.Context, a Access, state string, overdueOnly bool) ([]QueueItem, int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionRequestRead); err != nil {
		return nil, 0, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionRequestRead, "", nil)
	if err != nil {
		return nil, 0, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceRequests, policies.ActRead) {
		return nil, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read the request queue for this purpose"))
	}
	if state != "" && !s.rules.ValidState(state) {
		return nil, 0, s.refuseInvalid(ctx, a, ActionRequestRead, "", Errorf(CodeInvalidArgument, "state must be received, verified, in_progress, completed, rejected or withdrawn"))
	}
	rows, err := s.store.Requests(ctx, RequestFilter{State: state, Limit: 1000})
	if err != nil {
		return nil, 0, internalErr("read requests", err)
	}
	// Which requests to show needs no decryption; their reasons are opened once the read is recorded.
	var shown []RequestRow
	var subjects []string
	now := s.now()
	for _, r := range rows {
		if overdueOnly && !s.rules.Overdue(r.DueAt, now, r.State) {
			continue
		}
		shown, subjects = append(shown, r), append(subjects, r.SubjectID)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "requests:"+strconv.Itoa(len(shown))
	rel, seq, err := s.gate.commit(ctx, nil, func(error) audit.Entry { return e }, subjects...)
	if err != nil {
		return nil, 0, internalErr("audit queue read", err)
	}
	var out []QueueItem
	recs := map[string]SubjectRecord{} // a subject with several requests is loaded once
	for _, r := range shown {
		rec, loaded := recs[r.SubjectID]
		if !loaded {
			rec, _ = s.activeSubject(ctx, r.SubjectID)
			recs[r.SubjectID] = rec
		}
		v := s.requestView(rel, r, rec)
		out = append(out, QueueItem{RequestView: v, SubjectRef: refFor(s.gate, r.SubjectID, rec.RefSalt)}) // the record is loaded: no second lookup
	}
	if out == nil {
		out = []QueueItem{}
	}
	return out, seq, nil
}

// TransitionRequest moves a request on (compliance officer, purpose compliance_audit): an illegal move is
// 409 conflict, a rejection without a reason 400. The reason, shown to the subject, is sealed under their
// DEK.
func (s *Requests) TransitionRequest(ctx context.Context, a Access, id, to, reason string) (RequestView, int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionRequestTransition); err != nil {
		return RequestView{}, 0, err
	}
	var subjectID string
	e, err := s.beginStaff(ctx, a, pol, ActionRequestTransition, "", nil)
	if err != nil {
		return RequestView{}, 0, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceRequests, policies.ActTransition) {
		return RequestView{}, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not move requests on"))
	}
	if !s.rules.ValidState(to) || to == RequestWithdrawn { // only the subject withdraws a request
		return RequestView{}, 0, s.refuseInvalid(ctx, a, ActionRequestTransition, "", Errorf(CodeInvalidArgument, "to must be verified, in_progress, completed or rejected"))
	}
	// Completing a deletion request performs the erasure through the gate first (its own entry), and the
	// completion says which entry fulfilled it.
	fulfilled := ""
	if to == RequestCompleted {
		if fulfilled, err = s.fulfil(ctx, a, pol, id, reason); err != nil {
			if ve, ok := err.(*Error); ok && ve.Code == CodeConflict && ve.AuditSeq == 0 {
				// Not fulfilled yet (no correction made, the subject erased): a refused move, on the record
				// like any other (it left no entry).
				return RequestView{}, 0, s.deny(ctx, e, statusConflict, "not_fulfilled request:"+recordedID(id)+" to:"+to, ve)
			}
			return RequestView{}, 0, err
		}
	}
	now := s.now().UTC()
	var row RequestRow
	var ruleErr error
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		subjectID = r.SubjectID
		if ruleErr = s.rules.Transition(r.State, to, reason); ruleErr != nil {
			return ruleErr
		}
		r.State, r.UpdatedAt = to, now
		if fulfilled != "" {
			r.Note = fulfilled
		}
		if reason != "" {
			if r.ReasonSealed, err = s.sealReason(tx, r, reason); err != nil {
				return err
			}
		}
		row = r
		if err := tx.PutRequest(r); err != nil {
			return err
		}
		if r.Type == RequestRestriction && to == RequestRejected {
			// A rejected restriction request lifts the restriction it set.
			_, err = s.consents.restrictionIn(tx, r.SubjectID, false, now)
		}
		return err
	}, func(changeErr error) audit.Entry {
		if subjectID != "" {
			e.SubjectRef = s.subjectRef(ctx, subjectID)
		}
		return moveEntry(e, changeErr, "request:"+recordedID(id)+" to:"+to)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return RequestView{}, seq, &Error{Code: CodeNotFound, Message: "no such request", AuditSeq: seq}
	case errors.Is(err, ErrIllegalTransition):
		return RequestView{}, seq, &Error{Code: CodeConflict, Message: "illegal transition for this request's state", AuditSeq: seq}
	case errors.Is(err, ErrReasonRequired):
		msg := "a rejection needs a reason (at most 1000 characters)"
		if to != "rejected" { // a long reason on another move was answered as a missing rejection reason
			msg = "a reason is at most 1000 characters"
		}
		return RequestView{}, seq, &Error{Code: CodeInvalidArgument, Message: msg, AuditSeq: seq}
	case err != nil:
		return RequestView{}, 0, internalErr("transition request", err)
	}
	rec, _ := s.activeSubject(ctx, row.SubjectID)
	v := s.requestView(nil, row, rec)
	if reason != "" && len(row.ReasonSealed) > 0 {
		v.Reason = reason // the officer's own words, just sealed: nothing to open
	}
	return v, seq, nil
}

// MeWithdrawRequest withdraws one of the caller's own requests that is not answered yet (DELETE
// /v1/me/requests/{id}): it leaves the officers' queue as withdrawn. Withdrawing a restriction request
// lifts the restriction and withdraws the subject's other open restriction requests with it, as lifting
// the restriction does (MeLiftRestriction): what they asked for has ended. A request of someone else is
// not found; an answered one is 409.
func (s *Requests) MeWithdrawRequest(ctx context.Context, a Access, id string) (RequestView, int64, error) {
	a, err := s.meAccess(ctx, a, ActionRequestWithdraw)
	if err != nil {
		return RequestView{}, 0, err
	}
	e, err := s.ownRequests(ctx, a, ActionRequestWithdraw)
	if err != nil {
		return RequestView{}, 0, err
	}
	restrictions, err := s.openRequests(ctx, a.Caller.Subject, RequestRestriction)
	if err != nil {
		return RequestView{}, 0, internalErr("read requests", err)
	}
	now := s.now().UTC()
	var row RequestRow
	var withdrawn []string
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		if r.SubjectID != a.Caller.Subject {
			return ErrNotFound // another person's request does not exist for this caller
		}
		if err := s.rules.Transition(r.State, RequestWithdrawn, ""); err != nil {
			return err
		}
		ids := []string{r.ID}
		if r.Type == RequestRestriction {
			ids = append(ids, restrictions...)
			if _, err := s.consents.restrictionIn(tx, r.SubjectID, false, now); err != nil {
				return err
			}
		}
		if withdrawn, err = s.withdrawIn(tx, ids, now); err != nil {
			return err
		}
		row, err = tx.Request(id)
		return err
	}, func(changeErr error) audit.Entry {
		return moveEntry(e, changeErr, withdrawalReason(recordedID(id), withdrawn))
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return RequestView{}, seq, &Error{Code: CodeNotFound, Message: "no such request", AuditSeq: seq}
	case errors.Is(err, ErrIllegalTransition):
		return RequestView{}, seq, &Error{Code: CodeConflict, Message: "the request is already answered: it can no longer be withdrawn", AuditSeq: seq}
	case err != nil:
		return RequestView{}, 0, internalErr("withdraw request", err)
	}
	return s.requestView(nil, row, SubjectRecord{}), seq, nil
}

// moveEntry finishes e, the entry of a request's move: reason names the request and the move, and a refused
// move says why it was refused.
func moveEntry(e audit.Entry, changeErr error, reason string) audit.Entry {
	e = finish(e, changeErr, nil)
	e.Reason = reason
	switch {
	case errors.Is(changeErr, ErrIllegalTransition):
		e.Status, e.Reason = 409, e.Reason+" illegal_transition"
	case errors.Is(changeErr, ErrReasonRequired):
		e.Status, e.Reason = 400, e.Reason+" reason_required"
	case errors.Is(changeErr, ErrNotFound):
		e.Reason += " request_not_found"
	case changeErr != nil:
		e.Reason += " " + reasonInternal
	}
	return e
}

// withdrawalReason is the reason of an entry that withdrew requests: the one asked for (if any), and every
// request the change withdrew, as the vault issued their ids.
func withdrawalReason(asked string, withdrawn []string) string {
	var b strings.Builder
	if asked != "" {
		b.WriteString("request:" + asked + " to:" + RequestWithdrawn)
	}
	for _, id := range withdrawn {
		if id != asked {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("withdrawn:" + id)
		}
	}
	return b.String()
}

// openRequests returns the ids of the subject's requests of type typ that are not answered yet.
func (s *Requests) openRequests(ctx context.Context, subject, typ string) ([]string, error) {
	rows, err := s.store.Requests(ctx, RequestFilter{SubjectID: subject, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range rows {
		if r.Type == typ && s.rules.Transition(r.State, RequestWithdrawn, "") == nil {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// withdrawIn withdraws, inside a change's transaction, those of ids that are still open (a request may
// have been answered since the ids were read), and returns the ids it withdrew.
func (s *Requests) withdrawIn(tx Tx, ids []string, now time.Time) ([]string, error) {
	var done []string
	for _, id := range ids {
		if slices.Contains(done, id) {
			continue
		}
		r, err := tx.Request(id)
		if err != nil {
			return nil, err
		}
		if s.rules.Transition(r.State, RequestWithdrawn, "") != nil {
			continue
		}
		r.State, r.UpdatedAt, r.Note = RequestWithdrawn, now, "withdrawn by the subject"
		if err := tx.PutRequest(r); err != nil {
			return nil, err
		}
		done = append(done, id)
	}
	return done, nil
}

// fulfil performs what completing a request means and returns the note that links the request to it: a
// deletion request erases its subject through the gate (or answers the legal hold). Requests of other types,
// and moves the workflow refuses, change nothing here.
func (s *Requests) fulfil(ctx context.Context, a Access, pol *policies.Set, id, reason string) (string, error) {
	rows, err := s.store.Requests(ctx, RequestFilter{ID: id, Limit: 1})
	if err != nil {
		return "", internalErr("read request", err)
	}
	if len(rows) != 1 || s.rules.Transition(rows[0].State, RequestCompleted, reason) != nil {
		return "", nil
	}
	r := rows[0]
	switch r.Type {
	case RequestCorrection:
		return s.fulfilCorrection(ctx, r)
	case RequestRestriction:
		return s.fulfilRestriction(ctx, r)
	case RequestDeletion:
	default:
		return "", nil
	}
	// The subject's own verified request is the basis of this erasure; the officer who completes it acts.
	on := a
	on.Purpose = PurposeDataSubjectRequest
	e := s.newEntry(ctx, on, pol, ActionSubjectErase, r.SubjectID)
	e.Categories = pol.Schema().Categories()
	receipt, err := s.profiles.erase(ctx, e, r.SubjectID)
	switch {
	case ErrorCode(err) == CodeNotFound:
		return "fulfilled: the subject was already erased", nil
	case err != nil:
		return "", err
	}
	note := "fulfilled: erased, audit entry " + strconv.FormatInt(receipt.AuditSeq, 10)
	if len(receipt.Held) > 0 {
		note += "; transaction records held by law until " + receipt.Held[0].Until.Format(time.DateOnly)
	}
	return note, nil
}

// fulfilRestriction names the entry that restricted processing: the request's own creation, which set the
// restriction in its transaction (and says whether the subject has lifted it since).
func (s *Requests) fulfilRestriction(ctx context.Context, r RequestRow) (string, error) {
	rec, err := s.activeSubject(ctx, r.SubjectID)
	if err != nil {
		return "", &Error{Code: CodeConflict, Message: "the subject is erased: reject the request with a reason"}
	}
	seq, err := s.review.requestCreated(ctx, rec, r)
	if err != nil {
		return "", internalErr("find restriction", err)
	}
	note := "fulfilled: processing restricted, audit entry " + strconv.FormatInt(seq, 10)
	if !restricted(rec) {
		note += "; lifted since"
	}
	return note, nil
}

// MeRelativeRequest files, from a deceased subject's account (a close relative signed in to it), a
// request by that relative (PIPL Art. 49) for the account's subject: as RecordRelativeRequest, and within
// the subject's daily request budget. It starts received: the token proves the account, not the kinship.
func (s *Requests) MeRelativeRequest(ctx context.Context, a Access, relationship, evidence string) (RequestView, int64, error) {
	a, err := s.meAccess(ctx, a, ActionRequestCreate)
	if err != nil {
		return RequestView{}, 0, err
	}
	return s.recordRelative(ctx, a, a.Caller.Subject, relationship, evidence, true)
}

// RecordRelativeRequest records, for staff (the requests permission of the declared purpose: a compliance
// officer or customer service), a request by a close relative of a deceased subject (PIPL Art. 49): the
// relationship, and the evidence (a death certificate, proof of kinship) sealed under the subject's key.
// It starts received; a compliance officer verifies it (received → verified) before anything is done.
func (s *Requests) RecordRelativeRequest(ctx context.Context, a Access, id, relationship, evidence string) (RequestView, int64, error) {
	return s.recordRelative(ctx, a, id, relationship, evidence, false)
}

// recordRelative is RecordRelativeRequest; budgeted also holds the subject to the daily request budget
// (a request filed with the subject's own token).
func (s *Requests) recordRelative(ctx context.Context, a Access, id, relationship, evidence string, budgeted bool) (RequestView, int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionRequestCreate); err != nil {
		return RequestView{}, 0, err
	}
	if !slices.Contains(relativeRelationships, relationship) || evidence == "" || utf8.RuneCountInString(evidence) > 1024 {
		return RequestView{}, 0, s.refuseInvalid(ctx, a, ActionRequestCreate, id, Errorf(CodeInvalidArgument,
			"relationship must be one of %s, and evidence is required (at most 1024 characters)", strings.Join(relativeRelationships, ", ")))
	}
	e, err := s.beginStaff(ctx, a, pol, ActionRequestCreate, id, nil)
	if err != nil {
		return RequestView{}, 0, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceRequests, policies.ActCreate) {
		return RequestView{}, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not record requests for this purpose"))
	}
	now := s.now().UTC()
	if budgeted {
		if err := s.overBudget(ctx, e, id, now); err != nil {
			return RequestView{}, 0, err
		}
	}
	row := RequestRow{ID: newID("req_"), SubjectID: id, Type: RequestDeceasedRelative, State: RequestReceived, Relationship: relationship,
		CreatedAt: now, DueAt: s.rules.DueAt(RequestDeceasedRelative, now).UTC(), UpdatedAt: now}
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := activeIn(tx, id); err != nil {
			return err
		}
		d, err := tx.DEK(id, ClassGeneral)
		if err != nil {
			return err
		}
		if row.EvidenceSealed, err = s.gate.seal(d, "request_evidence:"+row.ID, []byte(evidence)); err != nil {
			return err
		}
		return tx.PutRequest(row)
	}, func(changeErr error) audit.Entry {
		e.Reason = "request:" + RequestDeceasedRelative + " state:" + row.State + " relationship:" + relationship
		e = finish(e, changeErr, nil)
		if changeErr == nil {
			e.Status = statusCreated
		}
		return e
	})
	if errors.Is(err, ErrNotFound) {
		return RequestView{}, seq, &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq}
	}
	if err != nil {
		return RequestView{}, 0, internalErr("record request", err)
	}
	return s.requestView(nil, row, SubjectRecord{}), seq, nil
}

// fulfilCorrection links a correction request to the correction that fulfilled it: the newest allowed
// change of the subject's fields (by the subject or by staff) since the request was filed. A request with no
// such change cannot be completed (409): correct the data first, or reject the request with a reason.
func (s *Requests) fulfilCorrection(ctx context.Context, r RequestRow) (string, error) {
	rec, err := s.activeSubject(ctx, r.SubjectID)
	if err != nil {
		return "", &Error{Code: CodeConflict, Message: "the subject is erased: reject the request with a reason"}
	}
	seq, err := s.review.latestChange(ctx, rec, r.CreatedAt, ActionMeUpdate, ActionSubjectUpdate)
	if err != nil {
		return "", internalErr("find correction", err)
	}
	if seq == 0 {
		return "", &Error{Code: CodeConflict, Message: "no correction of the subject's data since the request: correct it first, or reject the request with a reason"}
	}
	return "fulfilled: corrected, audit entry " + strconv.FormatInt(seq, 10), nil
}
