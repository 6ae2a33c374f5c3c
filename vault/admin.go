package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// RefusePolicyReload records a reload refused for its files (they do not load) as a refused
// policy.reload, and returns the invalid_argument error carrying the entry's sequence number: an officer
// filtering on policy.reload saw the successful reloads and the 403s, not the refused ones.
func (s *Service) RefusePolicyReload(ctx context.Context, a Access, message string) error {
	return s.refuseInvalid(ctx, a, ActionPolicyReload, "", &Error{Code: CodeInvalidArgument, Message: message})
}

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
	files, err := encodePolicyFiles(next)
	if err != nil {
		return 0, internalErr("encode policy", err)
	}
	now := s.now().UTC()
	seq, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutPolicyInForce(next.Hash(), files, now) }, func(error) audit.Entry { return e })
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

// ActionPolicyLoad records the policy a process started with, when it differs from the last one in force.
const ActionPolicyLoad Action = "policy.load"

// encodePolicyFiles encodes a policy version's files for the record (JSON: name → text).
func encodePolicyFiles(p *policies.Set) ([]byte, error) {
	files := map[string]string{}
	for name, b := range p.Files() {
		files[name] = string(b)
	}
	return json.Marshal(files)
}

// RecordPolicyInForce records, at start, that the policy this process serves is in force from now, unless it
// is already the last version in force. Every version that was ever in force is kept with its dates, so the
// processing record as of any past date can be produced (PolicyAt).
func (s *Service) RecordPolicyInForce(ctx context.Context, a Access) error {
	if s.stores.policies == nil {
		return nil
	}
	pol := s.Policy()
	hist, err := s.stores.policies.PolicyHistory(ctx)
	if err != nil {
		return internalErr("read policy history", err)
	}
	if n := len(hist); n > 0 && hist[n-1].Hash == pol.Hash() {
		return nil
	}
	files, err := encodePolicyFiles(pol)
	if err != nil {
		return internalErr("encode policy", err)
	}
	e := s.newEntry(ctx, a, pol, ActionPolicyLoad, "")
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "policy_hash:"+pol.Hash()
	now := s.now().UTC()
	if _, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutPolicyInForce(pol.Hash(), files, now) }, func(error) audit.Entry { return e }); err != nil {
		return internalErr("record policy in force", err)
	}
	return nil
}

// PolicyVersion is a policy as it was in force: its hash, when it came into force, and its files.
type PolicyVersion struct {
	Hash  string
	Since time.Time
	Files map[string]string
}

// PolicyHistory lists every policy version that came into force, oldest first (roles that may read the
// policy; a refusal is recorded).
func (s *Service) PolicyHistory(ctx context.Context, a Access) ([]PolicyInForce, error) {
	if err := s.AuthorizeRole(ctx, a, policies.ResourcePolicies, policies.ActRead, ActionPolicyRead); err != nil {
		return nil, err
	}
	if s.stores.policies == nil {
		return nil, Errorf(CodeUnavailable, "policy history is not kept by this store")
	}
	hist, err := s.stores.policies.PolicyHistory(ctx)
	if err != nil {
		return nil, internalErr("read policy history", err)
	}
	return nonNil(hist), nil
}

// NoticeVersion is a version of the public processing notice — the policy version it renders — and when
// it was published and, unless it is current, superseded.
type NoticeVersion struct {
	Version                   string
	PublishedAt, SupersededAt time.Time // SupersededAt zero: in force
}

// NoticeVersions lists every published version of the public notice, oldest first. The notice is public
// (GET /v1/notice needs no token) and its history holds no personal data, so this is neither authorized nor
// recorded. An empty list when the store keeps no policy history.
func (s *Service) NoticeVersions(ctx context.Context) ([]NoticeVersion, error) {
	if s.stores.policies == nil {
		return []NoticeVersion{}, nil
	}
	hist, err := s.stores.policies.PolicyHistory(ctx)
	if err != nil {
		return nil, internalErr("read policy history", err)
	}
	out := make([]NoticeVersion, len(hist))
	for i, h := range hist {
		out[i] = NoticeVersion{Version: h.Hash, PublishedAt: h.Since}
		if i > 0 {
			out[i-1].SupersededAt = h.Since
		}
	}
	return out, nil
}

// PolicyAt returns the policy that was in force at the given time (roles that may read the policy): the
// processing record as of that date. 404 before the first recorded version.
func (s *Service) PolicyAt(ctx context.Context, a Access, at time.Time) (PolicyVersion, error) {
	hist, err := s.PolicyHistory(ctx, a)
	if err != nil {
		return PolicyVersion{}, err
	}
	v, ok := inForceAt(hist, at)
	if !ok {
		return PolicyVersion{}, Errorf(CodeNotFound, "no policy was recorded in force at that time")
	}
	raw, err := s.stores.policies.PolicyFiles(ctx, v.Hash)
	if err != nil {
		return PolicyVersion{}, internalErr("read policy version", err)
	}
	out := PolicyVersion{Hash: v.Hash, Since: v.Since}
	if err := json.Unmarshal(raw, &out.Files); err != nil {
		return PolicyVersion{}, internalErr("decode policy version", err)
	}
	return out, nil
}

// inForceAt returns the version of hist (oldest first) in force at at: the last that came into force at or
// before it; false before the first.
func inForceAt(hist []PolicyInForce, at time.Time) (PolicyInForce, bool) {
	var v PolicyInForce
	ok := false
	for _, h := range hist {
		if !h.Since.After(at) {
			v, ok = h, true
		}
	}
	return v, ok
}

// recordedPolicy compiles the policy version with that hash from the files the store recorded.
func recordedPolicy(ctx context.Context, store PolicyStore, hash string) (*policies.Set, error) {
	raw, err := store.PolicyFiles(ctx, hash)
	if err != nil {
		return nil, err
	}
	var text map[string]string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(text))
	for name, t := range text {
		files[name] = []byte(t)
	}
	return policies.FromFiles(files)
}

// AdoptPolicy puts in force in this process the policy version with that hash, as recorded by another
// process sharing the store (its reload or its start recorded and audited it there): the version's files
// are read from the store, compiled, and swapped in if their hash is the one asked for. It reports whether
// the policy changed; a version already in force changes nothing. Requests in flight finish under the
// policy they started with, as with ReloadPolicy.
func (s *Service) AdoptPolicy(ctx context.Context, hash string) (bool, error) {
	if s.Policy().Hash() == hash {
		return false, nil
	}
	if s.stores.policies == nil {
		return false, Errorf(CodeUnavailable, "policy history is not kept by this store")
	}
	next, err := recordedPolicy(ctx, s.stores.policies, hash)
	if err != nil {
		return false, internalErr("load policy version", err)
	}
	if next.Hash() != hash {
		return false, internalErr("adopt policy", fmt.Errorf("the recorded files hash to %s, not %s", next.Hash(), hash))
	}
	s.policy.Store(next)
	s.log.Info("policy adopted from the store", "hash", hash)
	return true, nil
}
