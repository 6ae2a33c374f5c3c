package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/internal/storetest"
)

// openStore opens the storers on a fresh database, closed when t ends.
func openStore(t testing.TB) *Store {
	t.Helper()
	db, err := Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(context.Background(), LogOptions{})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	s, err := db.NewStore(l, StoreOptions{CommitTimeout: time.Minute}) // behaviour, not latency (see sqlite's TestConformance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		db.Close()
	})
	return s
}

// The PostgreSQL adapter passes the storers' conformance suite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) storetest.Adapter {
		s := openStore(t)
		return storetest.Adapter{Store: s, Log: s.Log(), Identity: s, Requests: s, Access: s, Audiences: s, Revocations: s,
			Keys: s, Policies: s, Incidents: s, Notes: s, Trail: s.Trail()}
	})
}
