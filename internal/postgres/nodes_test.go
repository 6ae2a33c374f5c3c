package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/vault"
)

// openNodes opens n stores on one fresh database, each with its own pool and log, as n vaultd nodes would.
func openNodes(t testing.TB, n int) []*Store {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	var out []*Store
	for range n {
		db, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		l, err := db.OpenLog(context.Background(), LogOptions{})
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		s, err := db.NewStore(l, StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(); db.Close() })
		out = append(out, s)
	}
	return out
}

func readEntry(action string) func(error) audit.Entry {
	return func(err error) audit.Entry {
		e := audit.Entry{TS: time.Now().UTC(), Action: action, Decision: audit.Allow, Status: 200}
		if err != nil {
			e.Decision, e.Status = audit.Deny, 500
		}
		return e
	}
}

// A withdrawal committed through node A binds node B at once: a release B decided before it is
// superseded, and B's next read of the record sees the withdrawal (B keeps no record cache).
func TestWithdrawalOnOneNodeBindsTheOther(t *testing.T) {
	nodes := openNodes(t, 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := a.Commit(ctx, func(tx vault.Tx) error {
		return errors.Join(tx.CreateSubject("sub_a", "crm", []byte("salt"), at),
			tx.AppendConsent("sub_a", consent.Event{ID: "c1", Action: consent.ActionGrant, Purpose: "marketing", At: at, RecordedBy: "sub"}))
	}, readEntry("consent.grant")); err != nil {
		t.Fatal(err)
	}
	// Node B decides a read from the consent it sees.
	guard := b.Guard("sub_a")
	rec, err := b.Subject(ctx, "sub_a")
	if err != nil || len(consent.Active(rec.Consents, "marketing", time.Now())) != 1 {
		t.Fatalf("node B before the withdrawal: %+v %v", rec.Consents, err)
	}
	// Node A records the withdrawal.
	if _, err := a.Commit(ctx, func(tx vault.Tx) error {
		return tx.AppendConsent("sub_a", consent.Event{ID: "c2", Action: consent.ActionWithdraw, Purpose: "marketing", Withdraws: "c1",
			At: at.Add(time.Millisecond), RecordedBy: "sub"})
	}, readEntry("consent.withdraw")); err != nil {
		t.Fatal(err)
	}
	// B's release, decided before the withdrawal, is not appended; its very next read sees the withdrawal.
	if _, err := b.Release(ctx, guard, readEntry("subject.read")(nil)); !errors.Is(err, vault.ErrSuperseded) {
		t.Fatalf("node B's stale release = %v, want ErrSuperseded", err)
	}
	rec, err = b.Subject(ctx, "sub_a")
	if err != nil || len(consent.Active(rec.Consents, "marketing", time.Now().Add(time.Second))) != 0 {
		t.Fatalf("node B after the withdrawal still sees the consent: %+v %v", rec.Consents, err)
	}
	if _, err := b.Release(ctx, b.Guard("sub_a"), readEntry("subject.read")(nil)); err != nil {
		t.Fatalf("node B's release decided afresh: %v", err)
	}
}

// Changes and guarded releases through two nodes at once form one numbered, chained sequence holding every
// acknowledged entry and no superseded one.
func TestNodesShareOneOrder(t *testing.T) {
	nodes := openNodes(t, 2)
	ctx := t.Context()
	at := time.Now().UTC()
	if _, err := nodes[0].Commit(ctx, func(tx vault.Tx) error {
		for i := range 4 {
			if err := tx.CreateSubject(fmt.Sprintf("sub_%d", i), "", nil, at); err != nil {
				return err
			}
		}
		return nil
	}, readEntry("subject.create")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var superseded sync.Map
	for n, s := range nodes {
		for w := range 4 {
			wg.Go(func() {
				for i := range 30 {
					subject := fmt.Sprintf("sub_%d", (w+i)%4)
					if i%3 == 0 {
						if _, err := s.Commit(ctx, func(tx vault.Tx) error { return tx.Touch(subject, at) }, readEntry("subject.update")); err != nil {
							t.Error(err)
							return
						}
						continue
					}
					_, err := s.Release(ctx, s.Guard(subject), readEntry("subject.read")(nil))
					if errors.Is(err, vault.ErrSuperseded) {
						superseded.Store(fmt.Sprint(n, w, i), true)
					} else if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	prev, n := audit.GenesisHash, int64(0)
	if err := nodes[1].Log().refreshHead(ctx); err != nil { // the other node's appends too
		t.Fatal(err)
	}
	if err := nodes[1].Log().Scan(1, func(seq int64, canon []byte) error {
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil || e.Seq != seq || e.PrevHash != prev {
			return fmt.Errorf("entry %d not numbered and chained after its predecessor (%v)", seq, err)
		}
		prev, n = audit.ChainHash(canon), seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var lost int
	superseded.Range(func(any, any) bool { lost++; return true })
	if want := int64(1 + 2*4*30 - lost); n != want {
		t.Fatalf("%d entries, want %d (%d releases superseded)", n, want, lost)
	}
}
