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

// Concurrent commits share group commits (the conformance suite checks their order and chain).
func TestConcurrentCommitsAreGrouped(t *testing.T) {
	s := openTest(t, Options{})
	const writers, each = 32, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.Commit(t.Context(), nil, entry("subject.read")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b := s.Stats().Batches.Load(); b >= int64(writers*each) {
		t.Errorf("no grouping happened: %d batches for %d ops", b, writers*each)
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

// A group of thousands of entries (an audience build's), encoded on several goroutines, is logged with
// each entry marked as the write-ahead intent of its change and exactly as Canonical encodes it (the
// conformance suite checks the order and chain).
func TestCommitManyMarksItsEntriesAsIntents(t *testing.T) {
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
		if err != nil || string(again) != string(canon) || e.Intent != first {
			t.Fatalf("entry %d: intent %d (want %d), canonical as logged: %v", i, e.Intent, first, string(again) == string(canon))
		}
	}
}

// TestBulkWritesWidensTheCheckpointWindow: an offline bulk load's writer checkpoints the WAL every
// bulkCheckpointPages pages; a server's keeps SQLite's default.
func TestBulkWritesWidensTheCheckpointWindow(t *testing.T) {
	for _, c := range []struct {
		bulk bool
		want int
	}{{false, 1000}, {true, bulkCheckpointPages}} {
		s := openTest(t, Options{BulkWrites: c.bulk})
		var got int
		if err := s.write.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("BulkWrites %t: wal_autocheckpoint %d, want %d", c.bulk, got, c.want)
		}
	}
}
