package vault

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/jsonenc"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// Tags is the tag engine as the enforcement point serves it: gated inputs, sealed storage, reads of a
// subject's tags, the frozen population model and its aggregate insights.
type Tags struct {
	*core
	store TagStore
	// profiles lists the subjects a full run covers; ingestion opens the events a run was released;
	// consents says which consents a stored tag may still rest on.
	profiles  *Profiles
	ingestion *Ingestion
	consents  *ConsentRecords
}

// Tags returns the service; it shares the enforcement point's core.
func (s *Service) Tags() *Tags { return s.tags }

// Tag actions recorded in the audit trail.
const (
	ActionTagCompute  Action = "tag.compute"
	ActionTagRead     Action = "tag.read"
	ActionInsightRead Action = "insight.read"
)

// TagPurposes are the purposes per-person tags are computed under (the purposes catalog's "tags":
// "subject"); population models are fitted under its "population" purposes.
func (s *Tags) TagPurposes() []policies.PurposeName { return s.Policy().Purposes().Tagged() }

// tagInputCategories are the categories a tag may read, and tagInputFields the fields of them that are
// released for tagging (data minimisation: no name, contact or street address ever reaches the engine).
var (
	tagInputCategories = []string{"identity", "address", "demographic", "transactions", "behavior", "interactions"}
	tagInputFields     = []string{"birth_date", "gender", "province", "city", "occupation"}
)

// TagInput is what the enforcement point releases to compute one subject's tags: the data of the input
// categories that the subject's legal basis covers now for at least one of the requested purposes, and for
// each purpose which categories that is. A purpose's computation must read only its own categories.
type TagInput struct {
	SubjectID string
	Fields    map[string]string // birth_date, gender, province, city, occupation (allowed for some purpose and present)
	Events    []EventView       // events of categories allowed for some purpose, oldest first; Attrs only those SetTagAttributes named
	CreatedAt time.Time
	Bases     map[policies.PurposeName]TagBasis // by purpose; absent when nothing is allowed for it
	// Seen is the audit sequence number of the release: every change committed before it was visible to
	// it. Pass it on in SubjectTags.
	Seen int64
	// Refused are the tag keys the subject refused (DELETE /v1/me/tags/{key}): none is stored, and the
	// engine uses none to decide or explain another tag either.
	Refused map[string]bool
}

// TagBasis is what one purpose may use of a subject.
type TagBasis struct {
	Allowed    []string // input categories covered by the legal basis now
	ConsentIDs []string // the consent records that basis rests on
}

// TagValue is one computed tag, ready to be sealed and stored.
type TagValue struct {
	Key, Level, Value string
	Inputs            []string
	ExplanationZH     string
	ExplanationEN     string
	Algorithm         string
}

// SubjectTags are the tags computed for one subject under one purpose, with the consent records they rest
// on; no tags means the subject's tags of that purpose are removed.
type SubjectTags struct {
	SubjectID  string
	Purpose    policies.PurposeName
	ConsentIDs []string
	Tags       []TagValue
	// Seen is the audit sequence number of the release the tags were computed from (TagInput.Seen, or
	// TagInputs' result for subjects it released nothing of): the subject's changes before it count as
	// computed. Zero leaves the subject's pending changes as they are.
	Seen int64
}

// DirtySubjects lists subjects whose fields, consents, objections or events changed since their tags were
// last computed (ids only), for incremental recomputation by a caller who may compute tags.
func (s *Tags) DirtySubjects(ctx context.Context, a Access, limit int) ([]string, error) {
	if _, err := s.tagCaller(ctx, a, s.TagPurposes(), ActionTagCompute); err != nil {
		return nil, err
	}
	ids, err := s.store.DirtySubjects(ctx, limit)
	if err != nil {
		return nil, internalErr("list changed subjects", err)
	}
	return ids, nil
}

// TagView is a stored tag as a reader sees it.
type TagView struct {
	Key         string
	Level       string
	Purpose     policies.PurposeName
	Value       string
	ComputedAt  time.Time
	Inputs      []string
	ConsentIDs  []string
	Explanation string
	Algorithm   string
	// ExplanationZH and ExplanationEN are both kept; Explanation is the one in the reader's language.
	ExplanationZH string
	ExplanationEN string
}

// sealedTag is the sealed part of a stored tag.
type sealedTag struct {
	Value     string `json:"v"`
	ZH        string `json:"zh"`
	EN        string `json:"en"`
	Algorithm string `json:"alg"`
}

// appendJSON appends t as json.Marshal encodes it, byte for byte, without reflection: a full tag run seals
// about 800,000 tags.
func (t sealedTag) appendJSON(b []byte) []byte {
	b = append(b, `{"v":`...)
	b = jsonenc.AppendString(b, t.Value, true)
	b = append(b, `,"zh":`...)
	b = jsonenc.AppendString(b, t.ZH, true)
	b = append(b, `,"en":`...)
	b = jsonenc.AppendString(b, t.EN, true)
	b = append(b, `,"alg":`...)
	b = jsonenc.AppendString(b, t.Algorithm, true)
	return append(b, '}')
}

// tagAD binds a sealed tag to its purpose and key.
func tagAD(purpose policies.PurposeName, key string) string {
	return "tag:" + string(purpose) + ":" + key
}

// tagCaller checks that a may compute tags for every purpose and opens the batch's audit entry.
func (s *Tags) tagCaller(ctx context.Context, a Access, purposes []policies.PurposeName, action Action) (audit.Entry, error) {
	pol := s.Policy()
	a.Purpose = purposes[0]
	e, err := s.beginStaff(ctx, a, pol, action, "", nil)
	if err != nil {
		return audit.Entry{}, err
	}
	for _, p := range purposes {
		if _, ok := pol.Purposes().Purpose(p); !ok {
			return audit.Entry{}, s.deny(ctx, e, statusBadRequest, "unknown_purpose", Errorf(CodeInvalidArgument, "unknown purpose"))
		}
		if !pol.Allowed(a.Caller.Roles, p, policies.ResourceTags, policies.ActCompute) {
			return audit.Entry{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not compute tags"))
		}
	}
	e.Categories = append([]string(nil), tagInputCategories...)
	return e, nil
}

// AuthorizeTagCompute checks, and records, that a may start a tag computation (role data_steward or
// admin) or read its progress.
func (s *Tags) AuthorizeTagCompute(ctx context.Context, a Access, what string) (int64, error) {
	e, err := s.tagCaller(ctx, a, s.TagPurposes(), ActionTagCompute)
	if err != nil {
		return 0, err
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, what
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit tag job", err)
	}
	return seq, nil
}

// TagInputs releases, for each subject in ids, the data its legal basis covers now for any of purposes,
// to fn, with each purpose's share of it (TagInput.Bases): nothing of erased subjects, nothing for the
// purposes an objection shuts off, nothing of input categories without a basis (a minor's consent must be a
// guardian's); sensitive categories are never inputs. Each subject's data is decrypted once for all
// purposes.
//
// Every release is the subject's own: one entry per subject and purpose (tag.compute, the categories and
// consent records it rests on; the birth date, if the age rule needed it, named as a decision input), so
// the subject's access log shows that their data went to the tag engine and for what. The entries of a
// batch are group-committed, each ordered after every change to its subject that the decision saw; a
// subject changed meanwhile is left for the next run (its change marks it). A summary entry, appended
// before any record is read, counts the batch: its sequence number is returned, and a subject's changes
// before it were visible to this run. It also returns how many subjects had anything released.
func (s *Tags) TagInputs(ctx context.Context, a Access, purposes []policies.PurposeName, ids []string, fn func(TagInput) error) (int64, int, error) {
	if len(purposes) == 0 {
		return 0, 0, s.refuseInvalid(ctx, a, ActionTagCompute, "", Errorf(CodeInvalidArgument, "no purpose"))
	}
	e, err := s.tagCaller(ctx, a, purposes, ActionTagCompute)
	if err != nil {
		return 0, 0, err
	}
	summary := e
	summary.Decision, summary.Status, summary.Reason = audit.Allow, statusOK, "inputs purposes:"+strings.Join(policies.Texts(purposes), ",")+" subjects:"+strconv.Itoa(len(ids))
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return summary })
	if err != nil {
		return 0, 0, internalErr("audit tag inputs", err)
	}
	decided, err := s.decideTagInputs(ctx, e, purposes, ids, seq)
	if err != nil {
		return seq, 0, internalErr("read subjects", err)
	}
	if err := s.releaseTagInputs(ctx, decided); err != nil {
		return seq, 0, err
	}
	released := 0
	for i, d := range decided {
		decided[i] = nil // once handed on, a subject's decrypted inputs are not kept for the rest of the batch
		if d.rel == nil {
			continue // superseded: the change that overtook the decision marked the subject for the next run
		}
		if err := s.openTagInput(ctx, d); err != nil {
			return seq, released, internalErr("read tag inputs", err)
		}
		released++
		if err := fn(d.in); err != nil {
			return seq, released, err
		}
	}
	return seq, released, nil
}

// tagDecision is what TagInputs decided for one subject, and, once its entries are durable, its release.
type tagDecision struct {
	guard   Guard
	rec     SubjectRecord
	in      TagInput
	union   map[string]bool
	entries []audit.Entry // one per purpose released (or the one refusal, when withheld)
	// withheld: nothing may be released; the entry records the decision-time open alone.
	withheld bool
	rel      *release
}

// decideTagInputs decides, for each subject, what each purpose may use of it now (nothing is opened but the
// birth date for the age rule, named in the subject's entries). The records of the batch are read in one go
// (a statement per core rather than one per subject), with only the fields tag inputs may hold, each after
// its subject's guard was taken, so a change committed after the read still supersedes the decision.
func (s *Tags) decideTagInputs(ctx context.Context, e audit.Entry, purposes []policies.PurposeName, ids []string, seen int64) ([]*tagDecision, error) {
	pol := s.Policy()
	catalog := make(map[policies.PurposeName]policies.Purpose, len(purposes))
	for _, name := range purposes {
		catalog[name], _ = pol.Purposes().Purpose(name) // known: tagCaller checked
	}
	now := s.now()
	guards := make([]Guard, len(ids))
	for i, id := range ids {
		guards[i] = s.seq.Guard(id)
	}
	recs, err := s.activeSubjects(ctx, ids, tagInputFields) // the fields a decision or a release opens
	if err != nil {
		return nil, err
	}
	var out []*tagDecision
	for i, id := range ids {
		guard := guards[i]
		rec, ok := recs[id]
		if !ok {
			continue // erased or unknown: nothing to compute
		}
		base := e
		base.SubjectRef = refFor(s.gate, id, rec.RefSalt)
		base.Decision, base.Status = audit.Allow, statusOK
		minor, ageKnown := false, false
		var ageErr error
		for _, purpose := range purposes {
			if catalog[purpose].NeedsConsent() {
				minor, ageKnown, ageErr = s.ageAtDecision(&base, rec, now)
				break
			}
		}
		d := &tagDecision{guard: guard, rec: rec, union: map[string]bool{},
			in: TagInput{SubjectID: id, Fields: map[string]string{}, CreatedAt: rec.CreatedAt, Bases: map[policies.PurposeName]TagBasis{}, Seen: seen,
				Refused: refusedIn(maps.Keys(rec.Objections))}}
		if ageErr != nil {
			// This node cannot open the birth date (ErrKEKMissing): nothing is decided or computed for the
			// subject, their tags stay as they are, and the entry says why.
			base.Decision, base.Status, base.Reason = audit.Deny, statusUnavailable, reasonKeyUnavailable
			d.entries, d.withheld = []audit.Entry{base}, true
			out = append(out, d)
			continue
		}
		for _, purpose := range purposes {
			if objected(rec, catalog[purpose]) || retentionExpired(catalog[purpose], rec, now) || restricted(rec) {
				continue // nothing of the subject may feed the purpose any longer
			}
			if (minor || !ageKnown) && catalog[purpose].Tags == policies.TagsSubject {
				// A child's data is sensitive (PIPL Art. 28): no marketing or personalisation tags for
				// anyone under 14, guardian consent or not (TAGS.md) — nor for anyone whose age is
				// unknown: an unknown birth date is unverified, not adult.
				continue
			}
			basis := consent.Evaluate(consent.Query{Purpose: catalog[purpose], Categories: tagInputCategories, Minor: minor, Records: rec.Consents, Now: now})
			var b TagBasis
			consentIDs := map[string]bool{}
			for _, c := range tagInputCategories {
				if r := basis[c]; r.OK {
					b.Allowed = append(b.Allowed, c)
					d.union[c] = true
					for _, cid := range r.ConsentIDs {
						consentIDs[cid] = true
					}
				}
			}
			if len(b.Allowed) == 0 {
				continue
			}
			for cid := range consentIDs {
				b.ConsentIDs = append(b.ConsentIDs, cid)
			}
			sort.Strings(b.ConsentIDs)
			d.in.Bases[purpose] = b
			pe := base
			pe.Purpose, pe.Categories, pe.ConsentIDs = string(purpose), b.Allowed, b.ConsentIDs
			pe.Reason = "tag_inputs"
			d.entries = append(d.entries, pe)
		}
		switch {
		case len(d.entries) > 0:
			out = append(out, d)
		case len(base.DecisionInputs) > 0:
			// Nothing released, but the age rule opened the birth date: that decision is recorded too.
			base.Decision, base.Reason = audit.Deny, "no_basis"
			d.entries, d.withheld = []audit.Entry{base}, true
			out = append(out, d)
		}
	}
	return out, nil
}

// releaseTagInputs appends every subject's entries at once, so that they share group commits. A subject
// whose entries were superseded keeps rel nil.
func (s *Tags) releaseTagInputs(ctx context.Context, decided []*tagDecision) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 256) // entries in flight: enough to fill several group commits
	rels := make([][]*release, len(decided))
	for i, d := range decided {
		rels[i] = make([]*release, len(d.entries))
		for k, pe := range d.entries {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				rel, err := s.gate.authorize(ctx, d.guard, pe)
				if errors.Is(err, ErrSuperseded) {
					// Nothing is released, but the decision (and what it opened) is still recorded.
					pe.Decision, pe.Reason = audit.Deny, "superseded"
					_, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return pe })
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
				rels[i][k] = rel
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return internalErr("audit tag inputs", firstErr)
	}
	for i, d := range decided {
		if d.withheld || slices.Contains(rels[i], nil) {
			continue // withheld, or superseded: nothing of the subject is released
		}
		for _, r := range rels[i] {
			d.in.Seen = max(d.in.Seen, r.seq)
		}
		d.rel = rels[i][0]
	}
	return nil
}

// openTagInput decrypts, under the subject's release, the fields and events its purposes may use.
func (s *Tags) openTagInput(ctx context.Context, d *tagDecision) error {
	schema := s.Policy().Schema()
	for _, name := range tagInputFields {
		if f, ok := schema.Field(name); ok && d.union[f.Category] {
			if v, ok := d.rel.field(d.rec, name); ok {
				d.in.Fields[name] = v
			}
		}
	}
	if d.union["transactions"] || d.union["behavior"] || d.union["interactions"] {
		var attrs map[string]bool
		if p := s.tagAttributes.Load(); p != nil {
			attrs = *p
		}
		// Only the events of categories some purpose may use are opened, and only the attributes the
		// engine reads are decoded.
		allowed := func(ev StoredEvent) bool { return d.union[ev.Category] }
		return s.ingestion.openEventsOf(ctx, d.rel, d.rec, allowed, attrs, func(ev EventView) error {
			d.in.Events = append(d.in.Events, ev)
			return nil
		})
	}
	return nil
}

// StoreTags stores computed tags, each subject's tags of a purpose replacing its previous ones of that
// purpose, sealed under the subject's general key, in one transaction with its audit entry. A subject whose
// relied-on consent was withdrawn or expired since its inputs were released, or who was erased, gets no
// tags (and loses any previous ones of the purpose): a withdrawal can never be overtaken by a computation.
// It returns how many (subject, purpose) tag sets were stored.
func (s *Tags) StoreTags(ctx context.Context, a Access, batch []SubjectTags) (int, int64, error) {
	purposes := map[policies.PurposeName]bool{}
	var list []policies.PurposeName
	for _, st := range batch {
		if !purposes[st.Purpose] {
			purposes[st.Purpose] = true
			list = append(list, st.Purpose)
		}
	}
	if len(list) == 0 {
		// Nothing to store, but still only for a caller who may compute tags.
		_, err := s.tagCaller(ctx, a, s.TagPurposes(), ActionTagCompute)
		return 0, 0, err
	}
	slices.Sort(list)
	e, err := s.tagCaller(ctx, a, list, ActionTagCompute)
	if err != nil {
		return 0, 0, err
	}
	vocab := s.vocabulary()
	now := s.now().UTC()
	// A tag value that lets one infer sensitive information (health, religion, pregnancy, …) is never
	// stored, whatever computed it: the engine screens names, and the enforcement point checks again.
	batch, screened := screenSensitive(s.Policy().Inferences(), batch)
	// Seal outside the writer, under the subjects' current general keys read in one go; the writer only
	// confirms each key (and that its subject is still active).
	var tagged []string
	for _, st := range batch {
		if len(st.Tags) > 0 {
			tagged = append(tagged, st.SubjectID)
		}
	}
	deks, err := s.store.CurrentDEKs(ctx, tagged, ClassGeneral)
	if err != nil {
		return 0, 0, internalErr("read tag keys", err)
	}
	sealed := make([][]StoredTag, len(batch))
	for i, st := range batch {
		if len(st.Tags) == 0 {
			continue
		}
		for _, t := range st.Tags {
			if vocab != nil && !vocab.Allows(t.Key, t.Value) {
				return 0, 0, internalErr("tag outside the vocabulary", errors.New("tag "+t.Key+": value outside the vocabulary"))
			}
		}
		if d, ok := deks[st.SubjectID]; ok {
			if sealed[i], err = s.sealTags(st, d, now); err != nil {
				return 0, 0, internalErr("seal tags", err)
			}
		}
	}
	// What the change checks, per subject, and the rows it writes are read and written a batch at a time:
	// a statement per table for the batch, not several per subject.
	var subjects []string
	cleared := make(map[string]int64, len(batch))
	for _, st := range batch {
		if _, ok := cleared[st.SubjectID]; !ok {
			subjects = append(subjects, st.SubjectID)
			cleared[st.SubjectID] = 0
		}
	}
	stored, tagCount := 0, 0
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		stored, tagCount = 0, 0
		clear(cleared)
		for _, st := range batch {
			if st.Seen > 0 && cleared[st.SubjectID] < st.Seen { // once per subject and release
				if err := tx.ClearDirty(st.SubjectID, st.Seen); err != nil {
					return err
				}
				cleared[st.SubjectID] = st.Seen
			}
		}
		active, err := tx.TagSubjects(subjects, ClassGeneral)
		if err != nil {
			return err
		}
		type subjectState struct {
			granted map[string]bool // consent ids granted now
			refused map[string]bool // tag keys the subject refused
			dek     DEK
		}
		states := make(map[string]*subjectState, len(active))
		for id, a := range active {
			if a.DEK.Version == 0 {
				return ErrNotFound // an active subject without a general key (as SubjectTx.DEK)
			}
			states[id] = &subjectState{granted: grantedAt(a.ConsentEvents, now), refused: refusedIn(slices.Values(a.Objections)), dek: a.DEK}
		}
		sets := make([]TagSet, 0, len(batch))
		for i, st := range batch {
			subj, ok := states[st.SubjectID]
			if !ok {
				continue // erased or unknown
			}
			ok = true
			for _, id := range st.ConsentIDs {
				ok = ok && subj.granted[id]
			}
			if !ok || len(st.Tags) == 0 {
				sets = append(sets, TagSet{Subject: st.SubjectID, Purpose: st.Purpose})
				continue
			}
			rows := sealed[i]
			if len(rows) == 0 || rows[0].DEKVersion != subj.dek.Version {
				if rows, err = s.sealTags(st, subj.dek, now); err != nil {
					return err
				}
			}
			if len(subj.refused) > 0 {
				rows = slices.DeleteFunc(slices.Clone(rows), func(t StoredTag) bool { return subj.refused[t.Key] })
			}
			sets = append(sets, TagSet{Subject: st.SubjectID, Purpose: st.Purpose, Tags: rows})
			stored++
			tagCount += len(rows)
		}
		return tx.PutTags(sets)
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "store purposes:" + strings.Join(policies.Texts(list), ",") + " sets:" + strconv.Itoa(stored) + " tags:" + strconv.Itoa(tagCount)
		if screened > 0 {
			e.Reason += " screened_sensitive:" + strconv.Itoa(screened)
		}
		return e
	})
	if err != nil {
		return 0, 0, internalErr("store tags", err)
	}
	return stored, seq, nil
}

// sealTags seals one subject's tags of one purpose under d.
func (s *Tags) sealTags(st SubjectTags, d DEK, now time.Time) ([]StoredTag, error) {
	rows := make([]StoredTag, 0, len(st.Tags))
	for _, t := range st.Tags {
		raw := sealedTag{Value: t.Value, ZH: t.ExplanationZH, EN: t.ExplanationEN, Algorithm: t.Algorithm}.appendJSON(nil)
		sealed, err := s.gate.seal(d, tagAD(st.Purpose, t.Key), raw)
		if err != nil {
			return nil, err
		}
		rows = append(rows, StoredTag{SubjectID: st.SubjectID, Purpose: st.Purpose, Key: t.Key, Level: t.Level, Inputs: t.Inputs,
			ConsentIDs: st.ConsentIDs, ComputedAt: now, DEKVersion: d.Version, Sealed: sealed})
	}
	return rows, nil
}

// SetTagAttributes names the event attributes the tag engine reads (internal/profiling's
// EventAttributes): tag inputs carry no others, which are then not even decoded. Until it is called they
// carry every attribute.
func (s *Tags) SetTagAttributes(names []string) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	s.tagAttributes.Store(&keep)
}

// TagVocabulary is what tag keys and values may be (internal/profiling's vocabulary, validated against the
// deny list at load).
type TagVocabulary interface {
	// Has reports whether key is a tag key; Allows whether value is a value key may take.
	Has(key string) bool
	Allows(key, value string) bool
	// Describe says what audience rules need of key: the purpose its tags are computed for, and whether
	// its values are numbers.
	Describe(key string) (purpose string, number bool)
}

// SetTagVocabulary installs the vocabulary every stored tag, audience rule and tag refusal is checked
// against.
func (s *Tags) SetTagVocabulary(v TagVocabulary) { s.tagVocabulary.Store(&v) }

// vocabulary is the installed tag vocabulary, or nil when none is (everything passes).
func (c *core) vocabulary() TagVocabulary {
	if v := c.tagVocabulary.Load(); v != nil {
		return *v
	}
	return nil
}

// knownTagKey reports whether key is in the vocabulary (true when none is installed).
func (s *Tags) knownTagKey(key string) bool {
	v := s.vocabulary()
	return v == nil || v.Has(key)
}

// tagViews decrypts, under rel, a subject's stored tags of purpose ("" for all) in lang ("zh" or "en").
func (s *Tags) tagViews(ctx context.Context, rel *release, rec SubjectRecord, purpose policies.PurposeName, lang string) ([]TagView, error) {
	stored, err := s.storedTags(ctx, rec, purpose)
	if err != nil {
		return nil, err
	}
	return s.openTags(rel, rec, stored, lang)
}

// storedTags reads a subject's sealed tags of purpose ("" for all) without opening them.
func (s *Tags) storedTags(ctx context.Context, rec SubjectRecord, purpose policies.PurposeName) ([]StoredTag, error) {
	rows, err := s.store.Tags(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	if _, ok := rec.DEKs[ClassGeneral]; !ok {
		return nil, nil
	}
	out := rows[:0:0]
	for _, t := range rows {
		if purpose == "" || t.Purpose == purpose {
			out = append(out, t)
		}
	}
	return out, nil
}

// storedTagRange reads the sealed tags of purpose and keys of the subjects after after and through
// through, by subject. It keeps the tags of subjects no longer active or without a general key: a page's
// decisions look tags up by their records only, and decisionTags opens none without the general key.
func (s *Tags) storedTagRange(ctx context.Context, after, through string, purpose policies.PurposeName, keys []string) (map[string][]StoredTag, error) {
	return s.store.TagRange(ctx, after, through, purpose, keys)
}

// storedTagsOf is storedTagRange for the subjects named (a page of audience members).
func (s *Tags) storedTagsOf(ctx context.Context, subjects []string, purpose policies.PurposeName, keys []string) (map[string][]StoredTag, error) {
	return s.store.TagsOf(ctx, subjects, purpose, keys)
}

// openTags decrypts stored tags under rel, in lang.
func (s *Tags) openTags(rel *release, rec SubjectRecord, stored []StoredTag, lang string) ([]TagView, error) {
	out := []TagView{}
	d := rec.DEKs[ClassGeneral]
	for _, t := range stored {
		raw, err := rel.open(d, tagAD(t.Purpose, t.Key), t.Sealed)
		if err != nil {
			return nil, err
		}
		var st sealedTag
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, err
		}
		v := TagView{Key: t.Key, Level: t.Level, Purpose: t.Purpose, Value: st.Value, ComputedAt: t.ComputedAt, Inputs: t.Inputs,
			ConsentIDs: t.ConsentIDs, Algorithm: st.Algorithm, ExplanationZH: st.ZH, ExplanationEN: st.EN, Explanation: st.EN}
		if lang == "zh" {
			v.Explanation = st.ZH
		}
		out = append(out, v)
	}
	return out, nil
}

// TagsResult answers a tag read: the tags, or why they are withheld.
type TagsResult struct {
	Tags     []TagView
	Withheld []Withheld
	AuditSeq int64
}

// SubjectTags returns a subject's tags computed under the declared purpose (marketing or personalization),
// if policy lets the caller read tags for it and the subject's legal basis for it covers tags now; otherwise
// the tags are withheld with the reason. Audited like every read: the entry is durable, and ordered after
// every change the decision saw, before a tag is decrypted.
func (s *Tags) SubjectTags(ctx context.Context, a Access, id, lang string) (TagsResult, error) {
	return superseded(func() (TagsResult, error) { return s.subjectTagsOnce(ctx, a, id, lang) })
}

func (s *Tags) subjectTagsOnce(ctx context.Context, a Access, id, lang string) (TagsResult, error) {
	pol := s.Policy()
	purpose, err := s.checkPurpose(ctx, pol, a, ActionTagRead)
	if err != nil {
		return TagsResult{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionTagRead, id, nil)
	if err != nil {
		return TagsResult{}, err
	}
	e.Categories = []string{"tags"}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceTags, policies.ActRead) {
		return TagsResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read tags for this purpose"))
	}
	guard := s.seq.Guard(id)
	rec, err := s.activeSubject(ctx, id)
	if err != nil {
		return TagsResult{}, s.deny(ctx, e, statusNotFound, reasonSubjectNotFound, Errorf(CodeNotFound, "subject not found"))
	}
	res := TagsResult{Tags: []TagView{}, Withheld: []Withheld{}}
	now := s.now()
	reason := ""
	if objected(rec, purpose) {
		reason = ReasonObjection
	} else if retentionExpired(purpose, rec, now) {
		reason = ReasonRetentionExpired
	} else if restricted(rec) {
		reason = ReasonRestricted
	} else if purpose.NeedsConsent() {
		q, err := s.withAge(consent.Query{Purpose: purpose, Categories: []string{"tags"}, Records: rec.Consents, Now: now}, &e, rec)
		if err != nil {
			return TagsResult{}, s.keyUnavailable(ctx, e, err)
		}
		b := consent.Evaluate(q)["tags"]
		if !b.OK {
			reason = b.Reason
		} else {
			e.ConsentIDs = b.ConsentIDs
		}
	}
	var stored []StoredTag
	if reason != "" {
		res.Withheld = append(res.Withheld, Withheld{Field: "tags", Reason: reason})
		e.Decision, e.Status, e.Reason = audit.Deny, statusOK, reason
	} else {
		// The entry counts the sealed tags it releases; they are opened only once it is durable.
		if stored, err = s.storedTags(ctx, rec, a.Purpose); err != nil {
			return TagsResult{}, internalErr("read tags", err)
		}
		e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "tags:"+strconv.Itoa(len(stored))
	}
	rel, err := s.gate.authorize(ctx, guard, e)
	if errors.Is(err, ErrSuperseded) {
		return TagsResult{}, err
	}
	if err != nil {
		return TagsResult{}, internalErr("audit tag read", err)
	}
	if len(stored) > 0 {
		if res.Tags, err = s.openTags(rel, rec, stored, lang); err != nil {
			return TagsResult{}, internalErr("open tags", err)
		}
	}
	res.AuditSeq = rel.seq
	return res, nil
}

// SaveTagModel stores the frozen population model of a full run (aggregates over consenting subjects).
func (s *Tags) SaveTagModel(ctx context.Context, a Access, model []byte) (int64, error) {
	e, err := s.tagCaller(ctx, a, []policies.PurposeName{policies.PurposeAnalytics}, ActionTagCompute)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutTagModel(model, now) }, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "model bytes:" + strconv.Itoa(len(model))
		return e
	})
	if err != nil {
		return 0, internalErr("save tag model", err)
	}
	return seq, nil
}

// TagModel returns the frozen population model (aggregates) to a caller who may compute tags (nil before
// the first full run).
func (s *Tags) TagModel(ctx context.Context, a Access) ([]byte, error) {
	if _, err := s.tagCaller(ctx, a, s.TagPurposes(), ActionTagCompute); err != nil {
		return nil, err
	}
	m, _, ok, err := s.store.TagModel(ctx)
	if err != nil {
		return nil, internalErr("read tag model", err)
	}
	if !ok {
		return nil, nil
	}
	return m, nil
}

// Insights returns the population model of the last full run for aggregate insights: role analyst or
// marketing, purpose analytics (aggregates read). Nil before the first full run. Audited.
func (s *Tags) Insights(ctx context.Context, a Access, kind string) ([]byte, time.Time, int64, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionInsightRead); err != nil {
		return nil, time.Time{}, 0, err
	}
	e, err := s.beginStaff(ctx, a, pol, ActionInsightRead, "", nil)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	e.Categories = []string{"aggregates"}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAggregates, policies.ActRead) {
		return nil, time.Time{}, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read insights for this purpose"))
	}
	m, at, ok, err := s.store.TagModel(ctx)
	if err != nil {
		return nil, time.Time{}, 0, internalErr("read tag model", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "insight:"+kind
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return nil, time.Time{}, 0, internalErr("audit insight read", err)
	}
	if !ok {
		return nil, time.Time{}, seq, nil
	}
	return m, at, seq, nil
}

// ActiveSubjectIDs lists active subject ids after the given id, in id order, for batch jobs.
func (s *Tags) ActiveSubjectIDs(ctx context.Context, a Access, after string, limit int) ([]string, error) {
	if _, err := s.tagCaller(ctx, a, s.TagPurposes(), ActionTagCompute); err != nil {
		return nil, err
	}
	ids, err := s.profiles.activeIDs(ctx, after, limit)
	if err != nil {
		return nil, internalErr("list subjects", err)
	}
	return ids, nil
}

// consentWithdrawn deletes, inside a withdrawal's transaction, the subject's tags computed under purpose:
// they rested on the consent withdrawn.
func (s *Tags) consentWithdrawn(tx TagTx, subject string, purpose policies.PurposeName) error {
	return tx.DeleteTags(subject, purpose)
}

// objectionRaised deletes, inside an objection's transaction, the subject's tags of the purposes it shuts
// off.
func (s *Tags) objectionRaised(tx TagTx, subject string, purposes []policies.PurposeName) error {
	for _, p := range purposes {
		if err := tx.DeleteTags(subject, p); err != nil {
			return err
		}
	}
	return nil
}

// subjectErased deletes, inside an erasure's transaction, every tag of the subject, and its pending
// recomputation: nothing is left to compute.
func (s *Tags) subjectErased(tx TagTx, subject string) error {
	if err := tx.DeleteTags(subject, ""); err != nil {
		return err
	}
	return tx.ClearDirty(subject, math.MaxInt64)
}

// inputsChanged marks, inside a change's transaction, the subjects whose tag inputs the change altered, so
// that an incremental run recomputes them. Every change to fields, consents, objections or events calls it.
func (s *Tags) inputsChanged(tx TagTx, subjects ...string) error {
	for _, id := range subjects {
		if err := tx.MarkStale(id); err != nil {
			return err
		}
	}
	return nil
}

// screenSensitive returns batch without the tags whose value (or explanation) matches the
// sensitive-inference lexicon, and how many it left out. The batch is not modified.
func screenSensitive(x *policies.Inferences, batch []SubjectTags) ([]SubjectTags, int) {
	out, n := batch, 0
	match := x.Matcher() // values repeat within a batch; the matcher is dropped with it
	for i, st := range batch {
		var keep []TagValue
		for k, t := range st.Tags {
			_, v := match(t.Value)
			_, zh := match(t.ExplanationZH)
			_, en := match(t.ExplanationEN)
			if v || zh || en {
				if keep == nil {
					keep = append(make([]TagValue, 0, len(st.Tags)), st.Tags[:k]...)
				}
				n++
				continue
			}
			if keep != nil {
				keep = append(keep, t)
			}
		}
		if keep != nil {
			if n > 0 && &out[0] == &batch[0] {
				out = slices.Clone(batch)
			}
			out[i].Tags = keep
		}
	}
	return out, n
}

// tagRefused deletes, inside the refusal's transaction, the subject's tag of key under every purpose.
func (s *Tags) tagRefused(tx TagTx, subject, key string) error {
	return tx.DeleteTag(subject, key)
}
