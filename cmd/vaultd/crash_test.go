package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	_ "modernc.org/sqlite"
)

// buildVaultd compiles the real binary once per test run.
func buildVaultd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vaultd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startVaultd runs the binary and waits until it serves; it returns the base URL and everything it printed
// on stdout so far.
func startVaultd(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *syncBuf) {
	t.Helper()
	return startVaultdCmd(t, exec.Command(bin, args...))
}

// startVaultdCmd is startVaultd for a command prepared by the caller (its environment, say).
func startVaultdCmd(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, string, *syncBuf) {
	t.Helper()
	stdout := newSyncBuf()
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`serving on (http://[0-9.:]+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a, stdout
	case <-time.After(90 * time.Second):
		t.Fatal("vaultd did not start serving")
	}
	return nil, "", nil
}

// TestKill9KeepsEveryAcknowledgedEntry loads the real binary with concurrent reads, kills it with SIGKILL,
// and checks that every request that got a 2xx has its durable audit entry and that the trail verifies.
func TestKill9KeepsEveryAcknowledgedEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildVaultd(t)
	dir := filepath.Join(t.TempDir(), "data")
	cmd, base, stdout := startVaultd(t, bin, "demo", "--data-dir", dir, "--subjects", "30", "--addr", "127.0.0.1:0", "--log-level", "warn")
	waitFor(t, stdout, regexp.MustCompile(`(curl)`))
	tok := regexp.MustCompile(`CUSTOMER_SERVICE_TOKEN=(\S+)`).FindStringSubmatch(stdout.String())
	id := regexp.MustCompile(`/v1/subjects/(sub_[a-z0-9]+)`).FindStringSubmatch(stdout.String())
	if tok == nil || id == nil {
		t.Fatalf("demo output:\n%s", stdout.String())
	}
	type ack struct {
		reqID string
		seq   int64
	}
	var mu sync.Mutex
	var acks []ack
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rid := fmt.Sprintf("crash-%d-%d", w, i)
				req, _ := http.NewRequest("GET", base+"/v1/subjects/"+id[1], nil)
				req.Header.Set("Authorization", "Bearer "+tok[1])
				req.Header.Set("X-Purpose", "customer_service")
				req.Header.Set("X-Request-Id", rid)
				resp, err := client.Do(req)
				if err != nil {
					continue // the server is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					seq, err := strconv.ParseInt(resp.Header.Get("X-Audit-Seq"), 10, 64)
					if err != nil {
						t.Errorf("2xx without X-Audit-Seq")
						continue
					}
					mu.Lock()
					acks = append(acks, ack{resp.Header.Get("X-Vault-Request-Id"), seq}) // the trail keeps the vault's own id
					mu.Unlock()
					n.Add(1)
				}
			}
		}(w)
	}
	for n.Load() < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d acknowledged reads before kill -9", len(acks))

	// The trail verifies offline...
	out, err := exec.Command(bin, "audit", "verify", "--data-dir", dir).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok:") {
		t.Fatalf("audit verify after kill -9: %v\n%s", err, out)
	}
	// ...and every acknowledged read has its entry, with its request id.
	trail, err := app.OpenTrail(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	for _, a := range acks {
		entry, err := trail.Leaf(context.Background(), a.seq)
		if err != nil {
			t.Fatalf("acknowledged read %s (seq %d) has no entry: %v", a.reqID, a.seq, err)
		}
		if !strings.Contains(string(entry), `"request_id":"`+a.reqID+`"`) {
			t.Fatalf("entry %d is not request %s", a.seq, a.reqID)
		}
	}
	// The data dir is usable again: the lock died with the process.
	cmd2, base2, _ := startVaultd(t, bin, "serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-level", "warn")
	resp, err := http.Get(base2 + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("restarted server not ready: %v", err)
	}
	resp.Body.Close()
	cmd2.Process.Signal(syscall.SIGTERM)
	if err := cmd2.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	out, err = exec.Command(bin, "audit", "verify", "--data-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify after restart: %v\n%s", err, out)
	}
}
