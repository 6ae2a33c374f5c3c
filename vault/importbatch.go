package vault

import (
	"context"
	"strings"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// ImportResult is what ImportSubjects did with one record: what ImportSubject returns for it.
type ImportResult struct {
	Outcome ImportOutcome
	Err     error
}

// indexKey is one blind-index token of one field (the field first, then the token's bytes).
type indexKey struct{ field, token string }

// batchRecord is one record of an ImportSubjects batch while it is decided.
type batchRecord struct {
	in     NewSubject
	values map[string]*string
	names  []string
	// lookups are the tokens ImportSubject would look up for the record (its external reference, email,
	// phone and name keys); writes the tokens its subject would be indexed under if created.
	lookups, writes []indexKey
	// alone sends the record through ImportSubject, in its turn: it is invalid or refused, another record
	// of the batch shares one of its tokens, or a lookup found someone.
	alone     bool
	duplicate string // the subject an external-id hit names: the record is a duplicate of it
}

// ImportSubjects is ImportSubject for a batch of records, in order: each record's outcome, audit entries and
// refusals are those ImportSubject gives it when the records are imported one after another. The records
// no existing subject and no other record of the batch can match — every blind-index token they would look
// up is held by nobody, and none of their tokens is another record's — are decided by one lookup per index
// field for the whole batch and created in one change of the writer (one entry per subject, as Create
// writes it). The others go through ImportSubject in their turn: a match to merge or queue for review, an
// external id seen before (a duplicate, decided here from the same lookup), a refusal, or records of the
// batch that may be one person. A merge can give its target new name keys, so the records after it are
// looked up again.
func (s *Ingestion) ImportSubjects(ctx context.Context, a Access, in []NewSubject) []ImportResult {
	out := make([]ImportResult, len(in))
	one := func(i int) {
		o, err := s.ImportSubject(ctx, a, in[i])
		out[i] = ImportResult{Outcome: o, Err: err}
	}
	pol := s.Policy()
	_, knownPurpose := pol.Purposes().Purpose(a.Purpose)
	if len(in) < 2 || a.Purpose == "" || !knownPurpose || a.self || staffOnly(a) != nil ||
		!pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) {
		// Whatever is refused is refused record by record, each with its own entry.
		for i := range in {
			one(i)
		}
		return out
	}
	schema := pol.Schema()
	recs := make([]batchRecord, len(in))
	for i, rec := range in {
		r := &recs[i]
		r.in = rec
		var err error
		r.values, r.names, err = s.validateValues(schema, rec.Fields, false)
		if err == nil {
			err = checkSourceRef(rec)
		}
		if err != nil || !s.mayWriteAll(pol, a, r.names) {
			r.alone = true // refused, with its entry, by ImportSubject
			continue
		}
		r.lookups, r.writes = s.batchTokens(schema, rec, r.values)
	}
	// Records that share a token may match each other: one after the other, as ImportSubject would.
	holders := map[indexKey]int{}
	for i := range recs {
		if recs[i].alone {
			continue
		}
		for _, k := range append(recs[i].lookups, recs[i].writes...) {
			if j, ok := holders[k]; ok && j != i {
				recs[i].alone, recs[j].alone = true, true
			} else {
				holders[k] = i
			}
		}
	}
	if err := s.lookUpBatch(ctx, recs, 0); err != nil {
		for i := range in {
			one(i)
		}
		return out
	}
	var created []int
	for i := range recs {
		r := &recs[i]
		switch {
		case r.alone:
			one(i)
			if out[i].Err == nil && out[i].Outcome.Merged {
				// The merge may have given its target name keys no record had: look the rest up again.
				if err := s.lookUpBatch(ctx, recs, i+1); err != nil {
					for j := i + 1; j < len(recs); j++ {
						recs[j].alone, recs[j].duplicate = true, ""
					}
				}
			}
		case r.duplicate != "":
			out[i] = ImportResult{Outcome: ImportOutcome{ID: r.duplicate, Duplicate: true, MatchedOn: "external_id"}}
		default:
			created = append(created, i)
		}
	}
	if len(created) > 0 {
		s.createBatch(ctx, a, pol, recs, created, out)
	}
	return out
}

// batchTokens returns the tokens ImportSubject looks up for a record (its external reference as
// ResolveSubject parses it, email, phone, name keys) and those a new subject of the record is indexed under.
func (s *Ingestion) batchTokens(schema *policies.Schema, in NewSubject, values map[string]*string) (lookups, writes []indexKey) {
	key := func(field, v string) indexKey { return indexKey{field, string(s.gate.blindToken(field, v))} }
	if in.ExternalID != "" && in.Source != "" {
		// ImportSubject resolves "external:<source>:<id>", split at the first colon (resolveRecord).
		if source, ext, ok := strings.Cut(in.Source+":"+in.ExternalID, ":"); ok && ext != "" {
			lookups = append(lookups, key(fieldExternalID, externalIDValue(source, ext)))
		}
	}
	if in.ExternalID != "" {
		writes = append(writes, key(fieldExternalID, externalIDValue(in.Source, in.ExternalID)))
	}
	for _, field := range []string{fieldIDNumber, "email", "phone"} {
		if v := values[field]; v != nil {
			lookups = append(lookups, key(field, *v))
		}
	}
	for name, v := range values {
		if f, _ := schema.Field(name); f.BlindIndex && v != nil {
			writes = append(writes, key(name, *v))
		}
	}
	if name, birth := values["name"], values["birth_date"]; name != nil && birth != nil {
		for _, v := range nameKeyValues(*name, *birth) {
			k := key(fieldNameKey, v)
			lookups, writes = append(lookups, k), append(writes, k)
		}
	}
	return lookups, writes
}

// lookUpBatch looks up the tokens of the records from index from on that are still decided in the batch,
// one read per index field: a record whose external id is held is a duplicate of its first holder (as
// resolveRecord finds it), and a record any of whose other tokens is held goes through ImportSubject.
func (s *Ingestion) lookUpBatch(ctx context.Context, recs []batchRecord, from int) error {
	byField := map[string][][]byte{}
	for i := from; i < len(recs); i++ {
		if recs[i].alone {
			continue
		}
		recs[i].duplicate = ""
		for _, k := range recs[i].lookups {
			byField[k.field] = append(byField[k.field], []byte(k.token))
		}
	}
	found := map[indexKey][]string{}
	for field, tokens := range byField {
		held, err := s.profiles.holdingTokens(ctx, field, tokens)
		if err != nil {
			return err
		}
		for tok, ids := range held {
			found[indexKey{field, tok}] = ids
		}
	}
	// The source record of a person erased goes through ImportSubject, which refuses it.
	erased, err := s.profiles.erasedHolders(ctx, fieldExternalID, byField[fieldExternalID])
	if err != nil {
		return err
	}
	for i := from; i < len(recs); i++ {
		r := &recs[i]
		if r.alone {
			continue
		}
		for _, k := range r.lookups {
			ids := found[k]
			if k.field == fieldExternalID && len(ids) == 0 && erased[k.token] {
				r.alone = true
				break
			}
			if len(ids) == 0 {
				continue
			}
			if k.field == fieldExternalID && plausibleID(ids[0]) {
				// ImportSubject answers a duplicate before it looks anything else up.
				r.duplicate = ids[0]
				break
			}
			r.alone = true
		}
		if r.alone {
			r.duplicate = ""
		}
	}
	return nil
}

// createBatch creates the subjects of the records recs[created] in one change, each with the entry Create
// gives it (ImportSubject creates a record nothing matched with Create's entry and no decision inputs). The
// rows are sealed before the change reaches the writer, which only inserts them; a record whose rows cannot
// be sealed (a key this node cannot use) goes through ImportSubject, which refuses it with its entry.
func (s *Ingestion) createBatch(ctx context.Context, a Access, pol *policies.Set, recs []batchRecord, created []int, out []ImportResult) {
	schema := pol.Schema()
	var (
		entries []audit.Entry
		rows    []SubjectRows
		kept    []int // the records of entries and rows
		alone   []int
	)
	now := s.now().UTC()
	for _, i := range created {
		id := NewSubjectID()
		salt := newRefSalt()
		// A staff caller (ImportSubjects checked): nothing is refused here. The entry names the new subject
		// by the pseudonym of its salt, as Create's does (without reading a record that does not exist yet).
		e, err := s.beginStaff(ctx, a, pol, ActionSubjectCreate, "", recs[i].names)
		if err != nil {
			out[i] = ImportResult{Err: err}
			continue
		}
		e.SubjectRef = refFor(s.gate, id, salt)
		r, err := s.profiles.newSubjectRows(&e, schema, id, salt, recs[i].in, recs[i].values, now)
		if err != nil {
			alone = append(alone, i)
			continue
		}
		entries, rows, kept = append(entries, e), append(rows, r), append(kept, i)
	}
	if len(rows) > 0 {
		_, err := s.seq.CommitMany(ctx, func(tx Tx) error {
			return s.profiles.insertIn(tx, rows)
		}, func(changeErr error) []audit.Entry {
			out := make([]audit.Entry, len(entries))
			for n, i := range kept {
				out[n] = finish(entries[n], changeErr, recs[i].names)
			}
			return out
		})
		for n, i := range kept {
			if err != nil {
				out[i] = ImportResult{Err: internalErr("create subject", err)}
				continue
			}
			out[i] = ImportResult{Outcome: ImportOutcome{ID: rows[n].ID, Created: true}}
		}
	}
	for _, i := range alone {
		o, err := s.ImportSubject(ctx, a, recs[i].in)
		out[i] = ImportResult{Outcome: o, Err: err}
	}
}

// Resolved is what ResolveSubjects answers for one reference: what ResolveSubject returns for it.
type Resolved struct {
	ID  string
	Err error
}

// ResolveSubjects is ResolveSubject for the references of a batch, in order (a reference may repeat): the
// external ones looked up with one read of the blind index, and every subject found checked active in one
// read, instead of a lookup and a record read per reference. A caller whose roles may not resolve
// subjects is refused reference by reference, each refusal with its entry, as ResolveSubject refuses it.
func (s *Ingestion) ResolveSubjects(ctx context.Context, a Access, refs []string) []Resolved {
	out := make([]Resolved, len(refs))
	pol := s.Policy()
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) && !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceConsents, policies.ActWrite) {
		for i, ref := range refs {
			id, err := s.ResolveSubject(ctx, a, ref)
			out[i] = Resolved{ID: id, Err: err}
		}
		return out
	}
	fail := func(err error) []Resolved {
		for i := range out {
			out[i] = Resolved{Err: err}
		}
		return out
	}
	// The subject each reference names (resolveRecord): a vault id, or an external id's first holder.
	named := make([]string, len(refs))
	var tokens [][]byte
	tokenOf := make([]string, len(refs))
	for i, ref := range refs {
		rest, external := strings.CutPrefix(ref, "external:")
		if !external {
			named[i] = ref
			continue
		}
		if source, ext, ok := strings.Cut(rest, ":"); ok && ext != "" {
			tok := s.gate.blindToken(fieldExternalID, externalIDValue(source, ext))
			tokenOf[i] = string(tok)
			tokens = append(tokens, tok)
		}
	}
	if len(tokens) > 0 {
		held, err := s.profiles.holdingTokens(ctx, fieldExternalID, tokens)
		if err != nil {
			return fail(err)
		}
		for i, tok := range tokenOf {
			if ids := held[tok]; tok != "" && len(ids) > 0 {
				named[i] = ids[0]
			}
		}
	}
	var ids []string
	for _, id := range named {
		if id != "" {
			ids = append(ids, id)
		}
	}
	// Active, as activeSubject checks it (no field is read).
	active, err := s.activeSubjects(ctx, ids, []string{})
	if err != nil {
		return fail(err)
	}
	for i, id := range named {
		if _, ok := active[id]; ok && id != "" {
			out[i] = Resolved{ID: id}
		} else {
			out[i] = Resolved{Err: ErrNotFound}
		}
	}
	return out
}
