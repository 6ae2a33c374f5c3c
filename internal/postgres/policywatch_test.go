package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// WatchPolicy hands node B the version node A puts in force, by notification at once, and by its version
// check when no notification came (a row written without one stands for a notification lost with a
// connection); a version already adopted is handed again only as the latest, never an older one.
func TestWatchPolicy(t *testing.T) {
	nodes := openNodes(t, 2)
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var seen []string
	got := make(chan string, 100)
	done := make(chan struct{})
	const interval = 300 * time.Millisecond
	go func() {
		defer close(done)
		b.WatchPolicy(ctx, interval, func(_ context.Context, hash string) error {
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 || seen[len(seen)-1] != hash {
				seen = append(seen, hash)
				got <- hash
			}
			return nil
		}, func(err error) { t.Errorf("watch: %v", err) })
	}()
	defer func() { cancel(); <-done }()
	wait := func(want string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		select {
		case h := <-got:
			if h != want {
				t.Fatalf("adopted %q, want %q", h, want)
			}
			return time.Since(start)
		case <-time.After(within):
			t.Fatalf("%q not handed to node B within %s", want, within)
		}
		return 0
	}
	put := func(hash string) {
		if _, err := a.Commit(ctx, func(tx vault.Tx) error { return tx.PutPolicyInForce(hash, []byte(`{}`), time.Now().UTC()) }, readEntry("policy.reload")); err != nil {
			t.Fatal(err)
		}
	}
	put("h1")
	wait("h1", 2*interval) // the first check, or the notification
	put("h2")
	if d := wait("h2", interval/2); d >= interval/2 { // well before the check: the notification
		t.Fatalf("h2 took %s", d)
	}
	// No notification: the periodic check finds it.
	if _, err := a.db.Pool.Exec(ctx, `INSERT INTO policy_versions (hash, files) VALUES ('h3', '{}');
		INSERT INTO policy_in_force (since, hash) VALUES (now(), 'h3')`); err != nil {
		t.Fatal(err)
	}
	wait("h3", 2*interval)
	select {
	case h := <-got:
		t.Fatalf("handed %q after h3", h)
	case <-time.After(interval + interval/2):
	}
}
