// Command soak runs a mixed load against the real vaultd binary for a while, kills it with SIGKILL half-way,
// restarts it on the same data dir, loads it again, and then checks that nothing acknowledged was lost:
//
//	go run ./bench/soak -duration 5m
//	go run ./bench/soak -duration 1m -subjects 300      # a quick run
//
// It builds ./cmd/vaultd (or takes -binary), starts `vaultd demo` on a temporary data dir and a loopback
// port, and drives it from several goroutines: customer-service reads of subjects (X-Purpose
// customer_service), a data steward creating subjects (account_management) and posting order events
// (order_fulfillment), data subjects granting and withdrawing their own consents (PUT /v1/me/consents/…,
// tokens minted with `vaultd token --role subject`), and subjects exporting their data (GET /v1/me/export).
// At the middle of -duration it sends SIGKILL, checks the trail offline, starts `vaultd serve` on the same
// data dir and address (the keys, the JWT signing key and the data all live in the data dir, so the demo's
// tokens stay valid), waits for /readyz and goes on.
//
// Every 2xx is recorded with its X-Vault-Request-Id (the vault's own request id, the one the trail keeps)
// and X-Audit-Seq, and every acknowledged write with what it wrote. At the end:
//
//	(a) every acknowledged write is read back through the API: created subjects field by field, events by
//	    event id and amount, each consent grant and withdrawal by its record id in the subject's consent
//	    history, and each subject's final consent state where the last change was acknowledged;
//	(b) `vaultd audit verify` passes after the kill (before the restart) and after a graceful stop;
//	(c) every 2xx has its audit entry: `vaultd audit export` after the stop, the entry at each response's
//	    X-Audit-Seq must carry that response's request id;
//	(d) the server's VmRSS and open file descriptors, sampled from /proc every -sample, do not grow by more
//	    than 20 % between the first and the last minute after the restart (medians; a third of the time
//	    after the restart each when that is shorter). The server's two caches of subject data (sealed
//	    records, unwrapped data keys) fill as subjects are read and then stay at their bound; the load keeps
//	    creating subjects, so at the server's defaults (20,000 and 50,000 entries) they would still be
//	    filling at the end of a short run. The soak therefore runs the server with small bounds
//	    (-record-cache 1000, -dek-cache 2000; 0 for the server's defaults), full within seconds of the
//	    restart, so that growth after that is growth the caches do not explain. The same windows also give
//	    VmRSS split into anonymous memory — with the Go heap in use and the caches' sizes, from the server's
//	    /metrics — and mapped files;
//
// and every complete 2xx export must parse and be the requesting subject's own. Progress lines every 30 s
// show the server's and the whole machine's CPU use, since other work on a shared machine slows the load.
// It prints a summary table and exits 1 when a check fails. It prints counts, statuses and timings only:
// no token, name, phone or other value of a profile (subject ids are random and not personal data, but are
// not printed either). The work directory (binary, data dir, server logs) is removed unless -keep is given
// or a check failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/profilevault/profilevault/bench/internal/vaultproc"
)

type config struct {
	duration, killAt, sample     time.Duration
	subjects, consentSubjects    int
	readers, writers, consenters int
	exporters                    int
	writePause, consentPause     time.Duration
	recordCache, dekCache        int // the server's --record-cache and --dek-cache; 0: its defaults
	exportsPerHour               int // the server's --exports-per-hour; 0: its default
	binary                       string
	keep                         bool
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 5*time.Minute, "how long the load runs, both halves together")
	flag.DurationVar(&cfg.killAt, "kill-at", 0, "when to kill -9 the server (default: half of -duration)")
	flag.DurationVar(&cfg.sample, "sample", 5*time.Second, "how often VmRSS and open files are sampled")
	flag.IntVar(&cfg.subjects, "subjects", 500, "subjects the demo seeds")
	flag.IntVar(&cfg.consentSubjects, "consent-subjects", 64, "subjects created at the start whose own tokens change their consents")
	flag.IntVar(&cfg.readers, "readers", 4, "goroutines reading subjects as customer service")
	flag.IntVar(&cfg.writers, "writers", 2, "goroutines creating subjects and posting events as data steward")
	flag.IntVar(&cfg.consenters, "consenters", 2, "goroutines granting and withdrawing consents as data subjects")
	flag.IntVar(&cfg.exporters, "exporters", 1, "goroutines exporting subjects' data (GET /v1/me/export)")
	flag.DurationVar(&cfg.writePause, "write-pause", 10*time.Millisecond, "pause of a writer between requests")
	flag.DurationVar(&cfg.consentPause, "consent-pause", 20*time.Millisecond, "pause of a consent goroutine between requests")
	flag.IntVar(&cfg.recordCache, "record-cache", 1000, "the server's --record-cache: small, so that it is full before the first window after the restart (0: the server's default)")
	flag.IntVar(&cfg.dekCache, "dek-cache", 2000, "the server's --dek-cache, likewise (0: the server's default)")
	flag.IntVar(&cfg.exportsPerHour, "exports-per-hour", -1, "the server's --exports-per-hour: no limit by default, since the exporters ask far more often than a person would (0: the server's default of 60)")
	flag.StringVar(&cfg.binary, "binary", "", "a vaultd binary to run instead of building ./cmd/vaultd")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (data dir, logs) after the run")
	flag.Parse()
	if cfg.killAt <= 0 {
		cfg.killAt = cfg.duration / 2
	}
	if cfg.killAt >= cfg.duration {
		log.Fatal("-kill-at must be before the end of -duration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

// run does the whole soak and reports whether every check passed.
func run(ctx context.Context, cfg config) (bool, error) {
	work, err := os.MkdirTemp("", "vault-soak-")
	if err != nil {
		return false, err
	}
	passed := false
	defer func() {
		if cfg.keep || !passed {
			fmt.Printf("\nwork directory kept: %s (data dir, server logs)\n", work)
			return
		}
		os.RemoveAll(work)
	}()
	bin := cfg.binary
	if bin == "" {
		fmt.Println("building ./cmd/vaultd …")
		if bin, err = vaultproc.Build(work); err != nil {
			return false, err
		}
	}
	addr, err := vaultproc.FreeAddr()
	if err != nil {
		return false, err
	}
	dataDir := filepath.Join(work, "data")
	idsFile := filepath.Join(work, "ids.txt")
	fmt.Printf("starting vaultd demo with %d subjects on %s …\n", cfg.subjects, addr)
	t0 := time.Now()
	srv, err := vaultproc.StartDemo(bin, dataDir, addr, work, cfg.subjects, idsFile, cfg.serverFlags()...)
	if err != nil {
		return false, err
	}
	defer func() { srv.Kill() }() // a no-op once it has stopped
	fmt.Printf("demo serving after %s\n", time.Since(t0).Round(100*time.Millisecond))

	l, err := newLoad(cfg, bin, dataDir, srv, idsFile)
	if err != nil {
		return false, err
	}
	if err := l.setup(ctx); err != nil {
		return false, err
	}
	fmt.Printf("setup: %d subjects created for consent changes, %d subject tokens minted; load for %s, kill -9 at %s\n\n",
		len(l.consentSubjects), len(l.exportSubjects), cfg.duration, cfg.killAt)

	// The load and the sampler run until the end of -duration; the kill and restart happen in between.
	var current atomic.Pointer[vaultproc.Server]
	current.Store(srv)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l.start(loadCtx, &wg)
	smp := &sampler{}
	wg.Add(1)
	go func() { defer wg.Done(); smp.run(loadCtx, &current, cfg.sample) }()
	start := time.Now()
	end := start.Add(cfg.duration)

	var rs restart
	var lastProgress sample
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	killTimer := time.NewTimer(cfg.killAt)
	endTimer := time.NewTimer(cfg.duration)
loop:
	for {
		select {
		case <-ctx.Done():
			fmt.Println("interrupted: stopping the load and checking what was done so far")
			break loop
		case <-progress.C:
			cur := smp.last()
			l.printProgress(time.Since(start), cur, lastProgress)
			lastProgress = cur
		case <-killTimer.C:
			rs, err = killAndRestart(ctx, bin, dataDir, work, cfg.serverFlags(), srv, l, smp)
			if err != nil {
				stopLoad()
				wg.Wait()
				return false, err
			}
			srv = rs.server
			current.Store(srv)
		case <-endTimer.C:
			break loop
		}
	}
	stopLoad()
	wg.Wait()
	loadEnd := time.Now()
	if loadEnd.After(end) {
		loadEnd = end
	}
	fmt.Printf("\nload stopped after %s; reading back every acknowledged write …\n", time.Since(start).Round(time.Second))

	// (a) read back through the API while the server still runs.
	readBack := l.readBack(context.WithoutCancel(ctx))
	smp.sampleOnce(srv)

	// (b) stop gracefully, then verify the trail offline.
	stopErr := srv.Stop(30 * time.Second)
	verifyOut, verifyCode := vaultproc.AuditVerify(context.WithoutCancel(ctx), bin, dataDir)

	// (c) every 2xx has its entry.
	entries := checkEntries(context.WithoutCancel(ctx), bin, dataDir, l.rec.snapshot())

	// (d) memory and open files after the restart.
	growth := smp.growth(rs.ready, loadEnd)

	passed = report(cfg, l, rs, loadEnd, readBack, stopErr, verifyOut, verifyCode, entries, growth)
	return passed, nil
}

// restart is what happened around the kill.
type restart struct {
	done          bool
	server        *vaultproc.Server
	killed, ready time.Time // the SIGKILL, and /readyz answering 200 again
	verifyOut     string    // vaultd audit verify between kill and restart
	verifyCode    int
	verifyTook    time.Duration
}

// killAndRestart kills the server with SIGKILL while the load runs, verifies the trail offline, starts
// `vaultd serve` on the same data dir and address and waits for /readyz.
func killAndRestart(ctx context.Context, bin, dataDir, work string, serverFlags []string, srv *vaultproc.Server, l *load, smp *sampler) (restart, error) {
	var rs restart
	smp.sampleOnce(srv)
	l.setPhase(phaseRestart)
	rs.killed = time.Now()
	srv.Kill()
	fmt.Printf("%s  kill -9 of pid %d; verifying the trail offline …\n", l.elapsed(), srv.PID())
	v0 := time.Now()
	rs.verifyOut, rs.verifyCode = vaultproc.AuditVerify(ctx, bin, dataDir)
	rs.verifyTook = time.Since(v0)
	next, err := vaultproc.StartServe(bin, dataDir, srv.Addr, work, serverFlags...)
	if err != nil {
		return rs, fmt.Errorf("restart after kill -9: %w", err)
	}
	if err := next.WaitReady(2 * time.Minute); err != nil {
		next.Kill()
		return rs, fmt.Errorf("restart after kill -9: %w", err)
	}
	rs.ready = time.Now()
	rs.server = next
	rs.done = true
	l.setPhase(phaseAfter)
	fmt.Printf("%s  vaultd serve ready again (pid %d), %s after the kill (offline verify %s)\n",
		l.elapsed(), next.PID(), rs.ready.Sub(rs.killed).Round(time.Millisecond), rs.verifyTook.Round(time.Millisecond))
	return rs, nil
}

// firstLine is the first line of a command's output.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// serverFlags are the cache bounds given to the server; none when they are 0, so the server's defaults apply
// (and an older binary without the flags can be measured).
func (c config) serverFlags() []string {
	var f []string
	if c.recordCache != 0 {
		f = append(f, "--record-cache", strconv.Itoa(c.recordCache))
	}
	if c.dekCache != 0 {
		f = append(f, "--dek-cache", strconv.Itoa(c.dekCache))
	}
	if c.exportsPerHour != 0 {
		f = append(f, "--exports-per-hour", strconv.Itoa(c.exportsPerHour))
	}
	return f
}

// cacheFlag prints a cache bound as the report shows it.
func cacheFlag(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}
