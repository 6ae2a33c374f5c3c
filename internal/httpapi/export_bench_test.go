package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
)

// BenchmarkStreamedExportWith10kEvents is GET /v1/me/export over HTTP for a subject with 10,000 events;
// it reports the largest heap in use seen while the export streams.
func BenchmarkStreamedExportWith10kEvents(b *testing.B) {
	s := apptest.Start(b, func(c *app.Config) { c.ExportsPerHour = -1 }) // exports in a loop
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	st := s.Token("st", "data_steward")
	base := time.Now().Add(-72 * time.Hour)
	for done := 0; done < 10_000; done += 1000 {
		var sb strings.Builder
		sb.WriteString(`{"events":[`)
		for i := done; i < done+1000; i++ {
			if i > done {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"event_id":"b-%d","subject_id":"%s","type":"chat","ts":"%s","source":"app","attrs":{"text":"请问我的订单什么时候发货？谢谢，非常期待这次的商品。"}}`,
				i, id, base.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
		}
		sb.WriteString(`]}`)
		if r := s.Do("POST", "/v1/events", st, "order_fulfillment", sb.String()); r.Status != 200 || r.JSON["accepted"].(float64) != 1000 {
			b.Fatalf("seed: %d %s", r.Status, r.Body[:200])
		}
	}
	tok := s.Token(id, "subject")
	peakHeap := watchPeakHeap()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", s.Server.URL+"/v1/me/export", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 1_000_000 {
			b.Fatalf("export: %d, %d bytes", resp.StatusCode, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peakHeap())/(1<<20), "peak-heap-MiB")
}

// BenchmarkFourParallelZipExports is the number: four ZIP exports at once, each of a subject with
// VAULT_BENCH_EVENTS events (default 20,000); it reports the largest heap in use seen meanwhile.
//
//	go test -run '^$' -bench FourParallelZipExports -benchtime 1x ./internal/httpapi
func BenchmarkFourParallelZipExports(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	s := apptest.Start(b, func(c *app.Config) { c.ExportsPerHour = -1 }) // exports in a loop
	st := s.Token("st", "data_steward")
	base := time.Now().Add(-72 * time.Hour)
	var toks []string
	for p := range 4 {
		id := s.CreateSubject(map[string]any{"name": "李雷"})
		for done := 0; done < n; done += 1000 {
			var sb strings.Builder
			sb.WriteString(`{"events":[`)
			for i := done; i < done+1000; i++ {
				if i > done {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, `{"event_id":"z%d-%d","subject_id":"%s","type":"chat","ts":"%s","source":"app","attrs":{"text":"请问我的订单什么时候发货？谢谢，非常期待这次的商品。"}}`,
					p, i, id, base.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
			}
			sb.WriteString(`]}`)
			if r := s.Do("POST", "/v1/events", st, "order_fulfillment", sb.String()); r.Status != 200 {
				b.Fatalf("seed: %d", r.Status)
			}
		}
		toks = append(toks, s.Token(id, "subject"))
	}
	runtime.GC()
	peakHeap := watchPeakHeap()
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", s.Server.URL+"/v1/me/export?format=zip", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				got, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || got < 100_000 {
					b.Errorf("export: %d, %d bytes", resp.StatusCode, got)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(peakHeap())/(1<<20), "peak-heap-MiB")
}

// watchPeakHeap samples the heap in use every millisecond until the returned function is called, which
// stops the sampling and returns the highest value seen.
func watchPeakHeap() (stop func() uint64) {
	var peak uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(time.Millisecond):
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	return func() uint64 {
		close(quit)
		<-done
		return peak
	}
}
