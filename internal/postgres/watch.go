package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The LISTEN/NOTIFY channels on which a transaction announces a change every node must enforce at once
// (Watch): a policy version put in force (the payload is its hash), a token revocation.
const (
	policyChannel     = "vault_policy"
	revocationChannel = "vault_revocation"
)

// LatestPolicy returns the hash of the policy version put in force last ("" when none is recorded), in the
// order of PolicyHistory.
func (s *Store) LatestPolicy(ctx context.Context) (string, error) {
	var hash string
	err := s.db.Pool.QueryRow(ctx, `SELECT hash FROM policy_in_force ORDER BY since DESC, n DESC LIMIT 1`).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return hash, err
}

// WatchPolicy is Watch for the policy version alone.
func (s *Store) WatchPolicy(ctx context.Context, interval time.Duration, adopt func(ctx context.Context, hash string) error, onErr func(error)) {
	s.Watch(ctx, interval, Refresh{Policy: adopt}, onErr)
}

// Refresh is what Watch keeps current on this node. Each reads the current state from the database itself:
// a notification only says that something changed.
type Refresh struct {
	// Policy puts in force the policy version put in force last (its hash).
	Policy func(ctx context.Context, hash string) error
	// Revocations reads the token revocations recorded by any node.
	Revocations func(ctx context.Context) error
}

// Watch brings to this node, until ctx ends, what another node of the database changed and every node must
// enforce at once: the policy version put in force and token revocations.
//
// How: LISTEN/NOTIFY, with a check as the fallback. The transaction that records a version in force (a
// reload, or a node starting with other files) or a revocation also runs pg_notify, which PostgreSQL
// delivers to every listening session when that transaction commits — so a change reaches every node within
// milliseconds, without any node querying per request. The watcher holds its own connection (outside the
// pool, whose connections serve requests) and, on each notification, reads the current state rather than
// trusting the payload, so notifications handled late cannot put an older policy version back. A
// notification is lost only with the connection; the watcher then reconnects (after 200 ms, doubling up to
// the interval while the database stays unreachable) and checks everything as soon as it listens again,
// and it also checks everything every interval while idle. A per-request versioned read was the
// alternative: exact, but a query on every request for changes made a few times a year.
//
// A reload on this node that commits while a check of the watcher is in flight may be undone by that
// check's older answer until this node's own notification arrives, milliseconds later.
func (s *Store) Watch(ctx context.Context, interval time.Duration, r Refresh, onErr func(error)) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	checks := map[string]func(){}
	report := func(err error) {
		if err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
	if r.Policy != nil {
		checks[policyChannel] = func() {
			hash, err := s.LatestPolicy(ctx)
			if err == nil && hash != "" {
				err = r.Policy(ctx, hash)
			}
			report(err)
		}
	}
	if r.Revocations != nil {
		checks[revocationChannel] = func() { report(r.Revocations(ctx)) }
	}
	checkAll := func() {
		for _, check := range checks {
			check()
		}
	}
	retry := 200 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.db.Pool.Config().ConnConfig.Copy())
		for channel := range checks {
			if err == nil {
				_, err = conn.Exec(ctx, "LISTEN "+channel)
			}
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			report(err)
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			retry = min(2*retry, interval)
			continue
		}
		retry = 200 * time.Millisecond
		checkAll() // what changed while this node was not listening
		for ctx.Err() == nil {
			wait, cancel := context.WithTimeout(ctx, interval)
			n, err := conn.WaitForNotification(wait)
			cancel()
			switch {
			case err == nil:
				if check, ok := checks[n.Channel]; ok {
					check()
				}
				continue
			case errors.Is(err, context.DeadlineExceeded):
				checkAll()
				continue
			}
			report(err)
			break // reconnect
		}
		conn.Close(context.Background())
	}
}
