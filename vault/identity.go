package vault

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Identity-resolution actions recorded in the audit trail.
const (
	ActionSubjectMerge  Action = "subject.merge"
	ActionMergeReview   Action = "subject.merge_review"
	ActionSubjectImport Action = "subject.import"
)

// ImportOutcome says what happened to one imported subject record.
type ImportOutcome struct {
	ID        string // the subject the record now belongs to
	Created   bool
	Duplicate bool   // this source's record was imported before: nothing changed
	Merged    bool   // merged into an existing subject on a verified identifier
	Review    bool   // a weaker match was queued for a data steward
	MatchedOn string // "id_number", "email", "phone", "external_id"
}

// MergeRow is an automatic merge, kept so that it can be reverted: which fields it added to the subject
// and the blind token of the external id it linked (never the id itself).
type MergeRow struct {
	ID                string
	SubjectID         string
	Source            string
	MatchedOn         string
	FieldsAdded       []string
	CreatedAt         time.Time
	RevertedAt        *time.Time
	RestoredSubjectID string
	ExternalToken     []byte
}

// ReviewRow is a weak match for a data steward: open until decided distinct or same_person.
type ReviewRow struct {
	ID        string
	SubjectA  string
	SubjectB  string
	Reason    string
	State     string
	CreatedAt time.Time
	DecidedAt *time.Time
}

// ImportReport is a stored data-quality report (counts only, as "name: value" lines).
type ImportReport struct {
	ID        string
	CreatedAt time.Time
	Lines     []string
}

// IdentityStore reads what identity resolution and imports recorded.
type IdentityStore interface {
	// Merges lists automatic merges, newest first, after the merge named after ("": from the newest;
	// ErrNotFound if after names none); Merge reads one (ErrNotFound if unknown).
	Merges(ctx context.Context, after string, limit int) ([]MergeRow, error)
	Merge(ctx context.Context, id string) (MergeRow, error)
	// Reviews lists the steward's review queue, oldest first, in one state or all (""), after the review
	// named after ("": from the oldest; ErrNotFound if after names none).
	Reviews(ctx context.Context, state, after string, limit int) ([]ReviewRow, error)
	// ImportReports lists data-quality reports, newest first.
	ImportReports(ctx context.Context, limit int) ([]ImportReport, error)
}

// nameMatchThreshold is the similarity above which two names count as the same person's (with a shared
// verified phone).
const nameMatchThreshold = 0.85

// ImportSubject brings in one subject record from a source system, resolving identity on the way: the same
// source's record seen before is a duplicate; a record that shares a verified email — or a verified phone
// and a matching name — with an existing subject is merged into it (missing fields filled, nothing
// overwritten, no consent carried across, reversible); a shared phone with a different name (a family
// phone) creates a new subject and queues the pair for a data steward. Everything goes through the
// enforcement point and is audited.
func (s *Ingestion) ImportSubject(ctx context.Context, a Access, in NewSubject) (ImportOutcome, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, ActionSubjectImport); err != nil {
		return ImportOutcome{}, err
	}
	schema := pol.Schema()
	values, names, err := s.validateValues(schema, in.Fields, false)
	if err == nil {
		// Before any name is opened to match: a bad source reference must not end the import after an open.
		err = checkSourceRef(in)
	}
	if err != nil {
		return ImportOutcome{}, s.refuseInvalid(ctx, a, ActionSubjectImport, "", err)
	}
	// Permission first: nothing is looked up, let alone opened, for a caller who may not import.
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) || !s.mayWriteAll(pol, a, names) {
		e, err := s.beginStaff(ctx, a, pol, ActionSubjectCreate, "", names)
		if err != nil {
			return ImportOutcome{}, err
		}
		return ImportOutcome{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not import subjects with these fields for this purpose"))
	}
	if in.ExternalID != "" && in.Source != "" {
		if rec, err := s.resolveRecord(ctx, "external:"+in.Source+":"+in.ExternalID); err == nil {
			return ImportOutcome{ID: rec.ID, Duplicate: true, MatchedOn: "external_id"}, nil
		}
		if err := s.refuseErasedSource(ctx, a, in); err != nil {
			return ImportOutcome{}, err
		}
	}
	// A name opened to compare it is named in the entry of whatever the import then does.
	var decided audit.Entry
	match, on, review, reason := s.findMatch(ctx, &decided, values)
	if match == "" {
		c, err := s.profiles.create(ctx, a, in, decided.DecisionInputs)
		if err != nil {
			return ImportOutcome{}, err
		}
		out := ImportOutcome{ID: c.ID, Created: true}
		if review != "" {
			if err := s.queueReview(ctx, a, c.ID, review, reason, decided.DecisionInputs); err != nil {
				return out, err
			}
			out.Review = true
		}
		return out, nil
	}
	return s.merge(ctx, a, match, on, in, values, names, decided.DecisionInputs)
}

// refuseErasedSource refuses, with its entry, the source record of a person who was erased: the subject
// is not created again from a re-import of the same files (nor their consents and behaviour after it).
func (s *Ingestion) refuseErasedSource(ctx context.Context, a Access, in NewSubject) error {
	_, erased, err := s.profiles.sourceRecord(ctx, in.Source, in.ExternalID)
	if err != nil {
		return internalErr("look up erasures", err)
	}
	if !erased {
		return nil
	}
	return s.refuseInvalid(ctx, a, ActionSubjectImport, "", &Error{Code: CodeConflict, Reason: "erased_subject",
		Message: "the person of this source record was erased: the record is not imported again"})
}

// findMatch looks for an existing subject by verified identifiers. It returns the subject to merge into,
// or a subject to queue for review and why. Comparing names opens the candidate's name inside the gate,
// named in e.
func (s *Ingestion) findMatch(ctx context.Context, e *audit.Entry, values map[string]*string) (match, on, review, reason string) {
	lookup := func(field string) []string {
		v := values[field]
		if v == nil {
			return nil
		}
		ids, err := s.profiles.holding(ctx, field, *v)
		if err != nil {
			return nil
		}
		return ids
	}
	if ids := lookup(fieldIDNumber); len(ids) > 0 {
		// A resident id number is one person's: it merges whatever the email and phone say, unless the birth
		// date or the name says another person (a mistyped number), which is queued, as several holders are.
		if len(ids) > 1 {
			return "", "", ids[0], "shared_id_number_several_holders"
		}
		return s.mergeUnlessConflicting(ctx, e, ids[0], values, fieldIDNumber)
	}
	if ids := lookup("email"); len(ids) == 1 {
		// An email is one person's more often than a phone is, but a family shares one too: a record whose
		// name, birth date or id number says another person is queued, never merged.
		return s.mergeUnlessConflicting(ctx, e, ids[0], values, "email")
	}
	ids := lookup("phone")
	if len(ids) == 0 {
		if other := s.similarName(ctx, values); other != "" {
			return "", "", other, "similar_name_same_birth_date"
		}
		return "", "", "", ""
	}
	if values["name"] == nil || s.similar == nil {
		return "", "", ids[0], "shared_phone_no_name"
	}
	if len(ids) > 1 {
		// A phone a family shares is held by several subjects already: no guess between them (and none of
		// them is opened), the record is queued with the first.
		return "", "", ids[0], "shared_phone_several_holders"
	}
	return s.mergeUnlessConflicting(ctx, e, ids[0], values, "phone")
}

// mergeUnlessConflicting is findMatch's answer for the one candidate that shares the record's identifier
// field: merge into it, unless conflicts says another person — then the record is queued against it,
// the reason naming the shared field ("shared_phone_different_birth_date"), or key_unavailable when this
// node cannot compare them (no merge, and the review says why).
func (s *Ingestion) mergeUnlessConflicting(ctx context.Context, e *audit.Entry, candidate string, values map[string]*string, field string) (match, on, review, reason string) {
	switch reason := s.conflicts(ctx, e, candidate, values); reason {
	case "":
		return candidate, field, "", ""
	case reasonKeyUnavailable:
		return "", "", candidate, reason
	default:
		return "", "", candidate, "shared_" + field + "_" + reason
	}
}

// conflicts compares the record's identifying fields with those of the candidate it shares an identifier
// with, opened inside the gate (and named in e): a birth date or id number both hold and that differ says
// two people (a parent and a child share a phone, and 李娜 and 李娜娜 are similar names), and so does a
// name both hold that is not similar. It returns why they conflict ("different_name",
// "different_birth_date", "different_id_number", or key_unavailable when this node cannot open the
// candidate's fields), or "".
func (s *Ingestion) conflicts(ctx context.Context, e *audit.Entry, candidate string, values map[string]*string) string {
	rec, err := s.activeSubject(ctx, candidate)
	if err != nil {
		return ""
	}
	for _, f := range []string{fieldBirthDate, fieldIDNumber} {
		mine := values[f]
		if mine == nil || *mine == "" {
			continue
		}
		theirs, ok, err := s.gate.decisionOpen(e, rec, f)
		if err != nil {
			return reasonKeyUnavailable
		}
		if ok && string(theirs) != "" && !strings.EqualFold(string(theirs), *mine) {
			return "different_" + f
		}
	}
	if name := values["name"]; name != nil && s.similar != nil {
		theirs, ok, err := s.gate.decisionOpen(e, rec, "name")
		if err != nil {
			return reasonKeyUnavailable
		}
		if ok && s.similar(*name, string(theirs)) < nameMatchThreshold {
			return "different_name"
		}
	}
	return ""
}

// similarName returns an existing subject whose name is within one edit of the record's and who shares its
// birth date (see fieldNameKey), or "".
func (s *Ingestion) similarName(ctx context.Context, values map[string]*string) string {
	name, birth := values["name"], values["birth_date"]
	if name == nil || birth == nil {
		return ""
	}
	for _, v := range nameKeyValues(*name, *birth) {
		ids, err := s.profiles.holding(ctx, fieldNameKey, v)
		if err == nil && len(ids) > 0 {
			return ids[0]
		}
	}
	return ""
}

// merge fills the existing subject's missing fields from the record and links the source's external id to
// it, in one transaction with its audit entry (which names the fields the match decision opened).
func (s *Ingestion) merge(ctx context.Context, a Access, target, on string, in NewSubject, values map[string]*string, names, opened []string) (ImportOutcome, error) {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, ActionSubjectMerge, target, names)
	if err != nil {
		return ImportOutcome{}, err
	}
	e.DecisionInputs = opened
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) || !s.mayWriteAll(pol, a, names) {
		return ImportOutcome{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not import subjects for this purpose"))
	}
	rec, err := s.activeSubject(ctx, target)
	if err != nil {
		// The entry still records the name opened to find this target.
		return ImportOutcome{}, s.deny(ctx, e, statusInternal, "merge_target_unreadable", internalErr("merge target", err))
	}
	add := map[string]*string{}
	var added []string
	for _, n := range names {
		if _, has := rec.Fields[n]; !has {
			add[n] = values[n]
			added = append(added, n)
		}
	}
	sort.Strings(added)
	now := s.now().UTC()
	row := MergeRow{ID: newID("mrg_"), SubjectID: target, Source: in.Source, MatchedOn: on, FieldsAdded: added, CreatedAt: now}
	var token []byte
	if in.ExternalID != "" {
		token = s.gate.blindToken(fieldExternalID, externalIDValue(in.Source, in.ExternalID))
		row.ExternalToken = token
	}
	_, err = s.seq.Commit(ctx, func(tx Tx) error {
		if err := activeIn(tx, target); err != nil {
			return err
		}
		d, err := tx.DEK(target, ClassGeneral)
		if err != nil {
			return err
		}
		if err := s.profiles.writeFields(tx, &e, pol.Schema(), d, target, rec, add, now); err != nil {
			return err
		}
		if token != nil {
			if err := tx.AddExternalID(target, token); err != nil {
				return err
			}
		}
		if err := tx.PutMerge(row); err != nil {
			return err
		}
		if err := s.tags.inputsChanged(tx, target); err != nil {
			return err
		}
		return tx.Touch(target, now)
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, added)
		e.Reason = "matched_on:" + on + " source:" + sourceLabel(in.Source) + " merge:" + row.ID
		return e
	})
	if errors.Is(err, ErrNotFound) {
		return ImportOutcome{}, Errorf(CodeNotFound, "merge target vanished")
	}
	if err != nil {
		return ImportOutcome{}, internalErr("merge", err)
	}
	return ImportOutcome{ID: target, Merged: true, MatchedOn: on}, nil
}

// queueReview records a weak match for a data steward (never merged silently).
func (s *Ingestion) queueReview(ctx context.Context, a Access, subject, other, reason string, opened []string) error {
	pol := s.Policy()
	e, err := s.beginStaff(ctx, a, pol, ActionMergeReview, subject, nil)
	if err != nil {
		return err
	}
	// A field of other opened to compare it (findMatch) is recorded on other's own trail too, so the
	// person whose name was read sees the read in their access log.
	var oe audit.Entry
	if len(opened) > 0 {
		if oe, err = s.beginStaff(ctx, a, pol, ActionMergeReview, other, nil); err != nil {
			return err
		}
		oe.DecisionInputs = opened
	}
	row := ReviewRow{ID: newID("rev_"), SubjectA: subject, SubjectB: other, Reason: reason, State: ReviewOpen, CreatedAt: s.now().UTC()}
	_, err = s.seq.CommitMany(ctx, func(tx Tx) error { return tx.PutReview(row) }, func(changeErr error) []audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "review:" + row.ID + " " + reason
		if len(opened) == 0 {
			return []audit.Entry{e}
		}
		oe = finish(oe, changeErr, nil)
		oe.Reason = e.Reason
		return []audit.Entry{e, oe}
	})
	if err != nil {
		return internalErr("queue review", err)
	}
	return nil
}
