package vault

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// Ingestion collects data from source systems through the enforcement point: events (gated by purpose and
// consent at collection), subject records with identity resolution, and import reports.
type Ingestion struct {
	*core
	events EventStore
	// profiles creates and corrects imported subjects and finds candidates by blind index; tags learns which
	// subjects' tag inputs a batch changed.
	profiles *Profiles
	tags     *Tags
	// access checks the grant an event read names.
	access *AccessRequests
}

// Ingestion returns the service; it shares the enforcement point's core.
func (s *Service) Ingestion() *Ingestion { return s.ingestion }

// ActionEventIngest records a batch of collected events.
const ActionEventIngest Action = "event.ingest"

// EventInput is one event to collect, already parsed and its attributes checked by the caller
// (internal/ingest). SubjectRef is a subject id or "external:<source>:<external id>".
type EventInput struct {
	EventID    string
	SubjectRef string
	Type       string
	TS         time.Time
	Source     string
	Attrs      map[string]any
}

// StoredEvent is an event as stored: attributes sealed.
type StoredEvent struct {
	ID, SubjectID, Type, Category, Source, Class string
	// Purpose is the purpose the event was collected under.
	Purpose    policies.PurposeName
	TS         time.Time
	DEKVersion uint32
	Attrs      []byte
}

// EventRejection names a refused event by its index in the batch, with a stable code (never a value).
type EventRejection struct {
	Index int
	Error string
}

// IngestResult counts what a batch did.
type IngestResult struct {
	Accepted   int
	Duplicates int
	Rejected   []EventRejection
	AuditSeq   int64
}

// classOf is the retention class of an event category: transaction records may be held by law (E-Commerce
// Law Art. 31) and get their own key.
func classOf(category string) string {
	if category == "transactions" {
		return ClassTransactions
	}
	return ClassGeneral
}

// ResolveSubject turns a subject reference into an active subject id: a vault id, or
// "external:<source>:<external id>" through the external-id blind index. It is for importers that then
// act on the subject (each such act audited): the caller's roles must be allowed to create subjects or
// record consents for the declared purpose; a refusal is recorded.
func (s *Ingestion) ResolveSubject(ctx context.Context, a Access, ref string) (string, error) {
	pol := s.Policy()
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) && !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceConsents, policies.ActWrite) {
		e := s.newEntry(ctx, a, pol, ActionSubjectImport, "")
		return "", s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not resolve subjects for this purpose"))
	}
	rec, err := s.resolveRecord(ctx, ref)
	return rec.ID, err
}

// resolveRecord resolves a subject reference (see ResolveSubject) to the active subject's record.
func (s *Ingestion) resolveRecord(ctx context.Context, ref string) (SubjectRecord, error) {
	id := ref
	if rest, ok := strings.CutPrefix(ref, "external:"); ok {
		source, ext, ok := strings.Cut(rest, ":")
		if !ok || ext == "" {
			return SubjectRecord{}, ErrNotFound
		}
		ids, err := s.profiles.holding(ctx, fieldExternalID, externalIDValue(source, ext))
		if err != nil {
			return SubjectRecord{}, err
		}
		if len(ids) == 0 {
			return SubjectRecord{}, ErrNotFound
		}
		id = ids[0]
	}
	return s.activeSubject(ctx, id)
}

// IngestEvents collects a batch of events for the declared purpose of collection. Each event's category
// must be one the caller's roles may write for that purpose; behaviour is collected only for subjects
// whose consent for the purpose is valid now (collection is gated, not only use) and who have not
// objected. A bad event never drops the good ones; an event id seen before is a duplicate and changes
// nothing. Attributes are sealed under the subject's DEK of the event's class — before the batch reaches
// the writer, so that the single writer only checks keys and inserts rows. One audit entry records the
// batch (counts and categories, no values).
func (s *Ingestion) IngestEvents(ctx context.Context, a Access, in []EventInput) (IngestResult, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionEventIngest)
	if err != nil {
		return IngestResult{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionEventIngest, "", nil)
	if err != nil {
		return IngestResult{}, err
	}
	res := IngestResult{Rejected: []EventRejection{}}
	reject := func(i int, code string) { res.Rejected = append(res.Rejected, EventRejection{Index: i, Error: code}) }
	now := s.now()
	var ok []pendingEvent
	cats := map[string]bool{}
	subjects := map[string]*SubjectRecord{}    // subject references resolved in this batch (nil: unknown)
	refusals := map[string]collectionBasis{}   // subject and category → the decision, once per batch
	opened := map[string][]string{}            // subject id → fields opened to decide for it (the age rule)
	refused := map[string]*refusedCollection{} // subject id → what of theirs was refused, and why
	var noted []*SubjectRecord                 // subjects with an opened field or a refused event, in first-seen order
	isNoted := map[string]bool{}
	note := func(rec *SubjectRecord) {
		if !isNoted[rec.ID] {
			isNoted[rec.ID], noted = true, append(noted, rec)
		}
	}
	refuse := func(i int, rec *SubjectRecord, cat, code string) {
		reject(i, code)
		note(rec)
		r := refused[rec.ID]
		if r == nil {
			r = &refusedCollection{reason: code}
			refused[rec.ID] = r
		}
		if !slices.Contains(r.categories, cat) {
			r.categories = append(r.categories, cat)
			slices.Sort(r.categories)
		}
	}
	for i, ev := range in {
		cat, known := policies.EventCategory(ev.Type)
		switch {
		case !known:
			reject(i, "unknown_type")
			continue
		case ev.EventID == "" || len(ev.EventID) > 128:
			reject(i, "bad_event_id")
			continue
		case ev.TS.IsZero() || ev.TS.After(now.Add(5*time.Minute)):
			reject(i, "bad_time")
			continue
		case !pol.Allowed(a.Caller.Roles, a.Purpose, policies.CategoryObject(cat), policies.ActWrite):
			reject(i, ReasonNotPermitted)
			continue
		}
		rec, have := subjects[ev.SubjectRef]
		if !have {
			r, err := s.resolveRecord(ctx, ev.SubjectRef)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return IngestResult{}, internalErr("resolve subject", err)
			}
			if err == nil {
				rec = &r
			}
			subjects[ev.SubjectRef] = rec
		}
		if rec == nil {
			reject(i, "unknown_subject")
			continue
		}
		if restricted(*rec) {
			refuse(i, rec, cat, ReasonRestricted) // the subject restricted processing (PIPL Art. 44)
			continue
		}
		if purpose.NeedsConsent() {
			key := rec.ID + "\x00" + cat
			basis, decided := refusals[key]
			if !decided {
				// The subject's own inputs, then named in the batch's entry as well.
				se := audit.Entry{DecisionInputs: opened[rec.ID]}
				basis = s.collectionRefusal(&se, purpose, *rec, cat, now)
				if len(se.DecisionInputs) > 0 {
					note(rec)
					opened[rec.ID] = se.DecisionInputs
					for _, f := range se.DecisionInputs {
						if !slices.Contains(e.DecisionInputs, f) {
							e.DecisionInputs = append(e.DecisionInputs, f)
						}
					}
				}
				refusals[key] = basis // one decision per subject and category per batch, not per event
			}
			if basis.refusal != "" {
				refuse(i, rec, cat, basis.refusal)
				continue
			}
			if ev.TS.Before(basis.since) {
				// Behaviour from before the consent was given is not collected once it is (PIPL Art. 14).
				refuse(i, rec, cat, ReasonConsentRequired)
				continue
			}
		}
		attrs, err := encodeEventAttrs(ev.Attrs)
		if err != nil || len(attrs) > maxAttrsEncoded {
			reject(i, "bad_attrs")
			continue
		}
		p := pendingEvent{index: i, plain: attrs, ev: StoredEvent{ID: ev.EventID, SubjectID: rec.ID, Type: ev.Type, Category: cat,
			Source: ev.Source, Class: classOf(cat), TS: ev.TS.UTC(), Purpose: purpose.Name}}
		if d, have := rec.DEKs[p.ev.Class]; have {
			if err := s.sealEvent(&p, d); err != nil {
				return IngestResult{}, internalErr("seal event", err)
			}
		}
		cats[cat] = true
		ok = append(ok, p)
	}
	for c := range cats {
		e.Categories = append(e.Categories, c)
	}
	sort.Strings(e.Categories)
	collected := collectedBySubject(ok, subjects)
	var late []EventRejection // events whose subject was erased after they were prepared
	seq, err := s.seq.CommitMany(ctx, func(tx Tx) error {
		late = late[:0]
		rows, gone, err := s.checkEventKeys(tx, ok)
		if err != nil {
			return err
		}
		for _, i := range gone {
			late = append(late, EventRejection{Index: i, Error: "unknown_subject"})
		}
		inserted, err := tx.PutEvents(rows)
		if err != nil {
			return err
		}
		if err := s.tags.inputsChanged(tx, eventSubjects(rows)...); err != nil {
			return err
		}
		res.Accepted, res.Duplicates = inserted, len(rows)-inserted
		return nil
	}, func(changeErr error) []audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "accepted:" + strconv.Itoa(res.Accepted) + " duplicates:" + strconv.Itoa(res.Duplicates) +
			" rejected:" + strconv.Itoa(len(res.Rejected)+len(late))
		entries := []audit.Entry{e}
		if changeErr != nil {
			return entries
		}
		// Then one entry per subject whose events were collected, for their access log, naming what was
		// opened to decide for them; a subject of whom nothing was collected, but whose field was opened or
		// whose events were refused, gets a refusal naming the categories refused and the first reason.
		lateIdx := make(map[int]bool, len(late))
		for _, r := range late {
			lateIdx[r.Index] = true
		}
		recorded := map[string]bool{}
		for _, c := range collected {
			if slices.ContainsFunc(c.indexes, func(i int) bool { return lateIdx[i] }) {
				continue
			}
			se := e
			se.SubjectRef = refFor(s.gate, c.rec.ID, c.rec.RefSalt)
			se.Categories, se.DecisionInputs = c.categories, opened[c.rec.ID]
			se.Reason = "events:" + strconv.Itoa(len(c.indexes)) + " sources:" + strings.Join(c.sources, ",")
			entries = append(entries, se)
			recorded[c.rec.ID] = true
		}
		for _, rec := range noted {
			if recorded[rec.ID] {
				continue
			}
			se := e
			se.SubjectRef = refFor(s.gate, rec.ID, rec.RefSalt)
			se.Categories, se.DecisionInputs = nil, opened[rec.ID]
			se.Decision, se.Status, se.Reason = audit.Deny, statusForbidden, "not_collected"
			if r := refused[rec.ID]; r != nil {
				se.Categories, se.Reason = r.categories, "not_collected:"+r.reason
			}
			se.FieldsGranted = nil
			entries = append(entries, se)
		}
		return entries
	})
	if err != nil {
		return IngestResult{}, internalErr("ingest events", err)
	}
	res.Rejected = append(res.Rejected, late...)
	sort.Slice(res.Rejected, func(i, j int) bool { return res.Rejected[i].Index < res.Rejected[j].Index })
	res.AuditSeq = seq
	return res, nil
}

// refusedCollection is what one batch refused to collect of one subject: the categories, and the reason of
// the first refusal.
type refusedCollection struct {
	categories []string
	reason     string
}

// collection is what one batch collects of one subject.
type collection struct {
	rec        *SubjectRecord
	categories []string
	sources    []string
	indexes    []int // of the batch's events
}

// collectedBySubject groups a batch's accepted events by subject, in the order subjects first appear.
func collectedBySubject(events []pendingEvent, recs map[string]*SubjectRecord) []*collection {
	byID := map[string]*SubjectRecord{}
	for _, r := range recs {
		if r != nil {
			byID[r.ID] = r
		}
	}
	var out []*collection
	index := map[string]*collection{}
	for _, p := range events {
		c := index[p.ev.SubjectID]
		if c == nil {
			c = &collection{rec: byID[p.ev.SubjectID]}
			index[p.ev.SubjectID] = c
			out = append(out, c)
		}
		if !slices.Contains(c.categories, p.ev.Category) {
			c.categories = append(c.categories, p.ev.Category)
			slices.Sort(c.categories)
		}
		if src := sourceLabel(p.ev.Source); src != "" && !slices.Contains(c.sources, src) && len(c.sources) < 8 {
			c.sources = append(c.sources, src)
			slices.Sort(c.sources)
		}
		c.indexes = append(c.indexes, p.index)
	}
	return out
}

// sourceLabel is how an event's source appears in an audit entry: a system name (lower-case letters,
// digits, '.', '_', '-', at most 32), or "other" — entries hold no free text.
func sourceLabel(src string) string {
	if src == "" {
		return ""
	}
	if len(src) > 32 {
		return "other"
	}
	for _, r := range src {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "other"
		}
	}
	return src
}

// pendingEvent is an event on its way into a batch: sealed when its subject already had a key of the
// event's class (ev.DEKVersion set), else sealed inside the transaction under a new key.
type pendingEvent struct {
	index int
	ev    StoredEvent
	plain []byte
}

func (s *Ingestion) sealEvent(p *pendingEvent, d DEK) error {
	sealed, err := s.gate.seal(d, eventAD(p.ev.ID), p.plain)
	if err != nil {
		return err
	}
	p.ev.Attrs, p.ev.DEKVersion = sealed, d.Version
	return nil
}

// eventAD binds an event's sealed attributes to its id: they open only as that event's.
func eventAD(id string) string { return "event:" + id }

// checkEventKeys runs in the writer: it confirms, once per subject and class, that the key each event was
// sealed under is still the current one (re-sealing under the current key after a rotation, and under a new
// key for a subject's first event of a class), and drops events of subjects erased since they were
// prepared. It returns the rows to insert and the batch indexes it dropped.
func (s *Ingestion) checkEventKeys(tx SubjectTx, batch []pendingEvent) ([]StoredEvent, []int, error) {
	type slot struct {
		dek   DEK
		state string
	}
	keys := map[[2]string]*slot{}
	rows := make([]StoredEvent, 0, len(batch))
	var gone []int
	for _, p := range batch {
		k := [2]string{p.ev.SubjectID, p.ev.Class}
		sl, have := keys[k]
		if !have {
			sl = &slot{}
			state, err := tx.SubjectState(p.ev.SubjectID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, nil, err
			}
			sl.state = state
			if state == StateActive {
				d, err := tx.DEK(p.ev.SubjectID, p.ev.Class)
				if errors.Is(err, ErrNotFound) {
					if d, err = s.gate.newDEK(p.ev.SubjectID, p.ev.Class, 1); err == nil {
						err = tx.PutDEK(d)
					}
				}
				if err != nil {
					return nil, nil, err
				}
				sl.dek = d
			}
			keys[k] = sl
		}
		if sl.state != StateActive {
			gone = append(gone, p.index)
			continue
		}
		if p.ev.Attrs == nil || p.ev.DEKVersion != sl.dek.Version {
			if err := s.sealEvent(&p, sl.dek); err != nil {
				return nil, nil, err
			}
		}
		rows = append(rows, p.ev)
	}
	return rows, gone, nil
}

// collectionBasis is the decision on collecting one category of a subject's behaviour for a consent-based
// purpose: a refusal reason, or "" and the time from which events are covered.
type collectionBasis struct {
	refusal string
	// since is when the earliest consent that covers the category now was granted: an event dated
	// before it was not collected under that consent.
	since time.Time
}

// collectionRefusal decides whether behaviour of a subject may be collected for a consent-based purpose
// now, and from when: only events dated at or after a consent that is still valid now. The age rule's
// birth date is opened inside the gate and named in e (the subject's own inputs); one this node cannot
// open refuses the events as key_unavailable.
func (s *Ingestion) collectionRefusal(e *audit.Entry, purpose policies.Purpose, rec SubjectRecord, cat string, now time.Time) collectionBasis {
	if objected(rec, purpose) {
		return collectionBasis{refusal: ReasonObjection}
	}
	q, err := s.withAge(consent.Query{Purpose: purpose, Categories: []string{cat}, Records: rec.Consents, Now: now}, e, rec)
	if err != nil {
		return collectionBasis{refusal: reasonKeyUnavailable}
	}
	b := consent.Evaluate(q)[cat]
	if !b.OK {
		return collectionBasis{refusal: b.Reason}
	}
	var since time.Time
	for _, r := range rec.Consents {
		if slices.Contains(b.ConsentIDs, r.ID) && (since.IsZero() || r.GrantedAt.Before(since)) {
			since = r.GrantedAt
		}
	}
	return collectionBasis{since: since}
}

// EventView is an event as the subject's export shows it.
type EventView struct {
	ID       string
	Type     string
	Category string
	TS       time.Time
	Source   string
	Attrs    map[string]any
}

// openEvents streams a subject's events, decrypted under rel, oldest first.
func (s *Ingestion) openEvents(ctx context.Context, rel *release, rec SubjectRecord, fn func(EventView) error) error {
	return s.openEventsOf(ctx, rel, rec, nil, nil, fn)
}

// openEventsOf is openEvents for the events want accepts (all if nil), with only the attributes in attrs
// (all if nil): the others are not opened, or not decoded.
func (s *Ingestion) openEventsOf(ctx context.Context, rel *release, rec SubjectRecord, want func(StoredEvent) bool, attrs map[string]bool,
	fn func(EventView) error) error {
	return s.events.Events(ctx, rec.ID, func(ev StoredEvent) error {
		if _, ok := rec.DEKs[ev.Class]; !ok {
			return nil // shredded class
		}
		if want != nil && !want(ev) {
			return nil
		}
		v, err := openEventOf(rel, rec, ev, attrs)
		if err != nil {
			return err
		}
		return fn(v)
	})
}

// ActionImportReport records a stored data-quality report.
const ActionImportReport Action = "import.report"

// SaveImportReport keeps an import's data-quality report (counts only) and records it.
func (s *Ingestion) SaveImportReport(ctx context.Context, a Access, lines []string) (int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionImportReport); err != nil {
		return 0, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionImportReport, "", nil)
	if err != nil {
		return 0, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) {
		return 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not record imports for this purpose"))
	}
	id := newID("imp_")
	text := strings.Join(lines, "\n")
	seq, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutImportReport(id, text, s.now().UTC()) }, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "report:" + id
		return e
	})
	if err != nil {
		return 0, internalErr("save import report", err)
	}
	return seq, nil
}

// eventSubjects lists the subjects of rows, each once.
func eventSubjects(rows []StoredEvent) []string {
	seen := make(map[string]struct{}, len(rows))
	var out []string
	for _, r := range rows {
		if _, ok := seen[r.SubjectID]; !ok {
			seen[r.SubjectID] = struct{}{}
			out = append(out, r.SubjectID)
		}
	}
	return out
}

// consentWithdrawn deletes, inside a withdrawal's transaction, the subject's events collected under
// purpose: they were collected on that consent alone (PIPL Art. 47). It reports how many.
func (s *Ingestion) consentWithdrawn(tx EventTx, subject string, purpose policies.PurposeName) (int, error) {
	return tx.DeleteEventsCollectedUnder(subject, purpose)
}

// retentionEnded deletes, inside a retention change's transaction, the subject's events of category: no
// purpose may keep them any longer. It reports how many.
func (s *Ingestion) retentionEnded(tx EventTx, subject, category string) (int, error) {
	return tx.DeleteEventsOfCategory(subject, category)
}
