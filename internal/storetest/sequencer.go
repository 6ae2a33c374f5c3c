package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// RunSequencer tests vault.Sequencer: one numbered, chained order of entries; a change and its entry commit
// together; a release is dropped when a change to its subject was ordered after its guard.
func RunSequencer(t *testing.T, open Open) {
	t.Run("ConcurrentCommitsFormOneChain", func(t *testing.T) {
		a := open(t)
		const writers, each = 16, 20
		var wg sync.WaitGroup
		seqs := make(chan int64, writers*each)
		for range writers {
			wg.Go(func() {
				for range each {
					seq, err := a.Store.Commit(t.Context(), nil, entry("subject.read"))
					if err != nil {
						t.Error(err)
						return
					}
					seqs <- seq
				}
			})
		}
		wg.Wait()
		close(seqs)
		seen := map[int64]bool{}
		for q := range seqs {
			if seen[q] {
				t.Fatalf("seq %d handed out twice", q)
			}
			seen[q] = true
		}
		if n := verifyChain(t, a); n != writers*each {
			t.Fatalf("%d entries, want %d", n, writers*each)
		}
	})

	t.Run("FailedChangeKeepsNothingButIsAudited", func(t *testing.T) {
		a := open(t)
		boom := errors.New("boom")
		var seen error
		seq, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error {
			if err := createSubject(tx, "sub_a"); err != nil {
				return err
			}
			return boom
		}, func(err error) audit.Entry { seen = err; return entry("subject.create")(err) })
		if !errors.Is(err, boom) || seq != 1 || !errors.Is(seen, boom) {
			t.Fatalf("Commit = %d, %v (entry saw %v)", seq, err, seen)
		}
		if e := logged(t, a, 1); e.Decision != audit.Deny || e.Action != "subject.create" {
			t.Fatalf("the failed change's entry: %+v", e)
		}
		if _, err := a.Store.Subject(t.Context(), "sub_a"); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("half-done change is visible: %v", err)
		}
		// A later change is unaffected and the chain is intact.
		create(t, a, "sub_b")
		if rec, err := a.Store.Subject(t.Context(), "sub_b"); err != nil || rec.State != vault.StateActive {
			t.Fatalf("sub_b: %+v %v", rec, err)
		}
		if n := verifyChain(t, a); n != 2 {
			t.Fatalf("%d entries", n)
		}
	})

	t.Run("PanickingChangeIsAnError", func(t *testing.T) {
		a := open(t)
		if _, err := a.Store.Commit(t.Context(), func(vault.Tx) error { panic("bad") }, entry("subject.update")); err == nil {
			t.Fatal("panic not reported")
		}
		if _, err := a.Store.Commit(t.Context(), nil, entry("subject.read")); err != nil {
			t.Fatalf("sequencer stopped: %v", err)
		}
	})

	t.Run("CommitManyAppendsInOrder", func(t *testing.T) {
		a := open(t)
		const n = 1500
		entries := make([]audit.Entry, n)
		for i := range entries {
			entries[i] = audit.Entry{TS: time.Now().UTC(), Action: "audience.select", Decision: audit.Allow, Status: 200, Reason: "n:" + strconv.Itoa(i)}
		}
		commit(t, a, nil) // the group does not start the trail
		first, err := a.Store.CommitMany(t.Context(), func(tx vault.Tx) error { return createSubject(tx, "sub_x") },
			func(error) []audit.Entry { return entries })
		if err != nil || first != 2 {
			t.Fatalf("CommitMany = %d, %v", first, err)
		}
		if got := verifyChain(t, a); got != first+n-1 {
			t.Fatalf("%d entries in the log, want %d", got, first+n-1)
		}
		for i := range n {
			if e := logged(t, a, first+int64(i)); e.Reason != "n:"+strconv.Itoa(i) {
				t.Fatalf("entry %d out of order: reason %q", i, e.Reason)
			}
		}
		if _, err := a.Store.Subject(t.Context(), "sub_x"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ReleaseAfterAChangeIsSuperseded", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b")
		g, other := a.Store.Guard("sub_a"), a.Store.Guard("sub_b")
		// Unchanged: the release is appended.
		seq, err := a.Store.Release(t.Context(), g, entry("subject.read")(nil))
		if err != nil || seq != 2 {
			t.Fatalf("Release = %d, %v", seq, err)
		}
		// A change to the subject commits after the guard: the release is dropped, nothing appended.
		commit(t, a, func(tx vault.Tx) error {
			_, err := tx.SetObjection("sub_a", "personalized_marketing", true, at)
			return err
		})
		size := a.Log.Size()
		if _, err := a.Store.Release(t.Context(), g, entry("subject.read")(nil)); !errors.Is(err, vault.ErrSuperseded) {
			t.Fatalf("stale release = %v, want ErrSuperseded", err)
		}
		if a.Log.Size() != size {
			t.Fatal("a superseded release was appended")
		}
		// Another subject's guard is not stale; a fresh guard is not either.
		if _, err := a.Store.Release(t.Context(), other, entry("subject.read")(nil)); err != nil {
			t.Fatalf("release of an unchanged subject: %v", err)
		}
		if _, err := a.Store.Release(t.Context(), a.Store.Guard("sub_a"), entry("subject.read")(nil)); err != nil {
			t.Fatalf("release under a fresh guard: %v", err)
		}
		// An erasure supersedes what was decided before it.
		g = a.Store.Guard("sub_a")
		commit(t, a, func(tx vault.Tx) error { _, err := tx.Erase("sub_a", at, nil, time.Time{}); return err })
		if _, err := a.Store.Release(t.Context(), g, entry("subject.read")(nil)); !errors.Is(err, vault.ErrSuperseded) {
			t.Fatalf("release decided before an erasure = %v, want ErrSuperseded", err)
		}
		verifyChain(t, a)
	})

	t.Run("ReleaseWith", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a")
		put := func(reads int) func(vault.Tx) error {
			return func(tx vault.Tx) error {
				return tx.PutAccessRequest(vault.AccessRequestRow{ID: "ar_1", State: "approved", RequestedBy: "ana", Subjects: []string{"sub_a"},
					Reads: reads, CreatedAt: at})
			}
		}
		commit(t, a, put(0))
		seq, err := a.Store.ReleaseWith(t.Context(), a.Store.Guard("sub_a"), put(1), entry("subject.read"))
		if err != nil || seq != 3 {
			t.Fatalf("ReleaseWith = %d, %v", seq, err)
		}
		if rows, err := a.Access.AccessRequests(t.Context(), vault.AccessFilter{ID: "ar_1"}); err != nil || len(rows) != 1 || rows[0].Reads != 1 {
			t.Fatalf("the release's change is not kept: %+v %v", rows, err)
		}
		// A failed change keeps nothing; its entry records the refusal.
		boom := errors.New("exhausted")
		seq, err = a.Store.ReleaseWith(t.Context(), a.Store.Guard("sub_a"), func(tx vault.Tx) error {
			if err := put(2)(tx); err != nil {
				return err
			}
			return boom
		}, entry("subject.read"))
		if !errors.Is(err, boom) || seq != 4 || logged(t, a, 4).Decision != audit.Deny {
			t.Fatalf("failed ReleaseWith = %d, %v", seq, err)
		}
		if rows, _ := a.Access.AccessRequests(t.Context(), vault.AccessFilter{ID: "ar_1"}); rows[0].Reads != 1 {
			t.Fatalf("a failed change was kept: reads %d", rows[0].Reads)
		}
		// A stale guard: the change does not run, nothing is appended.
		g := a.Store.Guard("sub_a")
		commit(t, a, func(tx vault.Tx) error { return tx.Touch("sub_a", at) })
		ran := false
		if _, err := a.Store.ReleaseWith(t.Context(), g, func(vault.Tx) error { ran = true; return nil }, entry("subject.read")); !errors.Is(err, vault.ErrSuperseded) || ran {
			t.Fatalf("stale ReleaseWith = %v (change ran: %v)", err, ran)
		}
		if n := verifyChain(t, a); n != 5 {
			t.Fatalf("%d entries, want 5", n)
		}
	})

	t.Run("ReadAfterCommitSeesTheChange", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_c")
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := a.Store.Subject(ctx, "sub_c"); err != nil && ctx.Err() == nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for i := 1; i <= 20; i++ {
			want := "v" + strconv.Itoa(i)
			commit(t, a, func(tx vault.Tx) error {
				return tx.PutField("sub_c", vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte(want), UpdatedAt: at})
			})
			// Once Commit has returned, every read sees the new value.
			if rec, err := a.Store.Subject(t.Context(), "sub_c"); err != nil || string(rec.Fields["name"].Value) != want {
				t.Fatalf("after update %d: %q, %v", i, rec.Fields["name"].Value, err)
			}
		}
		commit(t, a, func(tx vault.Tx) error { _, err := tx.Erase("sub_c", at, nil, time.Time{}); return err })
		if rec, err := a.Store.Subject(t.Context(), "sub_c"); err != nil || rec.State != vault.StateErased || len(rec.Fields) != 0 {
			t.Fatalf("after erase: %+v %v", rec, err)
		}
		cancel()
		wg.Wait()
	})
}
