package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// ErasureLedger records every erasure apart from the data, before the erasure happens (internal/erasures),
// so that a restore from a backup taken earlier can apply it again (ReapplyErasures).
type ErasureLedger interface {
	// Record returns once the erasure of the subject with this audit reference is durable.
	Record(ctx context.Context, subjectRef string, at time.Time) error
}

// ActionErasureReapply records an erasure applied again after a restore: the backup held a subject whom
// the erasure ledger names as erased after the backup was taken.
const ActionErasureReapply Action = "subject.erase_reapply"

// ReapplyResult says what ReapplyErasures did.
type ReapplyResult struct {
	// Records is how many distinct subject references the ledger named.
	Records int
	// Erased is how many subjects of the restored store those records named, each erased again with
	// its own entry; Held counts those among them whose transaction records a legal hold keeps.
	Erased int
	Held   int
	// Absent is how many records named no active subject here: erased before the backup was taken, or
	// created after it.
	Absent int
}

// ReapplyErasures erases again every active subject whose audit reference the erasure ledger names (refs):
// after a restore, nobody erased since the backup comes back. Each erasure runs the ordinary erasure path
// — keys first, legal holds respected — with its own entry. Only roles the policy lets restore backups may
// do this (the admin of `vaultd restore`).
func (s *Profiles) ReapplyErasures(ctx context.Context, a Access, refs []string) (ReapplyResult, error) {
	pol := s.Policy()
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceBackups, policies.ActRestore) {
		e := s.newEntry(ctx, a, pol, ActionErasureReapply, "")
		return ReapplyResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may apply a restore's erasures"))
	}
	want := make(map[string]bool, len(refs))
	for _, r := range refs {
		want[r] = true
	}
	res := ReapplyResult{Records: len(want)}
	for after := ""; ; {
		ids, err := s.activeIDs(ctx, after, 500)
		if err != nil {
			return res, internalErr("list subjects", err)
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			rec, err := s.activeSubject(ctx, id)
			if err != nil || !want[refFor(s.gate, id, rec.RefSalt)] {
				continue // erased meanwhile, or not named
			}
			e := s.newEntry(ctx, a, pol, ActionErasureReapply, id)
			e.Categories = pol.Schema().Categories()
			r, err := s.erase(ctx, e, id)
			if err != nil {
				return res, err
			}
			res.Erased++
			if len(r.Held) > 0 {
				res.Held++
			}
		}
	}
	res.Absent = res.Records - res.Erased
	// One entry for the whole pass, so a restore that matched nobody is on the record too.
	sum := s.newEntry(ctx, a, pol, ActionErasureReapply, "")
	_, err := s.seq.Commit(ctx, func(Tx) error { return nil }, func(changeErr error) audit.Entry {
		sum = finish(sum, changeErr, nil)
		sum.Reason = fmt.Sprintf("restore records:%d erased:%d held:%d absent:%d", res.Records, res.Erased, res.Held, res.Absent)
		return sum
	})
	if err != nil {
		return res, internalErr("record the restore's erasures", err)
	}
	return res, nil
}
