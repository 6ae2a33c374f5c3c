package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/postgres"
)

// BenchmarkAppend64 appends b.N entries from 64 goroutines on one node with Append (numbered in the
// appending transaction, group-committed), and reports entries/s.
//
//	eval "$(bash .ci/postgres.sh start)"; go test -run '^$' -bench Append64 -benchtime 100000x ./internal/postgres
func BenchmarkAppend64(b *testing.B) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtestDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := db.OpenLog(ctx, postgres.LogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := audit.Entry{TS: time.Now().UTC(), RequestID: "bench", Action: "subject.read", Decision: audit.Allow, Status: 200,
		SubjectRef: "3f1c9a7d2b4e6f80", FieldsRequested: []string{"name", "phone"}, FieldsGranted: []string{"name", "phone"}}
	var wg sync.WaitGroup
	work := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for range work {
				if _, err := l.Append(ctx, e, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
