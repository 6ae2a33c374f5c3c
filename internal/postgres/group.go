package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// Changes are group-committed, as the embedded store's single writer does: the changes waiting at once on
// a node share one transaction, each in its own savepoint (a failed change keeps nothing, and its entry
// records the failure), and their entries are numbered together under one lock of the log's head row and
// made durable by one COMMIT. A change costs a round trip or two (its statements are pipelined, see
// pipeline) instead of a transaction of its own with a dozen, and one COMMIT (one WAL flush) serves the
// group — each change its own transaction, holding the head row for eight round trips and its COMMIT, is
// what bounded a node to about 300 changes a second (an import's subjects and consents).
//
// A failure of the group's transaction itself (the connection, a deadlock PostgreSQL breaks, the timeout)
// fails every change of the group with vault.ErrUnavailable, as a failed group commit does in the embedded
// store: nothing of any of them is visible and no entry is appended.

// op is one change waiting for its group.
type op struct {
	change  func(vault.Tx) error
	entries func(error) []audit.Entry
	done    chan opResult
}

type opResult struct {
	seq       int64
	changeErr error
	err       error
}

// maxOps bounds the changes one group transaction takes.
const maxOps = 256

// enqueue hands o to the committer and waits for its outcome. Once the committer has taken it, it waits
// whatever ctx does (the group's own deadline bounds it), so that a committed change is never reported as
// not written.
func (s *Store) enqueue(ctx context.Context, o *op) (int64, error) {
	o.done = make(chan opResult, 1)
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case s.ops <- o:
	case <-timer.C:
		return 0, fmt.Errorf("%w: no group took the change within %s", vault.ErrUnavailable, s.timeout)
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.quit:
		return 0, unavailable(errClosed)
	case <-s.log.quit:
		return 0, unavailable(errClosed)
	}
	r := <-o.done
	if r.err != nil {
		return 0, r.err
	}
	return r.seq, r.changeErr
}

// committer takes the changes waiting at once as one group, until the store or its log is closed.
func (s *Store) committer() {
	defer close(s.stopped)
	for {
		select {
		case o := <-s.ops:
			s.commitGroup(gather(o, s.ops, maxOps))
		case <-s.quit:
			return
		case <-s.log.quit:
			return
		}
	}
}

// gather is a group: first and whatever else waits on ch at once, up to limit in all (the changes of a
// Store's committer, the entries of a Log's appender).
func gather[T any](first T, ch <-chan T, limit int) []T {
	group := []T{first}
	for len(group) < limit {
		select {
		case o := <-ch:
			group = append(group, o)
		default:
			return group
		}
	}
	return group
}

// commitGroup commits a group in one transaction and answers each of its changes.
func (s *Store) commitGroup(group []*op) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	results := make([]opResult, len(group))
	a, err := s.groupTx(ctx, group, results)
	if err != nil {
		err = unavailable(err)
		for i := range results {
			results[i] = opResult{err: err}
		}
	} else {
		s.log.Committed(a)
		s.groups.Add(1)
		s.changes.Add(int64(len(group)))
	}
	for i, o := range group {
		o.done <- results[i]
	}
}

// groupTx runs the group's transaction on a connection of its own: BEGIN and the lock of the log's head
// row in one round trip; each change in a savepoint, its statements pipelined (a round trip for each of
// its reads, none for its writes, which go with the next read); the last changes' statements; then the
// generation bump of every subject touched, the entries with their index rows and notes, the head, the tag
// marks and COMMIT in one. results receive each change's outcome and first sequence number.
//
// The head row is locked first, before any change runs: a group locks rows of many subjects, in whatever
// order its changes come, and two groups on two nodes that each held some of them while waiting for the
// other's would deadlock (PostgreSQL would fail one, and a change with it) — measured at once with two
// nodes touching four subjects. Every writer takes the head row before any other row (a guarded
// release's change too, runGuarded), so writers cannot deadlock; a node's changes run one after the
// other anyway, and the nodes' groups take turns.
func (s *Store) groupTx(ctx context.Context, group []*op, results []opResult) (a TxAppend, err error) {
	c, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return a, err
	}
	defer func() {
		if c.Conn().PgConn().TxStatus() != 'I' {
			// Failed half way: roll back. A connection that cannot is closed by the pool when released.
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = c.Exec(rctx, "ROLLBACK")
			cancel()
		}
		c.Release()
	}()
	t := newTxn(ctx, c)
	t.queue("BEGIN")
	var size int64
	var head string
	if err := t.queryRow("SELECT size, head FROM audit_log_head FOR UPDATE").Scan(&size, &head); err != nil {
		return a, fmt.Errorf("postgres: audit log head: %w", err)
	}
	for i, o := range group {
		t.apply(i, o.change)
		if t.broken != nil {
			return a, fmt.Errorf("postgres: roll back a failed change: %w", t.broken)
		}
	}
	// The last changes' statements: a failure here is a change's (recorded in t.failed) or the
	// transaction's own.
	if err := t.flush(); err != nil {
		return a, err
	}
	if t.broken != nil {
		return a, fmt.Errorf("postgres: roll back a failed change: %w", t.broken)
	}
	ch := chained{seq: size, head: head}
	for i, o := range group {
		changeErr := t.outcome(i)
		es := o.entries(changeErr)
		if len(es) == 0 {
			return a, errors.New("postgres: a change returned no audit entry")
		}
		results[i] = opResult{seq: ch.seq + 1, changeErr: changeErr}
		if err := ch.addEntries(es); err != nil {
			return a, err
		}
	}
	t.settleEdits(len(group), func(i int) bool { return results[i].changeErr == nil })
	t.bump()
	if err := ch.write(&t.pipeline); err != nil {
		return a, fmt.Errorf("postgres: append to the audit log: %w", err)
	}
	t.markDirty(size + 1)
	tag, err := t.execTag("COMMIT")
	if err != nil {
		return a, fmt.Errorf("postgres: commit: %w", err)
	}
	if tag.String() != "COMMIT" {
		return a, fmt.Errorf("postgres: commit: the transaction was rolled back (%s)", tag)
	}
	s.roundTrips.Add(int64(t.sent))
	return TxAppend{First: size + 1, Size: ch.seq, Head: ch.head}, nil
}
