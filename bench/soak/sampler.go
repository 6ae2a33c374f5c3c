package main

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/bench/internal/vaultproc"
)

// sample is one reading of the server: /proc, the Go heap from its /metrics, and the machine's CPU time.
type sample struct {
	at        time.Time
	pid       int
	stats     vaultproc.ProcStats
	heapInuse int64         // go_memstats_heap_inuse_bytes; 0 when /metrics did not answer
	records   int64         // vault_cache_entries{cache="records"}: sealed records cached
	deks      int64         // vault_cache_entries{cache="deks"}: unwrapped data keys cached
	machine   time.Duration // CPU time of the whole machine, not idle
}

// sampler reads whichever server is current.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	client  http.Client
}

func (s *sampler) run(ctx context.Context, current *atomic.Pointer[vaultproc.Server], every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	s.sampleOnce(current.Load())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sampleOnce(current.Load())
		}
	}
}

func (s *sampler) sampleOnce(srv *vaultproc.Server) {
	st, err := srv.Stats()
	if err != nil {
		return // the process is gone (the kill)
	}
	x := sample{at: time.Now(), pid: srv.PID(), stats: st, machine: vaultproc.MachineBusy()}
	s.readMetrics(srv.Base(), &x)
	s.mu.Lock()
	s.samples = append(s.samples, x)
	s.mu.Unlock()
}

// readMetrics reads the Go heap in use and the caches' sizes from the server's /metrics (no token needed,
// no personal data); what does not answer stays 0.
func (s *sampler) readMetrics(base string, x *sample) {
	s.client.Timeout = 2 * time.Second
	resp, err := s.client.Get(base + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	into := map[string]*int64{
		"go_memstats_heap_inuse_bytes ":         &x.heapInuse,
		`vault_cache_entries{cache="records"} `: &x.records,
		`vault_cache_entries{cache="deks"} `:    &x.deks,
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for prefix, dst := range into {
			if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				f, _ := strconv.ParseFloat(v, 64)
				*dst = int64(f)
			}
		}
	}
}

func (s *sampler) last() sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return sample{}
	}
	return s.samples[len(s.samples)-1]
}

// growthResult is check (d): the first window after the restart against the last.
type growthResult struct {
	evaluated               bool
	window                  time.Duration
	firstN, lastN           int
	first, last             reading // medians of each window
	rssPeakBefore, rssAfter int64   // for context: the highest VmRSS before the kill, and the last one (KiB)
}

// reading is the medians of a window of samples.
type reading struct {
	rss, anon, file, heap int64 // KiB
	records, deks         int64 // cache entries
	fds                   int
}

func pct(from, to float64) float64 { return 100 * (to - from) / from }

func (g growthResult) rssOK() bool { return pct(float64(g.first.rss), float64(g.last.rss)) <= 20 }
func (g growthResult) fdsOK() bool { return pct(float64(g.first.fds), float64(g.last.fds)) <= 20 }

// growth compares the medians of the first and last window after the restart (one minute each, or a third
// of the time after the restart when that is shorter).
func (s *sampler) growth(ready, end time.Time) growthResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var g growthResult
	for _, x := range s.samples {
		if ready.IsZero() || x.at.Before(ready) {
			g.rssPeakBefore = max(g.rssPeakBefore, x.stats.RSSKiB)
		}
		g.rssAfter = x.stats.RSSKiB
	}
	if ready.IsZero() {
		return g
	}
	g.window = min(time.Minute, end.Sub(ready)/3)
	var a, b []sample
	for _, x := range s.samples {
		switch {
		case x.at.Before(ready) || x.at.After(end):
		case x.at.Before(ready.Add(g.window)):
			a = append(a, x)
		case x.at.After(end.Add(-g.window)):
			b = append(b, x)
		}
	}
	g.firstN, g.lastN = len(a), len(b)
	if g.firstN == 0 || g.lastN == 0 {
		return g
	}
	g.evaluated = true
	g.first, g.last = medians(a), medians(b)
	return g
}

func medians(xs []sample) reading {
	of := func(f func(sample) int64) int64 {
		v := make([]int64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return reading{
		rss:     of(func(x sample) int64 { return x.stats.RSSKiB }),
		anon:    of(func(x sample) int64 { return x.stats.RSSAnonKiB }),
		file:    of(func(x sample) int64 { return x.stats.RSSFileKiB }),
		heap:    of(func(x sample) int64 { return x.heapInuse / 1024 }),
		records: of(func(x sample) int64 { return x.records }),
		deks:    of(func(x sample) int64 { return x.deks }),
		fds:     int(of(func(x sample) int64 { return int64(x.stats.OpenFDs) })),
	}
}
