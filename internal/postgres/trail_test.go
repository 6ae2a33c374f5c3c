package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// openSigned opens a node on dsn whose log signs checkpoints.
func openSigned(t testing.TB, dsn string, signer *audit.Signer) *Store {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(context.Background(), LogOptions{Signer: signer, CheckpointInterval: 50 * time.Millisecond})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	s, err := db.NewStore(l, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); db.Close() })
	return s
}

// buildTrail appends n reads through a node whose log is then closed (a final checkpoint), and returns the
// database's pool for tampering and a fresh node's trail to verify it with.
func buildTrail(t *testing.T, signer *audit.Signer, n int) (*DB, *Trail) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	s := openSigned(t, dsn, signer)
	for range n {
		if _, err := s.Commit(t.Context(), nil, readEntry("subject.read")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Log().Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(context.Background(), LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); db.Close() })
	return db, &Trail{log: l}
}

// The review index is checked against the log like SQLite's (audit.VerifyTrail): an edited, deleted,
// duplicated or invented row is located, and a query refuses an entry through a row that lies about it.
func TestTrailVerifyLocatesTampering(t *testing.T) {
	signer := logtest.NewSigner(t)
	cases := []struct {
		name     string
		sql      []string
		firstBad int64
		reason   string
	}{
		{"untouched", nil, 0, ""},
		{"relabel a decision", []string{`UPDATE audit_index SET decision = 'deny' WHERE seq = 12`}, 12, "differs from its entry in decision"},
		{"hide an entry from a subject's review", []string{`UPDATE audit_index SET subject_ref = 'ps_other' WHERE seq = 14`}, 14, "in subject_ref"},
		{"shift a time by a nanosecond", []string{`UPDATE audit_index SET ts_ns = (ts_ns + 1) % 1000 WHERE seq = 15`}, 15, "in ts"},
		{"delete a row", []string{`DELETE FROM audit_index WHERE seq = 23`}, 23, "hidden from review"},
		{"delete rows across the middle", []string{`DELETE FROM audit_index WHERE seq BETWEEN 20 AND 40`}, 20, "hidden from review"},
		{"invent a row", []string{`INSERT INTO audit_index (seq, ts, action, decision) VALUES (56, now(), 'subject.read', 'allow')`}, 56, "no entry in the log"},
		{"duplicate a row in another month", []string{`INSERT INTO audit_index (seq, ts, action, decision) SELECT seq, ts - interval '400 days', action, decision FROM audit_index WHERE seq = 30`}, 30, ""},
		{"change an entry", []string{`ALTER TABLE audit_log_entries DISABLE TRIGGER audit_log_entries_append_only`,
			`UPDATE audit_log_entries SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'), 'subject.read', 'subject.reae'), 'UTF8') WHERE seq = 1`}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, trail := buildTrail(t, signer, 55)
			for _, q := range tc.sql {
				if _, err := db.Pool.Exec(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			rep, err := trail.Verify(t.Context(), signer.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			if tc.firstBad == 0 {
				if !rep.OK || rep.Entries != 55 || rep.Indexed != 55 || rep.Checkpoints < 1 {
					t.Fatalf("untouched trail: %+v", rep)
				}
				return
			}
			if rep.OK || rep.FirstBadSeq != tc.firstBad || !strings.Contains(rep.Reason, tc.reason) {
				t.Fatalf("got ok=%v first_bad_seq=%d reason=%q; want %d containing %q", rep.OK, rep.FirstBadSeq, rep.Reason, tc.firstBad, tc.reason)
			}
		})
	}
	t.Run("query through an edited row", func(t *testing.T) {
		db, trail := buildTrail(t, signer, 10)
		if _, err := db.Pool.Exec(t.Context(), `UPDATE audit_index SET decision = 'deny' WHERE seq = 9`); err != nil {
			t.Fatal(err)
		}
		if _, err := trail.Query(t.Context(), audit.Filter{Decision: audit.Deny, Limit: 10}); !errors.Is(err, audit.ErrIndexTampered) {
			t.Fatalf("query through an edited row: %v", err)
		}
		if err := trail.Export(t.Context(), time.Time{}, time.Time{}, func(int64, []byte) error { return nil }); !errors.Is(err, audit.ErrIndexTampered) {
			t.Fatalf("export through an edited row: %v", err)
		}
	})
	// With the wrong verifier key, the first checkpoint fails.
	t.Run("wrong key", func(t *testing.T) {
		_, trail := buildTrail(t, signer, 5)
		if rep, err := trail.Verify(t.Context(), logtest.NewSigner(t).Verifier()); err != nil || rep.OK || !strings.Contains(rep.Reason, "checkpoint at size") {
			t.Fatalf("wrong key: %+v %v", rep, err)
		}
	})
}

// Rows go to the partition of their entry's month (UTC), made ahead at Open; another month's row goes to
// the default partition and does not stop its month's partition from being made later only if it is empty.
func TestTrailIndexIsPartitionedByMonth(t *testing.T) {
	db, _ := buildTrail(t, logtest.NewSigner(t), 3)
	ctx := t.Context()
	now := time.Now().UTC()
	var part string
	if err := db.Pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM audit_index WHERE seq = 1`).Scan(&part); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("audit_index_y%04dm%02d", now.Year(), int(now.Month())); part != want && now.Day() != 1 {
		t.Fatalf("entry 1's row is in %s, want %s", part, want)
	}
	for i := range partitionsAhead + 1 {
		m := time.Date(now.Year(), now.Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
		var ok bool
		if err := db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, fmt.Sprintf("audit_index_y%04dm%02d", m.Year(), int(m.Month()))).Scan(&ok); err != nil || !ok {
			t.Fatalf("no partition for %s (%v)", m.Format("2006-01"), err)
		}
	}
	// A month far ahead with a stray row in the default partition is left to it; a clean one is made.
	stray := time.Date(now.Year()+3, 5, 10, 0, 0, 0, 0, time.UTC)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_index (seq, ts, action, decision) VALUES (1000, $1, 'x', 'allow')`, stray); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsurePartitions(ctx, stray.AddDate(0, -1, 0)); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[time.Month]bool{4: true, 5: false, 6: true} {
		var ok bool
		name := fmt.Sprintf("audit_index_y%04dm%02d", stray.Year(), int(m))
		if err := db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil || ok != want {
			t.Fatalf("%s exists = %v, want %v (%v)", name, ok, want, err)
		}
	}
}

// A verification while another node appends finds the trail whole: the rows of entries committed after it
// read the log's size are not taken for invented ones, and no checkpoint read first is past the entries.
func TestTrailVerifiesWhileAnotherNodeAppends(t *testing.T) {
	signer := logtest.NewSigner(t)
	dsn := pgtest.NewDatabase(t)
	a, b := openSigned(t, dsn, signer), openSigned(t, dsn, signer)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var appended atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := b.Commit(ctx, nil, readEntry("subject.read")); err == nil {
					appended.Add(1)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); appended.Load() < 50; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no appends through node B")
		}
	}
	for i := range 10 {
		rep, err := a.Trail().Verify(t.Context(), signer.Verifier())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK || rep.Entries == 0 || rep.Indexed != rep.Entries {
			t.Fatalf("verification %d during appends: %+v", i, rep)
		}
	}
}
