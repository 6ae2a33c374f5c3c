package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// vaultd migrate moves a demo data dir into PostgreSQL and prints the per-table counts and the target's
// verification; run again it is refused (the target is not empty) and says the source is unchanged; after
// it, vaultd audit verify --db on the target prints the head the source had.
func TestMigrateCommand(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "12", "--data-dir", dir, "--addr", "127.0.0.1:0"}, env(nil), stdout, stderr)
	}()
	waitFor(t, stderr, regexp.MustCompile(`serving on (http)`))
	var busy bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--from", "sqlite:" + dir, "--to", dsn}, env(nil), &busy, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "in use by another vaultd") {
		t.Fatalf("migrate beside the server: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}
	var src bytes.Buffer
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &src, io.Discard); err != nil {
		t.Fatalf("verify the source: %v", err)
	}
	head := regexp.MustCompile(`head: ([0-9a-f]{64})`).FindStringSubmatch(src.String())

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--from", "sqlite:" + dir, "--to", dsn}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"subjects", "event_ids", "audit_log_entries", "verify (target): ok", "keys: not in the database", head[1]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, out.String())
		}
	}
	var tgt bytes.Buffer
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir, "--db", dsn}, env(nil), &tgt, io.Discard); err != nil ||
		!strings.Contains(tgt.String(), "head: "+head[1]) {
		t.Fatalf("verify the target: %v\n%s", err, tgt.String())
	}
	err := run(context.Background(), []string{"migrate", "--from", "sqlite:" + dir, "--to", dsn}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("a second migrate: %v", err)
	}
	if strings.Contains(err.Error(), dsn) {
		t.Errorf("the error shows the DSN")
	}
	if err := run(context.Background(), []string{"migrate", "--to", dsn}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("migrate without --from: %v", err)
	}
}
