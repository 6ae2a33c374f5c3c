package keys

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"
)

// Several processes may share one ring file (vaultd nodes on one PostgreSQL database pointing --kek-file at
// shared storage). A rotation on one of them adds a KEK version to the file; the others pick it up here:
// before wrapping a new DEK (the file is looked at, by its size and modification time, at most once per
// refreshEvery) and when a wrapped DEK names a version this ring lacks (at once). A process whose ring file
// is a copy never sees the new version, and its reads of the DEKs rewrapped under it fail with
// ErrKEKUnavailable naming the version.

// refreshEvery bounds how often NewDEK looks at the ring file.
const refreshEvery = time.Second

// refreshState is what a Ring remembers of its file, to notice another process's change.
type refreshState struct {
	mu      sync.Mutex
	size    int64
	mod     time.Time
	checked time.Time
}

// noteFile records the ring file as it is now (after reading or writing it).
func (r *Ring) noteFile() {
	fi, err := os.Stat(r.path)
	if err != nil {
		return
	}
	r.file.mu.Lock()
	r.file.size, r.file.mod, r.file.checked = fi.Size(), fi.ModTime(), time.Now()
	r.file.mu.Unlock()
}

// refresh re-reads the ring file if it changed since this ring last read or wrote it (at most once per
// every; 0: now) and takes its KEK versions when it is the same ring moved forward: the same blind-index
// and pseudonym keys, an active version not older than this one, and every version this ring holds.
// It reports whether the ring changed.
func (r *Ring) refresh(every time.Duration) (bool, error) {
	if every > 0 {
		r.file.mu.Lock()
		recent := time.Since(r.file.checked) < every
		if !recent {
			r.file.checked = time.Now()
		}
		r.file.mu.Unlock()
		if recent {
			return false, nil
		}
	}
	// Lock order: r.mu, then r.file.mu (persistLocked notes the file under r.mu).
	r.mu.Lock()
	defer r.mu.Unlock()
	r.file.mu.Lock()
	defer r.file.mu.Unlock()
	r.file.checked = time.Now()
	fi, err := os.Stat(r.path)
	if err != nil {
		return false, fmt.Errorf("keys: ring %s: %w", r.path, err)
	}
	if fi.Size() == r.file.size && fi.ModTime().Equal(r.file.mod) {
		return false, nil
	}
	next, err := openRing(r.path)
	if err != nil {
		return false, err
	}
	const probe = "profile-vault/ring-refresh"
	if next.pseudo.Pseudonym(probe) != r.pseudo.Pseudonym(probe) || !bytes.Equal(next.index.Token(probe, probe), r.index.Token(probe, probe)) {
		return false, fmt.Errorf("keys: ring %s was replaced by another ring: %w", r.path, ErrMalformedRing)
	}
	for v := range r.keks {
		if next.keks[v] == nil {
			return false, fmt.Errorf("keys: ring %s lacks KEK version %d that this process holds: %w", r.path, v, ErrMalformedRing)
		}
	}
	r.file.size, r.file.mod = fi.Size(), fi.ModTime()
	if next.active < r.active {
		return false, nil
	}
	r.active, r.keks = next.active, next.keks
	return true, nil
}
