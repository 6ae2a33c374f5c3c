package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// pgNode is a vaultd serve process on a PostgreSQL database.
type pgNode struct {
	name string
	cmd  *exec.Cmd
	base string
	dir  string
}

// startPGNode runs `vaultd serve` on dsn with its own data dir; the DSN goes in VAULT_DB, not on the
// command line, as an operator would keep a password out of ps.
func startPGNode(t *testing.T, bin, name, dsn, dir string, env ...string) *pgNode {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = append(append(os.Environ(), "VAULT_DB="+dsn), env...)
	cmd, base, _ := startVaultdCmd(t, cmd)
	return &pgNode{name: name, cmd: cmd, base: base, dir: dir}
}

// copyKeyFiles makes dst a data dir holding src's key files (the second node of one database).
func copyKeyFiles(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{datadir.KEKFile, datadir.JWTKeyFile, datadir.AuditKeyFile, datadir.AuditKeyFile + ".pub"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// mintToken runs `vaultd token` on a data dir.
func mintToken(t *testing.T, bin, dir, role, sub string) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "--data-dir", dir, "--role", role, "--sub", sub).Output()
	if err != nil {
		t.Fatalf("vaultd token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// answer is one HTTP answer: status, the vault's request id, the entry it named, the body.
type answer struct {
	status    int
	requestID string
	seq       int64
	body      []byte
}

func call(client *http.Client, base, method, path, token, purpose string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if purpose != "" {
		req.Header.Set("X-Purpose", purpose)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, requestID: resp.Header.Get("X-Vault-Request-Id"), body: b}
	a.seq, _ = strconv.ParseInt(resp.Header.Get("X-Audit-Seq"), 10, 64)
	return a, nil
}

// leaseHolderPID reads which process holds the audit integrator's lease (app.nodeName puts the pid in it).
func leaseHolderPID(ctx context.Context, conn *pgx.Conn) (int, error) {
	var holder string
	var live bool
	if err := conn.QueryRow(ctx, "SELECT holder, expires_at > now() FROM audit_log_lease").Scan(&holder, &live); err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`-(\d+)-[0-9a-f]+$`).FindStringSubmatch(holder)
	if m == nil || !live {
		return 0, nil
	}
	return strconv.Atoi(m[1])
}

// Two vaultd processes on one PostgreSQL database under mixed load (reads, updates, creations through
// both); the one holding the audit integrator's lease is killed with SIGKILL mid-load and the load goes on
// through the other. Then: no acknowledged write is lost (every acknowledged creation is readable, every
// subject holds its last acknowledged update or a later attempted one), the lease moved and checkpoints
// went on past the log as it was at the kill, the trail verifies (over HTTP and offline with --db), and
// every 2xx answer has its entry, at the seq it named.
func TestLeaseHolderKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn := pgtest.NewDatabase(t)
	ctx := t.Context()
	bin := buildVaultd(t)
	dirA, dirB := filepath.Join(t.TempDir(), "A"), filepath.Join(t.TempDir(), "B")
	a := startPGNode(t, bin, "A", dsn, dirA)
	copyKeyFiles(t, dirA, dirB)
	b := startPGNode(t, bin, "B", dsn, dirB)
	nodes := []*pgNode{a, b}
	st, cs := mintToken(t, bin, dirA, "data_steward", "st-1"), mintToken(t, bin, dirA, "customer_service", "cs-1")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	client := &http.Client{Timeout: 10 * time.Second}
	create := func(base string, i int) (answer, error) {
		return call(client, base, "POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{
			"name": fmt.Sprintf("韩梅梅%d", i), "phone": fmt.Sprintf("+86135%08d", i), "city": "襄阳"}})
	}
	const workersPerNode = 4
	owned := make([]string, 2*workersPerNode) // each worker updates its own subject, so its updates are ordered
	for w := range owned {
		r, err := create(nodes[w%2].base, w)
		if err != nil || r.status != http.StatusCreated {
			t.Fatalf("create subject: %v %d %s", err, r.status, r.body)
		}
		var body struct{ ID string }
		json.Unmarshal(r.body, &body)
		owned[w] = body.ID
	}

	type ack struct {
		node, what, requestID string
		seq                   int64
	}
	var mu sync.Mutex
	var acks []ack
	var created []string                    // acknowledged creations
	updates := make([][]string, len(owned)) // values each worker attempted, in order
	lastAcked := make([]int, len(owned))    // index in updates of its last acknowledged one (-1: none)
	var served [2]atomic.Int64
	var dead atomic.Int32 // 1 + index of the killed node, 0 before the kill
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range owned {
		lastAcked[w] = -1
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := w % 2
				if d := int(dead.Load()); d != 0 && n == d-1 {
					n = 1 - n // the load balancer sends the dead node's share to the other
				}
				base := nodes[n].base
				var r answer
				var err error
				var what string
				switch i % 5 {
				case 0:
					what = "update"
					city := fmt.Sprintf("城%d-%d", w, i)
					mu.Lock()
					updates[w] = append(updates[w], city)
					mu.Unlock()
					r, err = call(client, base, "PATCH", "/v1/subjects/"+owned[w], st, "account_management", map[string]any{"fields": map[string]any{"city": city}})
					if err == nil && r.status/100 == 2 {
						mu.Lock()
						lastAcked[w] = len(updates[w]) - 1
						mu.Unlock()
					}
				case 1:
					what = "create"
					r, err = create(base, 1000+w*100000+i)
					if err == nil && r.status == http.StatusCreated {
						var body struct{ ID string }
						json.Unmarshal(r.body, &body)
						mu.Lock()
						created = append(created, body.ID)
						mu.Unlock()
					}
				default:
					what = "read"
					r, err = call(client, base, "GET", "/v1/subjects/"+owned[(w+i)%len(owned)]+"?fields=name,city", cs, "customer_service", nil)
				}
				if err != nil {
					continue // the node is gone (or the request was cut): not acknowledged
				}
				if r.status/100 != 2 {
					if d := int(dead.Load()); d == 0 || n != d-1 {
						t.Errorf("node %s %s: %d %s", nodes[n].name, what, r.status, r.body)
					}
					continue
				}
				mu.Lock()
				acks = append(acks, ack{nodes[n].name, what, r.requestID, r.seq})
				mu.Unlock()
				served[n].Add(1)
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// Mid-load: both nodes have served, then the lease holder dies.
	deadline := time.Now().Add(2 * time.Minute)
	for served[0].Load() < 150 || served[1].Load() < 150 {
		if time.Now().After(deadline) {
			t.Fatalf("load too slow: %d, %d answers", served[0].Load(), served[1].Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid, err := leaseHolderPID(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	victim := slices.IndexFunc(nodes, func(n *pgNode) bool { return n.cmd.Process.Pid == pid })
	if victim < 0 {
		t.Fatalf("the lease holder (pid %d) is neither node (%d, %d)", pid, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	survivor := nodes[1-victim]
	var headAtKill, cpAtKill int64
	if err := conn.QueryRow(ctx, "SELECT (SELECT size FROM audit_log_head), (SELECT coalesce(max(size), 0) FROM audit_log_checkpoints)").Scan(&headAtKill, &cpAtKill); err != nil {
		t.Fatal(err)
	}
	if err := nodes[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	dead.Store(int32(victim + 1))
	nodes[victim].cmd.Wait()
	before := served[1-victim].Load()
	mu.Lock()
	answered := len(acks) // the load goroutines append under mu
	mu.Unlock()
	t.Logf("killed node %s (the lease holder) at log size %d, checkpoint %d; %d answers so far", nodes[victim].name, headAtKill, cpAtKill, answered)

	// The load goes on through the survivor, which takes the lease over and checkpoints past the kill.
	var moved bool
	var cp int64
	for !moved || cp <= headAtKill || served[1-victim].Load() < before+300 {
		if time.Now().After(deadline) {
			t.Fatalf("after the kill: lease moved %v, latest checkpoint %d (log was %d at the kill), survivor served %d more",
				moved, cp, headAtKill, served[1-victim].Load()-before)
		}
		time.Sleep(50 * time.Millisecond)
		p, err := leaseHolderPID(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		moved = p == survivor.cmd.Process.Pid
		if err := conn.QueryRow(ctx, "SELECT coalesce(max(size), 0) FROM audit_log_checkpoints").Scan(&cp); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	// No acknowledged write lost.
	for _, id := range created {
		if r, err := call(client, survivor.base, "GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); err != nil || r.status != 200 {
			t.Fatalf("acknowledged creation %s: %v %d %s", id, err, r.status, r.body)
		}
	}
	for w, id := range owned {
		r, err := call(client, survivor.base, "GET", "/v1/subjects/"+id+"?fields=city", cs, "customer_service", nil)
		if err != nil || r.status != 200 {
			t.Fatalf("read %s: %v %d %s", id, err, r.status, r.body)
		}
		var body struct{ Fields map[string]any }
		json.Unmarshal(r.body, &body)
		if lastAcked[w] < 0 {
			continue
		}
		if city, _ := body.Fields["city"].(string); !slices.Contains(updates[w][lastAcked[w]:], city) {
			t.Errorf("subject of worker %d holds city %q; its last acknowledged update set %q", w, city, updates[w][lastAcked[w]])
		}
	}

	// The trail verifies, through the survivor and offline.
	co := mintToken(t, bin, dirA, "compliance_officer", "co-1")
	r, err := call(client, survivor.base, "GET", "/v1/audit/verify", co, "", nil)
	var rep struct {
		OK               bool
		Entries, Indexed int64
	}
	if err == nil {
		json.Unmarshal(r.body, &rep)
	}
	if err != nil || r.status != 200 || !rep.OK || rep.Indexed != rep.Entries || rep.Entries < int64(len(acks)) {
		t.Fatalf("verify through the survivor: %v %d %s (%d answers)", err, r.status, r.body, len(acks))
	}
	verify := exec.Command(bin, "audit", "verify", "--data-dir", dirB)
	verify.Env = append(os.Environ(), "VAULT_DB="+dsn)
	if out, err := verify.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ok:") {
		t.Fatalf("vaultd audit verify --db: %v\n%s", err, out)
	}

	// Every 2xx has its entry: its request id is in the trail, at the seq it named.
	trail, err := app.OpenTrailOn(ctx, dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	byRequest := map[string][]int64{}
	if err := trail.Export(ctx, time.Time{}, time.Time{}, func(seq int64, canon []byte) error {
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			return err
		}
		byRequest[e.RequestID] = append(byRequest[e.RequestID], seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, a := range acks {
		seqs := byRequest[a.requestID]
		if a.requestID == "" || len(seqs) == 0 {
			t.Fatalf("node %s %s (request %q) answered 2xx with no entry", a.node, a.what, a.requestID)
		}
		if a.seq != 0 {
			named++
			if !slices.Contains(seqs, a.seq) {
				t.Fatalf("node %s %s named entry %d, but its request's entries are %v", a.node, a.what, a.seq, seqs)
			}
		}
	}
	t.Logf("%d answers (%d naming their entry, %d creations), %d served by the survivor after the kill; checkpoint %d > log size %d at the kill",
		len(acks), named, len(created), served[1-victim].Load()-before, cp, headAtKill)
}
