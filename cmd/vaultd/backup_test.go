package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The operator's path: keygen, a backup beside the running demo, an erasure after it, a restore that
// applies the ledger. The restored vault serves everyone but the erased person.
func TestBackupAndRestoreCommands(t *testing.T) {
	root := t.TempDir()
	dir, ledger, key, file := root+"/data", root+"/other-volume/erasures.ledger", root+"/backup.key", root+"/vault.backup"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"backup", "keygen", "--out", key}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	recipient := regexp.MustCompile(`recipient: (age1\S+)`).FindStringSubmatch(out.String())
	if recipient == nil {
		t.Fatalf("keygen printed no recipient:\n%s", out.String())
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", fi, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "20", "--data-dir", dir, "--erasure-ledger", ledger, "--addr", "127.0.0.1:0", "--ids-out", root + "/ids.txt"}, env(nil), stdout, stderr)
	}()
	addr := waitFor(t, stderr, regexp.MustCompile(`serving on http://([0-9.:]+)`))
	raw, err := os.ReadFile(root + "/ids.txt")
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(raw))
	steward := regexp.MustCompile(`DATA_STEWARD_TOKEN=(\S+)`).FindStringSubmatch(stdout.String())
	cs := regexp.MustCompile(`CUSTOMER_SERVICE_TOKEN=(\S+)`).FindStringSubmatch(stdout.String())
	if len(ids) < 2 || steward == nil || cs == nil {
		t.Fatalf("demo output lacks ids or tokens:\n%s", stdout.String())
	}
	victim, other := ids[0], ids[len(ids)-1]
	do := func(base, method, path, tok, purpose string) int {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Purpose", purpose)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	out.Reset()
	if err := run(context.Background(), []string{"backup", "--data-dir", dir, "--out", file, "--recipient", recipient[1]}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("backup beside a running server: %v", err)
	}
	if !strings.Contains(out.String(), "backup: "+file) {
		t.Fatalf("backup output:\n%s", out.String())
	}
	// 409: erased, with the transaction records a legal hold keeps (the demo's people have orders).
	if st := do("http://"+addr, "DELETE", "/v1/subjects/"+victim, steward[1], "account_management"); st != 200 && st != 409 {
		t.Fatalf("erase: %d", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	restored := root + "/restored"
	err = run(context.Background(), []string{"restore", "--from", file, "--identity", key, "--data-dir", restored}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "erasure ledger") {
		t.Fatalf("restore without a ledger: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"restore", "--from", file, "--identity", key, "--data-dir", restored, "--from-ledger", ledger}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), "erasures: 1 in the ledger, 1 applied again") || !strings.Contains(out.String(), "entries verified") {
		t.Fatalf("restore output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(restored, "erasures.ledger")); err != nil {
		t.Fatalf("the restored dir has no ledger of its own: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	stderr = newSyncBuf()
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", restored, "--addr", "127.0.0.1:0"}, env(nil), io.Discard, stderr)
	}()
	addr = waitFor(t, stderr, regexp.MustCompile(`serving on http://([0-9.:]+)`))
	if st := do("http://"+addr, "GET", "/v1/subjects/"+victim, cs[1], "customer_service"); st != 404 {
		t.Errorf("the erased person after restore: %d", st)
	}
	if st := do("http://"+addr, "GET", "/v1/subjects/"+other, cs[1], "customer_service"); st != 200 {
		t.Errorf("another person after restore: %d", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
