package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// twoNodes starts two vaults on one fresh PostgreSQL database, each with its own data dir holding the same
// key files, as two vaultd nodes behind a load balancer.
func twoNodes(t *testing.T) (a, b *apptest.Stack) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	a = apptest.Start(t, func(c *app.Config) { c.DB = dsn })
	b = apptest.Start(t, func(c *app.Config) { c.DB, c.DataDir = dsn, copyKeys(t, a.Dir, keyFiles...) })
	return a, b
}

// A node uses a cached DEK only with the wrapped DEK its read has just fetched from the database, in the
// same statement as the subject's state: an erasure acknowledged through node A binds node B's very next
// read, although B still holds the subject's unwrapped DEK in its cache.
func TestErasureOnOneNodeBindsTheOthersNextRead(t *testing.T) {
	a, b := twoNodes(t)
	id := a.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000002"})
	cs := b.Token("cs", "customer_service")
	read := func() apptest.Response {
		return b.Do("GET", "/v1/subjects/"+id+"?fields=name,phone", cs, "customer_service", nil)
	}
	for range 2 { // a DEK enters the cache on its second use
		if r := read(); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "韩梅梅" {
			t.Fatalf("node B before the erasure: %d %s", r.Status, r.Body)
		}
	}
	cached := b.App.Internals().Crypto.CachedDEKs()
	if cached == 0 {
		t.Fatal("node B cached no DEK: the test would prove nothing")
	}
	if r := a.Do("DELETE", "/v1/subjects/"+id, a.Token("st", "data_steward"), "account_management", nil); r.Status != 200 {
		t.Fatalf("erase through node A: %d %s", r.Status, r.Body)
	}
	r := read()
	if r.Status == 200 || strings.Contains(string(r.Body), "韩梅梅") || strings.Contains(string(r.Body), "13500000002") {
		t.Fatalf("node B's next read after the erasure: %d %s", r.Status, r.Body)
	}
	if n := b.App.Internals().Crypto.CachedDEKs(); n != cached {
		t.Fatalf("node B's DEK cache changed (%d → %d): the database, not a local eviction, must be what binds it", cached, n)
	}
}

// served is a 2xx answer of the load: the request id it carries and the entry it names, if any.
type served struct {
	node, what string
	requestID  string
	seq        int64
}

// Two nodes on one database over HTTP on loopback: a withdrawal through one node binds the other's very
// next request (both ways, during load); mixed reads, updates, grants and withdrawals through both nodes
// all succeed; afterwards the one trail verifies through either node, and every 2xx answer has its entry
// (by request id, and at the seq it named).
func TestTwoNodesOverHTTP(t *testing.T) {
	a, b := twoNodes(t)
	nodes := map[string]*apptest.Stack{"A": a, "B": b}
	st, cs, mk := a.Token("st", "data_steward"), a.Token("cs", "customer_service"), a.Token("mk", "marketing")
	const subjects = 12
	ids := make([]string, subjects)
	for i := range ids {
		n := []*apptest.Stack{a, b}[i%2]
		ids[i] = n.CreateSubject(map[string]any{"name": fmt.Sprintf("韩梅梅%d", i), "phone": fmt.Sprintf("+86135%08d", i), "city": "襄阳", "birth_date": "1984-09-10"})
	}
	var mu sync.Mutex
	var ok []served
	var failures []string
	record := func(node, what string, r apptest.Response) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Status/100 != 2 {
			failures = append(failures, fmt.Sprintf("%s %s: %d %s", node, what, r.Status, r.Body))
			return false
		}
		s := served{node: node, what: what, requestID: r.Header.Get("X-Request-Id")}
		if h := r.Header.Get("X-Audit-Seq"); h != "" {
			s.seq, _ = strconv.ParseInt(h, 10, 64)
		}
		ok = append(ok, s)
		return true
	}
	marketingRead := func(n *apptest.Stack, id string) apptest.Response {
		return n.Do("GET", "/v1/subjects/"+id+"?fields=phone,city", mk, "marketing", nil)
	}
	grant := func(n *apptest.Stack, id string) apptest.Response {
		return n.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", map[string]any{"purpose": "marketing",
			"notice_version": "2026-01", "method": "app_checkbox", "kind": "general", "evidence": "form 2026-0042"})
	}
	withdraw := func(n *apptest.Stack, id string) apptest.Response {
		return n.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", st, "account_management", nil)
	}
	// The withdrawal check: subject id granted through one node, read for marketing through the other,
	// withdrawn through the first; the other's very next request sees nothing.
	bindsNext := func(from, to string, id string) {
		record(from, "grant", grant(nodes[from], id))
		if r := marketingRead(nodes[to], id); !record(to, "marketing read", r) || len(r.JSON["fields"].(map[string]any)) == 0 {
			t.Errorf("node %s before the withdrawal through %s: %d %s", to, from, r.Status, r.Body)
			return
		}
		record(from, "withdraw", withdraw(nodes[from], id))
		if r := marketingRead(nodes[to], id); !record(to, "marketing read", r) || len(r.JSON["fields"].(map[string]any)) != 0 {
			t.Errorf("node %s's next request after the withdrawal through %s: %d %s", to, from, r.Status, r.Body)
		}
	}
	bindsNext("A", "B", ids[0])
	for i, id := range ids[2:] { // so that a withdrawal under load always finds a consent that was granted
		record([]string{"A", "B"}[i%2], "grant", grant([]*apptest.Stack{a, b}[i%2], id))
	}

	// Mixed load through both nodes on the other subjects, with withdrawal checks running through it.
	var wg sync.WaitGroup
	for name, n := range nodes {
		for w := range 3 {
			wg.Go(func() {
				for i := range 30 {
					id := ids[2+(w*7+i)%(subjects-2)]
					switch i % 5 {
					case 0:
						record(name, "read", n.Do("GET", "/v1/subjects/"+id+"?fields=name,phone", cs, "customer_service", nil))
					case 1:
						record(name, "update", n.Do("PATCH", "/v1/subjects/"+id, st, "account_management", map[string]any{"fields": map[string]any{"city": fmt.Sprintf("城%d", i)}}))
					case 2:
						record(name, "grant", grant(n, id))
					case 3:
						record(name, "marketing read", marketingRead(n, id))
					case 4:
						record(name, "withdraw", withdraw(n, id))
					}
				}
			})
		}
	}
	wg.Go(func() {
		for range 3 {
			bindsNext("B", "A", ids[1])
			bindsNext("A", "B", ids[1])
		}
	})
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(failures), failures[0])
	}

	// The one trail verifies through either node and covers everything.
	co := b.Token("co", "compliance_officer")
	for name, n := range nodes {
		r := n.Do("GET", "/v1/audit/verify", co, "", nil)
		if r.Status != 200 || r.JSON["ok"] != true || r.JSON["indexed"] != r.JSON["entries"] || r.JSON["entries"].(float64) < float64(len(ok)) {
			t.Fatalf("verify through node %s: %d %s (%d answers served)", name, r.Status, r.Body, len(ok))
		}
	}
	// Every 2xx has its entry: its request id is in the trail, at the seq it named.
	trail := a.App.Internals().Postgres.Trail()
	byRequest, entries := map[string][]int64{}, 0
	if err := trail.Export(t.Context(), time.Time{}, time.Time{}, func(seq int64, canon []byte) error {
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			return err
		}
		byRequest[e.RequestID] = append(byRequest[e.RequestID], seq)
		entries++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, s := range ok {
		seqs := byRequest[s.requestID]
		if s.requestID == "" || len(seqs) == 0 {
			t.Errorf("node %s %s (request %q) answered 2xx with no entry", s.node, s.what, s.requestID)
			continue
		}
		if s.seq != 0 {
			named++
			if !slices.Contains(seqs, s.seq) {
				t.Errorf("node %s %s named entry %d, but its request's entries are %v", s.node, s.what, s.seq, seqs)
			}
		}
	}
	t.Logf("%d answers served through two nodes, %d naming their entry; %d entries in the trail", len(ok), named, entries)
}

// A policy reload through one node reaches the other by its notification: node B, whose own policy files
// did not change, enforces the version node A put in force (LISTEN/NOTIFY, WatchPolicy). Each node has its
// own policy dir, so B can have it only from the database, and B's periodic check is pushed out to a
// minute, so only the notification can bring it in the time allowed. The time it took is logged (tens of
// milliseconds here; a bound of a second failed once under -race on a loaded machine, so the bound is
// generous: timing is a benchmark's business, delivery the test's).
func TestPolicyReloadReachesEveryNode(t *testing.T) {
	app.SetPolicyCheckInterval(t, time.Minute)
	dsn := pgtest.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := apptest.Start(t, func(c *app.Config) { c.DB, c.PolicyDir = dsn, dirA })
	b := apptest.Start(t, func(c *app.Config) { c.DB, c.DataDir, c.PolicyDir = dsn, copyKeys(t, a.Dir, keyFiles...), dirB })
	id := a.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000003"})
	cs := b.Token("cs", "customer_service")
	phone := func(n *apptest.Stack) bool {
		r := n.Do("GET", "/v1/subjects/"+id+"?fields=name,phone", cs, "customer_service", nil)
		if r.Status != 200 {
			t.Fatalf("read: %d %s", r.Status, r.Body)
		}
		_, ok := r.JSON["fields"].(map[string]any)["phone"]
		return ok
	}
	if !phone(a) || !phone(b) {
		t.Fatal("customer service does not read the phone before the reload: the test would prove nothing")
	}
	// Node A's files now deny customer service the contact category; reload through A.
	csv := string(policies.Embedded("policy.csv")) + "\np, customer_service, customer_service, contact, read, deny, -\n"
	if err := os.WriteFile(filepath.Join(dirA, "policy.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	r := a.Do("POST", "/v1/policies/reload", a.Token("root", "admin"), "", nil)
	if r.Status != 200 {
		t.Fatalf("reload through A: %d %s", r.Status, r.Body)
	}
	reloaded := time.Now()
	if phone(a) {
		t.Fatal("node A still grants the phone after its reload")
	}
	for phone(b) {
		if time.Since(reloaded) > 15*time.Second {
			t.Fatal("node B still grants the phone 15 s after the reload through node A: the notification did not carry it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("node B enforced the reloaded policy %s after it was put in force", time.Since(reloaded).Round(time.Millisecond))
	if got, want := b.App.Vault.Policy().Hash(), r.JSON["hash"]; got != want {
		t.Fatalf("node B's policy is %s, the reload put %s in force", got, want)
	}
}

// A token revoked through one node is refused by the other at once: each node checks revocations from
// memory, and node B loaded them only at its start, so a token revoked through node A kept working on B
// until B restarted. B's periodic check is pushed out to a minute, so only the notification can carry it in
// the time allowed; the time it took is logged.
func TestTokenRevocationReachesEveryNode(t *testing.T) {
	app.SetPolicyCheckInterval(t, time.Minute)
	dsn := pgtest.NewDatabase(t)
	a := apptest.Start(t, func(c *app.Config) { c.DB = dsn })
	b := apptest.Start(t, func(c *app.Config) { c.DB, c.DataDir = dsn, copyKeys(t, a.Dir, keyFiles...) })
	id := a.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000003"})
	leaver := b.Token("agent-leaving", "customer_service")
	read := func(n *apptest.Stack) int {
		return n.Do("GET", "/v1/subjects/"+id+"?fields=name", leaver, "customer_service", nil).Status
	}
	if read(a) != 200 || read(b) != 200 {
		t.Fatal("the token does not read before the revocation: the test would prove nothing")
	}
	time.Sleep(time.Second) // a revocation by subject covers tokens issued up to its second
	if r := a.Do("POST", "/v1/tokens/revoke", a.Token("root", "admin"), "", map[string]any{"sub": "agent-leaving"}); r.Status != 200 {
		t.Fatalf("revoke through A: %d %s", r.Status, r.Body)
	}
	revoked := time.Now()
	if read(a) != 401 {
		t.Fatal("node A still takes the token it revoked")
	}
	for read(b) != 401 {
		if time.Since(revoked) > 15*time.Second {
			t.Fatal("node B still takes the token 15 s after node A revoked it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("node B refused the revoked token %s after the revocation", time.Since(revoked).Round(time.Millisecond))
}

// Key rotation with two nodes on one PostgreSQL database sharing one ring file (--kek-file): one node at a
// time rotates (the lease row: the other's request is refused, audited, while the first holds it); after
// the rotation, which rewraps every DEK under the new KEK version and retires the old one, the other node
// reads every subject and wraps new DEKs under the new version — it picked the version up from the file.
func TestKeyRotationAcrossNodes(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	kek := filepath.Join(t.TempDir(), "kek.json")
	a := apptest.Start(t, func(c *app.Config) { c.DB, c.KEKFile = dsn, kek })
	b := apptest.Start(t, func(c *app.Config) {
		c.DB, c.KEKFile, c.DataDir = dsn, kek, copyKeys(t, a.Dir, datadir.JWTKeyFile, datadir.AuditKeyFile, datadir.AuditKeyFile+".pub")
	})
	var ids []string
	for i := range 6 {
		ids = append(ids, []*apptest.Stack{a, b}[i%2].CreateSubject(map[string]any{"name": fmt.Sprintf("韩梅梅%d", i), "phone": fmt.Sprintf("+86135%08d", i)}))
	}
	job, err := a.App.Vault.Keys().StartRotation(t.Context(), app.SystemAccess("rotate-a"))
	if err != nil {
		t.Fatal(err)
	}
	root := b.Token("root", "admin")
	if r := b.Do("POST", "/v1/keys/rotate", root, "", nil); r.Status != 409 || !strings.Contains(string(r.Body), "rotation") || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("node B's rotation while A holds the lease: %d %s", r.Status, r.Body)
	}
	res, err := job.Run(t.Context(), vault.RunOptions{})
	if err != nil || res.NewVersion != 2 || !slices.Equal(res.Retired, []uint32{1}) {
		t.Fatalf("node A's rotation: %+v %v", res, err)
	}
	cs := b.Token("cs", "customer_service")
	for i, id := range ids {
		if r := b.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != fmt.Sprintf("韩梅梅%d", i) {
			t.Fatalf("node B reads a subject after A's rotation: %d %s", r.Status, r.Body)
		}
	}
	b.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613500000099"}) // v1 is retired: only a v2 DEK is accepted
	if v := b.App.Internals().Ring.ActiveVersion(); v != 2 {
		t.Fatalf("node B's active KEK version: %d", v)
	}
}

// A node with a copy of the ring file (not the shared file) cannot follow a rotation made through another
// node: its reads of the rewrapped DEKs are answered 503 unavailable — the data is intact and the other
// node serves it — and it serves them again once the rotated ring file is copied to it (a node re-reads
// its ring file when a DEK names a version it lacks).
func TestACopiedRingAnswersUnavailableAfterARotationElsewhere(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a := apptest.Start(t, func(c *app.Config) { c.DB = dsn })
	b := apptest.Start(t, func(c *app.Config) { c.DB, c.DataDir = dsn, copyKeys(t, a.Dir, keyFiles...) })
	id := a.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000008"})
	job, err := a.App.Vault.Keys().StartRotation(t.Context(), app.SystemAccess("rotate-a"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := job.Run(t.Context(), vault.RunOptions{}); err != nil || res.NewVersion != 2 {
		t.Fatalf("node A's rotation: %+v %v", res, err)
	}
	cs := b.Token("cs", "customer_service")
	r := b.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
	if r.Status != 503 || r.ErrorCode() != string(vault.CodeUnavailable) || strings.Contains(string(r.Body), "韩梅梅") {
		t.Fatalf("node B with a copy of the ring before the rotation: %d %s, want 503 unavailable", r.Status, r.Body)
	}
	// A new subject needs a DEK wrapped under the version in force, which node B's ring lacks: 503 too (the
	// database's refusal of a DEK under the retired version was answered 500 internal).
	st := b.Token("st", "data_steward")
	if r := b.Do("POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{"name": "李雷"}}); r.Status != 503 || r.ErrorCode() != string(vault.CodeUnavailable) {
		t.Fatalf("node B creating a subject with a ring behind: %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if r := a.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != 200 {
		t.Fatalf("node A after its rotation: %d %s", r.Status, r.Body)
	}
	rotated, err := os.ReadFile(a.App.KeyRingPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.App.KeyRingPath(), rotated, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := b.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "韩梅梅" {
		t.Fatalf("node B with the rotated ring file: %d %s", r.Status, r.Body)
	}
}
