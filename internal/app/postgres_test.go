package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
