package vault

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/policies/safetext"
)

// Profiles is the profile service for staff: create, read for a declared purpose, correct, look up by a
// blind-indexed value, erase (keeping what the law holds), and the retention run.
type Profiles struct {
	*core
	store ProfileStore
	// tags is called inside an erasure's transaction to delete the subject's tags; ingestion to delete
	// events no purpose may keep any longer.
	tags      *Tags
	ingestion *Ingestion
	// access checks the grant a read names.
	access *AccessRequests
}

// Profiles returns the service; it shares the enforcement point's core.
func (s *Service) Profiles() *Profiles { return s.profiles }

// Actions recorded in the audit trail (API.md).
const (
	ActionSubjectCreate Action = "subject.create"
	ActionSubjectRead   Action = "subject.read"
	ActionSubjectUpdate Action = "subject.update"
	ActionSubjectLookup Action = "subject.lookup"
	ActionSubjectErase  Action = "subject.erase"
	ActionPolicyReload  Action = "policy.reload"
	ActionKeyRotate     Action = "key.rotate"
	ActionKeyPurge      Action = "key.purge"
	ActionAuthFailure   Action = "auth.failure"
)

// NewSubject is the input of Create.
type NewSubject struct {
	ExternalID string
	Source     string
	Fields     map[string]*string
}

// Created is the result of Create.
type Created struct {
	ID        string
	CreatedAt time.Time
	AuditSeq  int64
}

// Withheld names a field that was not returned and why.
type Withheld struct {
	Field  string
	Reason string
}

// View is what a caller may see of one subject for one purpose.
type View struct {
	ID       string
	Purpose  policies.PurposeName
	Fields   map[string]string
	Withheld []Withheld
	AuditSeq int64
}

// Receipt confirms an erasure.
type Receipt struct {
	SubjectID       string
	SubjectRef      string
	ErasedAt        time.Time
	ClassesShredded []string
	AuditSeq        int64
	// Held lists what the law keeps (storage-only) and until when; empty when everything was erased.
	Held []Hold
	// Signature is a C2SP signed note over the receipt's facts by the server's checkpoint key
	// (GET /v1/audit/checkpoint publishes the verifier key).
	Signature string
}

// LookupResult lists the subjects whose blind-indexed field matched.
type LookupResult struct {
	IDs      []string
	AuditSeq int64
}

const idPrefix = "sub_"

// idEncoding is lower-case base32hex, whose alphabet sorts like the bytes it encodes.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewSubjectID returns a fresh subject id: a millisecond timestamp and 80 random bits (see timeOrdered).
func NewSubjectID() string {
	b := timeOrdered()
	return idPrefix + idEncoding.EncodeToString(b[:])
}

// issuedIDPattern is what the ids the vault issues look like (NewSubjectID, newID): a short prefix, then 26
// base32 or 32 hex characters.
var issuedIDPattern = regexp.MustCompile(`^[a-z]{2,4}_([0-9a-v]{26}|[0-9a-f]{32})$`)

// issued reports whether id has the form of an id the vault issues.
func issued(id string) bool { return issuedIDPattern.MatchString(id) }

// recordedID is an id from a request path as an entry may name it: as given when it is in the form the vault
// issues, else "invalid" — a path is client text, and the trail can never be redacted.
func recordedID(id string) string {
	if issued(id) {
		return id
	}
	return "invalid"
}

// newID returns prefix followed by a time-ordered id in hex (consent, request, merge and report ids).
func newID(prefix string) string {
	b := timeOrdered()
	return prefix + hex.EncodeToString(b[:])
}

// timeOrdered returns 16 bytes: a 48-bit millisecond timestamp, big-endian, then 80 random bits. Ids
// issued later sort later, so the rows keyed by them (a subject's fields, keys and index entries) are
// appended to the tables' B-trees instead of scattered over them, which keeps bulk imports from rewriting
// most pages on every commit. The timestamp reveals only when the row was created, which the row records
// anyway; 80 random bits keep ids unguessable.
func timeOrdered() [16]byte {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	if _, err := rand.Read(b[6:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

// plausibleID rejects ids that cannot have been issued, so they are not looked up at all.
func plausibleID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// beginStaff starts the audit entry of an operation on a subject's fields. A staff operation refuses
// (audited) a data-subject token, which reaches its own data through /v1/me only; a /v1/me operation
// (Access made by meAccess) may touch the caller's own subject and nothing else.
func (s *core) beginStaff(ctx context.Context, a Access, pol *policies.Set, action Action, id string, fields []string) (audit.Entry, error) {
	action = selfAction(a, action)
	e := s.newEntry(ctx, a, pol, action, id)
	e.FieldsRequested = fields
	e.Categories = categoriesOf(pol.Schema(), fields)
	if a.self {
		if id != a.Caller.Subject {
			return e, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "a data subject may act on their own data only"))
		}
		return e, nil
	}
	if cerr := staffOnly(a); cerr != nil {
		return e, s.deny(ctx, e, statusForbidden, reasonNoPolicy, cerr)
	}
	return e, nil
}

// selfAction is the action as the trail names it: a data subject's own read or correction through /v1/me
// is me.read or me.update.
func selfAction(a Access, action Action) Action {
	if a.self {
		if sa, ok := selfActions[action]; ok {
			return sa
		}
	}
	return action
}

// selfActions names what a data subject does through /v1/me.
var selfActions = map[Action]Action{
	ActionSubjectRead:   ActionMeRead,
	ActionSubjectUpdate: ActionMeUpdate,
}

// staffOnly refuses data-subject tokens on staff routes: a subject reaches their own data through /v1/me.
func staffOnly(a Access) *Error {
	for _, r := range a.Caller.Roles {
		if r == RoleSubject {
			return Errorf(CodePermissionDenied, "staff only: a data subject acts on their own data as themselves")
		}
	}
	return nil
}

// Create stores a new subject with its fields sealed under a fresh DEK. A source record (source and
// external id) is one person's: one a subject holds already is 409 conflict (an import resolves it as a
// duplicate; this call would have made a second subject of it), and one of an erased person too.
func (s *Profiles) Create(ctx context.Context, a Access, in NewSubject) (Created, error) {
	if in.ExternalID != "" && checkSourceRef(in) == nil {
		held, erased, err := s.sourceRecord(ctx, in.Source, in.ExternalID)
		if err != nil {
			return Created{}, internalErr("look up source record", err)
		}
		switch {
		case held:
			return Created{}, s.refuseInvalid(ctx, a, ActionSubjectCreate, "", &Error{Code: CodeConflict, Reason: "source_record_exists",
				Message: "a subject already holds this source record (source and external_id): import it to merge, or read that subject"})
		case erased:
			return Created{}, s.refuseInvalid(ctx, a, ActionSubjectCreate, "", &Error{Code: CodeConflict, Reason: "erased_subject",
				Message: "the person of this source record was erased: it is not created again"})
		}
	}
	return s.create(ctx, a, in, nil)
}

// create is Create; opened names the fields an import's match decision opened (see ImportSubject).
// checkSourceRef checks a new subject's source reference (source and external id).
func checkSourceRef(in NewSubject) error {
	if len(in.ExternalID) > 128 || !utf8Safe(in.ExternalID) {
		return Errorf(CodeInvalidArgument, "external_id too long or not valid text")
	}
	// The source names a system (crm, app, erp, …), stored as is: a name, never a value a client typed.
	if in.Source != "" && (len(in.Source) > 32 || safetext.Name(in.Source) == safetext.NotAName) {
		return Errorf(CodeInvalidArgument, "source must name the system the record comes from, like crm: lower-case letters, digits and _, at most 32")
	}
	return nil
}

func (s *Profiles) create(ctx context.Context, a Access, in NewSubject, opened []string) (Created, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionSubjectCreate); err != nil {
		return Created{}, err
	}
	schema := pol.Schema()
	values, names, err := s.validateValues(schema, in.Fields, false)
	if err == nil {
		err = checkSourceRef(in)
	}
	if err != nil {
		return Created{}, s.refuseInvalid(ctx, a, ActionSubjectCreate, "", err)
	}
	id := NewSubjectID()
	salt := newRefSalt()
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectCreate, id, names)
	e.SubjectRef = refFor(s.gate, id, salt)
	e.DecisionInputs = opened
	if err != nil {
		return Created{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) || !s.mayWriteAll(pol, a, names) {
		return Created{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not create subjects with these fields for this purpose"))
	}
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		rows, err := s.newSubjectRows(&e, schema, id, salt, in, values, now)
		if err != nil {
			return err
		}
		return s.insertIn(tx, []SubjectRows{rows})
	}, func(changeErr error) audit.Entry {
		return finish(e, changeErr, names)
	})
	if err != nil {
		return Created{}, internalErr("create subject", err)
	}
	return Created{ID: id, CreatedAt: now, AuditSeq: seq}, nil
}

// newSubjectRows seals what a new subject is stored as: its first general DEK, its source's external id
// (sealed and blind-indexed) and its validated values sealed under that key, with the blind-index tokens
// of the indexed ones and of its name keys. Recomputing the name keys opens nothing of a new subject; e is
// the creation's entry all the same.
func (s *Profiles) newSubjectRows(e *audit.Entry, schema *policies.Schema, id string, salt []byte, in NewSubject, values map[string]*string, now time.Time) (SubjectRows, error) {
	d, err := s.gate.newDEK(id, ClassGeneral, 1)
	if err != nil {
		return SubjectRows{}, err
	}
	rows := SubjectRows{ID: id, Source: in.Source, RefSalt: salt, At: now, DEK: d, Fields: make([]SealedField, 0, len(values)+1)}
	if in.ExternalID != "" {
		sealed, err := s.gate.seal(d, fieldExternalID, []byte(in.ExternalID))
		if err != nil {
			return SubjectRows{}, err
		}
		rows.Fields = append(rows.Fields, SealedField{Name: fieldExternalID, Class: ClassGeneral, DEKVersion: d.Version, Value: sealed, UpdatedAt: now})
		rows.Index = append(rows.Index, IndexToken{Field: fieldExternalID, Token: s.gate.blindToken(fieldExternalID, externalIDValue(in.Source, in.ExternalID))})
	}
	tokens, _, err := s.nameKeyTokens(e, SubjectRecord{}, values)
	if err != nil {
		return SubjectRows{}, err
	}
	for _, tok := range tokens {
		rows.Index = append(rows.Index, IndexToken{Field: fieldNameKey, Token: tok})
	}
	for name, v := range values {
		if v == nil {
			continue // a new subject has nothing to clear
		}
		sealed, err := s.gate.seal(d, name, []byte(*v))
		if err != nil {
			return SubjectRows{}, err
		}
		rows.Fields = append(rows.Fields, SealedField{Name: name, Class: d.Class, DEKVersion: d.Version, Value: sealed, UpdatedAt: now})
		if f, _ := schema.Field(name); f.BlindIndex {
			rows.Index = append(rows.Index, IndexToken{Field: name, Token: s.gate.blindToken(name, *v)})
		}
	}
	return rows, nil
}

// insertIn stores the rows of new subjects (newSubjectRows) and marks their tags stale, inside the writer's
// transaction: a creation, or an import batch's creations in one go.
func (s *Profiles) insertIn(tx Tx, rows []SubjectRows) error {
	if err := tx.InsertSubjects(rows); err != nil {
		return err
	}
	for _, r := range rows {
		if err := s.tags.inputsChanged(tx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// activeIn checks, inside a change's transaction, that the subject is still active (ErrNotFound if not).
func activeIn(tx SubjectTx, id string) error {
	st, err := tx.SubjectState(id)
	if err != nil {
		return err
	}
	if st != StateActive {
		return ErrNotFound
	}
	return nil
}

// newSubjectIn inserts an active subject with its first general DEK inside a change's transaction.
func (s *Profiles) newSubjectIn(tx ProfileTx, id, source string, salt []byte, now time.Time) (DEK, error) {
	if err := tx.CreateSubject(id, source, salt, now); err != nil {
		return DEK{}, err
	}
	d, err := s.gate.newDEK(id, ClassGeneral, 1)
	if err != nil {
		return DEK{}, err
	}
	return d, tx.PutDEK(d)
}

// fieldExternalID is the pseudo-field under which a source system's own id is kept (sealed, blind-indexed).
const fieldExternalID = "_external_id"

// externalIDValue is the value a source's id is blind-indexed under (fieldExternalID): the source and the
// id, joined by a NUL that neither holds.
func externalIDValue(source, id string) string { return source + "\x00" + id }

func utf8Safe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// finish completes a mutation's entry from the change's outcome.
func finish(e audit.Entry, changeErr error, names []string) audit.Entry {
	switch {
	case changeErr == nil:
		e.Decision, e.Status, e.FieldsGranted = audit.Allow, statusOK, names
		if e.Action == string(ActionSubjectCreate) {
			e.Status = statusCreated
		}
	case errors.Is(changeErr, ErrNotFound):
		e.Decision, e.Status, e.Reason, e.FieldsWithheld = audit.Deny, statusNotFound, reasonSubjectNotFound, names
	case errors.Is(changeErr, ErrKEKMissing):
		e.Decision, e.Status, e.Reason, e.FieldsWithheld = audit.Deny, statusUnavailable, reasonKeyUnavailable, names
	default:
		e.Decision, e.Status, e.Reason, e.FieldsWithheld = audit.Deny, statusInternal, reasonInternal, names
	}
	return e
}

func (s *core) mayWriteAll(pol *policies.Set, a Access, names []string) bool {
	grants := pol.FieldGrants(a.Caller.Roles, a.Purpose, policies.ActWrite)
	for _, n := range names {
		if _, ok := grants[n]; !ok {
			return false
		}
	}
	return true
}

// writeFields seals and stores (or clears) values inside the writer's transaction. Recomputing the name
// keys may open the name or birth date that the change keeps; those opens are named in e, the change's entry.
func (s *Profiles) writeFields(tx ProfileTx, e *audit.Entry, schema *policies.Schema, d DEK, id string, before SubjectRecord, values map[string]*string, now time.Time) error {
	tokens, changed, err := s.nameKeyTokens(e, before, values)
	if err != nil {
		return err
	}
	if changed {
		if err := tx.SetIndexTokens(fieldNameKey, id, tokens); err != nil {
			return err
		}
	}
	for name, v := range values {
		f, _ := schema.Field(name)
		if v == nil {
			if err := tx.DeleteField(id, name); err != nil {
				return err
			}
			if f.BlindIndex {
				if err := tx.SetIndex(name, id, nil); err != nil {
					return err
				}
			}
			continue
		}
		sealed, err := s.gate.seal(d, name, []byte(*v))
		if err != nil {
			return err
		}
		if err := tx.PutField(id, SealedField{Name: name, Class: d.Class, DEKVersion: d.Version, Value: sealed, UpdatedAt: now}); err != nil {
			return err
		}
		if f.BlindIndex {
			if err := tx.SetIndex(name, id, s.gate.blindToken(name, *v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Read returns the fields of a subject that the caller may see for the declared purpose, masked per policy,
// and lists the rest under Withheld. The audit entry is durable before anything is decrypted, and is
// ordered after every change to the subject that the decision saw (see order.go).
func (s *Profiles) Read(ctx context.Context, a Access, id string, requested []string) (View, error) {
	v, _, _, err := s.read(ctx, a, id, requested)
	return v, err
}

// maxDecisions bounds how often a release is decided again because changes to its subject kept being
// ordered before it.
const maxDecisions = 4

// superseded retries decide while a change to the subject is ordered before its release; after
// maxDecisions attempts it answers unavailable.
func superseded[T any](decide func() (T, error)) (T, error) {
	for range maxDecisions - 1 {
		v, err := decide()
		if !errors.Is(err, ErrSuperseded) {
			return v, err
		}
	}
	v, err := decide()
	if errors.Is(err, ErrSuperseded) {
		err = &Error{Code: CodeUnavailable, Message: "the subject is changing too fast to be read; try again", Err: err}
	}
	return v, err
}

// readResult is what read decided and released.
type readResult struct {
	view View
	rel  *release
	rec  SubjectRecord
}

// read is Read, also returning the release of the subject's data under the read's entry and the record it
// decided on (for /v1/me, which shows more of the same subject under the same entry).
func (s *Profiles) read(ctx context.Context, a Access, id string, requested []string) (View, *release, SubjectRecord, error) {
	r, err := superseded(func() (readResult, error) { return s.readOnce(ctx, a, id, requested) })
	return r.view, r.rel, r.rec, err
}

func (s *Profiles) readOnce(ctx context.Context, a Access, id string, requested []string) (readResult, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionSubjectRead)
	if err != nil {
		return readResult{}, err
	}
	schema := pol.Schema()
	fields, err := parseFieldList(schema, requested)
	if err != nil {
		return readResult{}, s.refuseInvalid(ctx, a, selfAction(a, ActionSubjectRead), id, err)
	}
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectRead, id, fields)
	if err != nil {
		return readResult{}, err
	}
	if a.self {
		e.Categories = append(e.Categories, "tags")
	}
	grants := pol.FieldGrants(a.Caller.Roles, a.Purpose, policies.ActRead)
	var grant *AccessRequestRow
	if a.Grant != "" && !a.self {
		// An approved request widens the role's grants for its subjects, purpose and requester; decided
		// before the subject is looked up, like the role's own baseline.
		g, err := s.access.grantFor(ctx, a, e, id)
		if err != nil {
			return readResult{}, err
		}
		grant, e.GrantID = &g, g.GrantID
		grants = widen(grants, pol, a, g)
	}
	if len(grants) == 0 {
		return readResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not read subject fields for this purpose"))
	}
	guard := s.seq.Guard(id)
	rec, err := s.activeSubject(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return readResult{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
		}
		return readResult{}, internalErr("read subject", err)
	}
	granted, withheld, consentIDs, err := s.decide(&e, pol, purpose, grants, rec, a, fields)
	if err != nil {
		return readResult{}, s.keyUnavailable(ctx, e, err)
	}
	for f := range granted {
		if _, has := rec.Fields[f]; !has {
			// Nothing to release: the entry (and the person's access log) must not say it was read, and a
			// read under a grant that releases nothing spends none of its reads.
			delete(granted, f)
		}
	}
	e.FieldsGranted = names(granted)
	e.FieldsWithheld = withheldNames(withheld)
	e.ConsentIDs = consentIDs
	e.Decision = audit.DecisionFor(len(granted), len(withheld))
	e.Status = statusOK
	var rel *release
	if grant != nil && len(granted) > 0 {
		// A read under a grant that releases something spends one of its reads, in the entry's own
		// transaction: concurrent reads never exceed max_reads.
		rel, err = s.gate.authorizeWith(ctx, guard, countRead(grant.ID, s.now()), func(cerr error) audit.Entry {
			if cerr != nil {
				d := e
				d.Decision, d.Status, d.Reason = audit.Deny, statusForbidden, ReasonGrantExpired
				d.FieldsGranted, d.FieldsWithheld = nil, d.FieldsRequested
				return d
			}
			return e
		})
		if errors.Is(err, errAccessState) {
			return readResult{}, &Error{Code: CodePermissionDenied, Reason: ReasonGrantExpired, Message: "the grant has expired, was revoked or has no reads left"}
		}
	} else {
		rel, err = s.gate.authorize(ctx, guard, e)
	}
	if errors.Is(err, ErrSuperseded) {
		return readResult{}, err
	}
	if err != nil {
		return readResult{}, internalErr("audit read", err)
	}
	values, err := s.open(rel, rec, granted, schema)
	if err != nil {
		return readResult{}, internalErr("open fields", err)
	}
	return readResult{view: View{ID: id, Purpose: a.Purpose, Fields: values, Withheld: withheld, AuditSeq: rel.seq}, rel: rel, rec: rec}, nil
}

func (s *core) activeSubject(ctx context.Context, id string) (SubjectRecord, error) {
	if !plausibleID(id) {
		return SubjectRecord{}, ErrNotFound
	}
	rec, err := s.records.Subject(ctx, id)
	if err != nil {
		return SubjectRecord{}, err
	}
	if rec.State != StateActive {
		return SubjectRecord{}, ErrNotFound
	}
	return rec, nil
}

// activeSubjects is activeSubject for several subjects in one read: the records of those that are active,
// by id, with only the fields named (all when fields is nil).
func (s *core) activeSubjects(ctx context.Context, ids []string, fields []string) (map[string]SubjectRecord, error) {
	plausible := make([]string, 0, len(ids))
	for _, id := range ids {
		if plausibleID(id) {
			plausible = append(plausible, id)
		}
	}
	recs, err := s.records.Subjects(ctx, plausible, fields)
	if err != nil {
		return nil, err
	}
	for id, rec := range recs {
		if rec.State != StateActive {
			delete(recs, id)
		}
	}
	return recs, nil
}

// decide splits the requested fields into granted (with mask) and withheld (with reason): policy first,
// then retention, then the legal basis of the purpose for this subject at this moment (consent.Evaluate).
//
// A consent-based purpose needs the subject's age: the birth date is opened inside the gate for that and
// named in e.
//
// err is ErrKEKMissing when the age rule needs a birth date this node cannot open: nothing is decided.
func (s *Profiles) decide(e *audit.Entry, pol *policies.Set, purpose policies.Purpose, grants map[string]policies.Grant,
	rec SubjectRecord, a Access, fields []string) (map[string]policies.Grant, []Withheld, []string, error) {
	schema := pol.Schema()
	now := s.now()
	granted := make(map[string]policies.Grant, len(fields))
	var withheld []Withheld
	var permitted []string
	for _, f := range fields {
		if _, ok := grants[f]; ok {
			permitted = append(permitted, f)
		} else {
			withheld = append(withheld, Withheld{Field: f, Reason: ReasonNotPermitted})
		}
	}
	if a.Processor != "" {
		permitted, withheld = entrusted(pol.Purposes(), purpose.Name, a.Processor, schema, now, permitted, withheld)
	}
	var consentIDs []string
	switch {
	case len(permitted) == 0:
	case !a.self && retentionExpired(purpose, rec, now):
		// A subject's own data is never hidden from them (PIPL Art. 45): retention limits what staff use.
		for _, f := range permitted {
			withheld = append(withheld, Withheld{Field: f, Reason: ReasonRetentionExpired})
		}
	case !a.self && restricted(rec):
		// The subject restricted processing (PIPL Art. 44); their own access stays.
		for _, f := range permitted {
			withheld = append(withheld, Withheld{Field: f, Reason: ReasonRestricted})
		}
	case objected(rec, purpose):
		for _, f := range permitted {
			withheld = append(withheld, Withheld{Field: f, Reason: ReasonObjection})
		}
	default:
		cats := categoriesOf(schema, permitted)
		sensitive := map[string]bool{}
		for _, f := range permitted {
			if fd, _ := schema.Field(f); fd.Sensitive {
				sensitive[fd.Category] = true
			}
		}
		q := consent.Query{Purpose: purpose, Categories: cats, Sensitive: sensitive, Recipient: a.Recipient, Records: rec.Consents, Now: now}
		if purpose.NeedsConsent() {
			var err error
			if q, err = s.withAge(q, e, rec); err != nil {
				return nil, nil, nil, err
			}
		}
		basis := consent.Evaluate(q)
		seen := map[string]bool{}
		for _, f := range permitted {
			fd, _ := schema.Field(f)
			b := basis[fd.Category]
			if !b.OK {
				withheld = append(withheld, Withheld{Field: f, Reason: b.Reason})
				continue
			}
			granted[f] = grants[f]
			for _, c := range b.ConsentIDs {
				if !seen[c] {
					seen[c] = true
					consentIDs = append(consentIDs, c)
				}
			}
		}
	}
	sort.Slice(withheld, func(i, j int) bool { return withheld[i].Field < withheld[j].Field })
	sort.Strings(consentIDs)
	return granted, withheld, consentIDs, nil
}

// entrusted keeps of permitted the fields that an entrusted processor may receive for purpose at now (PIPL
// Art. 21): its contract in the catalog is in force, covers the purpose and the field's category; the rest
// join withheld as not_entrusted.
func entrusted(cat *policies.Catalog, purpose policies.PurposeName, processor string, schema *policies.Schema, now time.Time,
	permitted []string, withheld []Withheld) ([]string, []Withheld) {
	p, ok := cat.Processor(processor)
	ok = ok && p.Entrusted(purpose, now)
	kept := permitted[:0:0]
	for _, f := range permitted {
		if fd, _ := schema.Field(f); ok && p.Covers(fd.Category) {
			kept = append(kept, f)
		} else {
			withheld = append(withheld, Withheld{Field: f, Reason: ReasonNotEntrusted})
		}
	}
	return kept, withheld
}

// retentionExpired reports whether the purpose's retention period has run out for the subject (PIPL
// Art. 19): more than Retention.Days calendar days since the newest activity on the purpose's clock.
func retentionExpired(p policies.Purpose, rec SubjectRecord, now time.Time) bool {
	if p.Retention.Days <= 0 {
		return false
	}
	last := retentionClock(p, rec)
	return !last.IsZero() && now.After(last.AddDate(0, 0, p.Retention.Days))
}

// retentionClock is when the purpose's retention period last restarted for the subject: the newest
// activity on the purpose's clock (an event of a listed type, a consent granted for the purpose — any
// consent, for a purpose not based on consent — or a profile change), and at the earliest their creation.
func retentionClock(p policies.Purpose, rec SubjectRecord) time.Time {
	last := rec.CreatedAt
	for _, c := range p.Retention.Clock {
		var at time.Time
		switch c {
		case policies.ClockProfileUpdate:
			at = rec.UpdatedAt
		case policies.ClockConsentGrant:
			for _, r := range rec.Consents {
				if (!p.NeedsConsent() || r.Purpose == p.Name) && r.GrantedAt.After(at) {
					at = r.GrantedAt
				}
			}
		default:
			at = rec.Activity[c]
		}
		if at.After(last) {
			last = at
		}
	}
	return last
}

// fieldBirthDate is the schema field the age rule reads.
const fieldBirthDate = "birth_date"

// fieldIDNumber is the resident id number: identity resolution merges on it (one person's), and a record
// whose id number differs from its candidate's is another person.
const fieldIDNumber = "id_number"

// reasonAgeVerification records a subject's own birth date change refused because it would end the
// guardian rule.
const reasonAgeVerification = consent.ReasonAgeVerificationRequired

// withAge fills in q's Minor and AgeUnknown at q.Now (PIPL Art. 31) from the subject's birth date, opened
// inside the gate and named in e; ErrKEKMissing if the birth date cannot be opened on this node.
func (s *core) withAge(q consent.Query, e *audit.Entry, rec SubjectRecord) (consent.Query, error) {
	minor, known, err := s.ageAtDecision(e, rec, q.Now)
	q.Minor, q.AgeUnknown = minor, !known
	return q, err
}

// minorAtDecision applies PIPL Art. 31 while deciding: the birth date is opened inside the gate, never
// returned, and named in e.
func (s *core) minorAtDecision(e *audit.Entry, rec SubjectRecord, now time.Time) (bool, error) {
	pt, ok, err := s.gate.decisionOpen(e, rec, fieldBirthDate)
	return ok && minorBorn(pt, now), err
}

// ageAtDecision is minorAtDecision that also says whether the age is known: false without a birth date
// or with one that does not read as a date. err is ErrKEKMissing if the birth date cannot be opened on
// this node (and then the age is not known here, but must not be taken as unknown).
func (s *core) ageAtDecision(e *audit.Entry, rec SubjectRecord, now time.Time) (minor, known bool, err error) {
	pt, ok, err := s.gate.decisionOpen(e, rec, fieldBirthDate)
	if !ok {
		return false, false, err
	}
	birth, perr := time.Parse(time.DateOnly, string(pt))
	if perr != nil {
		return false, false, nil
	}
	return consent.IsMinor(birth, now), true, nil
}

// minorBorn reports whether a birth date (YYYY-MM-DD) makes the subject a minor now. An unknown or unreadable
// birth date is not treated as a minor.
func minorBorn(birthDate []byte, now time.Time) bool {
	birth, err := time.Parse(time.DateOnly, string(birthDate))
	return err == nil && consent.IsMinor(birth, now)
}

// open decrypts, under rel, the granted fields that the subject has and applies each field's mask.
func (s *Profiles) open(rel *release, rec SubjectRecord, granted map[string]policies.Grant, schema *policies.Schema) (map[string]string, error) {
	out := make(map[string]string, len(granted))
	for name, g := range granted {
		sf, ok := rec.Fields[name]
		if !ok {
			continue
		}
		d, ok := rec.DEKs[sf.Class]
		if !ok || d.Version != sf.DEKVersion {
			return nil, errors.New("field sealed under a missing DEK")
		}
		pt, err := rel.open(d, name, sf.Value)
		if err != nil {
			return nil, err
		}
		v := string(pt)
		if g.Mask != "full" {
			fd, _ := schema.Field(name)
			v = fd.MaskValue(v)
		}
		out[name] = v
	}
	return out, nil
}

func names(m map[string]policies.Grant) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func withheldNames(w []Withheld) []string {
	out := make([]string, len(w))
	for i, x := range w {
		out[i] = x.Field
	}
	return out
}

// updateSubject changes (or, with a nil value, clears) fields of a subject. The response shows the changed fields
// as the caller may read them for the declared purpose.
func (s *Profiles) updateSubject(ctx context.Context, a Access, id string, in map[string]*string) (View, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionSubjectUpdate)
	if err != nil {
		return View{}, err
	}
	schema := pol.Schema()
	values, fieldNames, err := s.validateValues(schema, in, true)
	if err != nil {
		return View{}, s.refuseInvalid(ctx, a, selfAction(a, ActionSubjectUpdate), id, err)
	}
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectUpdate, id, fieldNames)
	if err != nil {
		return View{}, err
	}
	if !s.mayWriteAll(pol, a, fieldNames) {
		return View{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not change these fields for this purpose"))
	}
	if !plausibleID(id) {
		return View{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
	}
	// The legal basis of showing the changed values back is decided before the write; it is a read for the
	// same purpose.
	rec, err := s.activeSubject(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return View{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
		}
		return View{}, internalErr("update subject", err)
	}
	if !a.self && restricted(rec) {
		// Storage only while the subject restricts processing (PIPL Art. 44): staff change nothing; the subject
		// corrects their own data as always.
		return View{}, s.deny(ctx, e, statusForbidden, ReasonRestricted,
			Errorf(CodeRestricted, "the subject has restricted processing: their data is kept, not changed, until they lift it"))
	}
	if a.self {
		// A child cannot leave the guardian rule (PIPL Art. 31) alone: clearing the birth date or moving it
		// past 14 years ago needs a data steward, who verifies the evidence.
		if v, touched := values[fieldBirthDate]; touched {
			minor, err := s.minorAtDecision(&e, rec, s.now())
			if err != nil {
				return View{}, s.keyUnavailable(ctx, e, err)
			}
			if minor && (v == nil || !minorBorn([]byte(*v), s.now())) {
				return View{}, s.deny(ctx, e, statusForbidden, reasonAgeVerification,
					Errorf(CodePermissionDenied, "a birth date change that ends the guardian rule needs a data steward's verification"))
			}
		}
	}
	readGrants := pol.FieldGrants(a.Caller.Roles, a.Purpose, policies.ActRead)
	granted, withheld, consentIDs, err := s.decide(&e, pol, purpose, readGrants, rec, a, fieldNames)
	if err != nil {
		return View{}, s.keyUnavailable(ctx, e, err)
	}
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := activeIn(tx, id); err != nil {
			return err
		}
		d, err := tx.DEK(id, ClassGeneral)
		if errors.Is(err, ErrNotFound) {
			if d, err = s.gate.newDEK(id, ClassGeneral, 1); err == nil {
				err = tx.PutDEK(d)
			}
		}
		if err != nil {
			return err
		}
		if err := s.writeFields(tx, &e, schema, d, id, rec, values, now); err != nil {
			return err
		}
		if err := s.tags.inputsChanged(tx, id); err != nil {
			return err
		}
		return tx.Touch(id, now)
	}, func(changeErr error) audit.Entry {
		e.ConsentIDs = consentIDs
		return finish(e, changeErr, fieldNames)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return View{}, &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq}
		}
		return View{}, internalErr("update subject", err)
	}
	out := make(map[string]string, len(granted))
	for name, g := range granted {
		v := values[name]
		if v == nil {
			continue
		}
		if g.Mask != "full" {
			fd, _ := schema.Field(name)
			out[name] = fd.MaskValue(*v)
		} else {
			out[name] = *v
		}
	}
	return View{ID: id, Purpose: a.Purpose, Fields: out, Withheld: withheld, AuditSeq: seq}, nil
}

// Lookup finds subjects by a blind-indexed field. The value is normalised and turned into a keyed token; it
// never reaches the store, a log or the audit trail. Lookups are rate-limited per caller.
func (s *Profiles) Lookup(ctx context.Context, a Access, field, value string) (LookupResult, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionSubjectLookup); err != nil {
		return LookupResult{}, err
	}
	schema := pol.Schema()
	f, ok := schema.Field(field)
	if !ok || !f.BlindIndex {
		return LookupResult{}, s.refuseInvalid(ctx, a, ActionSubjectLookup, "", Errorf(CodeInvalidArgument, "field %q cannot be looked up", SafeFieldName(field)))
	}
	norm, err := s.validateValue(f, value)
	if err != nil {
		return LookupResult{}, s.refuseInvalid(ctx, a, ActionSubjectLookup, "", err)
	}
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectLookup, "", []string{field})
	if err != nil {
		return LookupResult{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.FieldObject(field), policies.ActLookup) {
		return LookupResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not look subjects up by this field for this purpose"))
	}
	if !s.lookups.allow(a.Caller.Subject) {
		return LookupResult{}, s.deny(ctx, e, statusTooManyRequests, "rate_limited",
			Errorf(CodeRateLimited, "too many lookups; slow down"))
	}
	ids, err := s.holding(ctx, field, norm)
	if err != nil {
		return LookupResult{}, internalErr("lookup", err)
	}
	e.Decision, e.Status, e.FieldsGranted = audit.Allow, statusOK, []string{field}
	e.Reason = "matches:" + strconv.Itoa(len(ids))
	// Each person the lookup found gets the entry under their own reference, so their access log shows that
	// staff looked them up and why; a lookup that found no one has one entry without a subject.
	entries := []audit.Entry{e}
	if len(ids) > 0 {
		entries = make([]audit.Entry, len(ids))
		for i, id := range ids {
			entries[i] = e
			entries[i].SubjectRef = s.subjectRef(ctx, id)
		}
	}
	seq, err := s.seq.CommitMany(ctx, nil, func(error) []audit.Entry { return entries })
	if err != nil {
		return LookupResult{}, internalErr("audit lookup", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return LookupResult{IDs: ids, AuditSeq: seq}, nil
}

// holding returns the active subjects whose blind-indexed field (or pseudo-field) has the normalised value.
func (s *Profiles) holding(ctx context.Context, field, normalized string) ([]string, error) {
	return s.store.LookupIndex(ctx, field, s.gate.blindToken(field, normalized))
}

// holdingTokens is holding for several blind-index tokens of one field in one read: by token, the active
// subjects holding it (ProfileStore.LookupIndexTokens).
func (s *Profiles) holdingTokens(ctx context.Context, field string, tokens [][]byte) (map[string][]string, error) {
	return s.store.LookupIndexTokens(ctx, field, tokens)
}

// sourceRecord reports whether an active subject holds the source record (source, external id), and
// whether an erased one does (its tokens are kept as a suppression list: ErasedHolders).
func (s *Profiles) sourceRecord(ctx context.Context, source, externalID string) (held, erased bool, err error) {
	tok := [][]byte{s.gate.blindToken(fieldExternalID, externalIDValue(source, externalID))}
	ids, err := s.holdingTokens(ctx, fieldExternalID, tok)
	if err != nil {
		return false, false, err
	}
	gone, err := s.erasedHolders(ctx, fieldExternalID, tok)
	return len(ids[string(tok[0])]) > 0, gone[string(tok[0])], err
}

// erasedHolders reports which of the blind-index tokens of field an erased subject holds (their source
// records' tokens, ProfileStore.ErasedHolders).
func (s *Profiles) erasedHolders(ctx context.Context, field string, tokens [][]byte) (map[string]bool, error) {
	return s.store.ErasedHolders(ctx, field, tokens)
}

// activeIDs lists active subject ids after the given one, in id order.
func (s *Profiles) activeIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return s.store.SubjectIDs(ctx, after, limit)
}

// activeRange reads the records of the active subjects after after and through through, in id order,
// with only the fields named and no activity (ProfileStore.SubjectRange).
func (s *Profiles) activeRange(ctx context.Context, after, through string, fields []string) ([]SubjectRecord, error) {
	return s.store.SubjectRange(ctx, after, through, fields)
}

// eraseSubject crypto-shreds a subject: their DEKs are destroyed first, then every sealed value and index entry is
// deleted, in one transaction with the audit entry; cached keys are evicted afterwards.
func (s *Profiles) eraseSubject(ctx context.Context, a Access, id string) (Receipt, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionSubjectErase); err != nil {
		return Receipt{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectErase, id, nil)
	e.Categories = pol.Schema().Categories()
	if err != nil {
		return Receipt{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActErase) {
		return Receipt{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not erase subjects for this purpose"))
	}
	if !plausibleID(id) {
		return Receipt{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
	}
	return s.erase(ctx, e, id)
}

func (s *Profiles) erase(ctx context.Context, e audit.Entry, id string) (Receipt, error) {
	now := s.now().UTC()
	// The ledger learns of the erasure before it happens: a crash after the COMMIT can then never leave an
	// erasure a restore would not apply again. A record whose erasure then fails is applied at a restore,
	// which is what its subject asked for.
	// An erasure applied again after a restore is already in the ledger (the restore copied it there).
	if s.erasures != nil && e.Action != string(ActionErasureReapply) {
		if err := s.erasures.Record(ctx, e.SubjectRef, now); err != nil {
			s.log.Error("erasure ledger unavailable", "request_id", e.RequestID, "err", err)
			return Receipt{}, s.deny(ctx, e, statusUnavailable, reasonErasureLedger,
				Errorf(CodeUnavailable, "erasure is unavailable: the erasure ledger cannot be written; try again later"))
		}
	}
	var classes []string
	var held []Hold
	var repeat *HeldErasure // erased before, under a hold that still runs
	erasedAt := now
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		st, err := tx.SubjectState(id)
		if err != nil {
			return err
		}
		if st != StateActive {
			// Erased before: under a hold that still runs, the answer is the same 409 with the same receipt
			// (but for this call's entry); otherwise 404.
			h, ok, err := tx.Hold(id)
			if err != nil {
				return err
			}
			if ok && h.Until.After(now) {
				repeat = &h
				held, erasedAt, classes = []Hold{{Category: "transactions", Until: h.Until}}, h.ErasedAt, h.Shredded
				return errHeld
			}
			return ErrNotFound
		}
		var keep []string
		var until time.Time
		if last, ok, err := tx.LatestEvent(id, "transactions"); err != nil {
			return err
		} else if ok && s.transactionHold >= 0 && holdEnd(last, s.transactionHold).After(now) {
			until = holdEnd(last, s.transactionHold).UTC()
			keep = []string{ClassTransactions}
			held = []Hold{{Category: "transactions", Until: until}}
		}
		if classes, err = tx.Erase(id, now, keep, until); err != nil {
			return err
		}
		return s.tags.subjectErased(tx, id)
	}, func(changeErr error) audit.Entry {
		if errors.Is(changeErr, errHeld) {
			changeErr = nil
		}
		e = finish(e, changeErr, nil)
		if repeat != nil && len(repeat.RefSalt) > 0 {
			e.SubjectRef = refFor(s.gate, id, repeat.RefSalt)
		}
		if changeErr == nil {
			e.Reason = "crypto_shredded:" + strings.Join(classes, ",")
			if repeat != nil {
				e.Reason = "erased_before crypto_shredded:" + strings.Join(classes, ",")
			}
			if len(held) > 0 {
				e.Decision, e.Status = audit.Partial, 409
				e.Reason += " legal_hold:transactions_until_" + held[0].Until.Format(time.DateOnly)
			}
		}
		return e
	})
	s.gate.forget(id)
	if err == nil && len(classes) > 0 {
		s.purgeLater(id, classes)
	}
	if err != nil && !errors.Is(err, errHeld) {
		if errors.Is(err, ErrNotFound) {
			return Receipt{}, &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq}
		}
		return Receipt{}, internalErr("erase subject", err)
	}
	sort.Strings(classes)
	if classes == nil {
		classes = []string{}
	}
	r := Receipt{SubjectID: id, SubjectRef: e.SubjectRef, ErasedAt: erasedAt, ClassesShredded: classes, AuditSeq: seq, Held: held}
	r.Signature, err = s.signDocument("erasure receipt", "subject "+id, "erased_at "+erasedAt.Format(time.RFC3339Nano),
		"classes_shredded "+strings.Join(classes, ","), "held "+holdText(held), "audit_seq "+strconv.FormatInt(seq, 10))
	if err != nil {
		return r, internalErr("sign receipt", err)
	}
	// A legal hold is part of the result, not an error: the erasure happened; Held says what the law keeps.
	return r, nil
}

// ActionSubjectPurge records the physical deletion of an erased subject's events after their keys were
// destroyed.
const ActionSubjectPurge Action = "subject.purge"

// purgeLater deletes the events of shredded classes in the background, in chunks, each with an audit entry.
// Their keys are already gone, so they are unreadable from the moment of erasure; this only frees space,
// and keeps erasure latency independent of how much data a subject has.
func (s *Profiles) purgeLater(id string, classes []string) {
	s.purges.Add(1)
	go func() {
		defer s.purges.Done()
		ctx := context.Background()
		pol := s.Policy()
		for {
			// No subject reference: the subject's salt is gone, and a reference derived from the bare id would
			// make their erasure linkable again.
			e := s.newEntry(ctx, Access{Caller: Caller{Subject: "vaultd-purge", Roles: []policies.Role{policies.RoleAdmin}}, RequestID: "purge"}, pol, ActionSubjectPurge, "")
			var n int
			_, err := s.seq.Commit(ctx, func(tx Tx) error {
				var err error
				n, err = tx.PurgeEvents(id, classes, 5000)
				return err
			}, func(changeErr error) audit.Entry {
				e = finish(e, changeErr, nil)
				e.Reason = "events_deleted:" + strconv.Itoa(n)
				return e
			})
			if err != nil {
				s.log.Error("purging an erased subject's events failed; they stay unreadable and the next erasure or retention run retries", "err", err)
				return
			}
			if n < 5000 {
				return
			}
		}
	}()
}

// WaitPurges waits for background purges to finish (before closing the store; in tests).
func (s *Profiles) WaitPurges() { s.purges.Wait() }

// Hold says which category of an erased subject's data the law keeps, and until when.
type Hold struct {
	Category string
	Until    time.Time
}

// holdEnd is when the E-Commerce Law Art. 31 hold of transaction records completed at last ends: three
// calendar years later (so across 29 February it ends on 1 March, not a day early), or after an explicit
// period (Config.TransactionHold).
func holdEnd(last time.Time, period time.Duration) time.Time {
	if period > 0 {
		return last.Add(period)
	}
	return last.AddDate(3, 0, 0)
}

// errHeld marks an erasure repeated while a hold runs (nothing changes).
var errHeld = errors.New("held")

func holdText(h []Hold) string {
	var parts []string
	for _, x := range h {
		parts = append(parts, x.Category+"_until_"+x.Until.Format(time.RFC3339))
	}
	return strings.Join(parts, ",")
}

// ActionRetentionExpire records the shredding of held data whose hold ended.
const ActionRetentionExpire Action = "retention.expire"

// RunRetention shreds the held data of every subject whose legal hold has ended (the key first, then the
// events), each in its own transaction with its audit entry. It returns how many subjects it finished.
func (s *Profiles) RunRetention(ctx context.Context, a Access) (int, error) {
	now := s.now().UTC()
	ids, err := s.store.ExpiredHolds(ctx, now)
	if err != nil {
		return 0, internalErr("find expired holds", err)
	}
	pol := s.Policy()
	n := 0
	for _, id := range ids {
		e := s.newEntry(ctx, a, pol, ActionRetentionExpire, "") // no reference: the subject is erased and unlinkable
		var classes []string
		_, err := s.seq.Commit(ctx, func(tx Tx) error {
			var err error
			classes, err = tx.Erase(id, now, nil, time.Time{})
			return err
		}, func(changeErr error) audit.Entry {
			e = finish(e, changeErr, nil)
			e.Reason = "hold_ended crypto_shredded:" + strings.Join(classes, ",")
			return e
		})
		s.gate.forget(id)
		if err != nil {
			return n, internalErr("expire hold", err)
		}
		s.purgeLater(id, classes)
		n++
	}
	return n, nil
}

// ActionRetentionDelete records data deleted because no purpose may keep it any longer (PIPL Art. 47 ¶1 (2)).
const ActionRetentionDelete Action = "retention.delete"

// keptCategories returns the categories some purpose may still keep for the subject at now: a purpose that
// keeps data (Purpose.KeepsData) and processes the category, whose retention has not run out and — if it
// rests on consent — with a consent of the subject's in force for it.
func keptCategories(pol *policies.Set, rec SubjectRecord, now time.Time) map[string]bool {
	kept := map[string]bool{}
	for _, p := range pol.Purposes().All() {
		if !p.KeepsData() || retentionExpired(p, rec, now) {
			continue
		}
		if p.NeedsConsent() && len(consent.Active(rec.Consents, p.Name, now)) == 0 {
			continue
		}
		for _, c := range p.Categories {
			kept[c] = true
		}
	}
	return kept
}

// ExpireRetained deletes what no purpose may keep any longer (PIPL Art. 19, 47): for each active subject,
// the fields and events of every category no purpose keeps (keptCategories), each subject in its own
// transaction with a retention.delete entry; a subject of whom nothing may be kept is erased (keys shredded,
// the E-Commerce Law hold answered). It returns how many subjects it changed.
func (s *Profiles) ExpireRetained(ctx context.Context, a Access) (int, error) {
	pol := s.Policy()
	schema := pol.Schema()
	n, after := 0, ""
	for {
		ids, err := s.store.SubjectIDs(ctx, after, 500)
		if err != nil {
			return n, internalErr("list subjects", err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			changed, err := s.expireSubject(ctx, a, pol, schema, id)
			if err != nil {
				return n, err
			}
			if changed {
				n++
			}
		}
	}
}

// expireSubject applies retention to one subject; it reports whether anything was deleted.
func (s *Profiles) expireSubject(ctx context.Context, a Access, pol *policies.Set, schema *policies.Schema, id string) (bool, error) {
	rec, err := s.activeSubject(ctx, id)
	if err != nil {
		return false, nil // erased meanwhile
	}
	now := s.now().UTC()
	kept := keptCategories(pol, rec, now)
	e := s.newEntry(ctx, a, pol, ActionRetentionDelete, id)
	if len(kept) == 0 {
		e.Categories = schema.Categories()
		if _, err := s.erase(ctx, e, id); err != nil && ErrorCode(err) != CodeNotFound {
			return false, err
		}
		return true, nil
	}
	drop := map[string]*string{}
	var cats []string
	for name := range rec.Fields {
		if f, ok := schema.Field(name); ok && !kept[f.Category] {
			drop[name] = nil
			if !slices.Contains(cats, f.Category) {
				cats = append(cats, f.Category)
			}
		}
	}
	var eventCats []string
	for typ := range rec.Activity {
		if c, ok := policies.EventCategory(typ); ok && !kept[c] && !slices.Contains(eventCats, c) {
			eventCats = append(eventCats, c)
		}
	}
	if len(drop) == 0 && len(eventCats) == 0 {
		return false, nil
	}
	cats = append(cats, eventCats...)
	slices.Sort(cats)
	e.Categories, e.FieldsRequested = cats, slices.Sorted(maps.Keys(drop))
	deleted := 0
	_, err = s.seq.Commit(ctx, func(tx Tx) error {
		deleted = 0
		if err := activeIn(tx, id); err != nil {
			return err
		}
		if err := s.writeFields(tx, &e, schema, DEK{}, id, rec, drop, now); err != nil {
			return err
		}
		for _, c := range eventCats {
			k, err := s.ingestion.retentionEnded(tx, id, c)
			if err != nil {
				return err
			}
			deleted += k
		}
		return s.tags.inputsChanged(tx, id)
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, e.FieldsRequested)
		e.Reason = "retention_ended:" + strings.Join(cats, ",") + " events_deleted:" + strconv.Itoa(deleted)
		return e
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, internalErr("expire retained data", err)
	}
	return err == nil, nil
}

// Update changes (or, with a nil value, clears) fields of a subject: see updateSubject.
func (s *Profiles) Update(ctx context.Context, a Access, id string, in map[string]*string) (View, error) {
	return s.updateSubject(ctx, a, id, in)
}

// Erase crypto-shreds a subject: see eraseSubject.
func (s *Profiles) Erase(ctx context.Context, a Access, id string) (Receipt, error) {
	return s.eraseSubject(ctx, a, id)
}
