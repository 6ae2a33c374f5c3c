package vault

import (
	"context"
	"strconv"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// ReloadPolicy swaps in a newly loaded policy set atomically, after checking that the caller may reload
// policy. The swap is audited; requests already in flight finish under the policy they started with.
func (s *Service) ReloadPolicy(ctx context.Context, a Access, next *policies.Set) (int64, error) {
	cur := s.Policy()
	e := s.newEntry(ctx, a, cur, ActionPolicyReload, "")
	if !cur.Allowed(a.Caller.Roles, policies.NoPurpose, "policies", "reload") {
		return 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may reload policy"))
	}
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason = "new_policy_hash:" + next.Hash()
	seq, err := s.store.Commit(ctx, func(Tx) error { return nil }, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit policy reload", err)
	}
	s.policy.Store(next)
	return seq, nil
}

// KeyRotator is the key ring as key rotation needs it (internal/keys implements it).
type KeyRotator interface {
	// Rotate makes a new KEK version active and returns it.
	Rotate() (uint32, error)
	// Rewrap returns d wrapped under the active KEK.
	Rewrap(d DEK) (DEK, error)
	// Retire removes every KEK version that is neither active nor in use, and returns the removed versions.
	Retire(inUse map[uint32]bool) ([]uint32, error)
}

// RotationResult reports a KEK rotation.
type RotationResult struct {
	NewVersion uint32   `json:"new_version"`
	Rewrapped  int      `json:"rewrapped"`
	Retired    []uint32 `json:"retired"`
	AuditSeq   int64    `json:"audit_seq"`
}

const rewrapBatch = 500

// RotateKeys creates a new KEK version, rewraps every DEK under it in batches (reads keep working
// throughout: an old wrapping stays valid until its KEK is retired), then retires KEK versions that no DEK
// uses any more. Field ciphertexts are untouched.
func (s *Service) RotateKeys(ctx context.Context, a Access, rot KeyRotator) (RotationResult, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionKeyRotate, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, "keys", "rotate") {
		return RotationResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may rotate keys"))
	}
	v, err := rot.Rotate()
	if err != nil {
		return RotationResult{}, internalErr("rotate kek", err)
	}
	res := RotationResult{NewVersion: v}
	var batch []DEK
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		pending := batch
		batch = nil
		_, err := s.store.Commit(ctx, func(tx Tx) error {
			for _, d := range pending {
				nd, err := rot.Rewrap(d)
				if err != nil {
					return err
				}
				ok, err := tx.RewrapDEK(nd, d.KEKVersion)
				if err != nil {
					return err
				}
				if ok {
					res.Rewrapped++
				}
			}
			return nil
		}, func(changeErr error) audit.Entry {
			be := e
			be.Decision, be.Status, be.Reason = audit.Allow, statusOK, "rewrap_batch:"+strconv.Itoa(len(pending))
			if changeErr != nil {
				be.Decision, be.Status, be.Reason = audit.Deny, statusInternal, reasonInternal
			}
			return be
		})
		return err
	}
	err = s.store.DEKs(ctx, func(d DEK) error {
		if d.KEKVersion == v {
			return nil
		}
		batch = append(batch, d)
		if len(batch) >= rewrapBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, internalErr("rewrap deks", err)
	}
	inUse := map[uint32]bool{}
	if err := s.store.DEKs(ctx, func(d DEK) error { inUse[d.KEKVersion] = true; return nil }); err != nil {
		return res, internalErr("scan deks", err)
	}
	if res.Retired, err = rot.Retire(inUse); err != nil {
		return res, internalErr("retire kek", err)
	}
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason = "kek_version:" + strconv.FormatUint(uint64(v), 10) + " rewrapped:" + strconv.Itoa(res.Rewrapped)
	if res.AuditSeq, err = s.store.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return res, internalErr("audit key rotation", err)
	}
	return res, nil
}

// RecordAuthFailure appends an auth.failure entry for a request whose token was refused. The entry holds no
// token contents, only a short reason class and the keyed hash of the client address.
func (s *Service) RecordAuthFailure(ctx context.Context, requestID, clientAddr, reason string) (int64, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, Access{RequestID: requestID, ClientAddr: clientAddr}, pol, ActionAuthFailure, "")
	e.Decision, e.Status, e.Reason = audit.Deny, statusUnauthorized, reason
	seq, err := s.store.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit auth failure", err)
	}
	return seq, nil
}
