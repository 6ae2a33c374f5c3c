package seglog

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
)

// BenchmarkDurableAppend64 is the number: durable appends per second from 64 concurrent writers,
// each acknowledged only after its group's fdatasync, with the mean fdatasync latency and group size.
//
//	go test -run '^$' -bench DurableAppend64 -benchtime 200000x ./internal/seglog
func BenchmarkDurableAppend64(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Signer: benchSigner(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := entry(1)
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), e, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	st := l.Stats()
	b.ReportMetric(float64(st.Entries)/elapsed.Seconds(), "appends/s")
	if st.Syncs > 0 {
		b.ReportMetric(float64(st.SyncTime.Microseconds())/float64(st.Syncs), "µs/fdatasync")
		b.ReportMetric(float64(st.Entries)/float64(st.Groups), "entries/group")
		b.ReportMetric(float64(st.Writes)/float64(st.Syncs), "writes/fdatasync")
	}
}

// benchSigner is the checkpoint signer, or none with SEGLOG_BENCH_NO_TILES=1 (to measure appends alone).
func benchSigner(b *testing.B) *audit.Signer {
	if os.Getenv("SEGLOG_BENCH_NO_TILES") != "" {
		return nil
	}
	return logtest.NewSigner(b)
}
