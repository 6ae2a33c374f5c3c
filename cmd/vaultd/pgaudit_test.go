package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// vaultd audit verify|export --db postgres://… read the trail in the database beside a running node: the
// export holds every entry; an entry changed in the database makes verify exit 1 naming its seq.
func TestAuditCommandsOnPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "12", "--data-dir", dir, "--addr", "127.0.0.1:0"}, env(map[string]string{"VAULT_DB": dsn}), stdout, stderr)
	}()
	waitFor(t, stderr, regexp.MustCompile(`serving on (http)`))
	var out bytes.Buffer
	// Beside the running node, with the DSN from the environment as the node has it.
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(map[string]string{"VAULT_DB": dsn}), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("verify beside a node: %v\n%s", err, out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "verify", "--db", dsn, "--data-dir", dir}, env(nil), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	var entries int
	fmt.Sscanf(out.String(), "ok: %d entries", &entries)
	if entries < 12 {
		t.Fatalf("verify checked %d entries, want at least the 12 creations", entries)
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "export", "--db", dsn, "--format", "csv"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != entries+1 || !strings.HasPrefix(out.String(), "seq,ts,") {
		t.Fatalf("csv export: %d lines for %d entries\n%s", lines, entries, out.String())
	}
	// Change entry 7 in the database: verify exits 1 naming it.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{`ALTER TABLE audit_log_entries DISABLE TRIGGER audit_log_entries_append_only`,
		`UPDATE audit_log_entries SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'), '"action":"', '"action":"x'), 'UTF8') WHERE seq = 7`} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	err = run(context.Background(), []string{"audit", "verify", "--db", dsn, "--data-dir", dir}, env(nil), &out, io.Discard)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(out.String(), "first bad seq: 7") {
		t.Fatalf("tampered: %v\n%s", err, out.String())
	}
	// reindex has nothing to rebuild on PostgreSQL (the index row is written with its entry): it says so,
	// with the DSN from the environment as a node has it, and touches no data dir.
	err = run(context.Background(), []string{"audit", "reindex", "--data-dir", dir}, env(map[string]string{"VAULT_DB": dsn}), io.Discard, io.Discard)
	if !errors.As(err, &ex) || ex.code != 2 || !strings.Contains(ex.msg, "never behind") || strings.Contains(ex.msg, dsn) {
		t.Fatalf("reindex on PostgreSQL: %v", err)
	}
	// A DSN that does not parse is refused without echoing it.
	err = run(context.Background(), []string{"audit", "export", "--db", "postgres://vault:s3cret@[::1"}, env(nil), io.Discard, io.Discard)
	if !errors.As(err, &ex) || ex.code != 2 || strings.Contains(ex.msg, "s3cret") {
		t.Fatalf("bad DSN: %v", err)
	}
}
