// Command pgnodes measures audited reads — GET /v1/subjects/{id}, purpose-checked, decrypted, each with its
// durable audit entry — on the embedded SQLite store and on PostgreSQL with one and with two vaultd nodes,
// on the same machine in the same run, with the same subjects, connections and load generator.
//
//	go run ./bench/pgnodes -pg "$VAULT_TEST_POSTGRES" -duration 10s -conns 32 -subjects 1000
//
// -pg is a server DSN on which the command may create (and at the end drop) a database of its own. The
// nodes run in this process (each an app.App with its own data dir, pool and HTTP listener on 127.0.0.1,
// the second holding the first one's key files), as do the load goroutines; with two nodes the
// connections alternate between them, as a load balancer would. On one machine two nodes share its cores:
// the two-node number shows what the shared database and the one audit sequence cost, not scale-out.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/bench/internal/inproc"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/datadir"
)

func main() {
	pg := flag.String("pg", os.Getenv("VAULT_TEST_POSTGRES"), "PostgreSQL server DSN on which a bench database is created and dropped (VAULT_TEST_POSTGRES)")
	duration := flag.Duration("duration", 10*time.Second, "how long each configuration is loaded")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	conns := flag.Int("conns", 32, "concurrent keep-alive connections")
	subjects := flag.Int("subjects", 1000, "subjects seeded into each store")
	flag.Parse()
	if *pg == "" {
		log.Fatal("-pg (or VAULT_TEST_POSTGRES) is required: eval \"$(scripts/pg-up)\" starts a throwaway server")
	}
	if err := run(*pg, *duration, *warmup, *conns, *subjects); err != nil {
		log.Fatal(err)
	}
}

func run(admin string, duration, warmup time.Duration, conns, n int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "vault-pgnodes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dsn, drop, err := newDatabase(ctx, admin)
	if err != nil {
		return err
	}
	defer drop()
	fmt.Printf("GOMAXPROCS=%d NumCPU=%d conns=%d duration=%s subjects=%d (nodes, database and load generator share the machine)\n\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), conns, duration, n)
	fmt.Printf("%-40s %10s %9s %9s %7s\n", "configuration", "reads/s", "p50", "p99", "errors")
	report := func(name string, r result) {
		fmt.Printf("%-40s %10.0f %9s %9s %7d\n", name, r.rps, r.p50, r.p99, r.errors)
	}

	// SQLite: one node, its own data dir.
	sq, err := app.Open(ctx, app.Config{DataDir: filepath.Join(tmp, "sqlite")})
	if err != nil {
		return err
	}
	ids, err := inproc.Seed(ctx, sq, n, 16)
	if err != nil {
		return err
	}
	token, err := sq.Mint("load-agent", []string{"customer_service"}, "load", time.Hour)
	if err != nil {
		return err
	}
	u, stop, err := inproc.Listen(sq.HTTP)
	if err != nil {
		return err
	}
	report("SQLite, 1 node", measure([]string{u}, token, ids, conns, warmup, duration))
	stop()
	sq.Close()

	// PostgreSQL: node A alone, then A and B.
	dirA := filepath.Join(tmp, "A")
	a, err := app.Open(ctx, app.Config{DataDir: dirA, DB: dsn})
	if err != nil {
		return err
	}
	defer a.Close()
	if ids, err = inproc.Seed(ctx, a, n, 16); err != nil {
		return err
	}
	if token, err = a.Mint("load-agent", []string{"customer_service"}, "load", time.Hour); err != nil {
		return err
	}
	ua, stopA, err := inproc.Listen(a.HTTP)
	if err != nil {
		return err
	}
	defer stopA()
	report("PostgreSQL, 1 node", measure([]string{ua}, token, ids, conns, warmup, duration))
	dirB := filepath.Join(tmp, "B")
	if err := copyKeys(dirA, dirB); err != nil {
		return err
	}
	b, err := app.Open(ctx, app.Config{DataDir: dirB, DB: dsn})
	if err != nil {
		return err
	}
	defer b.Close()
	ub, stopB, err := inproc.Listen(b.HTTP)
	if err != nil {
		return err
	}
	defer stopB()
	report("PostgreSQL, 2 nodes (connections alternate)", measure([]string{ua, ub}, token, ids, conns, warmup, duration))
	return nil
}

// newDatabase creates a database of its own on the server admin names; drop drops it.
func newDatabase(ctx context.Context, admin string) (dsn string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to -pg: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "vault_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create bench database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("-pg does not parse as a URL")
	}
	u.Path = "/" + name
	return u.String(), func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}, nil
}

// copyKeys gives dst the key files of src (every node of one database holds the same keys).
func copyKeys(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, name := range []string{datadir.KEKFile, datadir.JWTKeyFile, datadir.AuditKeyFile, datadir.AuditKeyFile + ".pub"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

// measure loads the bases' GET /v1/subjects/{id} with conns goroutines, each on its own keep-alive
// connection to one base (connection c to bases[c % len(bases)]); a read counts when it is a 200 with
// fields and an X-Audit-Seq.
func measure(bases []string, token string, ids []string, conns int, warmup, duration time.Duration) result {
	load := func(d time.Duration) ([]time.Duration, int64, int64) {
		var mu sync.Mutex
		var all []time.Duration
		var ok, bad atomic.Int64
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for c := range conns {
			wg.Go(func() {
				base := bases[c%len(bases)] + "/v1/subjects/"
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
				rng := mrand.New(mrand.NewPCG(uint64(c), 99))
				var local []time.Duration
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest("GET", base+ids[rng.IntN(len(ids))], nil)
					req.Header.Set("Authorization", "Bearer "+token)
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
					if err != nil || resp.StatusCode != 200 || len(v.Fields) == 0 || resp.Header.Get("X-Audit-Seq") == "" {
						bad.Add(1)
						continue
					}
					ok.Add(1)
					local = append(local, time.Since(start))
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return all, ok.Load(), bad.Load()
	}
	load(warmup)
	lat, ok, bad := load(duration)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(10 * time.Microsecond)
	}
	return result{rps: float64(ok) / duration.Seconds(), p50: pct(0.5), p99: pct(0.99), errors: bad}
}
