package app_test

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// keyFiles are the files of a data dir that every node of one database must share.
var keyFiles = []string{datadir.KEKFile, datadir.JWTKeyFile, datadir.AuditKeyFile, datadir.AuditKeyFile + ".pub"}

// copyKeys makes a new data dir holding src's key files.
func copyKeys(t *testing.T, src string, names ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// --db postgres://… opens the vault on PostgreSQL: the first node creates the keys and records their
// fingerprints; another node starts only with the same key files, and then serves what the first wrote.
func TestServesFromPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a := apptest.Start(t, func(c *app.Config) { c.DB = dsn })
	if a.App.Internals().Postgres == nil {
		t.Fatal("the app did not open the PostgreSQL store")
	}
	if _, err := os.Stat(filepath.Join(a.Dir, datadir.DatabaseFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a SQLite database was created beside PostgreSQL: %v", err)
	}
	id := a.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000001"})

	open := func(dir string) (*app.App, error) {
		return app.Open(context.Background(), app.Config{DataDir: dir, DB: dsn})
	}
	// A node with no key files creates none: the database's nodes already use a ring.
	if b, err := open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "key ring") || !strings.Contains(err.Error(), "copy theirs") {
		if b != nil {
			b.Close()
		}
		t.Fatalf("a node without the key files: %v", err)
	}
	// A node with a ring of its own is refused (it would wrap DEKs the others cannot unwrap).
	own := copyKeys(t, a.Dir, datadir.JWTKeyFile, datadir.AuditKeyFile, datadir.AuditKeyFile+".pub")
	if _, _, err := keys.LoadOrCreateRing(filepath.Join(own, datadir.KEKFile)); err != nil {
		t.Fatal(err)
	}
	if b, err := open(own); !errors.Is(err, postgres.ErrKeysDiffer) || !strings.Contains(err.Error(), "key ring") {
		if b != nil {
			b.Close()
		}
		t.Fatalf("a node with its own ring: %v", err)
	}
	// With the first node's key files, a second node serves what the first wrote.
	b := apptest.Start(t, func(c *app.Config) { c.DB, c.DataDir = dsn, copyKeys(t, a.Dir, keyFiles...) })
	r := b.Do("GET", "/v1/subjects/"+id+"?fields=name", b.Token("cs", "customer_service"), "customer_service", nil)
	if r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "韩梅梅" {
		t.Fatalf("node B reads node A's subject: %d %s", r.Status, r.Body)
	}
}

// A DSN's password never appears in the error of a failed start.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	_, err := app.Open(context.Background(), app.Config{DataDir: t.TempDir(), DB: "postgres://vault:s3cretPW@127.0.0.1:1/vault?connect_timeout=2"})
	if err == nil || strings.Contains(err.Error(), "s3cretPW") {
		t.Fatalf("open with an unreachable database: %v", err)
	}
}

// proxy forwards TCP connections to target until stopped; started again, it listens on the same address.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	addr := cmp.Or(p.addr, "127.0.0.1:0")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and every connection through it: the database is out of reach.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// With PostgreSQL out of reach, reads and changes answer 503 unavailable — nothing was released, and a
// retry or another node may serve — not 500 internal (reads did, while commits said 503); once it is back,
// the node serves again without a restart.
func TestAnUnreachableDatabaseAnswersUnavailable(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host}
	p.start(t)
	u.Host = p.addr
	s := apptest.Start(t, func(c *app.Config) { c.DB = u.String() })
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000003"})
	cs := s.Token("cs", "customer_service")
	calls := []func() apptest.Response{
		func() apptest.Response {
			return s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
		},
		func() apptest.Response {
			return s.Do("POST", "/v1/subjects/lookup", cs, "customer_service", map[string]any{"field": "phone", "value": "+8613500000003"})
		},
		func() apptest.Response {
			return s.Do("PATCH", "/v1/subjects/"+id, s.Token("st", "data_steward"), "account_management", map[string]any{"fields": map[string]any{"city": "杭州"}})
		},
	}
	for i, call := range calls {
		if r := call(); r.Status != 200 {
			t.Fatalf("call %d before: %d %s", i, r.Status, r.Body)
		}
	}
	p.stop()
	for i, call := range calls {
		if r := call(); r.Status != 503 || r.ErrorCode() != "unavailable" {
			t.Errorf("call %d with the database out of reach: %d %s", i, r.Status, r.Body)
		}
	}
	p.start(t)
	deadline := time.Now().Add(15 * time.Second)
	for calls[0]().Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the node does not serve again once the database is back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
