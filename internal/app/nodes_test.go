package app_test

import (
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
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
	if r := read(); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "韩梅梅" {
		t.Fatalf("node B before the erasure: %d %s", r.Status, r.Body)
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
