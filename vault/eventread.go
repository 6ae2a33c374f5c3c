package vault

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// ActionEventRead records a read of a subject's collected events.
const ActionEventRead Action = "event.read"

// EventQuery selects a page of one subject's events: one category or all, a time window, a cursor.
type EventQuery struct {
	Category     string
	Since, Until time.Time
	Cursor       string // the id of the last event of the previous page
	Limit        int    // 1 to 500, default 100
}

// EventPage is a page of decrypted events, oldest first, and the categories withheld with their reason.
type EventPage struct {
	Events   []EventView
	Withheld []Withheld // Field holds the category
	Next     string
	AuditSeq int64
}

// SubjectEvents returns a page of a subject's events in the categories the caller may read for the
// declared purpose — the role's baseline, widened by an approved grant (a.Grant) for its subjects — each
// category also under the subject's legal basis at this moment (consent, restriction, objection,
// retention), as a field read is. A read under a grant that releases at least one event spends one read.
func (s *Ingestion) SubjectEvents(ctx context.Context, a Access, id string, q EventQuery) (EventPage, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionEventRead)
	if err != nil {
		return EventPage{}, err
	}
	cats := policies.EventCategories()
	if q.Category != "" {
		if !slices.Contains(cats, q.Category) {
			return EventPage{}, s.refuseInvalid(ctx, a, ActionEventRead, id, Errorf(CodeInvalidArgument, "category must be one of %v", cats))
		}
		cats = []string{q.Category}
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	e, err := s.beginStaff(ctx, a, pol, ActionEventRead, id, nil)
	if err != nil {
		return EventPage{}, err
	}
	e.Categories = cats
	var allowed []string
	for _, c := range cats {
		if pol.Allowed(a.Caller.Roles, a.Purpose, policies.Object(c), policies.ActRead) {
			allowed = append(allowed, c)
		}
	}
	var grant *AccessRequestRow
	if a.Grant != "" {
		if purpose.Tags == policies.TagsPopulation {
			// A purpose that works on aggregates (analytics: "no individual results are shown to analysts")
			// sees no one: a study's grant gives pseudonymous rows keyed per grant (GET /v1/grants/{id}/rows),
			// never a person's identified events.
			e.GrantID = recordedGrant(a.Grant)
			return EventPage{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
				Errorf(CodePermissionDenied, "an analytics grant gives pseudonymous rows only: GET /v1/grants/{id}/rows"))
		}
		g, err := s.access.grantFor(ctx, a, e, id)
		if err != nil {
			return EventPage{}, err
		}
		grant, e.GrantID = &g, g.GrantID
		for _, c := range cats {
			// What the grant adds, unless an explicit deny of one of the caller's roles refuses it.
			if slices.Contains(g.Categories, c) && !slices.Contains(allowed, c) &&
				!pol.Denied(a.Caller.Roles, a.Purpose, policies.Object(c), policies.ActRead) {
				allowed = append(allowed, c)
			}
		}
	}
	if len(allowed) == 0 {
		return EventPage{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not read these events for this purpose"))
	}
	guard := s.seq.Guard(id)
	rec, err := s.activeSubject(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return EventPage{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
		}
		return EventPage{}, internalErr("read subject", err)
	}
	ok, withheld, err := s.eventBasis(&e, purpose, rec, a, allowed)
	if err != nil {
		return EventPage{}, s.keyUnavailable(ctx, e, err)
	}
	for _, c := range cats {
		if !slices.Contains(allowed, c) {
			withheld = append(withheld, Withheld{Field: c, Reason: ReasonNotPermitted})
		}
	}
	// Select the page on what is stored in the clear (category, time, id); nothing opens before the entry.
	var page []StoredEvent
	var next string
	passed := q.Cursor == ""
	err = s.events.Events(ctx, id, func(ev StoredEvent) error {
		if !passed {
			passed = ev.ID == q.Cursor
			return nil
		}
		if !slices.Contains(ok, ev.Category) || (!q.Since.IsZero() && ev.TS.Before(q.Since)) || (!q.Until.IsZero() && !ev.TS.Before(q.Until)) {
			return nil
		}
		if _, held := rec.DEKs[ev.Class]; !held {
			return nil // shredded
		}
		if len(page) == q.Limit {
			next = page[len(page)-1].ID
			return errPageFull
		}
		page = append(page, ev)
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return EventPage{}, internalErr("read events", err)
	}
	if !passed {
		// No event of the subject's has the cursor's id: an empty page would read as the end of the list.
		return EventPage{}, s.refuseInvalid(ctx, a, ActionEventRead, id, Errorf(CodeInvalidArgument, "bad cursor"))
	}
	slices.SortFunc(withheld, func(x, y Withheld) int { return cmpString(x.Field, y.Field) })
	e.FieldsWithheld = withheldNames(withheld)
	e.Decision = audit.DecisionFor(len(ok), len(withheld))
	if len(ok) > 0 && len(page) == 0 && len(withheld) == 0 {
		e.Decision = audit.Allow
	}
	e.Status, e.Reason = statusOK, "events:"+strconv.Itoa(len(page))
	var rel *release
	if grant != nil && len(page) > 0 {
		rel, err = s.gate.authorizeWith(ctx, guard, countRead(grant.ID, s.now()), func(cerr error) audit.Entry {
			if cerr != nil {
				d := e
				d.Decision, d.Status, d.Reason = audit.Deny, statusForbidden, ReasonGrantExpired
				return d
			}
			return e
		})
		if errors.Is(err, errAccessState) {
			return EventPage{}, &Error{Code: CodePermissionDenied, Reason: ReasonGrantExpired, Message: "the grant has expired, was revoked or has no reads left"}
		}
	} else {
		rel, err = s.gate.authorize(ctx, guard, e)
	}
	if errors.Is(err, ErrSuperseded) {
		return EventPage{}, &Error{Code: CodeUnavailable, Message: "the subject is changing too fast to be read; try again", Err: err}
	}
	if err != nil {
		return EventPage{}, internalErr("audit event read", err)
	}
	out := EventPage{Events: make([]EventView, 0, len(page)), Withheld: withheld, Next: next, AuditSeq: rel.seq}
	for _, ev := range page {
		v, err := openEvent(rel, rec, ev)
		if err != nil {
			return EventPage{}, internalErr("open event", err)
		}
		out.Events = append(out.Events, v)
	}
	return out, nil
}

// errPageFull stops an event stream once a page is full.
var errPageFull = errors.New("page full")

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// eventBasis splits event categories into those the subject's legal basis allows for purpose now and
// those withheld with the reason, as decide does for fields; ErrKEKMissing if the age rule needs a birth
// date this node cannot open (nothing is decided).
func (s *core) eventBasis(e *audit.Entry, purpose policies.Purpose, rec SubjectRecord, a Access, cats []string) ([]string, []Withheld, error) {
	now := s.now()
	var withheld []Withheld
	all := func(reason string) ([]string, []Withheld, error) {
		for _, c := range cats {
			withheld = append(withheld, Withheld{Field: c, Reason: reason})
		}
		return nil, withheld, nil
	}
	switch {
	case retentionExpired(purpose, rec, now):
		return all(ReasonRetentionExpired)
	case restricted(rec):
		return all(ReasonRestricted)
	case objected(rec, purpose):
		return all(ReasonObjection)
	}
	q := consent.Query{Purpose: purpose, Categories: cats, Records: rec.Consents, Now: now, Recipient: a.Recipient}
	if purpose.NeedsConsent() {
		var err error
		if q, err = s.withAge(q, e, rec); err != nil {
			return nil, nil, err
		}
	}
	basis := consent.Evaluate(q)
	var ok []string
	for _, c := range cats {
		if b := basis[c]; b.OK {
			ok = append(ok, c)
			e.ConsentIDs = append(e.ConsentIDs, b.ConsentIDs...)
		} else {
			withheld = append(withheld, Withheld{Field: c, Reason: b.Reason})
		}
	}
	slices.Sort(e.ConsentIDs)
	e.ConsentIDs = slices.Compact(e.ConsentIDs)
	return ok, withheld, nil
}

// openEvent decrypts one stored event under rel.
func openEvent(rel *release, rec SubjectRecord, ev StoredEvent) (EventView, error) {
	return openEventOf(rel, rec, ev, nil)
}

// openEventOf is openEvent with only the attributes in attrs (all if nil).
func openEventOf(rel *release, rec SubjectRecord, ev StoredEvent, attrs map[string]bool) (EventView, error) {
	v := EventView{ID: ev.ID, Type: ev.Type, Category: ev.Category, TS: ev.TS, Source: ev.Source}
	pt, err := rel.open(rec.DEKs[ev.Class], eventAD(ev.ID), ev.Attrs)
	if err != nil {
		return v, err
	}
	v.Attrs, err = decodeAttrsOf(pt, attrs)
	return v, err
}

// ActionGrantRows records a page of pseudonymous rows read under a grant: one entry per subject on it.
const ActionGrantRows Action = "grant.rows"

// GrantRow is one event of a grant's rows: keyed by a pseudonym that is the subject's for this grant only,
// with no direct identifier (the day, not the time; no order, session or event id).
type GrantRow struct {
	Pseudonym string
	Category  string
	Type      string
	Day       string
	Attrs     map[string]any
}

// RowsPage is a page of a grant's rows (up to rowsPageSubjects subjects), with the cursor of the next.
type RowsPage struct {
	Rows     []GrantRow
	Next     string
	AuditSeq int64
}

// rowsPageSubjects is how many of a grant's subjects one page of rows covers.
const rowsPageSubjects = 50

// rowAttrs are the event attributes a pseudonymous row keeps: what was bought, browsed or rated, for how
// much — never an id that links a row to a person or an order (order, session, return, ticket, coupon
// codes), nor free text the person or a clerk wrote (a search query, a cancel or return reason, a review,
// a chat), which can hold a name or a phone number; an attribute not listed is dropped.
var rowAttrs = map[string]bool{"amount": true, "currency": true, "items": true, "discount": true, "store_id": true,
	"rating": true, "sku": true, "category": true, "brand": true, "price": true, "page": true, "dwell_ms": true}

// rowItemAttrs are the attributes an order's item keeps in a row.
var rowItemAttrs = map[string]bool{"sku": true, "category": true, "brand": true, "qty": true, "price": true}

// rowAttrsOf keeps the attributes of rowAttrs (and of rowItemAttrs in each item); a page keeps its path only
// (a query string or fragment can carry anything).
func rowAttrsOf(attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if !rowAttrs[k] {
			continue
		}
		switch x := v.(type) {
		case string:
			if k == "page" {
				x, _, _ = strings.Cut(x, "?")
				x, _, _ = strings.Cut(x, "#")
				v = x
			}
		case []any:
			items := make([]any, 0, len(x))
			for _, it := range x {
				if m, ok := it.(map[string]any); ok {
					kept := map[string]any{}
					for ik, iv := range m {
						if rowItemAttrs[ik] {
							kept[ik] = iv
						}
					}
					items = append(items, kept)
				}
			}
			v = items
		}
		out[k] = v
	}
	return out
}

// GrantRows returns a page of the events of an approved grant's categories, for its subjects, keyed per
// grant (for studies: analysts get rows, not people). Each subject's legal basis is checked now, as on
// any read, and each subject on the page gets its own audit entry naming the grant; the page spends one
// of the grant's reads if it releases any event.
func (s *Ingestion) GrantRows(ctx context.Context, a Access, grantID, cursor string) (RowsPage, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionGrantRows)
	if err != nil {
		return RowsPage{}, err
	}
	a.Grant = grantID
	e, err := s.beginStaff(ctx, a, pol, ActionGrantRows, "", nil)
	if err != nil {
		return RowsPage{}, err
	}
	g, err := s.access.grantFor(ctx, a, e, "")
	if err != nil {
		return RowsPage{}, err
	}
	e.GrantID = g.GrantID // the page's own entry, and its refusal, name the grant as each subject's do
	from := 0
	if cursor != "" {
		if from, err = strconv.Atoi(cursor); err != nil || from < 0 || from > len(g.Subjects) {
			return RowsPage{}, s.refuseInvalid(ctx, a, ActionGrantRows, "", Errorf(CodeInvalidArgument, "bad cursor"))
		}
	}
	to := min(from+rowsPageSubjects, len(g.Subjects))
	type subjectRows struct {
		rec    SubjectRecord
		entry  audit.Entry
		events []StoredEvent
	}
	var page []subjectRows
	for _, id := range g.Subjects[from:to] {
		rec, err := s.activeSubject(ctx, id)
		if err != nil {
			continue // erased since the request: nothing to read
		}
		se := s.newEntry(ctx, a, pol, ActionGrantRows, id)
		se.Categories, se.GrantID = g.Categories, g.GrantID
		ok, withheld, err := s.eventBasis(&se, purpose, rec, a, g.Categories)
		if err != nil {
			// This node cannot decide on the subject: none of their rows is released, and the entry says why.
			ok, withheld = nil, nil
			for _, c := range g.Categories {
				withheld = append(withheld, Withheld{Field: c, Reason: reasonKeyUnavailable})
			}
		}
		var evs []StoredEvent
		err = s.events.Events(ctx, id, func(ev StoredEvent) error {
			if _, held := rec.DEKs[ev.Class]; held && slices.Contains(ok, ev.Category) {
				evs = append(evs, ev)
			}
			return nil
		})
		if err != nil {
			return RowsPage{}, internalErr("read events", err)
		}
		se.FieldsWithheld = withheldNames(withheld)
		se.Decision, se.Status, se.Reason = audit.DecisionFor(len(ok), len(withheld)), statusOK, "rows:"+strconv.Itoa(len(evs))
		page = append(page, subjectRows{rec: rec, entry: se, events: evs})
	}
	entries := make([]audit.Entry, 0, len(page)+1)
	subjects := make([]string, 0, len(page))
	released := 0
	for _, p := range page {
		entries, subjects, released = append(entries, p.entry), append(subjects, p.rec.ID), released+len(p.events)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "grant_rows subjects:"+strconv.Itoa(len(page))+" rows:"+strconv.Itoa(released)
	entries = append(entries, e) // the page itself, naming the grant
	var change func(Tx) error
	if released > 0 {
		change = countRead(g.ID, s.now())
	}
	rel, err := s.gate.commitMany(ctx, change, func(cerr error) []audit.Entry {
		if cerr == nil {
			return entries
		}
		d := e
		d.Decision, d.Status, d.Reason = audit.Deny, statusForbidden, ReasonGrantExpired
		return []audit.Entry{d}
	}, subjects)
	if errors.Is(err, errAccessState) {
		return RowsPage{}, &Error{Code: CodePermissionDenied, Reason: ReasonGrantExpired, Message: "the grant has expired, was revoked or has no reads left"}
	}
	if err != nil {
		return RowsPage{}, internalErr("audit grant rows", err)
	}
	out := RowsPage{Rows: []GrantRow{}, AuditSeq: rel.seq}
	if to < len(g.Subjects) {
		out.Next = strconv.Itoa(to)
	}
	for _, p := range page {
		pseudonym := s.gate.pseudonym("grant:" + g.GrantID + ":" + p.rec.ID)
		for _, ev := range p.events {
			v, err := openEvent(rel, p.rec, ev)
			if err != nil {
				return RowsPage{}, internalErr("open event", err)
			}
			out.Rows = append(out.Rows, GrantRow{Pseudonym: pseudonym, Category: v.Category, Type: v.Type, Day: v.TS.UTC().Format(time.DateOnly), Attrs: rowAttrsOf(v.Attrs)})
		}
	}
	return out, nil
}
