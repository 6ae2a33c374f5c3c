package vault

import (
	"context"
	"errors"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// ConsentImport is one consent record of an import batch: the subject (resolved) and the grant.
type ConsentImport struct {
	Subject string
	Grant   consent.Grant
}

// ConsentImported is what ImportConsents did with one record: what ImportConsent returns for it.
type ConsentImported struct {
	Duplicate bool
	Err       error
}

// ImportConsents is ImportConsent for a batch of records, in order: each record's outcome and audit entries
// are those ImportConsent gives it when the records are imported one after another. The batch goes in
// rounds — the first record of each subject, then the second of those with two, … — since a subject's later
// record depends on its earlier one and records of different subjects on nothing of each other. In a
// round the subjects are read in one read, and the grants that are new, valid and allowed by the age rule
// are recorded in one change, each with the entry GrantConsent writes (a grant whose subject is gone by then
// gets its refusal, as alone). Everything else goes through ImportConsent: a subject not found, an
// identical active grant (a duplicate), an invalid grant. A grant the age rule refuses is refused here, with
// its entry, as ImportConsent refuses it.
func (s *ConsentRecords) ImportConsents(ctx context.Context, a Access, in []ConsentImport) []ConsentImported {
	out := make([]ConsentImported, len(in))
	pol := s.Policy()
	_, knownPurpose := pol.Purposes().Purpose(a.Purpose)
	if len(in) < 2 || a.Purpose == "" || !knownPurpose || a.self || staffOnly(a) != nil ||
		!pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceConsents, policies.ActWrite) {
		// Whatever is refused is refused record by record, each with its own entry.
		for i, c := range in {
			dup, err := s.ImportConsent(ctx, a, c.Subject, c.Grant)
			out[i] = ConsentImported{Duplicate: dup, Err: err}
		}
		return out
	}
	seen := map[string]int{}
	var rounds [][]int
	for i, c := range in {
		n := seen[c.Subject]
		seen[c.Subject]++
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], i)
	}
	for _, round := range rounds {
		s.importRound(ctx, a, pol, in, round, out)
	}
	return out
}

// importRound imports the records in[i] for i in round, of distinct subjects, into out (ImportConsents).
func (s *ConsentRecords) importRound(ctx context.Context, a Access, pol *policies.Set, in []ConsentImport, round []int, out []ConsentImported) {
	one := func(i int) {
		dup, err := s.ImportConsent(ctx, a, in[i].Subject, in[i].Grant)
		out[i] = ConsentImported{Duplicate: dup, Err: err}
	}
	ids := make([]string, len(round))
	for n, i := range round {
		ids[n] = in[i].Subject
	}
	recs, err := s.activeSubjects(ctx, ids, nil)
	if err != nil {
		for _, i := range round {
			one(i)
		}
		return
	}
	now := s.now().UTC()
	type grant struct {
		i     int
		entry audit.Entry
		ev    consent.Event
		err   error // the subject's refusal found inside the change (nothing of it written)
	}
	var grants []grant
	for _, i := range round {
		c := in[i]
		rec, found := recs[c.Subject]
		p, valid := pol.Purposes().Purpose(c.Grant.Purpose)
		_, duplicate := identicalActive(rec, c.Grant, s.now())
		_, recorded := capturedBefore(rec, c.Grant)
		if !found || duplicate || recorded != "" || !valid || c.Grant.Validate(p, s.now()) != nil {
			one(i)
			continue
		}
		// A staff caller (checked above): beginStaff refuses nothing; the entry names the subject by the
		// record already read.
		e, err := s.beginStaff(ctx, a, pol, ActionConsentGrant, "", nil)
		if err != nil {
			out[i] = ConsentImported{Err: err}
			continue
		}
		e.SubjectRef = recordRef(s.gate, rec)
		if err := s.ageRule(ctx, &e, rec, c.Grant, p, now); err != nil {
			out[i] = ConsentImported{Err: err}
			continue
		}
		grants = append(grants, grant{i: i, entry: e, ev: grantEvent(a, c.Grant, now)})
	}
	if len(grants) == 0 {
		return
	}
	seq, err := s.seq.CommitMany(ctx, func(tx Tx) error {
		for n := range grants {
			g := &grants[n]
			g.err = nil
			if err := s.sealGrantIn(tx, in[g.i].Subject, &g.ev, in[g.i].Grant.Evidence); err != nil {
				if errors.Is(err, ErrNotFound) || errors.Is(err, ErrKEKMissing) {
					g.err = err // this grant alone is refused, as its own change would be
					continue
				}
				return err
			}
			if err := s.appendGrantIn(tx, in[g.i].Subject, g.ev); err != nil {
				return err
			}
		}
		return nil
	}, func(changeErr error) []audit.Entry {
		entries := make([]audit.Entry, len(grants))
		for n, g := range grants {
			err := changeErr
			if err == nil {
				err = g.err
			}
			entries[n] = grantEntry(g.entry, g.ev, err)
		}
		return entries
	})
	for n, g := range grants {
		switch {
		case err != nil:
			out[g.i] = ConsentImported{Err: internalErr("grant consent", err)}
		case errors.Is(g.err, ErrNotFound):
			out[g.i] = ConsentImported{Err: &Error{Code: CodeNotFound, Message: "subject not found", AuditSeq: seq + int64(n)}}
		case g.err != nil:
			out[g.i] = ConsentImported{Err: internalErr("grant consent", g.err)}
		}
	}
}

// capturedBefore reports what rec's history already says of an imported grant g carrying the time its
// collection point captured it: "recorded" when that very capture is recorded already (the same purpose,
// kind, recipient, notice version, method and capture time), whatever its status now — re-importing a file must not grant again
// what the person has withdrawn since — or "withdrawn_since" when the person withdrew the purpose after g
// was captured (a stale feed must not undo a withdrawal); "" otherwise. id is the recorded grant's.
func capturedBefore(rec SubjectRecord, g consent.Grant) (id, state string) {
	if g.GrantedAt == nil {
		return "", ""
	}
	for _, r := range rec.Consents {
		if sameGrant(r, g) && r.GrantedAt.Equal(*g.GrantedAt) {
			return r.ID, "recorded"
		}
	}
	for _, r := range rec.Consents {
		if r.Purpose == g.Purpose && r.Recipient == g.Recipient && r.WithdrawnAt != nil && r.WithdrawnAt.After(*g.GrantedAt) {
			return r.ID, "withdrawn_since"
		}
	}
	return "", ""
}

// sameGrant reports whether record r grants what g grants: the same purpose, kind, notice version, method
// and recipient.
func sameGrant(r consent.Record, g consent.Grant) bool {
	return r.Purpose == g.Purpose && r.Kind == g.Kind && r.NoticeVersion == g.NoticeVersion && r.Method == g.Method && r.Recipient == g.Recipient
}

// identicalActive returns the id of an active grant of rec identical to g — same purpose, kind, notice
// version, method, recipient and expiry — if there is one (ImportConsent's duplicate).
func identicalActive(rec SubjectRecord, g consent.Grant, now time.Time) (string, bool) {
	for _, r := range rec.Consents {
		if r.StatusAt(now) == consent.Granted && sameGrant(r, g) && sameTime(r.ExpiresAt, g.ExpiresAt) {
			return r.ID, true
		}
	}
	return "", false
}
