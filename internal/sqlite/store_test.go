package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
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
