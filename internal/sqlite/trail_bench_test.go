package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
)

// benchTrail builds a trail of n realistic read entries through the writer's own batch path (1,000 per
// group) and returns the closed database's path; the log is in "audit" beside it.
func benchTrail(b *testing.B, signer *audit.Signer, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "vault.db")
	s, err := Open(context.Background(), path, Options{Signer: signer, CheckpointInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	// Stop the writer goroutine and drive commitBatch directly.
	close(s.stop)
	<-s.stopped
	e := audit.Entry{TS: time.Now(), RequestID: "0123456789abcdef01234567", Action: "subject.read", Purpose: "customer_service",
		Actor:      audit.Actor{Sub: "agent-0042", Roles: []string{"customer_service"}, Team: "hangzhou", TokenID: "5f0c4e3b9a7d6e1f"},
		SubjectRef: "ps_abcdefghijklmnopqrstuvwxyz234567", Categories: []string{"address", "contact", "identity"},
		FieldsRequested: []string{"address_line", "birth_date", "city", "district", "email", "gender", "name", "phone", "province"},
		FieldsGranted:   []string{"address_line", "birth_date", "city", "district", "email", "gender", "name", "phone", "province"},
		Decision:        audit.Allow, Status: 200, PolicyHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ClientRef: "ps_clientclientclientclientclient"}
	for done := 0; done < n; {
		k := min(1000, n-done)
		batch := make([]*op, k)
		for i := range batch {
			batch[i] = &op{entry: func(error) audit.Entry { return e }, done: make(chan result, 1)}
		}
		s.commitBatch(batch)
		for _, o := range batch {
			if r := <-o.done; r.err != nil {
				b.Fatal(r.err)
			}
		}
		done += k
	}
	if err := s.closeDBs(); err != nil { // the last index rows and the final checkpoint
		b.Fatal(err)
	}
	return path
}

// BenchmarkVerify measures `vaultd audit verify`'s work over a whole trail: the log alone (chain,
// checkpoints, tiles) and with every review index row checked against its entry, as verify does. Run it
// with VAULT_BENCH_ENTRIES=1000000 for the 1M figures (building that trail takes a while).
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	signer := testSigner(b)
	path := benchTrail(b, signer, n)
	tr, err := OpenTrail(path, filepath.Join(filepath.Dir(path), "audit"))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.Run("log", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			rep, err := tr.log.Verify(signer.Verifier())
			if err != nil || !rep.OK || rep.Entries != int64(n) {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("log+index", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			rep, err := tr.Verify(context.Background(), signer.Verifier())
			if err != nil || !rep.OK || rep.Entries != int64(n) || rep.Indexed != int64(n) {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// reportCPU reports the process's CPU time (user and system) per operation from now until the returned
// function runs: on a machine shared with other work, the CPU a verify takes is steadier than its wall time.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric((cpu()-start).Seconds()/float64(b.N), "cpu-s/op") }
}

// BenchmarkInclusionProof builds and checks proofs against the last checkpoint of a 100k trail.
func BenchmarkInclusionProof(b *testing.B) {
	signer := testSigner(b)
	path := benchTrail(b, signer, 100_000)
	tr, err := OpenTrail(path, filepath.Join(filepath.Dir(path), "audit"))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	sc, err := tr.LatestCheckpoint(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(sc.Note, signer.Verifier())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq := int64(i%int(cp.Size)) + 1
		p, err := tlog.ProveRecord(cp.Size, seq-1, tr)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := tr.Leaf(context.Background(), seq)
		if err != nil {
			b.Fatal(err)
		}
		if err := tlog.CheckRecord(p, cp.Size, cp.Root, seq-1, tlog.RecordHash(leaf)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
}
