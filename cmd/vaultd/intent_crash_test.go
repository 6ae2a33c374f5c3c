package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKillBetweenIntentAndCommit stops the real binary with SIGKILL at the worst moment of a change: its
// entry is durable in the audit log as a write-ahead intent, the database has not committed it. After a
// restart the change is not there, the trail says so with an audit.aborted entry naming the intent, and
// the trail verifies. (The binary is built with -tags failpoints; VAULTD_FAILPOINT=after-intent kills it
// there.)
func TestKillBetweenIntentAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "vaultd")
	if out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")
	serve := []string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-level", "warn"}
	token := func(role string) string {
		t.Helper()
		out, err := exec.Command(bin, "token", "--data-dir", dir, "--role", role, "--sub", role+"-1").Output()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	do := func(base, method, path, tok, purpose string, body any) (*http.Response, map[string]any, error) {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if purpose != "" {
			req.Header.Set("X-Purpose", purpose)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out, nil
	}

	// A subject, created normally.
	cmd, base, _ := startVaultd(t, bin, serve...)
	st := token("data_steward")
	resp, created, err := do(base, "POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{"name": "钱七", "city": "杭州"}})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, created)
	}
	id := created["id"].(string)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()

	// The change whose intent reaches the log and whose commit never happens.
	crash := exec.Command(bin, serve...)
	crash.Env = append(os.Environ(), "VAULTD_FAILPOINT=after-intent")
	cmd, base, _ = startVaultdCmd(t, crash)
	if resp, _, err := do(base, "PATCH", "/v1/subjects/"+id, st, "account_management", map[string]any{"fields": map[string]any{"city": "苏州"}}); err == nil {
		t.Fatalf("the change was answered (%d): the failpoint did not stop the process", resp.StatusCode)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the process ended with %v, want killed", err)
	}

	// After a restart: no change, and the trail says so.
	cmd, base, _ = startVaultd(t, bin, serve...)
	resp, view, err := do(base, "GET", "/v1/subjects/"+id+"?fields=city", st, "account_management", nil)
	if err != nil || resp.StatusCode != 200 || view["fields"].(map[string]any)["city"] != "杭州" {
		t.Fatalf("after the crash: %v %v, want the city unchanged", err, view)
	}
	co := token("compliance_officer")
	_, aborted, err := do(base, "GET", "/v1/audit/events?action=audit.aborted", co, "compliance_audit", nil)
	events, _ := aborted["events"].([]any)
	if err != nil || len(events) != 1 {
		t.Fatalf("aborted entries: %v %v", err, aborted)
	}
	reason := events[0].(map[string]any)["reason"].(string)
	_, updates, _ := do(base, "GET", "/v1/audit/events?action=subject.update&subject_id="+id, co, "compliance_audit", nil)
	intents, _ := updates["events"].([]any)
	if len(intents) != 1 {
		t.Fatalf("the intent entry: %v", updates)
	}
	intent := intents[0].(map[string]any)
	if intent["intent"] == nil || reason != "intent:"+jsonNumber(intent["seq"])+" not committed" {
		t.Fatalf("the aborted entry (%q) does not name the intent %v", reason, intent)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if out, err := exec.Command(bin, "audit", "verify", "--data-dir", dir).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ok:") {
		t.Fatalf("audit verify after the crash: %v\n%s", err, out)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
