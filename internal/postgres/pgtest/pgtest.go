// Package pgtest gives tests a fresh PostgreSQL database on the server that VAULT_TEST_POSTGRES names (a
// postgres:// DSN; .ci/postgres.sh starts a throwaway one and prints it). Without it the tests skip — unless
// CI=true, where a missing server fails them, so CI cannot pass without running them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewDatabase creates an empty database for t, dropped when t ends, and returns its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("VAULT_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("VAULT_TEST_POSTGRES is not set: start a server with `eval \"$(bash .ci/postgres.sh start)\"`")
		}
		t.Skip("VAULT_TEST_POSTGRES is not set (eval \"$(bash .ci/postgres.sh start)\" starts a throwaway server)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to VAULT_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "vault_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("VAULT_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
