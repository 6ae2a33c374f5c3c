package vault

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/profilevault/profilevault/audit"
)

// Authentication failures are recorded with bounded cost: anyone can send a bad token, so an unlimited
// entry per failure would let an anonymous flood grow the trail and the disk without end. Each source
// address (and all of them together) has a budget; within it every failure is an entry, as before. Beyond
// it the request is refused 429 with no entry of its own, and counted: the next entry for that address — or
// FlushAuthFailures, which the server runs periodically and at shutdown — carries how many were folded, so
// the trail still shows every attack and its size.

const (
	authFailuresPerSecond = 10  // per source address, after the burst
	authFailureBurst      = 100 // per source address
	authFailuresGlobal    = 200 // per second, all addresses together (burst 10×)
)

// authFolder counts the failures refused beyond the budgets, by client reference.
type authFolder struct {
	perAddr *rateLimiter
	global  *rateLimiter
	mu      sync.Mutex
	folded  map[string]int // client ref → failures not yet recorded
}

func newAuthFolder(now func() time.Time) *authFolder {
	return &authFolder{perAddr: newRateLimiter(authFailuresPerSecond, authFailureBurst, now),
		global: newRateLimiter(authFailuresGlobal, 10*authFailuresGlobal, now), folded: map[string]int{}}
}

// take removes and returns the folded count of ref.
func (f *authFolder) take(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.folded[ref]
	delete(f.folded, ref)
	return n
}

// RecordAuthFailure appends an auth.failure entry for a request whose token was refused: no token
// contents, only a short reason class, the keyed hash of the client address, and how many earlier failures
// from it were folded in. Beyond the budgets it records nothing now and answers CodeRateLimited (the failure
// is folded into the address's next entry).
func (s *Service) RecordAuthFailure(ctx context.Context, requestID, clientAddr, reason string) (int64, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, Access{RequestID: requestID, ClientAddr: clientAddr}, pol, ActionAuthFailure, "")
	f := s.authFails
	if !f.perAddr.allow(e.ClientRef) || !f.global.allow("*") {
		f.mu.Lock()
		if _, known := f.folded[e.ClientRef]; known || len(f.folded) < maxBuckets {
			f.folded[e.ClientRef]++
		} else {
			f.folded[""]++ // too many addresses at once: counted together
		}
		f.mu.Unlock()
		return 0, &Error{Code: CodeRateLimited, Message: "too many failed authentications", RetryAfter: time.Second}
	}
	e.Decision, e.Status, e.Reason = audit.Deny, statusUnauthorized, reason
	if n := f.take(e.ClientRef); n > 0 {
		e.Reason += " folded:" + strconv.Itoa(n)
	}
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit auth failure", err)
	}
	return seq, nil
}

// FlushAuthFailures records, one entry per client address, the failures folded since their last entry.
// The server runs it periodically and before it stops.
func (s *Service) FlushAuthFailures(ctx context.Context) error {
	f := s.authFails
	f.mu.Lock()
	pending := f.folded
	f.folded = map[string]int{}
	f.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	pol := s.Policy()
	var entries []audit.Entry
	for _, ref := range slices.Sorted(maps.Keys(pending)) {
		e := s.newEntry(ctx, Access{RequestID: "auth-failure-fold"}, pol, ActionAuthFailure, "")
		e.ClientRef = ref
		e.Decision, e.Status, e.Reason = audit.Deny, statusTooManyRequests, "rate_limited folded:"+strconv.Itoa(pending[ref])
		entries = append(entries, e)
	}
	// One commit for all addresses; if it fails the counts go back to be flushed next time.
	if _, err := s.seq.CommitMany(ctx, nil, func(error) []audit.Entry { return entries }); err != nil {
		f.mu.Lock()
		for ref, n := range pending {
			f.folded[ref] += n
		}
		f.mu.Unlock()
		return internalErr("audit folded auth failures", err)
	}
	return nil
}
