package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Key rotation: every DEK is moved under a new KEK version, and the versions nothing uses any more are
// retired. The protocol keeps one promise — a KEK version is never given up while a stored DEK is wrapped
// under it — by four rules:
//
//  1. One rotation at a time: an in-process guard, and a lease row in the store (the holder renews it with
//     every batch, so several nodes sharing a database serialise too). A second request gets
//     CodeRotationInProgress.
//  2. New DEKs are only ever wrapped under the active version, inside the writer's transaction, and the new
//     version becomes active inside the lease transaction, so no DEK created later can name an older one.
//  3. A version is retired in the same write transaction that counts its DEKs and finds none; the store
//     refuses any later write of a DEK under a retired version. Retiring keeps the key material.
//  4. Key material is destroyed only by PurgeKeys, which re-checks zero references in a write transaction.
//
// Every step is idempotent, so a rotation interrupted at any point (crash, kill -9, shutdown) is resumed
// from its lease row: DEKs already under the new version are not touched again.

// Background job states (key rotations and tag computations), as GET /v1/jobs/{id} shows them.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// KindKeyRotation is the job kind of a key rotation (GET /v1/jobs/{id}).
const KindKeyRotation = "keys.rotate"

const (
	rewrapBatch   = 500
	rotationLease = time.Minute
	// rotationPasses bounds how often a rotation sweeps for DEKs still under an old version.
	rotationPasses = 3
	// rotationIDPrefix marks job ids that are key rotations.
	rotationIDPrefix = "rot_"
	reasonRotating   = "rotation_in_progress"
)

// KeyRing is the KEK ring as rotation, purge and the key check need it (internal/keys implements it).
type KeyRing interface {
	// ActiveVersion is the KEK version new DEKs are wrapped under.
	ActiveVersion() uint32
	// KEKs describes every version the ring knows, in ascending order.
	KEKs() []KEKState
	// Rotate makes a new KEK version active, persisted before it returns, and returns it.
	Rotate() (uint32, error)
	// Rewrap returns d wrapped under the active KEK.
	Rewrap(d DEK) (DEK, error)
	// CheckDEK unwraps d and forgets the result: ErrKEKMissing if the ring lacks its KEK version, another
	// error if d does not authenticate.
	CheckDEK(d DEK) error
	// Retire marks versions retired (never the active one): never wrapped under again, still unwrapping.
	Retire(versions []uint32) error
	// Purge destroys the key material of retired versions.
	Purge(versions []uint32) error
}

// KEKState describes one KEK version, without key material.
type KEKState struct {
	Version   uint32
	Active    bool
	CreatedAt time.Time
	RetiredAt *time.Time
	PurgedAt  *time.Time
}

// ErrKEKMissing means a DEK is wrapped under a KEK version the ring does not hold (unknown or purged). An
// access that needs such a DEK is answered CodeUnavailable (503): the data is intact and another node —
// or this one, once its ring file holds the version — can serve it.
var ErrKEKMissing = errors.New("KEK version missing from the key ring")

// kekMissingMessage is the client's message for ErrKEKMissing: it names no key, version or subject.
const kekMissingMessage = "a data key is wrapped under a key-encryption key this node's key ring does not hold; no data was returned"

// KeyStore is what key rotation and the key check read outside the writer's transaction.
type KeyStore interface {
	// DEKs streams every stored DEK to fn, in pages (no long read transaction).
	DEKs(ctx context.Context, fn func(DEK) error) error
	// DEKsBelow streams, a page of at most limit at a time, the DEKs wrapped under a KEK version below v.
	DEKsBelow(ctx context.Context, v uint32, limit int, fn func([]DEK) error) error
	// CountDEKsBelow counts the DEKs wrapped under a KEK version below v.
	CountDEKsBelow(ctx context.Context, v uint32) (int, error)
	// Rotation reads a rotation by id; LatestRotation the most recently started one. ErrNotFound if there is
	// none.
	Rotation(ctx context.Context, id string) (Rotation, error)
	LatestRotation(ctx context.Context) (Rotation, error)
}

// KeyTx is the part of the writer's transaction that key rotation uses.
type KeyTx interface {
	// KEKUsage counts the stored DEKs per KEK version, as the transaction sees them.
	KEKUsage() (map[uint32]int, error)
	// RetireKEK records that version is retired: from then on the store refuses any DEK row wrapped under
	// it. Recording an already retired version again changes nothing.
	RetireKEK(version uint32, at time.Time) error
	// LatestRotation returns the most recently started rotation; ErrNotFound if none ever ran.
	LatestRotation() (Rotation, error)
	// PutRotation inserts or replaces a rotation row.
	PutRotation(r Rotation) error
	// RewrapDEK replaces the wrapping of an existing DEK, but only if the stored row is still wrapped under
	// fromKEKVersion (so an erased subject's key is never brought back). It reports whether a row changed.
	// Unlike the other changes it does not mark the subject's tags for recomputation: nothing about the
	// subject changed.
	RewrapDEK(d DEK, fromKEKVersion uint32) (bool, error)
}

// Rotation is one key rotation as stored: its lease and its progress.
type Rotation struct {
	ID         string
	KEKVersion uint32 // the version every DEK moves to
	State      string
	Holder     string // the process instance holding the lease
	LeaseUntil time.Time
	StartedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	Total      int // DEKs to move, as counted when the rotation (or its resumption) started
	Rewrapped  int
	Retired    []uint32
	Error      string // a stable message, never personal data
}

// RotationResult reports a finished KEK rotation.
type RotationResult struct {
	JobID      string
	NewVersion uint32
	Resumed    bool
	Rewrapped  int
	Retired    []uint32
	// Kept lists old versions still in use when the rotation gave up sweeping (normally empty).
	Kept     []uint32
	AuditSeq int64
}

// JobStatus is a background job's progress as GET /v1/jobs/{id} shows it.
type JobStatus struct {
	ID         string
	Kind       string
	State      string
	Done       int
	Total      int
	StartedAt  time.Time
	FinishedAt *time.Time
	// NewVersion and Retired describe a key rotation.
	NewVersion uint32
	Retired    []uint32
	// Error is a stable message; details go to the server log, never to the client.
	Error string
}

// Keys is key management — KEK rotation, retirement, purge and the key check — with its own storer
// (KeyStore, KeyTx) and the key ring. It shares the enforcement point's policy and audit trail: every
// rotation, purge and status read is decided and recorded like any other access.
type Keys struct {
	*core    // the enforcement point's policy, trail and audit helpers
	ring     KeyRing
	keyStore KeyStore
	// exclusiveStore: no other process uses the store (see Config.ExclusiveStore).
	exclusiveStore bool
	// instance names this process as a rotation lease holder; rotation serialises rotations in it.
	instance  string
	rotation  *rotationGuard
	keyReport *atomic.Pointer[KeyReport]
}

// newKeys builds key management on the enforcement point's core from cfg.
func newKeys(c *core, cfg Config) *Keys {
	return &Keys{core: c, ring: cfg.KeyRing, keyStore: cfg.KeyStore, exclusiveStore: cfg.ExclusiveStore,
		instance: newRotationID()[len(rotationIDPrefix):], rotation: &rotationGuard{}, keyReport: &atomic.Pointer[KeyReport]{}}
}

// IsRotationJob reports whether a job id names a key rotation.
func IsRotationJob(id string) bool { return strings.HasPrefix(id, rotationIDPrefix) }

// rotationGuard serialises rotations inside the process (the lease row serialises processes).
type rotationGuard struct {
	mu      sync.Mutex // held from StartRotation to the end of Run
	current sync.Mutex // guards running
	running string
	wg      sync.WaitGroup
}

// errRotating is returned by a lease transaction that found another holder.
var errRotating = errors.New("another rotation holds the lease")

func rotationBusy(id string) *Error {
	msg := "a key rotation is already running"
	if id != "" {
		msg += " (job " + id + ")"
	}
	return &Error{Code: CodeRotationInProgress, Message: msg, Job: id}
}

// RotationJob is a rotation that holds the lease. Run it to the end (or until its context ends); until Run
// returns, every other rotation request is refused with CodeRotationInProgress.
type RotationJob struct {
	s       *Keys
	entry   audit.Entry // the template of the rotation's audit entries
	row     Rotation
	resumed bool
	done    bool
}

// ID is the rotation's job id.
func (j *RotationJob) ID() string { return j.row.ID }

// Resumed reports whether the job continues an interrupted rotation instead of starting a new version.
func (j *RotationJob) Resumed() bool { return j.resumed }

// NewVersion is the KEK version every DEK is moved to.
func (j *RotationJob) NewVersion() uint32 { return j.row.KEKVersion }

// RotationStep names a point of a rotation that has just become durable (RunOptions.Step).
type RotationStep string

// Rotation steps, in order; StepBatch repeats once per committed batch.
const (
	StepStarted   RotationStep = "started"   // lease taken, new version active in the ring (reported by Run)
	StepBatch     RotationStep = "batch"     // one batch of DEKs rewrapped
	StepRewrapped RotationStep = "rewrapped" // no DEK left under an old version, nothing retired yet
	StepRetired   RotationStep = "retired"   // old versions retired, rotation marked done
)

// RunOptions tunes and observes a rotation run.
type RunOptions struct {
	// Progress receives DEKs moved and DEKs to move, after every batch.
	Progress func(done, total int)
	// Step is told each durable step (for logs, and for crash tests that stop the process there).
	Step func(RotationStep)
	// BatchSize is the number of DEKs rewrapped per transaction (default 500).
	BatchSize int
}

// RotateKeys rotates the KEK and waits for the end: StartRotation, then Run.
func (s *Keys) RotateKeys(ctx context.Context, a Access, opts RunOptions) (RotationResult, error) {
	j, err := s.StartRotation(ctx, a)
	if err != nil {
		return RotationResult{}, err
	}
	return j.Run(ctx, opts)
}

// StartRotation checks that a may rotate keys (role admin), takes the rotation lease and either resumes an
// interrupted rotation or makes a new KEK version active. While another rotation runs it answers
// CodeRotationInProgress; every refusal has its audit entry. The caller must Run the returned job.
func (s *Keys) StartRotation(ctx context.Context, a Access) (*RotationJob, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionKeyRotate, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceKeys, policies.ActRotate) {
		return nil, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may rotate keys"))
	}
	if s.ring == nil || s.keyStore == nil {
		return nil, Errorf(CodeUnavailable, "key rotation is not configured in this process")
	}
	g := s.rotation
	if !g.mu.TryLock() {
		g.current.Lock()
		id := g.running
		g.current.Unlock()
		return nil, s.deny(ctx, e, statusConflict, reasonRotating, rotationBusy(id))
	}
	j, err := s.takeRotationLease(ctx, e)
	if err != nil {
		g.mu.Unlock()
		return nil, err
	}
	g.current.Lock()
	g.running = j.row.ID
	g.current.Unlock()
	g.wg.Add(1)
	return j, nil
}

// takeRotationLease runs the lease transaction: resume the latest rotation if it is still marked running
// and its holder is gone, refuse if its holder lives, or start a new one on a new KEK version.
func (s *Keys) takeRotationLease(ctx context.Context, e audit.Entry) (*RotationJob, error) {
	j := &RotationJob{s: s, entry: e}
	var holder string
	seq, err := s.seq.Commit(ctx, func(tx Tx) error {
		now := s.now().UTC()
		latest, err := tx.LatestRotation()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case latest.State == JobRunning:
			if latest.Holder != s.instance && latest.LeaseUntil.After(now) && !s.exclusiveStore {
				holder = latest.ID
				return errRotating
			}
			j.row, j.resumed = latest, true
			j.row.KEKVersion = max(j.row.KEKVersion, s.ring.ActiveVersion())
		}
		if !j.resumed {
			v, err := s.ring.Rotate()
			if err != nil {
				return err
			}
			j.row = Rotation{ID: newRotationID(), KEKVersion: v, State: JobRunning, StartedAt: now}
		}
		j.row.Holder, j.row.LeaseUntil, j.row.UpdatedAt = s.instance, now.Add(rotationLease), now
		return tx.PutRotation(j.row)
	}, func(changeErr error) audit.Entry {
		le := e
		switch {
		case errors.Is(changeErr, errRotating):
			le.Decision, le.Status, le.Reason = audit.Deny, statusConflict, reasonRotating
		case changeErr != nil:
			le.Decision, le.Status, le.Reason = audit.Deny, statusInternal, reasonInternal
		default:
			verb := "start"
			if j.resumed {
				verb = "resume"
			}
			le.Decision, le.Status = audit.Allow, statusOK
			le.Reason = "rotation:" + j.row.ID + " " + verb + " kek_version:" + strconv.FormatUint(uint64(j.row.KEKVersion), 10)
		}
		return le
	})
	switch {
	case errors.Is(err, errRotating):
		be := rotationBusy(holder)
		be.AuditSeq = seq
		return nil, be
	case err != nil:
		return nil, internalErr("start key rotation", err)
	}
	return j, nil
}

func newRotationID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return rotationIDPrefix + hex.EncodeToString(b[:])
}

// Run moves every DEK under the job's KEK version in batches (each batch one transaction with its audit
// entry, renewing the lease), then retires, in one transaction with the count of their DEKs, every older
// version nothing uses. Reads keep working throughout: an old wrapping stays valid, and retired versions
// keep unwrapping. If ctx ends, the rotation stops where it is and stays resumable.
func (j *RotationJob) Run(ctx context.Context, opts RunOptions) (res RotationResult, err error) {
	if j.done {
		return RotationResult{}, errors.New("vault: rotation job already ran")
	}
	j.done = true
	s, g := j.s, j.s.rotation
	defer func() {
		g.current.Lock()
		g.running = ""
		g.current.Unlock()
		g.mu.Unlock()
		g.wg.Done()
	}()
	res = RotationResult{JobID: j.row.ID, NewVersion: j.row.KEKVersion, Resumed: j.resumed}
	defer func() {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrUnavailable) && !errors.Is(err, errLeaseLost) {
			j.fail(err)
		}
	}()
	progress, step, batch := opts.Progress, opts.Step, opts.BatchSize
	if progress == nil {
		progress = func(int, int) {}
	}
	if step == nil {
		step = func(RotationStep) {}
	}
	if batch <= 0 {
		batch = rewrapBatch
	}
	step(StepStarted)
	for pass := 0; ; pass++ {
		left, err := s.keyStore.CountDEKsBelow(ctx, j.row.KEKVersion)
		if err != nil {
			return res, internalErr("count DEKs to rewrap", err)
		}
		if pass == 0 {
			j.row.Total = j.row.Rewrapped + left
		}
		progress(j.row.Rewrapped, j.row.Total)
		if err := s.keyStore.DEKsBelow(ctx, j.row.KEKVersion, batch, func(page []DEK) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := j.rewrap(ctx, page); err != nil {
				return err
			}
			step(StepBatch)
			progress(j.row.Rewrapped, j.row.Total)
			return nil
		}); err != nil {
			return res, internalErr("rewrap DEKs", err)
		}
		step(StepRewrapped)
		kept, seq, err := j.retire(ctx, pass+1 == rotationPasses)
		if err != nil {
			return res, internalErr("retire KEK versions", err)
		}
		if len(kept) == 0 || pass+1 == rotationPasses {
			step(StepRetired)
			res.Rewrapped, res.Retired, res.Kept, res.AuditSeq = j.row.Rewrapped, j.row.Retired, kept, seq
			if _, err := s.CheckKeys(ctx); err != nil {
				s.log.Warn("key check after rotation failed", "rotation", j.row.ID, "err", err)
			}
			return res, nil
		}
	}
}

// errLeaseLost means another holder took over the rotation lease (ours expired).
var errLeaseLost = errors.New("the rotation lease was taken over by another holder")

// ownLease checks, inside the writer's transaction, that this job still holds the lease.
func (j *RotationJob) ownLease(tx Tx) error {
	cur, err := tx.LatestRotation()
	if err != nil {
		return err
	}
	if cur.ID != j.row.ID || cur.Holder != j.s.instance || cur.State != JobRunning {
		return errLeaseLost
	}
	return nil
}

// rewrap moves one page of DEKs in one transaction; a DEK changed meanwhile (erased, or already moved) is
// left alone.
func (j *RotationJob) rewrap(ctx context.Context, page []DEK) error {
	s := j.s
	next := j.row
	// The key work happens before the single writer's transaction, which only stores the results.
	moved := make([]DEK, len(page))
	for i, d := range page {
		nd, err := s.ring.Rewrap(d)
		if err != nil {
			return fmt.Errorf("rewrap a DEK from KEK version %d: %w", d.KEKVersion, err)
		}
		moved[i] = nd
	}
	_, err := s.seq.Commit(ctx, func(tx Tx) error {
		if err := j.ownLease(tx); err != nil {
			return err
		}
		n := 0
		for i, d := range page {
			ok, err := tx.RewrapDEK(moved[i], d.KEKVersion)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		now := s.now().UTC()
		next.Rewrapped += n
		next.LeaseUntil, next.UpdatedAt = now.Add(rotationLease), now
		return tx.PutRotation(next)
	}, func(changeErr error) audit.Entry {
		be := j.entry
		be.TS = s.now().UTC()
		be.Decision, be.Status = audit.Allow, statusOK
		be.Reason = "rotation:" + j.row.ID + " rewrap_batch:" + strconv.Itoa(len(page))
		if changeErr != nil {
			be.Decision, be.Status, be.Reason = audit.Deny, statusInternal, reasonInternal
		}
		return be
	})
	if err != nil {
		return err
	}
	j.row = next
	return nil
}

// retire counts every version's DEKs and retires, in the same transaction, each old version with none. If
// an old version still has DEKs (moved there by nothing this rotation knows of) it is kept and listed; the
// rotation finishes only when none is left or final is set.
func (j *RotationJob) retire(ctx context.Context, final bool) (kept []uint32, seq int64, err error) {
	s := j.s
	next := j.row
	seq, err = s.seq.Commit(ctx, func(tx Tx) error {
		kept = nil
		if err := j.ownLease(tx); err != nil {
			return err
		}
		usage, err := tx.KEKUsage()
		if err != nil {
			return err
		}
		now := s.now().UTC()
		known := map[uint32]bool{}
		var retire []uint32
		for _, k := range s.ring.KEKs() {
			known[k.Version] = true
			switch {
			case k.Active || k.PurgedAt != nil:
			case usage[k.Version] > 0:
				kept = append(kept, k.Version)
			default:
				if err := tx.RetireKEK(k.Version, now); err != nil {
					return err
				}
				if k.RetiredAt == nil {
					retire = append(retire, k.Version)
				}
			}
		}
		for _, v := range slices.Sorted(maps.Keys(usage)) {
			if !known[v] {
				return fmt.Errorf("%d DEKs are wrapped under KEK version %d: %w", usage[v], v, ErrKEKMissing)
			}
		}
		if len(kept) > 0 && !final {
			return nil
		}
		// Mark the ring last: if the file cannot be written the transaction rolls back with it.
		if err := s.ring.Retire(retire); err != nil {
			return err
		}
		next.Retired = append(next.Retired, retire...)
		next.State, next.FinishedAt, next.UpdatedAt = JobDone, now, now
		return tx.PutRotation(next)
	}, func(changeErr error) audit.Entry {
		fe := j.entry
		fe.TS = s.now().UTC()
		fe.Decision, fe.Status = audit.Allow, statusOK
		fe.Reason = "rotation:" + j.row.ID + " kek_version:" + strconv.FormatUint(uint64(j.row.KEKVersion), 10) +
			" rewrapped:" + strconv.Itoa(j.row.Rewrapped) + " retired:" + versionList(next.Retired)
		if len(kept) > 0 {
			fe.Reason += " kept:" + versionList(kept)
		}
		if changeErr != nil {
			fe.Decision, fe.Status, fe.Reason = audit.Deny, statusInternal, reasonInternal
		}
		return fe
	})
	if err != nil {
		return nil, 0, err
	}
	j.row = next
	return kept, seq, nil
}

// fail records a rotation that cannot go on (best effort: the lease expires anyway).
func (j *RotationJob) fail(cause error) {
	s := j.s
	j.s.log.Error("key rotation failed", "rotation", j.row.ID, "err", cause)
	next := j.row
	now := s.now().UTC()
	next.State, next.FinishedAt, next.UpdatedAt = JobFailed, now, now
	next.Error = "the rotation failed; see the server log"
	_, _ = s.seq.Commit(context.Background(), func(tx Tx) error {
		if err := j.ownLease(tx); err != nil {
			return err
		}
		return tx.PutRotation(next)
	}, func(error) audit.Entry {
		fe := j.entry
		fe.TS = now
		fe.Decision, fe.Status, fe.Reason = audit.Deny, statusInternal, "rotation:"+j.row.ID+" failed"
		return fe
	})
}

func versionList(vs []uint32) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// WaitRotation waits until no rotation runs in this process (for shutdown, after cancelling its context).
func (s *Keys) WaitRotation() { s.rotation.wg.Wait() }

// PendingRotation returns the id of a rotation that is marked running in the store but not running in this
// process: one interrupted by a crash or a shutdown, to be resumed by the next StartRotation.
func (s *Keys) PendingRotation(ctx context.Context) (string, bool, error) {
	if s.keyStore == nil {
		return "", false, nil
	}
	r, err := s.keyStore.LatestRotation(ctx)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil || r.State != JobRunning {
		return "", false, err
	}
	s.rotation.current.Lock()
	defer s.rotation.current.Unlock()
	return r.ID, s.rotation.running != r.ID, nil
}

// RotationStatus returns a rotation job's progress to a caller who may rotate keys; the read is audited.
func (s *Keys) RotationStatus(ctx context.Context, a Access, id string) (JobStatus, int64, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionKeyRotate, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceKeys, policies.ActRotate) {
		return JobStatus{}, 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may follow key rotations"))
	}
	if s.keyStore == nil {
		return JobStatus{}, 0, Errorf(CodeNotFound, "no such job")
	}
	r, err := s.keyStore.Rotation(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return JobStatus{}, 0, internalErr("read rotation", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "rotation:status"
	if errors.Is(err, ErrNotFound) {
		e.Status = statusNotFound
	}
	seq, cerr := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if cerr != nil {
		return JobStatus{}, 0, internalErr("audit rotation status", cerr)
	}
	if err != nil {
		return JobStatus{}, seq, &Error{Code: CodeNotFound, Message: "no such job", AuditSeq: seq}
	}
	return rotationStatus(r), seq, nil
}

// rotationStatus converts a stored rotation to its job view.
func rotationStatus(r Rotation) JobStatus {
	st := JobStatus{ID: r.ID, Kind: KindKeyRotation, State: r.State, Done: r.Rewrapped, Total: r.Total,
		StartedAt: r.StartedAt, NewVersion: r.KEKVersion, Retired: r.Retired, Error: r.Error}
	if !r.FinishedAt.IsZero() {
		f := r.FinishedAt
		st.FinishedAt = &f
	}
	return st
}
