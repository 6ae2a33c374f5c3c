// Command flood measures what a flood of unauthenticated requests costs the vault: legitimate audited reads
// alone, then the same reads while extra connections send `Authorization: Bearer garbage` as fast as they
// can, against the real vaultd binary on the loopback:
//
//	go run ./bench/flood                                  # builds ./cmd/vaultd from the working tree
//	go run ./bench/flood -binary /tmp/vaultd-before       # the same against another build (an older commit)
//	go run ./bench/flood -duration 30s -flood 32 -conns 8
//	go run ./bench/flood -flood-rate 3000                 # the flood capped at 3,000 requests/s in all
//
// It starts `vaultd demo` (-subjects, default 1,000) on a temporary data dir, then runs two phases of
// -duration each: -conns connections reading GET /v1/subjects/{id} as customer service (X-Purpose
// customer_service; every read is decided, decrypted and audited), first alone, then with -flood further
// connections sending the same request with a garbage bearer token. It reports the legitimate reads/s and
// latency in both phases, the flood's request count and status mix (401 refused and audited; 429 beyond the
// auth-failure budget), and how much the audit trail grew in each phase: entries, from the X-Audit-Seq of a
// probe read before and after the phase (less the legitimate reads, what is left is the flood's), and bytes,
// the size of DATA_DIR/audit (the segment log, its tiles and checkpoints) and of vault.db with its WAL (the
// review index; before the segment log, the whole trail). A last reading after -settle idle seconds catches
// the folded auth-failure counts the server flushes periodically. It also reports the CPU time the server
// (from /proc/PID/stat) and this load generator used in each phase, since on a small machine a flood that
// is answered faster takes more of the shared cores. It ends with `vaultd audit verify`.
//
// Older builds: the demo flags used here (--data-dir, --addr, --subjects, --log-level, --ids-out) and the
// X-Audit-Seq header exist since before the auth-failure budget (67b1ad2 is the commit before it landed);
// a build from before the segment log keeps its trail in vault.db, which the vault.db+wal column shows.
//
// Server and load share the machine's cores. Only counts and timings are printed: no token, no subject id,
// no value of a profile.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/profilevault/profilevault/bench/internal/vaultproc"
)

type config struct {
	duration, warmup, settle time.Duration
	conns, flood, subjects   int
	floodRate                float64 // flood requests a second over all flood connections; 0: as fast as they can
	binary                   string
	keep                     bool
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 15*time.Second, "length of each phase")
	flag.IntVar(&cfg.conns, "conns", 8, "connections making legitimate reads")
	flag.IntVar(&cfg.flood, "flood", 16, "extra connections sending Authorization: Bearer garbage in the second phase")
	flag.Float64Var(&cfg.floodRate, "flood-rate", 0, "cap the flood at this many requests a second in all (0: as fast as the connections can)")
	flag.IntVar(&cfg.subjects, "subjects", 1000, "subjects the demo seeds")
	flag.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "unmeasured legitimate reads before the first phase")
	flag.DurationVar(&cfg.settle, "settle", 12*time.Second, "idle time after the flood before the last reading of the trail (the server flushes folded auth failures every 10 s)")
	flag.StringVar(&cfg.binary, "binary", "", "a vaultd binary to measure instead of building ./cmd/vaultd (for example one built from an older commit)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (data dir, server logs)")
	flag.Parse()
	if err := run(cfg); err != nil {
		log.Fatal(err)
	}
}

func run(cfg config) error {
	work, err := os.MkdirTemp("", "vault-flood-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer fmt.Printf("\nwork directory kept: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin, what := cfg.binary, "-binary "+cfg.binary
	if bin == "" {
		fmt.Println("building ./cmd/vaultd …")
		if bin, err = vaultproc.Build(work); err != nil {
			return err
		}
		what = "./cmd/vaultd of the working tree"
	}
	addr, err := vaultproc.FreeAddr()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(work, "data")
	fmt.Printf("starting vaultd demo with %d subjects on %s …\n", cfg.subjects, addr)
	srv, err := vaultproc.StartDemo(bin, dataDir, addr, work, cfg.subjects, filepath.Join(work, "ids.txt"))
	if err != nil {
		return err
	}
	defer srv.Kill() // a no-op once it has stopped
	toks, err := srv.Tokens()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(work, "ids.txt"))
	if err != nil {
		return err
	}
	r := &reader{base: srv.Base(), token: toks["CUSTOMER_SERVICE_TOKEN"], ids: strings.Fields(string(raw))}
	if r.token == "" || len(r.ids) == 0 {
		return errors.New("the demo printed no customer service token or wrote no subject ids")
	}

	fmt.Printf("warming up for %s …\n", cfg.warmup)
	runPhase(r, cfg.conns, 0, 0, cfg.warmup)
	var phases []phaseResult
	before, err := mark(r, srv, dataDir)
	if err != nil {
		return err
	}
	for _, p := range []struct {
		name  string
		flood int
	}{{"legit only", 0}, {fmt.Sprintf("legit + %d flood conns", cfg.flood), cfg.flood}} {
		fmt.Printf("phase %q for %s …\n", p.name, cfg.duration)
		res := runPhase(r, cfg.conns, p.flood, cfg.floodRate, cfg.duration)
		res.name = p.name
		after, err := mark(r, srv, dataDir)
		if err != nil {
			return err
		}
		res.from, res.to = before, after
		phases = append(phases, res)
		before = after
	}
	fmt.Printf("idle for %s …\n", cfg.settle)
	time.Sleep(cfg.settle)
	idle, err := mark(r, srv, dataDir)
	if err != nil {
		return err
	}
	phases = append(phases, phaseResult{name: fmt.Sprintf("idle %s after the flood", cfg.settle), elapsed: cfg.settle, from: before, to: idle})

	stopErr := srv.Stop(30 * time.Second)
	verifyOut, verifyCode := vaultproc.AuditVerify(context.Background(), bin, dataDir)

	fmt.Printf("\n== flood: %s\n", what)
	pace := "as fast as they can"
	if cfg.floodRate > 0 {
		pace = fmt.Sprintf("capped at %.0f/s in all", cfg.floodRate)
	}
	fmt.Printf("demo of %d subjects; %d connections of GET /v1/subjects/{id} as customer service; flood: %d connections with Authorization: Bearer garbage, %s; %s a phase; %d cores shared by server and load\n",
		cfg.subjects, cfg.conns, cfg.flood, pace, cfg.duration, runtime.NumCPU())
	fmt.Printf("\n%-26s %9s %9s %9s %10s %10s %10s  %s\n", "phase", "legit/s", "p50", "p99", "legit !2xx", "flood req", "flood/s", "flood statuses")
	for _, p := range phases[:2] {
		fmt.Printf("%-26s %9.0f %9s %9s %10d %10d %10.0f  %s\n", p.name, float64(p.legitOK)/p.elapsed.Seconds(),
			p.percentile(0.50), p.percentile(0.99), p.legitBad(), p.floodTotal(), float64(p.floodTotal())/p.elapsed.Seconds(), statusList(p.floodStatus, p.floodNetErr))
	}
	fmt.Printf("\n%-26s %9s %9s %11s %11s %13s %13s %12s\n", "audit trail growth", "entries", "entries/s", "legit reads",
		"other", "audit/ bytes", "vault.db+wal", "server RSS")
	for _, p := range phases {
		entries := p.to.seq - p.from.seq - 1 // the closing probe's own entry is not the phase's
		audit := "-"
		if p.to.hasAuditDir {
			audit = strconv.FormatInt(p.to.auditBytes-p.from.auditBytes, 10)
		}
		fmt.Printf("%-26s %9d %9.0f %11d %11d %13s %13d %8.1f MiB\n", p.name, entries, float64(entries)/p.elapsed.Seconds(),
			p.legitOK, entries-p.legitOK, audit, p.to.dbBytes-p.from.dbBytes, float64(p.to.server.RSSKiB)/1024)
	}
	fmt.Printf("\n%-26s %11s %11s %11s %11s   (CPU time over the phase, in cores)\n", "CPU", "server", "load gen", "others", "machine")
	for _, p := range phases[:2] {
		cores := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()/p.elapsed.Seconds()) }
		server, load, machine := p.to.server.CPU-p.from.server.CPU, p.to.loadCPU-p.from.loadCPU, p.to.machineBusy-p.from.machineBusy
		fmt.Printf("%-26s %11s %11s %11s %11s\n", p.name, cores(server), cores(load), cores(max(0, machine-server-load)), cores(machine))
	}
	if !idle.hasAuditDir {
		fmt.Println("(no DATA_DIR/audit: this build keeps the trail in vault.db, so its growth is in the vault.db+wal column)")
	}
	fmt.Printf("\nat the end: trail %d entries, DATA_DIR/audit %d bytes, vault.db+wal %d bytes\n", idle.seq, idle.auditBytes, idle.dbBytes)
	stopResult := "exit 0"
	if stopErr != nil {
		stopResult = stopErr.Error()
	}
	fmt.Printf("graceful stop: %s; vaultd audit verify: exit %d: %s\n", stopResult, verifyCode, firstLine(verifyOut))
	if stopErr != nil || verifyCode != 0 {
		return errors.New("the server did not stop cleanly or the trail does not verify")
	}
	return nil
}

// reader makes the legitimate reads.
type reader struct {
	base, token string
	ids         []string
}

func (r *reader) request(token string, rng *rand.Rand) *http.Request {
	req, err := http.NewRequest("GET", r.base+"/v1/subjects/"+r.ids[rng.IntN(len(r.ids))], nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Purpose", "customer_service")
	return req
}

// phaseResult is what one phase measured.
type phaseResult struct {
	name                 string
	elapsed              time.Duration
	legitOK, legitNetErr int64
	legitStatus          map[int]int64 // non-2xx
	latencies            []time.Duration
	floodStatus          map[int]int64
	floodNetErr          int64
	from, to             trailMark
}

func (p phaseResult) legitBad() int64 {
	n := p.legitNetErr
	for _, c := range p.legitStatus {
		n += c
	}
	return n
}

func (p phaseResult) floodTotal() int64 {
	n := p.floodNetErr
	for _, c := range p.floodStatus {
		n += c
	}
	return n
}

func (p phaseResult) percentile(q float64) string {
	if len(p.latencies) == 0 {
		return "-"
	}
	return p.latencies[int(q*float64(len(p.latencies)-1))].Round(10 * time.Microsecond).String()
}

// runPhase loads the server for d: conns connections of legitimate reads and flood connections of garbage
// tokens, each on its own keep-alive connection. A flood connection paces itself to floodRate/flood requests
// a second when floodRate > 0.
func runPhase(r *reader, conns, flood int, floodRate float64, d time.Duration) phaseResult {
	res := phaseResult{legitStatus: map[int]int64{}, floodStatus: map[int]int64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	worker := func(w int, garbage bool) {
		defer wg.Done()
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
		defer client.CloseIdleConnections()
		rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
		token := r.token
		if garbage {
			token = "garbage"
		}
		var lat []time.Duration
		var ok, netErr int64
		status := map[int]int64{}
		var interval time.Duration
		if garbage && floodRate > 0 {
			interval = time.Duration(float64(flood) / floodRate * float64(time.Second))
		}
		for i := 0; time.Now().Before(deadline); i++ {
			if interval > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
			}
			t := time.Now()
			resp, err := client.Do(r.request(token, rng))
			if err != nil {
				netErr++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case garbage:
				status[resp.StatusCode]++
			case resp.StatusCode/100 == 2:
				ok++
				lat = append(lat, time.Since(t))
			default:
				status[resp.StatusCode]++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if garbage {
			res.floodNetErr += netErr
			for s, n := range status {
				res.floodStatus[s] += n
			}
			return
		}
		res.legitOK += ok
		res.legitNetErr += netErr
		res.latencies = append(res.latencies, lat...)
		for s, n := range status {
			res.legitStatus[s] += n
		}
	}
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go worker(w, false)
	}
	for w := 0; w < flood; w++ {
		wg.Add(1)
		go worker(conns+w, true)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

// trailMark is the trail's size at one moment.
type trailMark struct {
	seq                 int64 // the X-Audit-Seq of a probe read: the number of entries, the probe's own included
	hasAuditDir         bool
	auditBytes, dbBytes int64
	server              vaultproc.ProcStats // the server's RSS and CPU time
	loadCPU             time.Duration       // this process's CPU time (the load generator)
	machineBusy         time.Duration       // CPU time of the whole machine, not idle (/proc/stat)
}

// mark reads the trail's size: a probe read's X-Audit-Seq, and the bytes on disk.
func mark(r *reader, srv *vaultproc.Server, dataDir string) (trailMark, error) {
	resp, err := http.DefaultClient.Do(r.request(r.token, rand.New(rand.NewPCG(1, 1))))
	if err != nil {
		return trailMark{}, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	seq, err := strconv.ParseInt(resp.Header.Get("X-Audit-Seq"), 10, 64)
	if resp.StatusCode != http.StatusOK || err != nil {
		return trailMark{}, fmt.Errorf("probe read: status %d, X-Audit-Seq %q", resp.StatusCode, resp.Header.Get("X-Audit-Seq"))
	}
	m := trailMark{seq: seq, auditBytes: vaultproc.DirBytes(filepath.Join(dataDir, "audit")),
		dbBytes: vaultproc.FileBytes(dataDir, "vault.db", "vault.db-wal")}
	_, statErr := os.Stat(filepath.Join(dataDir, "audit"))
	m.hasAuditDir = statErr == nil
	m.server, _ = srv.Stats()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.loadCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	m.machineBusy = vaultproc.MachineBusy()
	return m, nil
}

func statusList(m map[int]int64, netErr int64) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", s, m[s]))
	}
	if netErr > 0 {
		parts = append(parts, fmt.Sprintf("net-err×%d", netErr))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
