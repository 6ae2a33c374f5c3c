package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Access requests (PIPL Art. 6, minimum necessary): a staff member asks for more than the role's baseline
// for a bounded case — categories or fields, named subjects, one purpose, a duration — someone else with an
// approver role decides, and an approved request is a grant that widens that requester's reads for those
// subjects and that purpose only, until it expires, is revoked or its reads run out. Every step is an audit
// entry; every read under a grant names it.

// Access request states.
const (
	AccessPending   = "pending"
	AccessApproved  = "approved"
	AccessDenied    = "denied"
	AccessExpired   = "expired"
	AccessRevoked   = "revoked"
	AccessExhausted = "exhausted"
)

// Actions on access requests.
const (
	ActionAccessRequest Action = "access.request"
	ActionAccessList    Action = "access.list"
	ActionAccessDecide  Action = "access.decide"
	ActionAccessRevoke  Action = "access.revoke"
	ActionAccessExpire  Action = "access.expire"
)

// Refusal reasons of reads under a grant (error.reason and the entry's reason).
const (
	ReasonOutsideGrant = "outside_grant"
	ReasonGrantExpired = "grant_expired"
)

// ReasonCategories are the stated reasons a request may give; the subject sees the category, never the
// justification's text. A request that names none states ReasonOther.
var ReasonCategories = []string{"fraud_investigation", "dispute", "study", "legal_request", ReasonOther}

// ReasonOther is the reason category of a request that states none.
const ReasonOther = "other"

// Limits of a request.
const (
	maxGrantSubjects     = 1000
	maxJustificationRune = 1000
)

// AccessRequestRow is an access request as stored. The justification is sealed (SealNote, bound to the
// request id); its hash is in the access.request entry.
type AccessRequestRow struct {
	ID                  string
	GrantID             string // set when approved
	State               string
	RequestedBy         string // the requester's token subject
	RequesterRoles      []policies.Role
	Team                string
	Purpose             policies.PurposeName
	Categories          []string
	Fields              []string
	Subjects            []string
	Audience            string // the audience Subjects were taken from, when the request named one
	ReasonCategory      string
	JustificationSealed []byte
	Duration            time.Duration // asked for; an approval may shorten it
	MaxReads            int           // 0: no limit
	Reads               int
	Approvers           []policies.Role // from grants.json when the request was made
	CreatedAt           time.Time
	DecidedBy           string
	DecidedAt           *time.Time
	Note                string
	ExpiresAt           *time.Time
	EndedAt             *time.Time // revoked, expired or exhausted
}

// AccessFilter selects access requests; zero fields match all.
type AccessFilter struct {
	ID, GrantID, State, RequestedBy string
	// After names the request before the page, in the list's order ("" from the newest); a request that
	// does not exist is ErrNotFound.
	After string
	Limit int
}

// AccessStore reads access requests, newest first.
type AccessStore interface {
	AccessRequests(ctx context.Context, f AccessFilter) ([]AccessRequestRow, error)
}

// AccessTx changes access requests inside the writer's transaction.
type AccessTx interface {
	// PutAccessRequest inserts or replaces a request.
	PutAccessRequest(r AccessRequestRow) error
	// AccessRequest reads a request inside the transaction; ErrNotFound if there is none.
	AccessRequest(id string) (AccessRequestRow, error)
}

// AccessRequestInput is a request as a requester files it: for Subjects, or for the treated members of
// Audience (one of the two).
type AccessRequestInput struct {
	Categories, Fields, Subjects []string
	Audience                     string
	Justification                string
	ReasonCategory               string
	Duration                     string
	MaxReads                     int
}

// AccessRequestView is a request as its requester and its approvers see it.
type AccessRequestView struct {
	ID             string
	State          string
	Purpose        policies.PurposeName
	Categories     []string
	Fields         []string
	Subjects       []string // nil for a request by audience: its members stay inside the vault
	SubjectCount   int
	Audience       string
	RequestedBy    string
	ReasonCategory string
	Justification  string
	Duration       time.Duration
	MaxReads       int
	Reads          int
	CreatedAt      time.Time
	DecidedBy      string
	DecidedAt      *time.Time
	Note           string
	GrantID        string
	ExpiresAt      *time.Time
	AuditSeq       int64 // the entry of the change that returned this view (X-Audit-Seq); 0 in listings
}

// AccessRequests is the access-request workflow; it shares the enforcement point's core.
type AccessRequests struct {
	*core
	store     AccessStore
	audiences AudienceStore // nil: requests cannot name an audience
}

// AccessRequests returns the service.
func (s *Service) AccessRequests() *AccessRequests { return s.access }

// Request files a request: the purpose is the declared one; what is asked must be within an entry of
// grants.json for one of the caller's roles (not the role's baseline), for at most its duration.
func (s *AccessRequests) Request(ctx context.Context, a Access, in AccessRequestInput) (AccessRequestView, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionAccessRequest); err != nil {
		return AccessRequestView{}, err
	}
	for _, c := range in.Categories {
		if !policies.IsCategory(c) { // client text: refused before an entry could name it
			return AccessRequestView{}, s.refuseInvalid(ctx, a, ActionAccessRequest, "",
				Errorf(CodeInvalidArgument, "categories must be among %v", policies.Categories()))
		}
	}
	id := newID("acr_")
	a.Justification = in.Justification // sealed beside the entry, its hash inside
	e, err := s.beginStaff(ctx, a, pol, ActionAccessRequest, "", nil)
	if err != nil {
		return AccessRequestView{}, err
	}
	e.Categories = slices.Concat(in.Categories, categoriesOf(pol.Schema(), in.Fields))
	var entry *policies.Grantable
	for _, g := range pol.Grantable(a.Caller.Roles, a.Purpose) {
		if g.Covers(in.Categories, in.Fields) {
			entry = &g
			break
		}
	}
	if entry == nil {
		return AccessRequestView{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not request these categories or fields for this purpose (grants.json)"))
	}
	invalid := func(format string, args ...any) error {
		return s.refuseInvalid(ctx, a, ActionAccessRequest, "", Errorf(CodeInvalidArgument, format, args...))
	}
	if in.ReasonCategory == "" {
		in.ReasonCategory = ReasonOther
	}
	d, err := policies.ParseDuration(in.Duration)
	d = d.Truncate(time.Second) // as it is stored, and so as it is echoed
	switch {
	case err != nil || d <= 0:
		return AccessRequestView{}, invalid("duration must be a Go duration or whole days, like 4h or 7d")
	case d < minGrantDuration:
		return AccessRequestView{}, invalid("duration must be at least %s", minGrantDuration)
	case d > entry.MaxDuration:
		return AccessRequestView{}, invalid("duration exceeds the %s this request may last", entry.MaxDuration)
	case in.Audience != "" && len(in.Subjects) > 0:
		return AccessRequestView{}, invalid("name subjects or an audience, not both")
	case in.Audience == "" && (len(in.Subjects) == 0 || len(in.Subjects) > maxGrantSubjects):
		return AccessRequestView{}, invalid("subjects must name 1 to %d subjects", maxGrantSubjects)
	case in.Justification == "" || !utf8.ValidString(in.Justification) || utf8.RuneCountInString(in.Justification) > maxJustificationRune:
		return AccessRequestView{}, invalid("justification is required: valid UTF-8 of at most %d characters", maxJustificationRune)
	case !slices.Contains(ReasonCategories, in.ReasonCategory):
		return AccessRequestView{}, invalid("reason_category must be one of %v", ReasonCategories)
	case in.MaxReads < 0:
		return AccessRequestView{}, invalid("max_reads must not be negative")
	}
	if in.Audience != "" {
		members, err := s.audienceSubjects(ctx, in.Audience)
		if errors.Is(err, ErrNotFound) {
			return AccessRequestView{}, invalid("no such audience")
		}
		if err != nil {
			return AccessRequestView{}, internalErr("read audience", err)
		}
		if len(members) == 0 || len(members) > maxGrantSubjects {
			return AccessRequestView{}, invalid("the audience has %d treated members; a request may name 1 to %d subjects", len(members), maxGrantSubjects)
		}
		in.Subjects = members
	}
	subjects := slices.Clone(in.Subjects)
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	for _, id := range subjects {
		if !plausibleID(id) {
			return AccessRequestView{}, invalid("subjects holds a malformed id")
		}
	}
	sealed, err := s.gate.sealNote([]byte(in.Justification), []byte(id))
	if err != nil {
		return AccessRequestView{}, internalErr("seal justification", err)
	}
	row := AccessRequestRow{ID: id, State: AccessPending, RequestedBy: a.Caller.Subject, RequesterRoles: a.Caller.Roles, Team: a.Caller.Team,
		Purpose: a.Purpose, Categories: in.Categories, Fields: in.Fields, Subjects: subjects, Audience: in.Audience, ReasonCategory: in.ReasonCategory,
		JustificationSealed: sealed, Duration: d, MaxReads: in.MaxReads, Approvers: entry.Approvers, CreatedAt: s.now().UTC()}
	e.Decision, e.Status = audit.Allow, statusCreated
	e.Reason = "access_request:" + id + " subjects:" + strconv.Itoa(len(subjects)) + " reason:" + in.ReasonCategory
	if in.Audience != "" {
		e.Reason += " audience:" + in.Audience
	}
	seq, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutAccessRequest(row) }, func(error) audit.Entry { return e })
	if err != nil {
		return AccessRequestView{}, internalErr("record access request", err)
	}
	return s.changed(row, seq), nil
}

// audienceSubjects returns the subject ids of an audience's treated members (the held-out ones are not
// to be contacted, so nobody asks for their data for the campaign); ErrNotFound for an unknown audience.
func (s *AccessRequests) audienceSubjects(ctx context.Context, id string) ([]string, error) {
	if s.audiences == nil {
		return nil, ErrNotFound
	}
	if _, err := s.audiences.Audience(ctx, id); err != nil {
		return nil, err
	}
	var out []string
	for after := ""; ; {
		page, err := s.audiences.AudienceMembers(ctx, id, after, 1000)
		if err != nil || len(page) == 0 {
			return out, err
		}
		for _, m := range page {
			if !m.Holdout {
				out = append(out, m.SubjectID)
			}
		}
		if len(out) > maxGrantSubjects {
			return out, nil // enough to refuse
		}
		after = page[len(page)-1].Ref
	}
}

// changed is the view a change answers with: the row as its requester sees it, and the change's entry.
func (s *AccessRequests) changed(r AccessRequestRow, seq int64) AccessRequestView {
	v := s.view(r, true)
	v.AuditSeq = seq
	return v
}

// sealedTextPrefix marks free text stored sealed in a text column: the prefix, then the sealed bytes in
// base64 (an approver's note may name a person; only the vault's key opens it, as a justification).
const sealedTextPrefix = "sealed:"

// sealText seals a request's free text (bound to the request id) for a text column; "" stays "".
func (s *AccessRequests) sealText(text, id string) (string, error) {
	if text == "" {
		return "", nil
	}
	sealed, err := s.gate.sealNote([]byte(text), []byte(id+":note"))
	if err != nil {
		return "", err
	}
	return sealedTextPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// openText opens what sealText stored; text stored before notes were sealed is returned as it is.
func (s *AccessRequests) openText(stored, id string) string {
	b64, ok := strings.CutPrefix(stored, sealedTextPrefix)
	if !ok {
		return stored
	}
	sealed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return ""
	}
	pt, err := s.gate.openNote(sealed, []byte(id+":note"))
	if err != nil {
		return ""
	}
	return string(pt)
}

// view is a row as shown; the justification is opened only for its requester and approvers (showText).
func (s *AccessRequests) view(r AccessRequestRow, showText bool) AccessRequestView {
	v := AccessRequestView{ID: r.ID, State: r.State, Purpose: r.Purpose, Categories: r.Categories, Fields: r.Fields, Subjects: r.Subjects,
		SubjectCount: len(r.Subjects), Audience: r.Audience,
		RequestedBy: r.RequestedBy, ReasonCategory: r.ReasonCategory, Duration: r.Duration, MaxReads: r.MaxReads, Reads: r.Reads,
		CreatedAt: r.CreatedAt, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, Note: s.openText(r.Note, r.ID), GrantID: r.GrantID, ExpiresAt: r.ExpiresAt}
	if r.Audience != "" {
		v.Subjects = nil // an audience's members are known outside the vault only by their per-audience refs
	}
	if showText {
		if pt, err := s.gate.openNote(r.JustificationSealed, []byte(r.ID)); err == nil {
			v.Justification = string(pt)
		}
	}
	return v
}

// approves reports whether a holds one of the request's approver roles.
func approves(a Access, r AccessRequestRow) bool {
	return slices.ContainsFunc(a.Caller.Roles, func(x policies.Role) bool { return slices.Contains(r.Approvers, x) })
}

// MaxAccessRequestPage is the most requests one page of List holds, and a page's size when none is asked.
const MaxAccessRequestPage = 500

// accessListChunk is how many requests List reads from the store at a time while it fills a page.
const accessListChunk = 500

// AccessRequestPage is one page of List, newest first; Next is the cursor of the page after it, "" on the
// last.
type AccessRequestPage struct {
	Requests []AccessRequestView
	Next     string
	AuditSeq int64
}

// List returns the requests the caller filed (mine) or may decide, newest first, in one state or all, a page
// of limit (1 to MaxAccessRequestPage; otherwise the most) after cursor ("" for the first page). An approved
// request whose time ran out is recorded as expired first. The store is read in chunks until the page is
// full, so the requests a caller may see are all reachable however many others there are (a list of the
// newest 1,000 requests of everyone, filtered afterwards, let anyone who filed enough push an approver's
// queue and live grants out of sight).
func (s *AccessRequests) List(ctx context.Context, a Access, state string, mine bool, cursor string, limit int) (AccessRequestPage, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, ActionAccessList, "", nil)
	if err != nil {
		return AccessRequestPage{}, err
	}
	switch state {
	case "", AccessPending, AccessApproved, AccessDenied, AccessExpired, AccessRevoked, AccessExhausted:
	default:
		return AccessRequestPage{}, s.refuseInvalid(ctx, a, ActionAccessList, "", Errorf(CodeInvalidArgument, "state must be pending, approved, denied, expired, revoked or exhausted"))
	}
	if limit <= 0 || limit > MaxAccessRequestPage {
		limit = MaxAccessRequestPage
	}
	f := AccessFilter{State: state, After: cursor, Limit: accessListChunk}
	if state == AccessApproved || state == AccessExpired {
		f.State = "" // an approved request whose time ran out is expired, though not yet recorded so
	}
	if mine {
		f.RequestedBy = a.Caller.Subject
	}
	var page AccessRequestPage
	for full := false; !full; {
		rows, err := s.store.AccessRequests(ctx, f)
		if errors.Is(err, ErrNotFound) {
			return AccessRequestPage{}, s.refuseInvalid(ctx, a, ActionAccessList, "", Errorf(CodeInvalidArgument, "bad cursor"))
		}
		if err != nil {
			return AccessRequestPage{}, internalErr("read access requests", err)
		}
		for _, r := range rows {
			own := r.RequestedBy == a.Caller.Subject
			if !own && (mine || !approves(a, r)) {
				continue
			}
			if r.State == AccessApproved && !s.now().Before(*r.ExpiresAt) {
				if r, err = s.expire(ctx, a, r); err != nil {
					return AccessRequestPage{}, err
				}
			}
			if state != "" && r.State != state {
				continue
			}
			if len(page.Requests) == limit { // one more shown after the page: it is not the last
				page.Next, full = page.Requests[limit-1].ID, true
				break
			}
			page.Requests = append(page.Requests, s.view(r, true))
		}
		if len(rows) < f.Limit {
			break
		}
		f.After = rows[len(rows)-1].ID
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "access_requests:"+strconv.Itoa(len(page.Requests))
	page.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return AccessRequestPage{}, internalErr("audit access request list", err)
	}
	return page, nil
}

// minGrantDuration is the shortest time a request may ask for or a decision grant. Durations are stored in
// whole seconds: "500ms" was accepted and echoed, stored as 0s, and approved as a grant dead on arrival.
const minGrantDuration = time.Minute

// errAccessState is a transition the request's state does not allow (409).
var errAccessState = errors.New("access request state")

// Decide approves or denies a pending request. The decider must hold an approver role and must not be
// the requester (four eyes, whatever roles they hold); an approval may shorten the duration.
func (s *AccessRequests) Decide(ctx context.Context, a Access, id, decision, note, duration string) (AccessRequestView, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, ActionAccessDecide, "", nil)
	if err != nil {
		return AccessRequestView{}, err
	}
	if decision != "approve" && decision != "deny" {
		return AccessRequestView{}, s.refuseInvalid(ctx, a, ActionAccessDecide, "", Errorf(CodeInvalidArgument, "decision must be approve or deny"))
	}
	if utf8.RuneCountInString(note) > maxJustificationRune || !utf8.ValidString(note) {
		return AccessRequestView{}, s.refuseInvalid(ctx, a, ActionAccessDecide, "", Errorf(CodeInvalidArgument, "note must be valid UTF-8 of at most %d characters", maxJustificationRune))
	}
	r, err := s.one(ctx, id)
	if err != nil {
		return AccessRequestView{}, s.deny(ctx, e, statusNotFound, "access_request_not_found", Errorf(CodeNotFound, "no such access request"))
	}
	e.Reason = "access_request:" + id
	// A refusal names the request too (deny replaces the reason): an officer reviewing four-eyes
	// violations needs to see which request was targeted.
	switch {
	case r.RequestedBy == a.Caller.Subject:
		return AccessRequestView{}, s.deny(ctx, e, statusForbidden, "four_eyes "+e.Reason, Errorf(CodePermissionDenied, "a request is decided by someone other than its requester"))
	case !approves(a, r):
		return AccessRequestView{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy+" "+e.Reason, Errorf(CodePermissionDenied, "your roles may not decide this request"))
	}
	d := r.Duration
	if duration != "" {
		if d, err = policies.ParseDuration(duration); err != nil || d < minGrantDuration || d > r.Duration {
			return AccessRequestView{}, s.refuseInvalid(ctx, a, ActionAccessDecide, "", Errorf(CodeInvalidArgument, "duration must be at least %s and no longer than the one asked for", minGrantDuration))
		}
		d = d.Truncate(time.Second)
	}
	sealedNote, err := s.sealText(note, id) // once the decision may be made
	if err != nil {
		return AccessRequestView{}, internalErr("seal decision note", err)
	}
	now := s.now().UTC()
	var out AccessRequestRow
	change := func(tx Tx) error {
		cur, err := tx.AccessRequest(id)
		if err != nil {
			return err
		}
		if cur.State != AccessPending {
			return errAccessState
		}
		cur.DecidedBy, cur.DecidedAt, cur.Note = a.Caller.Subject, &now, sealedNote
		if decision == "approve" {
			exp := now.Add(d)
			cur.State, cur.GrantID, cur.ExpiresAt, cur.Duration = AccessApproved, newID("grt_"), &exp, d
		} else {
			cur.State = AccessDenied
		}
		out = cur
		return tx.PutAccessRequest(cur)
	}
	seq, err := s.seq.Commit(ctx, change, func(cerr error) audit.Entry {
		if cerr != nil {
			e.Decision, e.Status = audit.Deny, statusConflict
			return e
		}
		e.Decision, e.Status = audit.Allow, statusOK
		e.Reason += " decision:" + out.State
		e.GrantID = out.GrantID
		return e
	})
	switch {
	case errors.Is(err, errAccessState):
		return AccessRequestView{}, Errorf(CodeConflict, "the request was already decided")
	case err != nil:
		return AccessRequestView{}, internalErr("decide access request", err)
	}
	return s.changed(out, seq), nil
}

// Revoke ends an approved (or still pending) request at once: its requester or an approver may.
func (s *AccessRequests) Revoke(ctx context.Context, a Access, id string) (AccessRequestView, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, ActionAccessRevoke, "", nil)
	if err != nil {
		return AccessRequestView{}, err
	}
	r, err := s.one(ctx, id)
	if err != nil {
		return AccessRequestView{}, s.deny(ctx, e, statusNotFound, "access_request_not_found", Errorf(CodeNotFound, "no such access request"))
	}
	e.Reason, e.GrantID = "access_request:"+id, r.GrantID
	if r.RequestedBy != a.Caller.Subject && !approves(a, r) {
		return AccessRequestView{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy+" "+e.Reason, Errorf(CodePermissionDenied, "only the requester or an approver may revoke"))
	}
	now := s.now().UTC()
	if r.State == AccessApproved && !now.Before(*r.ExpiresAt) {
		if _, err := s.expire(ctx, a, r); err != nil { // its time ran out first: recorded as such
			return AccessRequestView{}, err
		}
	}
	var out AccessRequestRow
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		cur, err := tx.AccessRequest(id)
		if err != nil {
			return err
		}
		if cur.State != AccessApproved && cur.State != AccessPending {
			return errAccessState
		}
		cur.State, cur.EndedAt = AccessRevoked, &now
		out = cur
		return tx.PutAccessRequest(cur)
	}, func(cerr error) audit.Entry {
		if cerr != nil {
			e.Decision, e.Status = audit.Deny, statusConflict
			return e
		}
		e.Decision, e.Status = audit.Allow, statusOK
		return e
	})
	switch {
	case errors.Is(err, errAccessState):
		return AccessRequestView{}, Errorf(CodeConflict, "the request is not pending or approved")
	case err != nil:
		return AccessRequestView{}, internalErr("revoke access request", err)
	}
	return s.changed(out, seq), nil
}

// reasonCategory is the stated reason category of the request behind a grant ("" if unknown).
func (s *AccessRequests) reasonCategory(ctx context.Context, grant string) string {
	rows, err := s.store.AccessRequests(ctx, AccessFilter{GrantID: grant, Limit: 1})
	if err != nil || len(rows) == 0 {
		return ""
	}
	return rows[0].ReasonCategory
}

// one reads a request by id.
func (s *AccessRequests) one(ctx context.Context, id string) (AccessRequestRow, error) {
	rows, err := s.store.AccessRequests(ctx, AccessFilter{ID: id, Limit: 1})
	if err != nil || len(rows) == 0 {
		return AccessRequestRow{}, ErrNotFound
	}
	return rows[0], nil
}

// expire records that an approved request's time ran out (access.expire), once; it returns the row as
// it now stands.
func (s *AccessRequests) expire(ctx context.Context, a Access, r AccessRequestRow) (AccessRequestRow, error) {
	e := s.newEntry(ctx, a, s.Policy(), ActionAccessExpire, "")
	e.Reason, e.GrantID = "access_request:"+r.ID, r.GrantID
	out := r
	_, err := s.seq.Commit(ctx, func(tx Tx) error {
		cur, err := tx.AccessRequest(r.ID)
		if err != nil {
			return err
		}
		if cur.State != AccessApproved {
			out = cur
			return errAccessState // already ended: nothing to record
		}
		cur.State, cur.EndedAt = AccessExpired, cur.ExpiresAt
		out = cur
		return tx.PutAccessRequest(cur)
	}, func(cerr error) audit.Entry {
		e.Decision, e.Status = audit.Allow, statusOK
		if cerr != nil {
			e.Status, e.Reason = statusConflict, e.Reason+" already_ended"
		}
		return e
	})
	if err != nil && !errors.Is(err, errAccessState) {
		return r, internalErr("expire access request", err)
	}
	return out, nil
}

// grantFor checks, before any subject is looked up, the grant a read names (a.Grant): it must be the
// caller's own, for the declared purpose, approved and in time, and cover subject (unless subject is "":
// a read of the grant's rows). It returns the row or a recorded refusal (outside_grant, grant_expired).
func (s *AccessRequests) grantFor(ctx context.Context, a Access, e audit.Entry, subject string) (AccessRequestRow, error) {
	e.GrantID = recordedGrant(a.Grant)
	var rows []AccessRequestRow
	if e.GrantID != "" {
		var err error
		if rows, err = s.store.AccessRequests(ctx, AccessFilter{GrantID: a.Grant, Limit: 1}); err != nil {
			return AccessRequestRow{}, internalErr("read grant", err)
		}
	}
	// The requester's own grant: the same person, for the purpose asked for, in a role they asked in (a
	// grant made to a customer-service agent is not the same person's as a data steward's).
	if len(rows) == 0 || rows[0].RequestedBy != a.Caller.Subject || rows[0].Purpose != a.Purpose ||
		!slices.ContainsFunc(a.Caller.Roles, func(r policies.Role) bool { return slices.Contains(rows[0].RequesterRoles, r) }) {
		return AccessRequestRow{}, s.deny(ctx, e, statusForbidden, ReasonOutsideGrant,
			&Error{Code: CodePermissionDenied, Reason: ReasonOutsideGrant, Message: "no grant of yours by that id for this purpose and role"})
	}
	r := rows[0]
	if r.State == AccessApproved && !s.now().Before(*r.ExpiresAt) {
		var err error
		if r, err = s.expire(ctx, a, r); err != nil {
			return AccessRequestRow{}, err
		}
	}
	if r.State != AccessApproved {
		return AccessRequestRow{}, s.deny(ctx, e, statusForbidden, ReasonGrantExpired,
			&Error{Code: CodePermissionDenied, Reason: ReasonGrantExpired, Message: "the grant has expired, was revoked or has no reads left"})
	}
	// What may be asked is policy: a grants.json reloaded without the entry that allowed this grant ends its
	// use at once (it went on reading until it expired), as an explicit deny rule already did.
	if !slices.ContainsFunc(s.Policy().Grantable(r.RequesterRoles, r.Purpose), func(g policies.Grantable) bool { return g.Covers(r.Categories, r.Fields) }) {
		return AccessRequestRow{}, s.deny(ctx, e, statusForbidden, ReasonGrantExpired,
			&Error{Code: CodePermissionDenied, Reason: ReasonGrantExpired, Message: "the grant is no longer allowed by grants.json"})
	}
	if _, ok := slices.BinarySearch(r.Subjects, subject); !ok && subject != "" {
		return AccessRequestRow{}, s.deny(ctx, e, statusForbidden, ReasonOutsideGrant,
			&Error{Code: CodePermissionDenied, Reason: ReasonOutsideGrant, Message: "the subject is outside the grant"})
	}
	return r, nil
}

// recordedGrant is the grant id an entry may name: a grant id as the vault issues them (newID("grt_")), or
// "" for any other text a client sent (X-Access-Grant, a path), which is never written into the trail.
func recordedGrant(id string) string {
	if strings.HasPrefix(id, "grt_") && issued(id) {
		return id
	}
	return ""
}

// widen adds to the role's field grants what the grant covers: its fields and the fields of its
// categories, in full — but never a field an explicit deny rule of one of the caller's roles refuses for the
// purpose (a deny wins over every allow, a grant's too).
func widen(grants map[string]policies.Grant, pol *policies.Set, a Access, r AccessRequestRow) map[string]policies.Grant {
	out := make(map[string]policies.Grant, len(grants)+len(r.Fields))
	for k, v := range grants {
		out[k] = v
	}
	full := policies.Grant{Mask: policies.MaskFull}
	add := func(field string) {
		if !pol.Denied(a.Caller.Roles, a.Purpose, policies.FieldObject(field), policies.ActRead) {
			out[field] = full
		}
	}
	for _, f := range r.Fields {
		add(f)
	}
	for _, c := range r.Categories {
		for _, f := range pol.Schema().FieldsIn(c) {
			add(f.Name)
		}
	}
	return out
}

// countRead is the change that spends one of a grant's reads inside the read's own transaction, so that
// concurrent reads never exceed max_reads; the last one ends the grant (exhausted).
func countRead(id string, now time.Time) func(Tx) error {
	return func(tx Tx) error {
		cur, err := tx.AccessRequest(id)
		if err != nil {
			return err
		}
		if cur.State != AccessApproved || !now.Before(*cur.ExpiresAt) || (cur.MaxReads > 0 && cur.Reads >= cur.MaxReads) {
			return errAccessState
		}
		cur.Reads++
		if cur.MaxReads > 0 && cur.Reads == cur.MaxReads {
			cur.State, cur.EndedAt = AccessExhausted, &now
		}
		return tx.PutAccessRequest(cur)
	}
}
