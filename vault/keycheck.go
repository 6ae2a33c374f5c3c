package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// KEKUse counts the stored DEKs wrapped under one KEK version, and how many of them do not unwrap.
type KEKUse struct {
	Version uint32
	DEKs    int
	// Missing DEKs name a version the ring does not hold; Corrupt ones fail authentication.
	Missing int
	Corrupt int
}

// KeyReport is the result of unwrapping every stored DEK (CheckKeys).
type KeyReport struct {
	CheckedAt time.Time
	DEKs      int
	Subjects  int
	ByVersion []KEKUse
	KEKs      []KEKState
	Missing   int
	Corrupt   int
	// Affected counts the subjects with at least one DEK that does not unwrap.
	Affected int
}

// OK reports whether every stored DEK unwraps.
func (r KeyReport) OK() bool { return r.Missing == 0 && r.Corrupt == 0 }

// Problem describes what is wrong, for an operator, or "" when nothing is. It names counts and KEK
// versions, never a subject.
func (r KeyReport) Problem() string {
	if r.OK() {
		return ""
	}
	var missing, corrupt []uint32
	for _, u := range r.ByVersion {
		if u.Missing > 0 {
			missing = append(missing, u.Version)
		}
		if u.Corrupt > 0 {
			corrupt = append(corrupt, u.Version)
		}
	}
	var parts []string
	if r.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d DEKs are wrapped under KEK version(s) %s that the key ring does not hold", r.Missing, versionList(missing)))
	}
	if r.Corrupt > 0 {
		parts = append(parts, fmt.Sprintf("%d DEKs under KEK version(s) %s fail to unwrap", r.Corrupt, versionList(corrupt)))
	}
	return fmt.Sprintf("%s: the data of %d subject(s) cannot be decrypted", strings.Join(parts, "; "), r.Affected)
}

// ErrKeysUnusable is returned (wrapped, with the report's Problem) when stored DEKs do not unwrap.
var ErrKeysUnusable = errors.New("stored DEKs do not unwrap under the key ring")

// CheckKeys unwraps every stored DEK under the ring and counts them per KEK version. It decrypts no
// personal data: each DEK is a key, wiped as soon as it unwrapped. The report is kept for KeyHealth.
func (s *Keys) CheckKeys(ctx context.Context) (KeyReport, error) {
	if s.ring == nil || s.keyStore == nil {
		return KeyReport{}, errors.New("vault: key check is not configured")
	}
	rep := KeyReport{CheckedAt: s.now().UTC(), KEKs: s.ring.KEKs()}
	use := map[uint32]*KEKUse{}
	subjects, affected := map[string]bool{}, map[string]bool{}
	err := s.keyStore.DEKs(ctx, func(d DEK) error {
		u := use[d.KEKVersion]
		if u == nil {
			u = &KEKUse{Version: d.KEKVersion}
			use[d.KEKVersion] = u
		}
		u.DEKs++
		rep.DEKs++
		subjects[d.Subject] = true
		switch err := s.ring.CheckDEK(d); {
		case err == nil:
			return nil
		case errors.Is(err, ErrKEKMissing):
			u.Missing++
			rep.Missing++
		default:
			u.Corrupt++
			rep.Corrupt++
		}
		affected[d.Subject] = true
		return nil
	})
	if err != nil {
		return KeyReport{}, fmt.Errorf("check keys: %w", err)
	}
	for _, v := range slices.Sorted(maps.Keys(use)) {
		rep.ByVersion = append(rep.ByVersion, *use[v])
	}
	rep.Subjects, rep.Affected = len(subjects), len(affected)
	s.keyReport.Store(&rep)
	return rep, nil
}

// KeyHealth returns the last key check's problem as an error (nil if every DEK unwrapped, or before any
// check ran).
func (s *Keys) KeyHealth() error {
	if r := s.keyReport.Load(); r != nil && !r.OK() {
		return fmt.Errorf("%w: %s", ErrKeysUnusable, r.Problem())
	}
	return nil
}

// LastKeyReport returns the report of the last key check (ok false before the first).
func (s *Keys) LastKeyReport() (KeyReport, bool) {
	if r := s.keyReport.Load(); r != nil {
		return *r, true
	}
	return KeyReport{}, false
}

// PurgeResult reports a purge of retired KEK versions.
type PurgeResult struct {
	Purged   []uint32
	AuditSeq int64
}

// PurgeKeys destroys the key material of every KEK version retired before `before` (role admin). In one
// write transaction it re-counts the DEKs of each such version and refuses (CodeConflict, nothing purged)
// if any is still referenced; only then is the ring rewritten without their keys. It never runs beside a
// rotation. The purge and its refusals are audited.
func (s *Keys) PurgeKeys(ctx context.Context, a Access, before time.Time) (PurgeResult, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionKeyPurge, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceKeys, policies.ActRotate) {
		return PurgeResult{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may purge keys"))
	}
	if s.ring == nil {
		return PurgeResult{}, Errorf(CodeUnavailable, "key purge is not configured in this process")
	}
	if !s.rotation.mu.TryLock() {
		return PurgeResult{}, s.deny(ctx, e, statusConflict, reasonRotating, rotationBusy(""))
	}
	defer s.rotation.mu.Unlock()
	var res PurgeResult
	var refused error
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		usage, err := tx.KEKUsage()
		if err != nil {
			return err
		}
		var candidates, inUse []uint32
		for _, k := range s.ring.KEKs() {
			if k.RetiredAt == nil || k.PurgedAt != nil || !k.RetiredAt.Before(before) {
				continue
			}
			if usage[k.Version] > 0 {
				inUse = append(inUse, k.Version)
			}
			candidates = append(candidates, k.Version)
		}
		if len(inUse) > 0 {
			refused = Errorf(CodeConflict, "KEK version(s) %s are retired but still wrap stored DEKs; run a key rotation first", versionList(inUse))
			return refused
		}
		now := s.now().UTC()
		for _, v := range candidates {
			if err := tx.RetireKEK(v, now); err != nil {
				return err
			}
		}
		if err := s.ring.Purge(candidates); err != nil {
			return err
		}
		res.Purged = candidates
		return nil
	}, func(changeErr error) audit.Entry {
		pe := e
		pe.Decision, pe.Status, pe.Reason = audit.Allow, statusOK, "purged:"+versionList(res.Purged)
		switch {
		case refused != nil && errors.Is(changeErr, refused):
			pe.Decision, pe.Status, pe.Reason = audit.Deny, statusConflict, "retired_version_in_use"
		case changeErr != nil:
			pe.Decision, pe.Status, pe.Reason = audit.Deny, statusInternal, reasonInternal
		}
		return pe
	})
	if refused != nil && errors.Is(err, refused) {
		var ve *Error
		errors.As(refused, &ve)
		ve.AuditSeq = seq
		return PurgeResult{}, ve
	}
	if err != nil {
		return PurgeResult{}, internalErr("purge KEK versions", err)
	}
	res.AuditSeq = seq
	return res, nil
}

// KeyStatus is the state of the key ring as an admin sees it: versions without key material, the last
// key check, and the latest rotation.
type KeyStatus struct {
	ActiveVersion  uint32
	KEKs           []KEKState
	Check          *KeyReport
	LatestRotation *JobStatus
	AuditSeq       int64
}

// KeyStatus returns the key ring's state to a caller who may rotate keys (role admin); audited.
func (s *Keys) KeyStatus(ctx context.Context, a Access) (KeyStatus, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionKeyRotate, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceKeys, policies.ActRotate) {
		return KeyStatus{}, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may read the key ring's state"))
	}
	if s.ring == nil || s.keyStore == nil {
		return KeyStatus{}, Errorf(CodeUnavailable, "key management is not configured in this process")
	}
	st := KeyStatus{ActiveVersion: s.ring.ActiveVersion(), KEKs: s.ring.KEKs()}
	if rep, ok := s.LastKeyReport(); ok {
		st.Check = &rep
	}
	r, err := s.keyStore.LatestRotation(ctx)
	switch {
	case err == nil:
		js := rotationStatus(r)
		st.LatestRotation = &js
	case !errors.Is(err, ErrNotFound):
		return KeyStatus{}, internalErr("read latest rotation", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "keys:status"
	if st.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return KeyStatus{}, internalErr("audit key status", err)
	}
	return st, nil
}
