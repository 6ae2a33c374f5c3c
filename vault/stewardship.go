package vault

import (
	"context"
	"errors"
	"strconv"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Stewardship is identity stewardship for data stewards: automatic merges (and their reversal), the review
// queue of weak matches, and import reports.
type Stewardship struct {
	*core
	identity IdentityStore
	// profiles re-seals the fields a reverted merge gives back; tags learns whose tag inputs it changed.
	profiles *Profiles
	tags     *Tags
}

// Stewardship returns the service; it shares the enforcement point's core.
func (s *Service) Stewardship() *Stewardship { return s.stewardship }

// Stewardship actions recorded in the audit trail.
const (
	ActionIdentityRead   Action = "identity.read"
	ActionMergeRevert    Action = "subject.merge_revert"
	ActionReviewDecision Action = "subject.merge_review_decision"
	ActionImportRead     Action = "import.read"
)

// Review states: open until a data steward decides.
const (
	ReviewOpen       = "open"
	ReviewDistinct   = "distinct"    // two people (e.g. a family sharing a phone): nothing to merge
	ReviewSamePerson = "same_person" // one person: the steward consolidates the records (erase the copy)
)

// RevertResult says what reverting a merge did.
type RevertResult struct {
	MergeID           string
	SubjectID         string
	RestoredSubjectID string
	FieldsMoved       []string
	AuditSeq          int64
}

// stewardship opens an audited identity-stewardship operation: the caller must be allowed to create
// subjects for the declared purpose (the permission under which imports merge them).
func (s *Stewardship) stewardship(ctx context.Context, a Access, action Action, subject string) (audit.Entry, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, action); err != nil {
		return audit.Entry{}, err
	}
	e, err := s.beginStaff(ctx, a, pol, action, subject, nil)
	if err != nil {
		return audit.Entry{}, err
	}
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceSubjects, policies.ActCreate) {
		return audit.Entry{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not steward identities for this purpose"))
	}
	return e, nil
}

// auditedList records an allowed list read (counts only) and returns its audit sequence number.
func (s *Stewardship) auditedList(ctx context.Context, e audit.Entry, what string, n int) (int64, error) {
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, what+":"+strconv.Itoa(n)
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit "+what+" read", err)
	}
	return seq, nil
}

// MaxStewardshipPage is the most merges or reviews one page holds, and a page's size when none is asked.
const MaxStewardshipPage = 500

// StewardshipPage is one page of merges (newest first) or of the review queue (oldest first); Next is the
// cursor of the page after it, "" on the last.
type StewardshipPage[T any] struct {
	Rows     []T
	Next     string
	AuditSeq int64
}

// Merges lists automatic merges, newest first (ids, sources and field names only), a page of limit (1 to
// MaxStewardshipPage; otherwise the most) after cursor ("" for the first page).
func (s *Stewardship) Merges(ctx context.Context, a Access, cursor string, limit int) (StewardshipPage[MergeRow], error) {
	e, err := s.stewardship(ctx, a, ActionIdentityRead, "")
	if err != nil {
		return StewardshipPage[MergeRow]{}, err
	}
	return stewardshipPage(ctx, s, a, e, "merges", limit, func(n int) ([]MergeRow, error) {
		return s.identity.Merges(ctx, cursor, n)
	}, func(m MergeRow) string { return m.ID })
}

// Reviews lists the steward's review queue (state "" for all), oldest first, a page of limit after cursor
// as Merges does.
func (s *Stewardship) Reviews(ctx context.Context, a Access, state, cursor string, limit int) (StewardshipPage[ReviewRow], error) {
	switch state {
	case "", ReviewOpen, ReviewDistinct, ReviewSamePerson:
	default:
		return StewardshipPage[ReviewRow]{}, s.refuseInvalid(ctx, a, ActionIdentityRead, "", Errorf(CodeInvalidArgument, "state must be open, distinct or same_person"))
	}
	e, err := s.stewardship(ctx, a, ActionIdentityRead, "")
	if err != nil {
		return StewardshipPage[ReviewRow]{}, err
	}
	return stewardshipPage(ctx, s, a, e, "reviews", limit, func(n int) ([]ReviewRow, error) {
		return s.identity.Reviews(ctx, state, cursor, n)
	}, func(r ReviewRow) string { return r.ID })
}

// stewardshipPage reads one more row than the page holds (so it knows whether another page follows),
// refuses a cursor naming no row, and records the read with e.
func stewardshipPage[T any](ctx context.Context, s *Stewardship, a Access, e audit.Entry, what string, limit int,
	read func(n int) ([]T, error), idOf func(T) string) (StewardshipPage[T], error) {
	if limit <= 0 || limit > MaxStewardshipPage {
		limit = MaxStewardshipPage
	}
	rows, err := read(limit + 1)
	if errors.Is(err, ErrNotFound) {
		return StewardshipPage[T]{}, s.refuseInvalid(ctx, a, ActionIdentityRead, "", Errorf(CodeInvalidArgument, "bad cursor"))
	}
	if err != nil {
		return StewardshipPage[T]{}, internalErr("read "+what, err)
	}
	var page StewardshipPage[T]
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = idOf(rows[limit-1])
	}
	page.Rows = nonNil(rows)
	page.AuditSeq, err = s.auditedList(ctx, e, what, len(rows))
	return page, err
}

// ImportReports lists stored data-quality reports, newest first.
func (s *Stewardship) ImportReports(ctx context.Context, a Access) ([]ImportReport, int64, error) {
	e, err := s.stewardship(ctx, a, ActionImportRead, "")
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.identity.ImportReports(ctx, 100)
	if err != nil {
		return nil, 0, internalErr("read import reports", err)
	}
	seq, err := s.auditedList(ctx, e, "reports", len(rows))
	return nonNil(rows), seq, err
}

// DecideReview closes an open review: distinct (two people) or same_person (the steward will consolidate
// the records). 404 for an unknown review, 409 if it was already decided.
func (s *Stewardship) DecideReview(ctx context.Context, a Access, id, decision string) (int64, error) {
	if decision != ReviewDistinct && decision != ReviewSamePerson {
		return 0, s.refuseInvalid(ctx, a, ActionReviewDecision, "", Errorf(CodeInvalidArgument, "decision must be distinct or same_person"))
	}
	e, err := s.stewardship(ctx, a, ActionReviewDecision, "")
	if err != nil {
		return 0, err
	}
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		switch was, err := tx.DecideReview(id, decision, s.now().UTC()); {
		case err != nil:
			return err
		case was == "":
			return ErrNotFound
		case was != ReviewOpen:
			return errReviewDecided
		}
		return nil
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, nil)
		e.Reason = "review:" + recordedID(id) + " decision:" + decision
		// A refused decision is recorded as refused (it was recorded as allowed, 200).
		switch {
		case errors.Is(changeErr, ErrNotFound):
			e.Decision, e.Status, e.Reason = audit.Deny, statusNotFound, e.Reason+" review_not_found"
		case errors.Is(changeErr, errReviewDecided):
			e.Decision, e.Status, e.Reason = audit.Deny, statusConflict, e.Reason+" already_decided"
		}
		return e
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return seq, &Error{Code: CodeNotFound, Message: "no such review", AuditSeq: seq}
	case errors.Is(err, errReviewDecided):
		return seq, &Error{Code: CodeConflict, Message: "the review was already decided", AuditSeq: seq}
	case err != nil:
		return 0, internalErr("decide review", err)
	}
	return seq, nil
}

// errReviewDecided refuses a decision on a review that is no longer open.
var errReviewDecided = errors.New("review already decided")

// RevertMerge undoes an automatic merge: the fields the merge added move (re-sealed) to a restored subject
// of the merged source, the source's external id links to it again, and the merge is marked reverted, in
// one transaction with its audit entry. Fields the subject corrected since the merge stay where they are.
// Events collected under the merged subject stay with it (they carry no source record id); no consent ever
// crossed, so none moves back. 404 for an unknown merge, 409 if it was already reverted or its subject is
// gone.
func (s *Stewardship) RevertMerge(ctx context.Context, a Access, id string) (RevertResult, error) {
	// The roles first: a caller who may not steward identities learns nothing of which merges exist (an
	// unknown id answered 404 and a real one 403), and an unknown merge is a refusal on the record.
	e, err := s.stewardship(ctx, a, ActionMergeRevert, "")
	if err != nil {
		return RevertResult{}, err
	}
	m, err := s.identity.Merge(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return RevertResult{}, s.deny(ctx, e, statusNotFound, "merge_not_found", Errorf(CodeNotFound, "no such merge"))
	}
	if err != nil {
		return RevertResult{}, internalErr("read merge", err)
	}
	e.SubjectRef = s.subjectRef(ctx, m.SubjectID)
	if m.RevertedAt != nil {
		return RevertResult{}, s.deny(ctx, e, statusConflict, "already_reverted", Errorf(CodeConflict, "the merge was already reverted"))
	}
	rec, err := s.activeSubject(ctx, m.SubjectID)
	if err != nil {
		return RevertResult{}, s.deny(ctx, e, statusConflict, "subject_gone", Errorf(CodeConflict, "the merged subject no longer exists"))
	}
	pol := s.Policy()
	values := map[string]*string{}
	var moved []string
	for _, name := range m.FieldsAdded {
		sf, ok := rec.Fields[name]
		if !ok || sf.UpdatedAt.After(m.CreatedAt) {
			continue // gone or corrected since the merge: it is the subject's now
		}
		// Re-sealing under the restored subject's key needs the value: opened in the gate, named in e.
		pt, ok, err := s.gate.decisionOpen(&e, rec, name)
		if err != nil {
			return RevertResult{}, s.keyUnavailable(ctx, e, err) // a revert that dropped the value would lose it
		}
		if ok {
			v := string(pt)
			values[name], moved = &v, append(moved, name)
		}
	}
	restored := NewSubjectID()
	salt := newRefSalt()
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		cur, err := tx.Merge(id)
		if err != nil {
			return err
		}
		if cur.RevertedAt != nil {
			return errAlreadyReverted
		}
		if st, err := tx.SubjectState(m.SubjectID); err != nil || st != StateActive {
			return errAlreadyReverted
		}
		d, err := s.profiles.newSubjectIn(tx, restored, m.Source, salt, now)
		if err != nil {
			return err
		}
		if err := s.profiles.writeFields(tx, &e, pol.Schema(), d, restored, SubjectRecord{}, values, now); err != nil {
			return err
		}
		gone := make(map[string]*string, len(moved))
		for _, name := range moved {
			gone[name] = nil
		}
		if err := s.profiles.writeFields(tx, &e, pol.Schema(), DEK{}, m.SubjectID, rec, gone, now); err != nil {
			return err
		}
		if m.ExternalToken != nil {
			if err := tx.RemoveExternalID(m.SubjectID, m.ExternalToken); err != nil {
				return err
			}
			if err := tx.AddExternalID(restored, m.ExternalToken); err != nil {
				return err
			}
		}
		if err := tx.RevertMerge(id, restored, now); err != nil {
			return err
		}
		if err := s.tags.inputsChanged(tx, restored, m.SubjectID); err != nil {
			return err
		}
		return tx.Touch(m.SubjectID, now)
	}, func(changeErr error) audit.Entry {
		e = finish(e, changeErr, moved)
		e.Reason = "merge:" + id
		return e
	})
	if errors.Is(err, errAlreadyReverted) {
		return RevertResult{}, &Error{Code: CodeConflict, Message: "the merge was already reverted or its subject is gone", AuditSeq: seq}
	}
	if err != nil {
		return RevertResult{}, internalErr("revert merge", err)
	}
	return RevertResult{MergeID: id, SubjectID: m.SubjectID, RestoredSubjectID: restored, FieldsMoved: nonNil(moved), AuditSeq: seq}, nil
}

var errAlreadyReverted = errors.New("merge already reverted")

// nonNil returns s, or an empty slice for nil (so that JSON shows [] rather than null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
