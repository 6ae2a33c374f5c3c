// Command load measures the audited, purpose-checked, decrypting GET /v1/subjects/{id} against a bare Gin
// JSON handler on the same machine in the same run, with the same number of keep-alive connections, and
// reports both throughputs and their ratio.
//
//	go run ./bench/load -duration 10s -conns 64 -subjects 1000
//
// Both servers listen on 127.0.0.1 in this process; the load comes from goroutines of the same process,
// so client cost is identical for both and the ratio is what to compare. Nothing leaves the loopback.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/bench/bare"
	"github.com/profilevault/profilevault/bench/internal/inproc"
	"github.com/profilevault/profilevault/internal/app"
)

var profilePath, blockPath string

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long each target is loaded")
	conns := flag.Int("conns", 64, "concurrent keep-alive connections")
	subjects := flag.Int("subjects", 1000, "subjects seeded into the vault")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the vault measurement to this file")
	blockProfile := flag.String("blockprofile", "", "write block and mutex profiles of the vault measurement to this file (.block, .mutex)")
	flag.Parse()
	profilePath, blockPath = *cpuProfile, *blockProfile
	if err := run(*duration, *warmup, *conns, *subjects); err != nil {
		log.Fatal(err)
	}
}

func run(duration, warmup time.Duration, conns, n int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vault-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a, err := app.Open(ctx, app.Config{DataDir: dir})
	if err != nil {
		return err
	}
	defer a.Close()
	ids, err := inproc.Seed(ctx, a, n, 32)
	if err != nil {
		return err
	}
	token, err := a.Mint("load-agent", []string{"customer_service"}, "load", time.Hour)
	if err != nil {
		return err
	}
	vaultURL, stopVault, err := inproc.Listen(a.HTTP)
	if err != nil {
		return err
	}
	defer stopVault()
	bareURL, stopBare, err := inproc.Listen(bare.Handler())
	if err != nil {
		return err
	}
	defer stopBare()

	fmt.Printf("GOMAXPROCS=%d conns=%d duration=%s subjects=%d (server and load generator share the machine)\n\n",
		runtime.GOMAXPROCS(0), conns, duration, n)
	bare := measure(bareURL+"/v1/subjects/", "", ids, conns, warmup, duration)
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if blockPath != "" {
		runtime.SetBlockProfileRate(10_000) // one sample per 10 µs blocked
		runtime.SetMutexProfileFraction(10)
	}
	full := measure(vaultURL+"/v1/subjects/", token, ids, conns, warmup, duration)
	pprof.StopCPUProfile()
	if blockPath != "" {
		for _, name := range []string{"block", "mutex"} {
			f, err := os.Create(blockPath + "." + name)
			if err != nil {
				return err
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				return err
			}
			f.Close()
		}
	}
	fmt.Printf("%-34s %10s %9s %9s %9s %7s\n", "target", "req/s", "p50", "p99", "max", "errors")
	for _, r := range []result{bare, full} {
		fmt.Printf("%-34s %10.0f %9s %9s %9s %7d\n", r.name, r.rps, r.p50, r.p99, r.max, r.errors)
	}
	fmt.Printf("\nratio vault/bare = %.1f%%\n", 100*full.rps/bare.rps)
	st := a.Stats()
	fmt.Printf("audit: %d entries in %d group commits (%.1f entries/commit)\n",
		st.Ops.Load(), st.Batches.Load(), float64(st.Ops.Load())/float64(max(1, st.Batches.Load())))
	return nil
}

type result struct {
	name          string
	rps           float64
	p50, p99, max time.Duration
	errors        int64
}

// measure loads base+id with conns goroutines, each on its own keep-alive connection.
func measure(base, token string, ids []string, conns int, warmup, duration time.Duration) result {
	name := "bare gin JSON handler"
	if token != "" {
		name = "vault GET /v1/subjects/{id}"
	}
	run := func(d time.Duration, record bool) ([]time.Duration, int64, int64) {
		var mu sync.Mutex
		var all []time.Duration
		var ok, bad atomic.Int64
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for c := 0; c < conns; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
				rng := rand.New(rand.NewPCG(uint64(c), 99))
				var local []time.Duration
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest("GET", base+ids[rng.IntN(len(ids))], nil)
					if token != "" {
						req.Header.Set("Authorization", "Bearer "+token)
					}
					req.Header.Set("X-Purpose", "customer_service")
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						bad.Add(1)
						continue
					}
					var v struct {
						Fields map[string]string `json:"fields"`
					}
					err = json.NewDecoder(resp.Body).Decode(&v)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || len(v.Fields) == 0 {
						bad.Add(1)
						continue
					}
					ok.Add(1)
					if record {
						local = append(local, time.Since(start))
					}
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}(c)
		}
		wg.Wait()
		return all, ok.Load(), bad.Load()
	}
	run(warmup, false)
	lat, ok, bad := run(duration, true)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	return result{name: name, rps: float64(ok) / duration.Seconds(), p50: pct(0.5), p99: pct(0.99), max: pct(1), errors: bad}
}
