package vault

import (
	"context"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// ReloadPolicy swaps in a newly loaded policy set atomically, after checking that the caller may reload
// policy. The swap is audited; requests already in flight finish under the policy they started with.
func (s *Service) ReloadPolicy(ctx context.Context, a Access, next *policies.Set) (int64, error) {
	cur := s.Policy()
	e := s.newEntry(ctx, a, cur, ActionPolicyReload, "")
	if !cur.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourcePolicies, policies.ActReload) {
		return 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may reload policy"))
	}
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason = "new_policy_hash:" + next.Hash()
	seq, err := s.seq.Commit(ctx, func(Tx) error { return nil }, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit policy reload", err)
	}
	s.policy.Store(next)
	return seq, nil
}

// ActionPolicyRead records a refused read of the policy files or the compiled matrix.
const ActionPolicyRead Action = "policy.read"

// AuthorizeRole checks that a's roles may do act on obj without a declared purpose (the policy files and
// matrix, which hold no personal data); a refusal is recorded under action and answered permission_denied.
func (s *Service) AuthorizeRole(ctx context.Context, a Access, obj policies.Object, act policies.Act, action Action) error {
	pol := s.Policy()
	if pol.Allowed(a.Caller.Roles, policies.NoPurpose, obj, act) {
		return nil
	}
	e := s.newEntry(ctx, a, pol, action, "")
	return s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not do this"))
}
