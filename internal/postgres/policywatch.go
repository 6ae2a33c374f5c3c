package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// policyChannel is the LISTEN/NOTIFY channel on which a transaction putting a policy version in force
// announces its hash.
const policyChannel = "vault_policy"

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

// WatchPolicy brings a policy version put in force by any node of the database to this one, until ctx
// ends: it calls adopt with the hash of the version last put in force.
//
// How: LISTEN/NOTIFY, with a version check as the fallback. The transaction that records a version in
// force (a reload, or a node starting with other files) also runs pg_notify, which PostgreSQL delivers to
// every listening session when that transaction commits — so a reload reaches every node within
// milliseconds, without any node querying per request. The watcher holds its own connection (outside the
// pool, whose connections serve requests) and, on each notification, reads the latest version in force
// rather than trusting the payload, so notifications handled late cannot put an older version back. A
// notification is lost only with the connection; the watcher then reconnects (every retry interval) and
// checks the latest version as soon as it listens again, and it also checks every interval while idle.
// A per-request versioned read was the alternative: exact, but a query on every request for a change made
// a few times a year.
//
// A reload on this node that commits while a check of the watcher is in flight may be undone by that
// check's older answer until this node's own notification arrives, milliseconds later.
func (s *Store) WatchPolicy(ctx context.Context, interval time.Duration, adopt func(ctx context.Context, hash string) error, onErr func(error)) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	const retry = 200 * time.Millisecond
	check := func() {
		hash, err := s.LatestPolicy(ctx)
		if err == nil && hash != "" {
			err = adopt(ctx, hash)
		}
		if err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.db.Pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+policyChannel)
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			if ctx.Err() == nil {
				onErr(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			continue
		}
		check() // what was put in force while this node was not listening
		for ctx.Err() == nil {
			wait, cancel := context.WithTimeout(ctx, interval)
			_, err := conn.WaitForNotification(wait)
			cancel()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				onErr(err)
				break // reconnect
			}
			check()
		}
		conn.Close(context.Background())
	}
}
