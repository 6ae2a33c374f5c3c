package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
)

// TestWitness runs vaultd audit witness against a live vault: the first run pins the key and keeps the
// checkpoint, a later run proves the grown log consistent with it, and a kept checkpoint of a different
// history (signed with the log's own key, as a log forking its history would) is reported inconsistent.
func TestWitness(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	admin := s.Token("root", "admin")
	grow := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			s.CreateSubject(map[string]any{"name": fmt.Sprintf("丙%d", i)})
		}
		time.Sleep(100 * time.Millisecond) // a checkpoint covers them within the interval
	}
	grow(20)
	cp := s.Do("GET", "/v1/audit/checkpoint", admin, "", nil)
	pub, _ := cp.JSON["public_key"].(string)
	if pub == "" {
		t.Fatalf("checkpoint: %d %s", cp.Status, cp.Body)
	}
	state := filepath.Join(t.TempDir(), "witness.json")
	tokenFile := filepath.Join(t.TempDir(), "witness.token")
	if err := os.WriteFile(tokenFile, []byte(s.Token("w", "witness")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	witnessWith := func(auth []string, extra ...string) (string, error) {
		var out bytes.Buffer
		args := append(append([]string{"audit", "witness", "--url", s.Server.URL, "--state", state}, auth...), extra...)
		err := run(context.Background(), args, env(nil), &out, io.Discard)
		return out.String(), err
	}
	witness := func(extra ...string) (string, error) {
		return witnessWith([]string{"--token-file", tokenFile}, extra...)
	}
	if _, err := witnessWith(nil, "--pubkey", pub); exitCode(err) != 2 || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("without a token: %v, want exit 2 saying how to pass one", err)
	}
	if out, err := witnessWith([]string{"--token", s.Token("w", "witness")}, "--pubkey", pub); err != nil || !strings.HasPrefix(out, "consistent: size ") {
		t.Fatalf("with --token: %q %v", out, err)
	}
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if _, err := witness(); exitCode(err) != 2 {
		t.Fatalf("first run without --pubkey: %v, want exit 2", err)
	}
	if out, err := witness("--pubkey", pub); err != nil || !strings.HasPrefix(out, "consistent: size ") {
		t.Fatalf("first run: %q %v", out, err)
	}
	grow(300)
	if out, err := witness(); err != nil || !strings.HasPrefix(out, "consistent: size ") {
		t.Fatalf("after growth: %q %v", out, err)
	}
	// Keep a checkpoint of another history at a size the log has passed: a fork.
	var st witnessState
	raw, _ := os.ReadFile(state)
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	forged, err := s.App.Auditor.Sign(50, tlog.Hash{7})
	if err != nil {
		t.Fatal(err)
	}
	st.Checkpoint = string(forged)
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(state, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = witness()
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "checkpoint kept at size 50") {
		t.Fatalf("forked history: %v, want exit 1 naming size 50", err)
	}
	// It also names where the log parts from what it saw (API.md: "with the first differing size"): after
	// the tree of its first run, which the log still extends, and by size 50.
	if first := st.Seen[0].Size; first >= 50 || !strings.Contains(err.Error(), fmt.Sprintf("first differing size: %d to 50", first+1)) {
		t.Fatalf("forked history: %v, want the first differing size after %d", err, first)
	}
	// A key that is not the log's: the checkpoint does not verify.
	if _, err := witness("--pubkey", "other+00000000+AXKU0fdj7iT2TSxYbvl5LBmd4/PGUCjGAZdyzTA9GS1b"); exitCode(err) != 2 {
		t.Fatalf("another pinned key: %v, want exit 2", err)
	}
}

func exitCode(err error) int {
	var ex exitError
	if errors.As(err, &ex) {
		return ex.code
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestAuditVerifyWithPinnedKey checks the trail offline against a pinned verifier key: the log's own key
// passes and says it was pinned; without --pubkey the output says the host's key was trusted; another key
// fails at the first checkpoint.
func TestAuditVerifyWithPinnedKey(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	for i := 0; i < 12; i++ {
		s.CreateSubject(map[string]any{"name": fmt.Sprintf("戊%d", i)})
	}
	pub := s.Do("GET", "/v1/audit/checkpoint", s.Token("root", "admin"), "", nil).JSON["public_key"].(string)
	verify := func(extra ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"audit", "verify", "--data-dir", s.Dir}, extra...), env(nil), &out, io.Discard)
		return out.String(), err
	}
	if out, err := verify("--pubkey", pub); err != nil || !strings.Contains(out, "key: pinned") {
		t.Fatalf("pinned: %q %v", out, err)
	}
	keyFile := filepath.Join(t.TempDir(), "pub")
	if err := os.WriteFile(keyFile, []byte(pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("--pubkey", keyFile); err != nil || !strings.Contains(out, "key: pinned") {
		t.Fatalf("pinned from a file: %q %v", out, err)
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "trusted the host's own key") {
		t.Fatalf("host key: %q %v", out, err)
	}
	// A key of the same name that is not the log's: the first checkpoint does not verify.
	_, other, err := audit.GenerateSignerKey(strings.SplitN(pub, "+", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verify("--pubkey", other); exitCode(err) != 1 || !strings.Contains(out, "first bad seq") {
		t.Fatalf("another key: %q %v, want exit 1 with the first bad seq", out, err)
	}
}

// TestAuditReindex edits a review index column by hand: verify reports the row, reindex rebuilds the index
// from the entries, and verify passes again.
func TestAuditReindex(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	for i := 0; i < 8; i++ {
		s.CreateSubject(map[string]any{"name": fmt.Sprintf("己%d", i)})
	}
	s.RestartWith(func(dir string) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "vault.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE audit_index SET decision = 'deny', purpose = 'marketing' WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		var out bytes.Buffer
		err = run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &out, io.Discard)
		if exitCode(err) != 1 || !strings.Contains(out.String(), "first bad seq: 3") {
			t.Fatalf("verify after the edit: %q %v", out.String(), err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"audit", "reindex", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil ||
			!strings.Contains(out.String(), "corrected: 1\n") {
			t.Fatalf("reindex: %q %v", out.String(), err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil {
			t.Fatalf("verify after reindex: %q %v", out.String(), err)
		}
		// On a log cut short under its checkpoint, reindex changes nothing: the index rows of the lost
		// entries are the last trace of them.
		segs, _ := filepath.Glob(filepath.Join(dir, "audit", "segments", "*.log"))
		raw, err := os.ReadFile(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		used := len(bytes.TrimRight(raw, "\x00")) // the frames; the zero fill ahead of them runs on
		if err := os.WriteFile(segs[0], raw[:used/2], 0o600); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		err = run(context.Background(), []string{"audit", "reindex", "--data-dir", dir}, env(nil), &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "the audit log is damaged") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("reindex on a damaged log: %q %v", out.String(), err)
		}
		os.WriteFile(segs[0], raw, 0o600) // restored, for the restart
	})
	// While a server holds the data dir, reindex refuses.
	if err := run(context.Background(), []string{"audit", "reindex", "--data-dir", s.Dir}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("reindex beside a running server")
	}
}
