package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/vault"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "vault.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func entry(action string) func(error) audit.Entry {
	return func(err error) audit.Entry {
		e := audit.Entry{TS: time.Now(), Action: action, Decision: audit.Allow, Status: 200}
		if err != nil {
			e.Decision, e.Status = audit.Deny, 500
		}
		return e
	}
}

// verifyChain checks the whole log (numbering, chain) and returns its size.
func verifyChain(t *testing.T, s *Store) int {
	t.Helper()
	prev, n := audit.GenesisHash, int64(0)
	size, _ := s.auditLog.Head()
	for seq := int64(1); seq <= size; seq++ {
		canon, err := s.auditLog.Entry(seq)
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil || e.Seq != seq || e.PrevHash != prev {
			t.Fatalf("seq %d: not numbered and chained after its predecessor (%v)", seq, err)
		}
		prev, n = audit.ChainHash(canon), n+1
	}
	return int(n)
}

func TestGroupCommitConcurrentWriters(t *testing.T) {
	s := openTest(t, Options{})
	const writers, each = 32, 40
	var wg sync.WaitGroup
	seqs := make(chan int64, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq, err := s.Commit(t.Context(), nil, entry("subject.read"))
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- seq
			}
		}()
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
	if n := verifyChain(t, s); n != writers*each {
		t.Fatalf("%d entries, want %d", n, writers*each)
	}
	if b := s.Stats().Batches.Load(); b >= int64(writers*each) {
		t.Errorf("no grouping happened: %d batches for %d ops", b, writers*each)
	}
}

func TestFailedChangeRollsBackButIsAudited(t *testing.T) {
	s := openTest(t, Options{})
	boom := errors.New("boom")
	seq, err := s.Commit(t.Context(), func(tx vault.Tx) error {
		if err := tx.CreateSubject("sub_a", "crm", nil, time.Now()); err != nil {
			return err
		}
		return boom
	}, entry("subject.create"))
	if !errors.Is(err, boom) || seq != 1 {
		t.Fatalf("Commit = %d, %v", seq, err)
	}
	if _, err := s.Subject(t.Context(), "sub_a"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("half-done change is visible: %v", err)
	}
	// A later change in the same store is unaffected and the chain is intact.
	if _, err := s.Commit(t.Context(), func(tx vault.Tx) error { return tx.CreateSubject("sub_b", "", nil, time.Now()) }, entry("subject.create")); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Subject(t.Context(), "sub_b"); err != nil || rec.State != vault.StateActive {
		t.Fatalf("sub_b: %+v %v", rec, err)
	}
	if n := verifyChain(t, s); n != 2 {
		t.Fatalf("%d entries", n)
	}
}

func TestPanickingChangeDoesNotStopTheWriter(t *testing.T) {
	s := openTest(t, Options{})
	_, err := s.Commit(t.Context(), func(vault.Tx) error { panic("bad") }, entry("subject.update"))
	if err == nil {
		t.Fatal("panic not reported")
	}
	if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
		t.Fatalf("writer stopped: %v", err)
	}
}

func TestCommitFailsClosedWhenTheWriterIsStuck(t *testing.T) {
	s := openTest(t, Options{CommitTimeout: 100 * time.Millisecond})
	release := make(chan struct{})
	go s.Commit(context.Background(), func(vault.Tx) error { <-release; return nil }, entry("subject.update"))
	time.Sleep(20 * time.Millisecond) // let the blocking op reach the writer
	_, err := s.Commit(t.Context(), nil, entry("subject.read"))
	if !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Commit while the writer is stuck = %v, want ErrUnavailable", err)
	}
	if s.Ready(t.Context()) == nil {
		t.Error("store reports ready while audit entries cannot be written")
	}
	close(release)
	if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(t.Context()); err != nil {
		t.Errorf("not ready again after recovery: %v", err)
	}
	// The abandoned read never got an entry; the others did, in one unbroken chain.
	verifyChain(t, s)
}

func TestHeadSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seq, err := s.Commit(t.Context(), nil, entry("subject.read"))
	if err != nil || seq != 4 {
		t.Fatalf("after reopen: seq %d, %v", seq, err)
	}
	verifyChain(t, s)
}

// BenchmarkCommitAuditOnly measures durable audit appends (synchronous=FULL) with exactly `writers`
// concurrent callers; group commit is what lets throughput grow with them.
func BenchmarkCommitAuditOnly(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			s := openTest(b, Options{})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Commit(context.Background(), nil, entry("subject.read")); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(b.N)/float64(s.Stats().Batches.Load()), "entries/commit")
		})
	}
}

func TestRecordCacheNeverServesStaleRecords(t *testing.T) {
	s := openTest(t, Options{})
	create := func(tx vault.Tx) error {
		if err := tx.CreateSubject("sub_c", "", nil, time.Now()); err != nil {
			return err
		}
		return tx.PutField("sub_c", vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("v0"), UpdatedAt: time.Now()})
	}
	if _, err := s.Commit(t.Context(), create, entry("subject.create")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if _, err := s.Subject(context.Background(), "sub_c"); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		want := []byte("v" + strconv.Itoa(i))
		if _, err := s.Commit(t.Context(), func(tx vault.Tx) error {
			return tx.PutField("sub_c", vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: want, UpdatedAt: time.Now()})
		}, entry("subject.update")); err != nil {
			t.Fatal(err)
		}
		// Once Commit has returned, every read sees the new value.
		rec, err := s.Subject(t.Context(), "sub_c")
		if err != nil || string(rec.Fields["name"].Value) != string(want) {
			t.Fatalf("after update %d: %q, %v", i, rec.Fields["name"].Value, err)
		}
	}
	if _, err := s.Commit(t.Context(), func(tx vault.Tx) error { _, err := tx.Erase("sub_c", time.Now(), nil, time.Time{}); return err }, entry("subject.erase")); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Subject(t.Context(), "sub_c")
	if err != nil || rec.State != vault.StateErased || len(rec.Fields) != 0 {
		t.Fatalf("after erase: %+v %v", rec, err)
	}
	close(stop)
	wg.Wait()
}

// Subjects reads, in one statement, exactly the records Subject reads one at a time — every part of them,
// erased subjects as erased, unknown ids left out — with the record cache on or off, and never a record
// older than the last commit that changed it.
func TestSubjectsReadsWhatSubjectReads(t *testing.T) {
	for name, cache := range map[string]int{"cache on": 0, "cache off": -1} {
		t.Run(name, func(t *testing.T) {
			s := openTest(t, Options{RecordCache: cache})
			at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			ids := []string{"sub_a", "sub_b", "sub_c", "sub_d"}
			for i, id := range ids {
				if _, err := s.Commit(t.Context(), func(tx vault.Tx) error {
					return errors.Join(
						tx.CreateSubject(id, "crm", []byte("salt-"+id), at),
						tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 1, KEKVersion: 1, Wrapped: []byte("w1")}),
						tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 2, KEKVersion: 1, Wrapped: []byte("w2")}),
						tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("n-" + id), UpdatedAt: at}),
						tx.PutField(id, vault.SealedField{Name: "phone", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("p-" + id), UpdatedAt: at}),
						tx.AppendConsent(id, consent.Event{ID: "c1-" + id, Action: consent.ActionGrant, Purpose: "marketing", At: at, RecordedBy: "st"}),
						tx.AppendConsent(id, consent.Event{ID: "c2-" + id, Action: consent.ActionWithdraw, Purpose: "marketing", Withdraws: "c1-" + id,
							Channels: []string{"sms"}, At: at.Add(time.Duration(i) * time.Hour), RecordedBy: "st"}),
						func() error { _, err := tx.SetObjection(id, "personalized_marketing", i%2 == 0, at); return err }(),
						func() error {
							_, err := tx.PutEvents([]vault.StoredEvent{{ID: "e-" + id, SubjectID: id, Type: "order", Category: "transactions", TS: at,
								Class: vault.ClassTransactions, DEKVersion: 1, Attrs: []byte("x")}})
							return err
						}(),
					)
				}, entry("subject.create")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Commit(t.Context(), func(tx vault.Tx) error { _, err := tx.Erase("sub_c", at, nil, time.Time{}); return err }, entry("subject.erase")); err != nil {
				t.Fatal(err)
			}
			check := func(stage string) {
				t.Helper()
				got, err := s.Subjects(t.Context(), append(slices.Clone(ids), "sub_unknown"))
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := got["sub_unknown"]; ok || len(got) != len(ids) {
					t.Fatalf("%s: %d records for %d subjects and an unknown id", stage, len(got), len(ids))
				}
				for _, id := range ids {
					one, err := s.Subject(t.Context(), id)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got[id], one) {
						t.Fatalf("%s: %s read in a batch\n%+v\nalone\n%+v", stage, id, got[id], one)
					}
				}
				if got["sub_c"].State != vault.StateErased || len(got["sub_a"].Consents) != 1 || got["sub_a"].DEKs[vault.ClassGeneral].Version != 2 ||
					len(got["sub_b"].Activity) != 1 || len(got["sub_a"].Objections) != 1 {
					t.Fatalf("%s: the records lack parts: %+v", stage, got)
				}
			}
			check("cold")
			check("after single reads") // cached records, if the cache is on
			if _, err := s.Commit(t.Context(), func(tx vault.Tx) error {
				return tx.PutField("sub_a", vault.SealedField{Name: "phone", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("new"), UpdatedAt: at})
			}, entry("subject.update")); err != nil {
				t.Fatal(err)
			}
			got, err := s.Subjects(t.Context(), []string{"sub_a"})
			if err != nil || string(got["sub_a"].Fields["phone"].Value) != "new" {
				t.Fatalf("after an update: %q, %v", got["sub_a"].Fields["phone"].Value, err)
			}
			// A page large enough to be read in parts, on several connections, is read whole.
			var many []string
			if _, err := s.Commit(t.Context(), func(tx vault.Tx) error {
				for i := range 1200 {
					id := fmt.Sprintf("sub_m%04d", i)
					many = append(many, id)
					if err := errors.Join(tx.CreateSubject(id, "", nil, at),
						tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte(id), UpdatedAt: at})); err != nil {
						return err
					}
				}
				return nil
			}, entry("subject.create")); err != nil {
				t.Fatal(err)
			}
			if got, err = s.Subjects(t.Context(), append(many, ids...)); err != nil || len(got) != len(many)+len(ids) {
				t.Fatalf("a page of %d: %d records, %v", len(many)+len(ids), len(got), err)
			}
			for _, id := range many {
				if got[id].ID != id || string(got[id].Fields["name"].Value) != id {
					t.Fatalf("%s read as %+v", id, got[id])
				}
			}
		})
	}
}

// A group of thousands of entries (an audience build's), encoded on several goroutines, is logged in
// order, each entry numbered, chained, marked as the intent of its change, and exactly as Canonical
// encodes it.
func TestCommitManyLogsALargeGroupInOrder(t *testing.T) {
	s := openTest(t, Options{})
	const n = 3000
	entries := make([]audit.Entry, n)
	for i := range entries {
		entries[i] = audit.Entry{TS: time.Now(), Action: "audience.select", Decision: audit.Allow, Status: 200, Reason: "n:" + strconv.Itoa(i)}
	}
	first, err := s.CommitMany(t.Context(), func(tx vault.Tx) error {
		return tx.CreateSubject("sub_x", "", nil, time.Now())
	}, func(error) []audit.Entry { return entries })
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyChain(t, s); got != int(first)+n-1 {
		t.Fatalf("%d entries in the log, want %d", got, int(first)+n-1)
	}
	for i := range n {
		canon, err := s.auditLog.Entry(first + int64(i))
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			t.Fatal(err)
		}
		again, err := e.Canonical()
		if err != nil || string(again) != string(canon) || e.Reason != "n:"+strconv.Itoa(i) || e.Intent != first {
			t.Fatalf("entry %d: intent %d (want %d), reason %q, canonical as logged: %v", i, e.Intent, first, e.Reason, string(again) == string(canon))
		}
	}
}
