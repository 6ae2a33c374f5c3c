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

// vaultd backup --db postgres://… beside a running node writes an archive of the database's dump and the
// key files; vaultd restore --db puts it into an empty database, and the restored trail verifies with the
// restored data dir's key, holding every entry the archive's snapshot held.
func TestBackupAndRestoreCommandsOnPostgres(t *testing.T) {
	src, dst := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	root := t.TempDir()
	dir, restored, key, file := filepath.Join(root, "data"), filepath.Join(root, "restored"), filepath.Join(root, "backup.key"), filepath.Join(root, "vault.backup")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"backup", "keygen", "--out", key}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	recipient := regexp.MustCompile(`recipient: (age1\S+)`).FindStringSubmatch(out.String())
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "12", "--data-dir", dir, "--addr", "127.0.0.1:0"}, env(map[string]string{"VAULT_DB": src}), stdout, stderr)
	}()
	waitFor(t, stderr, regexp.MustCompile(`serving on (http)`))
	out.Reset()
	err := run(context.Background(), []string{"backup", "--db", src, "--data-dir", dir, "--out", file, "--recipient", recipient[1]}, env(nil), &out, io.Discard)
	cancel()
	if derr := <-done; derr != nil {
		t.Fatalf("demo: %v\n%s", derr, stderr.String())
	}
	if err != nil || !strings.Contains(out.String(), "PostgreSQL database taken in one snapshot") {
		t.Fatalf("backup beside a node: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"restore", "--from", file, "--identity", key, "--data-dir", restored, "--db", dst, "--without-ledger"}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`audit trail: \d+ entries verified`).MatchString(out.String()) {
		t.Fatalf("restore output:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "verify", "--db", dst, "--data-dir", restored}, env(nil), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("verify the restored database: %v\n%s", err, out.String())
	}
	// Restoring again into the now restored database is refused.
	out.Reset()
	err = run(context.Background(), []string{"restore", "--from", file, "--identity", key, "--data-dir", filepath.Join(root, "again"), "--db", dst, "--without-ledger"}, env(nil), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a restore into a database that is not empty: %v", err)
	}
}
