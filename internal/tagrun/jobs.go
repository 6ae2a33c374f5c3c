package tagrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// Job states.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// JobStatus is what GET /v1/jobs/{id} shows.
type JobStatus struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	Done       int        `json:"done"`
	Total      int        `json:"total"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Error is a stable message; details go to the server log, never to the client.
	Error string `json:"error,omitempty"`
}

// Jobs runs tag computations in the background, one at a time, and remembers their status (in memory: a
// restart forgets finished jobs, and the next run recomputes everything anyway).
type Jobs struct {
	Runner *Runner
	// OnError receives a failed job's error for the log.
	OnError func(id string, err error)
	// ctx outlives requests: jobs stop when the server stops.
	ctx context.Context

	mu      sync.Mutex
	jobs    map[string]*JobStatus
	running bool
}

// NewJobs returns a job registry whose jobs run until ctx ends.
func NewJobs(ctx context.Context, r *Runner) *Jobs {
	return &Jobs{Runner: r, ctx: ctx, jobs: map[string]*JobStatus{}}
}

// Job kinds.
const (
	KindFull    = "tags.compute"         // population models, then every subject
	KindChanged = "tags.compute_changed" // subjects whose data or consent changed, with the frozen models
)

// Start starts a computation of kind run as caller (whose roles every vault call checks) unless one is
// running; ok is false when one is (its id is returned).
func (j *Jobs) Start(caller vault.Caller, kind string) (id string, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running {
		for id, st := range j.jobs {
			if st.State == StateRunning {
				return id, false
			}
		}
	}
	var b [8]byte
	rand.Read(b[:])
	id = "job_" + hex.EncodeToString(b[:])
	st := &JobStatus{ID: id, Kind: kind, State: StateRunning, StartedAt: time.Now().UTC()}
	j.jobs[id] = st
	j.running = true
	r := *j.Runner
	r.Caller = caller
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
			st.State, st.Error = StateFailed, "the computation failed; see the server log"
			if j.OnError != nil {
				j.OnError(id, err)
			}
			return
		}
		st.State = StateDone
	}()
	return id, true
}

// Status returns a job's status (ok false if unknown).
func (j *Jobs) Status(id string) (JobStatus, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.jobs[id]
	if !ok {
		return JobStatus{}, false
	}
	return *st, true
}
