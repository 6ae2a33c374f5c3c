package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// Subject states.
const (
	StateActive = "active"
	StateErased = "erased"
)

// Retention classes: one DEK per subject and class, so a class can be shredded on its own.
const (
	ClassGeneral      = "general"
	ClassTransactions = "transactions"
)

// DEK is one data-encryption key as stored: wrapped under a KEK version, never in plaintext.
type DEK struct {
	Subject    string
	Class      string
	Version    uint32
	KEKVersion uint32
	Wrapped    []byte
}

// SealedField is one encrypted field value as stored.
type SealedField struct {
	Name       string
	Class      string
	DEKVersion uint32
	Value      []byte
	UpdatedAt  time.Time
}

// SubjectRecord is everything the store keeps about one subject, all of it sealed.
type SubjectRecord struct {
	ID        string
	State     string
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// RefSalt keys the subject's audit pseudonym; it is destroyed at erasure so that old entries can no
	// longer be linked to the subject id.
	RefSalt []byte
	DEKs    map[string]DEK // by class (the current version)
	Fields  map[string]SealedField
	// ConsentEvents is the subject's consent history; Consents is the state derived from it.
	ConsentEvents []consent.Event
	Consents      []consent.Record
	// Objections the subject has raised (PIPL Art. 24), by kind, with when.
	Objections map[string]time.Time
	// Activity is the time of the subject's newest event of each type (retention clocks, PIPL Art. 19).
	Activity map[string]time.Time
}

// TagSubject is what storing tags confirms of an active subject inside the transaction (TagTx.TagSubjects).
type TagSubject struct {
	ConsentEvents []consent.Event
	Objections    []string
	DEK           DEK // of the class asked for; zero Version if the subject has none
}

// TagSubjectRows gathers, for an adapter's TagTx.TagSubjects, the rows of the batch it reads table by table:
// the active subjects first, then their consent events (the stored JSON, in order), objections and DEKs
// (the highest version kept); rows of subjects not named active are dropped. The adapter only reads.
type TagSubjectRows map[string]TagSubject

// Active names an active subject of the batch.
func (m TagSubjectRows) Active(id string) { m[id] = TagSubject{} }

// ConsentEvent adds a consent event, as stored (JSON), to subject id's.
func (m TagSubjectRows) ConsentEvent(id string, data []byte) error {
	s, ok := m[id]
	if !ok {
		return nil
	}
	var e consent.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("decode consent event: %w", err)
	}
	s.ConsentEvents = append(s.ConsentEvents, e)
	m[id] = s
	return nil
}

// Objection adds an objection (its kind) to subject id's.
func (m TagSubjectRows) Objection(id, kind string) {
	if s, ok := m[id]; ok {
		s.Objections = append(s.Objections, kind)
		m[id] = s
	}
}

// DEK keeps d as its subject's DEK if it is the highest version seen.
func (m TagSubjectRows) DEK(d DEK) {
	if s, ok := m[d.Subject]; ok && d.Version > s.DEK.Version {
		s.DEK = d
		m[d.Subject] = s
	}
}

// TagSet is one subject's tags of one purpose to store (TagTx.PutTags); no tags deletes them.
type TagSet struct {
	Subject string
	Purpose policies.PurposeName
	Tags    []StoredTag
}

// ResolveTagSets is what a PutTags batch does, for the adapters: of several sets for one subject and purpose
// the last counts. It returns the sets that count, in order, and each purpose (in the order first seen) with
// the subjects whose tags under it the batch replaces.
func ResolveTagSets(sets []TagSet) (kept []TagSet, purposes []policies.PurposeName, subjects map[policies.PurposeName][]string) {
	type key struct {
		subject string
		purpose policies.PurposeName
	}
	last := make(map[key]int, len(sets))
	for i, set := range sets {
		last[key{set.Subject, set.Purpose}] = i
	}
	subjects = map[policies.PurposeName][]string{}
	for i, set := range sets {
		if last[key{set.Subject, set.Purpose}] != i {
			continue // a later set of the subject and purpose counts
		}
		if _, ok := subjects[set.Purpose]; !ok {
			purposes = append(purposes, set.Purpose)
		}
		subjects[set.Purpose] = append(subjects[set.Purpose], set.Subject)
		kept = append(kept, set)
	}
	return kept, purposes, subjects
}

// StoredTag is a tag as stored: value and explanation sealed under the subject's general DEK; the rest is
// what gating and deletion need.
type StoredTag struct {
	SubjectID          string
	Purpose            policies.PurposeName
	Key, Level         string
	Inputs, ConsentIDs []string
	ComputedAt         time.Time
	DEKVersion         uint32
	Sealed             []byte
}

// The storage the enforcement point needs, as small per-domain storers (a few methods each). A store adapter
// (internal/sqlite) implements all of them; Store and Tx are only their unions, so that each piece of domain
// code can take the narrow view it uses and the conformance of an adapter can be tested storer by storer.

// Sequencer is the single ordered writer: every change and every release is appended to the audit trail
// through it, in one order.
type Sequencer interface {
	// Commit runs change (which may be nil, for reads) and appends the entry returned by entry in the same
	// transaction; it returns once that entry is durable. entry receives change's error so the entry can
	// record the failure. If change fails, nothing it did is kept but the entry is still appended, and Commit
	// returns the entry's sequence number together with change's error. If the entry cannot be made durable
	// in time, Commit returns ErrUnavailable and nothing of the change is visible.
	Commit(ctx context.Context, change func(Tx) error, entry func(changeErr error) audit.Entry) (seq int64, err error)
	// CommitMany is Commit with several entries for one change: entries receives change's error and returns
	// at least one entry; they are appended in order, in the change's transaction. It returns the first
	// entry's sequence number.
	CommitMany(ctx context.Context, change func(Tx) error, entries func(changeErr error) []audit.Entry) (seq int64, err error)
	// Guard takes the subject's change generation (Generations.Guard); take it before reading the record a
	// release decides on.
	Guard(subject string) Guard
	// Release appends the entry of a release decided under guard, like Commit without a change, unless the
	// ordering step finds guard stale (Generations.Stale): then it appends nothing and returns ErrSuperseded.
	// Every change a Commit makes to a subject advances its generation once committed.
	Release(ctx context.Context, guard Guard, e audit.Entry) (seq int64, err error)
	// ReleaseWith is Release that also runs change — a grant's read count — in the writer's transaction,
	// after the ordering step: entry receives change's error, and the entry's sequence number is returned
	// with it (a failed change keeps nothing; its entry records the refusal).
	ReleaseWith(ctx context.Context, guard Guard, change func(Tx) error, entry func(changeErr error) audit.Entry) (seq int64, err error)
}

// ProfileStore reads subjects.
type ProfileStore interface {
	// Subject reads a subject's record. ErrNotFound if it does not exist; an erased subject is returned with
	// State == StateErased and no DEKs or fields. The record may be shared with a cache: callers must not
	// modify its maps.
	Subject(ctx context.Context, id string) (SubjectRecord, error)
	// Subjects is Subject for several subjects in one read (a batch job's page), by id: ids without a
	// record are absent. Each record is one snapshot, as Subject's is, and holds of its fields only those
	// named in fields (every field when fields is nil).
	Subjects(ctx context.Context, ids []string, fields []string) (map[string]SubjectRecord, error)
	// LookupIndex returns the ids of active subjects whose blind-index token for field equals token.
	LookupIndex(ctx context.Context, field string, token []byte) ([]string, error)
	// LookupIndexTokens is LookupIndex for several tokens of one field in one read (an import batch's):
	// by token (the token's bytes as a string), the ids of the active subjects holding it, in id order, at
	// most 100 each, as LookupIndex returns them; a token no active subject holds is absent.
	LookupIndexTokens(ctx context.Context, field string, tokens [][]byte) (map[string][]string, error)
	// ErasedHolders reports which of tokens (by the token's bytes as a string) an erased subject holds for
	// field: erasure keeps a subject's source-record tokens (_external_id, keyed hashes), so that an import
	// of an erased person's source record is refused rather than creating them again.
	ErasedHolders(ctx context.Context, field string, tokens [][]byte) (map[string]bool, error)
	// SubjectIDs lists active subject ids after the given one, in id order.
	SubjectIDs(ctx context.Context, after string, limit int) ([]string, error)
	// SubjectRange reads, in one snapshot, the records of the active subjects whose id is after after and
	// at most through, in id order: a batch decision's page of SubjectIDs, read as a range rather than id
	// by id. Each record holds what Subject's does except Activity, which is not read, and of its fields
	// only those named in fields.
	SubjectRange(ctx context.Context, after, through string, fields []string) ([]SubjectRecord, error)
	// ExpiredHolds lists subjects whose legal hold ended before now.
	ExpiredHolds(ctx context.Context, now time.Time) ([]string, error)
}

// EventStore reads collected events.
type EventStore interface {
	// Events streams a subject's stored events to fn, oldest first.
	Events(ctx context.Context, subjectID string, fn func(StoredEvent) error) error
}

// TagStore reads stored tags and the tag engine's frozen model.
type TagStore interface {
	// DirtySubjects lists subjects whose tag inputs changed since their tags were computed.
	DirtySubjects(ctx context.Context, limit int) ([]string, error)
	// Tags returns the subject's stored tags (sealed); TagModel the frozen population model of the last
	// full tag run (ok false before the first).
	Tags(ctx context.Context, subject string) ([]StoredTag, error)
	// TagRange reads the stored tags of purpose whose key is one of keys of the subjects whose id is after
	// after and at most through (a batch decision's page: SubjectRange), by subject, each subject's in key
	// order. Each holds what a decision opens — SubjectID, Purpose, Key, DEKVersion, Sealed — and not
	// Level, Inputs, ConsentIDs or ComputedAt.
	TagRange(ctx context.Context, after, through string, purpose policies.PurposeName, keys []string) (map[string][]StoredTag, error)
	// TagsOf is TagRange for the subjects named (a page of audience members, in no order of ids).
	TagsOf(ctx context.Context, subjects []string, purpose policies.PurposeName, keys []string) (map[string][]StoredTag, error)
	TagModel(ctx context.Context) (model []byte, fittedAt time.Time, ok bool, err error)
	// CurrentDEKs returns, for those of subjects that have one, the current DEK of class (sealed tag
	// batches are prepared under it without reading whole subject records).
	CurrentDEKs(ctx context.Context, subjects []string, class string) (map[string]DEK, error)
}

// Store is everything the enforcement point reads, with the sequencer it writes through.
type Store interface {
	Sequencer
	ProfileStore
	EventStore
	TagStore
}

// SubjectTx is what every domain's change needs of the subject it changes, inside the writer's
// transaction: that it is still active, its key, and its last-change time.
type SubjectTx interface {
	// SubjectState returns the subject's state; ErrNotFound if there is none.
	SubjectState(id string) (string, error)
	// DEK returns the subject's current DEK of class; ErrNotFound if none exists.
	DEK(subject, class string) (DEK, error)
	// PutDEK inserts or replaces a DEK row.
	PutDEK(d DEK) error
	// Touch sets the subject's updated_at.
	Touch(subject string, at time.Time) error
}

// ProfileTx changes subjects' records and blind index inside the writer's transaction.
type ProfileTx interface {
	SubjectTx
	// CreateSubject inserts a new active subject with the salt of its audit pseudonym.
	CreateSubject(id, source string, refSalt []byte, at time.Time) error
	// PutField inserts or replaces one sealed field.
	PutField(subject string, f SealedField) error
	// DeleteField removes one field (no error if absent).
	DeleteField(subject, name string) error
	// SetIndexTokens replaces every blind-index token of (field, subject) with tokens (none removes them).
	SetIndexTokens(field, subject string, tokens [][]byte) error
	// SetIndex replaces the blind-index token of (field, subject); a nil token removes it.
	SetIndex(field, subject string, token []byte) error
}

// ImportTx inserts new subjects whole (a creation, or an import batch's in one go).
type ImportTx interface {
	// InsertSubjects inserts new active subjects, each with its DEK, its sealed fields and its blind-index
	// tokens: what CreateSubject, PutDEK, PutField and SetIndexTokens write for subjects that did not exist,
	// in a few statements for the lot. An id that exists already is an error.
	InsertSubjects(subjects []SubjectRows) error
}

// SubjectRows is a new subject as InsertSubjects stores it, everything sealed or tokenised already.
type SubjectRows struct {
	ID      string
	Source  string
	RefSalt []byte
	At      time.Time // created_at and updated_at
	DEK     DEK
	Fields  []SealedField
	Index   []IndexToken
}

// IndexToken is one blind-index token of a field (or pseudo-field) of a subject.
type IndexToken struct {
	Field string
	Token []byte
}

// ErasureTx erases subjects and keeps what the law holds.
type ErasureTx interface {
	// Erase destroys the subject's DEKs, then deletes every sealed field, index entry and objection, and
	// marks the subject erased (its tags are the tag domain's: TagTx.DeleteTags in the same transaction); events of the destroyed classes are unreadable at once and are deleted afterwards with
	// PurgeEvents. Classes in keep (under a legal hold) keep their key and events until holdUntil; the
	// subject's reference salt and the classes destroyed are kept with the hold (HeldErasure), so that a
	// repeated erasure answers the same; an erasure without keep drops them. It returns the classes whose
	// keys were destroyed.
	Erase(subject string, at time.Time, keep []string, holdUntil time.Time) ([]string, error)
	// PurgeEvents deletes up to limit events of the subject in classes (whose keys are already destroyed)
	// and reports how many it deleted.
	PurgeEvents(subject string, classes []string, limit int) (int, error)
	// LatestEvent returns the time of the subject's newest event of category (ok false if none).
	LatestEvent(subject, category string) (time.Time, bool, error)
	// Hold returns an erased subject's legal hold; ok is false without one, ErrNotFound for no subject.
	Hold(subject string) (h HeldErasure, ok bool, err error)
}

// HeldErasure is what an erasure under a legal hold kept to answer a repeat of it the same way (API.md):
// when the hold ends, when the erasure happened, the key classes it destroyed and the subject's reference
// salt (so the receipt names the same subject_ref; dropped with the held data when the hold ends).
type HeldErasure struct {
	Until, ErasedAt time.Time
	Shredded        []string
	RefSalt         []byte
}

// ConsentTx changes consent histories and objections: the consent package's Store, inside the writer's
// transaction.
type ConsentTx = consent.Store

// IdentityTx changes identity resolution's records: external ids, merges, reviews, import reports.
type IdentityTx interface {
	// AddExternalID links another source's external id (its blind token) to a subject.
	AddExternalID(subject string, token []byte) error
	// RemoveExternalID unlinks an external id's blind token from a subject.
	RemoveExternalID(subject string, token []byte) error
	// PutMerge records an automatic merge; PutReview queues a weak match.
	PutMerge(m MergeRow) error
	PutReview(r ReviewRow) error
	// Merge reads a merge inside the transaction (ErrNotFound if unknown); RevertMerge marks it reverted,
	// naming the subject the merged record was restored to.
	Merge(id string) (MergeRow, error)
	RevertMerge(id, restored string, at time.Time) error
	// DecideReview closes the review with state if it is open; it returns the state the review had ("" if
	// there is none).
	DecideReview(id, state string, at time.Time) (string, error)
	// PutImportReport keeps a data-quality report.
	PutImportReport(id, report string, at time.Time) error
}

// EventTx stores collected events.
type EventTx interface {
	// PutEvents stores events whose ids do not exist yet and reports how many it inserted.
	PutEvents(events []StoredEvent) (int, error)
	// DeleteEventsCollectedUnder deletes the subject's events collected under purpose and reports how many.
	DeleteEventsCollectedUnder(subject string, purpose policies.PurposeName) (int, error)
	// DeleteEventsOfCategory deletes the subject's events of category, with their activity times, and
	// reports how many.
	DeleteEventsOfCategory(subject, category string) (int, error)
	// ResealEvents replaces the sealed attributes of each event whose attributes are still Old by New,
	// and reports how many it replaced: an event deleted or changed since it was read is left as it is.
	ResealEvents(events []ResealedEvent) (int, error)
}

// ResealedEvent is an event's attributes sealed again (ResealEvents): the same values, under the same DEK.
type ResealedEvent struct {
	SubjectID, ID string
	Old, New      []byte
}

// TagTx changes stored tags and the frozen model.
type TagTx interface {
	// TagSubjects reads, inside the transaction, what storing tags confirms of each of subjects that is
	// active (the others are absent): its consent history, oldest first (ConsentTx.ConsentEvents), its
	// objection kinds (ConsentTx.Objections) and its current DEK of class (SubjectTx.DEK; zero if none).
	TagSubjects(subjects []string, class string) (map[string]TagSubject, error)
	// PutTags stores a batch of tag sets: each set's tags become its subject's tags of its purpose, and a
	// set without tags deletes them; of several sets of one subject and purpose the last counts.
	PutTags(sets []TagSet) error
	// DeleteTags removes the subject's tags of purpose ("" for every purpose).
	DeleteTags(subject string, purpose policies.PurposeName) error
	// DeleteTag removes the subject's tag of key under every purpose.
	DeleteTag(subject, key string) error
	// MarkStale records that the subject's tag inputs (fields, consents, objections, events) changed in
	// this transaction: its tags are stale as of the change's audit sequence number (DirtySubjects).
	MarkStale(subject string) error
	// ClearDirty marks the subject's tags current with every change marked before audit sequence number
	// seen (changes marked later stay pending).
	ClearDirty(subject string, seen int64) error
	// PutTagModel stores the frozen population model.
	PutTagModel(model []byte, at time.Time) error
}

// RequestTx changes data-subject requests.
type RequestTx interface {
	// PutRequest inserts or replaces a data-subject request.
	PutRequest(r RequestRow) error
	// Request reads a request inside the transaction; ErrNotFound if there is none.
	Request(id string) (RequestRow, error)
}

// PolicyTx keeps the policy versions in force.
type PolicyTx interface {
	// PutPolicyInForce records that the policy of hash (its files, encoded) is in force from since.
	PutPolicyInForce(hash string, files []byte, since time.Time) error
}

// PolicyStore reads the history of the policy in force.
type PolicyStore interface {
	// PolicyHistory lists every policy version that came into force, oldest first.
	PolicyHistory(ctx context.Context) ([]PolicyInForce, error)
	// PolicyFiles returns a version's files, encoded as recorded; ErrNotFound for an unknown hash.
	PolicyFiles(ctx context.Context, hash string) ([]byte, error)
}

// PolicyInForce is a policy version and when it came into force.
type PolicyInForce struct {
	Hash  string
	Since time.Time
}

// RunChange runs change on tx for a store, turning a panic in it into the change's error, so that one bad
// change fails alone (its savepoint rolled back) instead of taking the store's writer down.
func RunChange(change func(Tx) error, tx Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("change panicked: %v", r)
		}
	}()
	return change(tx)
}

// Tx is the writer's transaction: the union of the per-domain views, so that a change spanning domains (a
// withdrawal and the deletion of the tags that relied on it) is still one transaction.
type Tx interface {
	ProfileTx
	ImportTx
	ErasureTx
	ConsentTx
	IdentityTx
	EventTx
	TagTx
	RequestTx
	AccessTx
	AudienceTx
	RevocationTx
	KeyTx
	PolicyTx
	IncidentTx
}
