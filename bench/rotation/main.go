// Command rotation measures a KEK rotation on a vault with many subjects, and the read throughput of the
// audited, purpose-checked, decrypting GET /v1/subjects/{id} while it runs, against the same reads without a
// rotation, in one run.
//
//	go run ./bench/rotation -subjects 100000 -conns 32 -baseline 15s
//
// It seeds the subjects through the enforcement point (vault.Service.Create, one general-class DEK each),
// serves the vault on 127.0.0.1, loads it from goroutines of the same process, measures reads/s for
// -baseline, then starts vault.Service.RotateKeys under the same load and measures reads/s, latency and
// errors over exactly the rotation's window. The load stops when the rotation returns. Nothing leaves the
// loopback. -dir keeps the data directory so that a second run can skip seeding (each run rotates again).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/bench/internal/inproc"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// rotationLimit bounds the rotation (it stays resumable if cut off); requestTimeout bounds one read.
const (
	rotationLimit  = 30 * time.Minute
	requestTimeout = 30 * time.Second
	seedWorkers    = 32
)

type options struct {
	subjects, conns, batch int
	baseline, warmup       time.Duration
	dir                    string
}

func main() {
	var o options
	flag.IntVar(&o.subjects, "subjects", 100000, "subjects in the vault (seeded unless -dir already holds them)")
	flag.IntVar(&o.conns, "conns", 32, "concurrent keep-alive reading connections")
	flag.DurationVar(&o.baseline, "baseline", 15*time.Second, "how long reads are measured without a rotation")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before the baseline")
	flag.StringVar(&o.dir, "dir", "", "data directory to reuse (default: a temporary one, removed at the end)")
	flag.IntVar(&o.batch, "batch", 0, "DEKs rewrapped per transaction (0: the vault's default, 500)")
	flag.Parse()
	if o.subjects < 1 || o.conns < 1 || o.baseline <= 0 || o.warmup < 0 || o.batch < 0 {
		log.Fatal("-subjects and -conns must be positive, -baseline positive, -warmup and -batch not negative")
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	ctx := context.Background()
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "vault-rotation-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Warnings of the vault (a failed rotation, a failed key check after it) go to stderr.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	a, err := app.Open(ctx, app.Config{DataDir: dir, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintf(os.Stderr, "opened vault in %s (%s)\n", dir, time.Since(start).Round(time.Millisecond))

	ids, err := a.DemoSubjects(ctx, o.subjects)
	if err != nil {
		return err
	}
	if len(ids) < o.subjects {
		more, err := seed(ctx, a, len(ids), o.subjects-len(ids))
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	} else {
		fmt.Fprintf(os.Stderr, "seed: %s already holds %d subjects, not seeding\n", dir, len(ids))
	}

	start = time.Now()
	rep, err := a.Vault.Keys().CheckKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "key check: %d DEKs of %d subjects, by KEK version %s (%s)\n",
		rep.DEKs, rep.Subjects, byVersion(rep), time.Since(start).Round(time.Millisecond))

	token, err := a.Mint("bench", []string{"customer_service"}, "bench", time.Hour)
	if err != nil {
		return err
	}
	url, stop, err := inproc.Listen(a.HTTP)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("GOMAXPROCS=%d %s subjects=%d DEKs=%d conns=%d warmup=%s baseline=%s batch=%s\n",
		runtime.GOMAXPROCS(0), runtime.Version(), len(ids), rep.DEKs, o.conns, o.warmup, o.baseline, batchName(o.batch))
	fmt.Println("(server and load generator share the machine; every read is audited, so reads and the rotation share the writer)")
	fmt.Println()

	l := startLoad(a, url+"/v1/subjects/", token, ids, o.conns, o.warmup+o.baseline+rotationLimit+time.Minute)
	time.Sleep(o.warmup)
	fmt.Fprintf(os.Stderr, "baseline: measuring reads for %s\n", o.baseline)
	base := l.window(phaseBaseline)
	time.Sleep(o.baseline)

	rot := l.window(phaseRotation)
	steps := map[vault.RotationStep]time.Duration{}
	var lastReport time.Time
	rctx, cancel := context.WithTimeout(ctx, rotationLimit)
	defer cancel()
	res, rerr := a.Vault.Keys().RotateKeys(rctx, app.SystemAccess("bench-rotation"), vault.RunOptions{
		BatchSize: o.batch,
		Progress: func(done, total int) {
			if now := time.Now(); now.Sub(lastReport) >= time.Second || done == total {
				lastReport = now
				fmt.Fprintf(os.Stderr, "rotation: %d/%d DEKs rewrapped (%s)\n", done, total, time.Since(rot.start).Round(time.Millisecond))
			}
		},
		Step: func(s vault.RotationStep) {
			if s != vault.StepBatch {
				steps[s] = time.Since(rot.start)
			}
		},
	})
	l.window(phaseNone)
	rotWall := time.Since(rot.start)
	l.stop()

	bs, rs := l.summary(base), l.summary(rot)
	if rerr != nil {
		fmt.Printf("!!! ROTATION FAILED after %s: %v\n\n", rotWall.Round(time.Millisecond), rerr)
	}
	fmt.Printf("RotationResult: job=%s new_version=%d resumed=%t rewrapped=%d retired=%v kept=%v audit_seq=%d\n",
		res.JobID, res.NewVersion, res.Resumed, res.Rewrapped, res.Retired, res.Kept, res.AuditSeq)
	fmt.Printf("rotation steps (since RotateKeys was called): started %s, rewrapped %s, retired %s, returned %s\n",
		stepAt(steps, vault.StepStarted), stepAt(steps, vault.StepRewrapped), stepAt(steps, vault.StepRetired), rotWall.Round(time.Millisecond))
	fmt.Println("(between \"retired\" and \"returned\" Run re-checks every DEK: CheckKeys)")
	after, err := a.Vault.Keys().CheckKeys(ctx)
	if err != nil {
		fmt.Printf("!!! key check after the rotation: %v\n", err)
	} else {
		fmt.Printf("key check after the rotation: %d DEKs, by KEK version %s, ok=%t\n", after.DEKs, byVersion(after), after.OK())
	}
	fmt.Println()

	rewrapTime := steps[vault.StepRewrapped] - steps[vault.StepStarted]
	fmt.Println("| measure | value |")
	fmt.Println("|---|---|")
	fmt.Printf("| subjects | %d |\n", len(ids))
	fmt.Printf("| DEKs | %d |\n", rep.DEKs)
	fmt.Printf("| rewrap batch | %s |\n", batchName(o.batch))
	fmt.Printf("| rotation wall time | %s |\n", rotWall.Round(time.Millisecond))
	fmt.Printf("| DEKs rewrapped/s (wall time) | %.0f |\n", float64(res.Rewrapped)/rotWall.Seconds())
	if rewrapTime > 0 {
		fmt.Printf("| DEKs rewrapped/s (rewrap step only, %s) | %.0f |\n", rewrapTime.Round(time.Millisecond), float64(res.Rewrapped)/rewrapTime.Seconds())
	}
	fmt.Printf("| reads/s without rotation (%s) | %.0f |\n", base.length().Round(time.Millisecond), bs.rps)
	fmt.Printf("| reads/s during rotation (%s) | %.0f |\n", rot.length().Round(time.Millisecond), rs.rps)
	fmt.Printf("| ratio during/without | %.1f%% |\n", 100*rs.rps/bs.rps)
	fmt.Printf("| worst 1 s of reads without / during | %s / %s |\n", worst(bs), worst(rs))
	fmt.Printf("| p50 / p99 / max without rotation | %s / %s / %s |\n", bs.p50, bs.p99, bs.max)
	fmt.Printf("| p50 / p99 / max during rotation | %s / %s / %s |\n", rs.p50, rs.p99, rs.max)
	fmt.Printf("| non-200 reads without / during | %d / %d |\n", bs.bad, rs.bad)
	fmt.Printf("| audit commits without / during (entries/commit) | %d (%.1f) / %d (%.1f) |\n",
		bs.commits, bs.perCommit(), rs.commits, rs.perCommit())
	fmt.Println()
	for _, p := range []struct {
		name string
		s    summary
	}{{"without rotation", bs}, {"DURING ROTATION", rs}} {
		if p.s.bad == 0 && p.s.auditFailures == 0 && p.s.abandoned == 0 {
			continue
		}
		fmt.Printf("!!! %s: %d non-200 reads; audit commit failures %d, abandoned %d\n", p.name, p.s.bad, p.s.auditFailures, p.s.abandoned)
		for _, k := range slices.Sorted(maps.Keys(p.s.kinds)) {
			fmt.Printf("!!!   %6d × %s\n", p.s.kinds[k], k)
		}
	}
	fmt.Printf("command: go run ./bench/rotation%s\n", commandFlags())
	if rerr != nil {
		return fmt.Errorf("rotation: %w", rerr)
	}
	return nil
}

// seed creates n subjects through the enforcement point, each with a name, a phone and a city (one
// general-class DEK); from is the number already stored, so that phones stay distinct across runs.
func seed(ctx context.Context, a *app.App, from, n int) ([]string, error) {
	acc := vault.Access{Caller: vault.Caller{Subject: "bench-seeder", Roles: []policies.Role{policies.RoleDataSteward}}, Purpose: policies.PurposeAccountManagement}
	profiles := synth.Profiles(uint64(7+from), n, time.Now())
	ids := make([]string, n)
	start := time.Now()
	var wg sync.WaitGroup
	var next, done atomic.Int64
	var firstErr atomic.Value
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				d := done.Load()
				el := time.Since(start)
				fmt.Fprintf(os.Stderr, "seed: %d/%d subjects (%s, %.0f/s)\n", d, n, el.Round(time.Second), float64(d)/el.Seconds())
			}
		}
	}()
	for w := 0; w < seedWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && firstErr.Load() == nil; i = int(next.Add(1)) - 1 {
				name, city := profiles[i].Fields["name"], profiles[i].Fields["city"]
				phone := fmt.Sprintf("+86139%08d", from+i)
				c, err := a.Vault.Profiles().Create(ctx, acc, vault.NewSubject{Source: "bench", Fields: map[string]*string{
					"name": &name, "phone": &phone, "city": &city,
				}})
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("seed subject %d: %w", from+i, err))
					return
				}
				ids[i] = c.ID
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "seed: %d subjects in %s (%.0f/s, %d workers)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds(), seedWorkers)
	return ids, nil
}

// Phases a completed read is counted in (by its completion time).
const (
	phaseNone = iota
	phaseBaseline
	phaseRotation
	phases
)

// window is one measured phase: [start, end).
type window struct {
	phase      int
	start, end time.Time
	stats0     [4]int64 // audit writer counters at the start: batches, ops, failures, abandoned
	stats1     [4]int64
}

func (w *window) length() time.Duration { return w.end.Sub(w.start) }

// worker is one reading connection's tally, per phase.
type worker struct {
	lat   [phases][]time.Duration
	ok    [phases]int64
	bad   [phases]int64
	kinds [phases]map[string]int64 // what went wrong: "HTTP 503 {body}", "transport: …", "200 without name"
}

// load runs conns reading goroutines until stop (or its deadline), counting each read in the phase current
// when it completes.
type load struct {
	a       *app.App
	begin   time.Time
	phase   atomic.Int32
	perSec  []atomic.Int64 // 200s completed per second since begin
	done    chan struct{}
	wg      sync.WaitGroup
	workers []*worker
	cur     *window
}

func startLoad(a *app.App, base, token string, ids []string, conns int, limit time.Duration) *load {
	l := &load{a: a, begin: time.Now(), perSec: make([]atomic.Int64, int(limit/time.Second)+2), done: make(chan struct{})}
	deadline := l.begin.Add(limit)
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: requestTimeout}
	for c := 0; c < conns; c++ {
		w := &worker{}
		for p := range w.kinds {
			w.kinds[p] = map[string]int64{}
		}
		l.workers = append(l.workers, w)
		l.wg.Add(1)
		go func(c int) {
			defer l.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for time.Now().Before(deadline) {
				select {
				case <-l.done:
					return
				default:
				}
				req, _ := http.NewRequest("GET", base+ids[rng.IntN(len(ids))]+"?fields=name", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("X-Purpose", "customer_service")
				t0 := time.Now()
				kind := read(client, req)
				t1 := time.Now()
				p := l.phase.Load()
				if kind != "" {
					w.bad[p]++
					w.kinds[p][kind]++
					continue
				}
				w.ok[p]++
				if p != phaseNone {
					w.lat[p] = append(w.lat[p], t1.Sub(t0))
				}
				if s := int(t1.Sub(l.begin) / time.Second); s < len(l.perSec) {
					l.perSec[s].Add(1)
				}
			}
		}(c)
	}
	return l
}

// read does one request and returns "" for a 200 with the name field, else what went wrong.
func read(client *http.Client, req *http.Request) string {
	resp, err := client.Do(req)
	if err != nil {
		return "transport: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "reading the body: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		b := strings.TrimSpace(string(body))
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		return "HTTP " + strconv.Itoa(resp.StatusCode) + " " + b
	}
	var v struct {
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Fields["name"] == "" {
		return "200 without a name field"
	}
	return ""
}

// window closes the current window (if any) and opens one for phase.
func (l *load) window(phase int) *window {
	now := time.Now()
	l.phase.Store(int32(phase))
	if l.cur != nil {
		l.cur.end, l.cur.stats1 = now, l.auditStats()
	}
	l.cur = nil
	if phase == phaseNone {
		return nil
	}
	l.cur = &window{phase: phase, start: now, stats0: l.auditStats()}
	return l.cur
}

func (l *load) auditStats() [4]int64 {
	if l.a == nil {
		return [4]int64{}
	}
	st := l.a.Stats()
	return [4]int64{st.Batches.Load(), st.Ops.Load(), st.Failures.Load(), st.Abandoned.Load()}
}

func (l *load) stop() {
	close(l.done)
	l.wg.Wait()
}

type summary struct {
	rps                             float64
	p50, p99, max                   time.Duration
	ok, bad                         int64
	kinds                           map[string]int64
	worst                           int64 // fewest 200s in one whole second of the window, -1 if none
	commits, entries, auditFailures int64
	abandoned                       int64
}

func (s summary) perCommit() float64 { return float64(s.entries) / float64(max(1, s.commits)) }

func (l *load) summary(w *window) summary {
	s := summary{kinds: map[string]int64{}, worst: -1}
	var lat []time.Duration
	for _, wk := range l.workers {
		s.ok += wk.ok[w.phase]
		s.bad += wk.bad[w.phase]
		lat = append(lat, wk.lat[w.phase]...)
		for k, n := range wk.kinds[w.phase] {
			s.kinds[k] += n
		}
	}
	s.rps = float64(s.ok) / w.length().Seconds()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	s.p50, s.p99, s.max = pct(0.5), pct(0.99), pct(1)
	// Whole seconds (since the load began) that lie inside the window.
	first := int((w.start.Sub(l.begin) + time.Second - 1) / time.Second)
	last := int(w.end.Sub(l.begin)/time.Second) - 1
	for sec := first; sec <= last && sec < len(l.perSec); sec++ {
		if n := l.perSec[sec].Load(); s.worst < 0 || n < s.worst {
			s.worst = n
		}
	}
	s.commits, s.entries = w.stats1[0]-w.stats0[0], w.stats1[1]-w.stats0[1]
	s.auditFailures, s.abandoned = w.stats1[2]-w.stats0[2], w.stats1[3]-w.stats0[3]
	return s
}

func worst(s summary) string {
	if s.worst < 0 {
		return "n/a (window under 1 s)"
	}
	return strconv.FormatInt(s.worst, 10)
}

func byVersion(r vault.KeyReport) string {
	parts := make([]string, 0, len(r.ByVersion))
	for _, u := range r.ByVersion {
		parts = append(parts, fmt.Sprintf("v%d:%d", u.Version, u.DEKs))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func stepAt(steps map[vault.RotationStep]time.Duration, s vault.RotationStep) string {
	d, ok := steps[s]
	if !ok {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func batchName(b int) string {
	if b == 0 {
		return "500 (default)"
	}
	return strconv.Itoa(b)
}

// commandFlags renders the flags as given on the command line, quoted where needed.
func commandFlags() string {
	var b strings.Builder
	for _, arg := range os.Args[1:] {
		b.WriteByte(' ')
		if arg == "" || strings.ContainsAny(arg, " \t'\"$\\") {
			arg = strconv.Quote(arg)
		}
		b.WriteString(arg)
	}
	return b.String()
}
