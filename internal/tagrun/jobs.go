package tagrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// Jobs runs tag computations in the background, one at a time, and remembers their status (in memory: a
// restart forgets finished jobs, and the next run recomputes everything anyway).
type Jobs struct {
	Runner *Runner
	// OnError receives a failed job's error for the log.
	OnError func(id string, err error)
	// ctx outlives requests: jobs stop when the server stops.
	ctx context.Context

	mu      sync.Mutex
	jobs    map[string]*vault.JobStatus
	running bool
}

// NewJobs returns a job registry whose jobs run until ctx ends.
func NewJobs(ctx context.Context, r *Runner) *Jobs {
	return &Jobs{Runner: r, ctx: ctx, jobs: map[string]*vault.JobStatus{}}
}

// Job kinds.
const (
	KindFull    = "tags.compute"         // population models, then every subject
	KindChanged = "tags.compute_changed" // subjects whose data or consent changed, with the frozen models
)

// Start starts a computation of kind run as caller (whose roles every vault call checks) unless one is
// running; ok is false when one is (its id is returned). A full run mines its rules insight with ro.
func (j *Jobs) Start(caller vault.Caller, kind string, ro RulesOptions) (id string, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running {
		for id, st := range j.jobs {
			if st.State == vault.JobRunning {
				return id, false
			}
		}
	}
	var b [8]byte
	rand.Read(b[:])
	id = "job_" + hex.EncodeToString(b[:])
	st := &vault.JobStatus{ID: id, Kind: kind, State: vault.JobRunning, StartedAt: time.Now().UTC()}
	j.jobs[id] = st
	j.running = true
	r := *j.Runner
	r.Caller = caller
	r.Rules = ro
	r.Progress = func(done, total int) {
		j.mu.Lock()
		st.Done, st.Total = done, total
		j.mu.Unlock()
	}
	go func() {
		var err error
		if kind == KindChanged {
			_, err = r.Incremental(j.ctx)
		} else {
			_, err = r.Full(j.ctx)
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		now := time.Now().UTC()
		st.FinishedAt = &now
		j.running = false
		if err != nil {
			st.State, st.Error = vault.JobFailed, "the computation failed; see the server log"
			if j.OnError != nil {
				j.OnError(id, err)
			}
			return
		}
		st.State = vault.JobDone
	}()
	return id, true
}

// Status returns a job's status (ok false if unknown).
func (j *Jobs) Status(id string) (vault.JobStatus, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.jobs[id]
	if !ok {
		return vault.JobStatus{}, false
	}
	return *st, true
}
