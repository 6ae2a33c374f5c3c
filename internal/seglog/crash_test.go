package seglog

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
)

// TestCrashHelper is not a test: TestKillMidGroupLosesNoAcknowledgedEntry runs it in a child process,
// which appends from 64 goroutines and prints each acknowledged sequence number until it is killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("SEGLOG_CRASH_DIR")
	if dir == "" {
		t.Skip("child process of TestKillMidGroupLosesNoAcknowledgedEntry")
	}
	sk, _ := os.ReadFile(filepath.Join(dir, "skey"))
	vk, _ := os.ReadFile(filepath.Join(dir, "vkey"))
	s, err := audit.NewSigner(string(sk), string(vk))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(filepath.Join(dir, "log"), Options{Signer: s, SegmentSize: 256 << 10, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for w := range 64 {
		go func() {
			for i := w; ; i += 64 {
				seq, err := l.Append(context.Background(), entry(i), nil)
				if err != nil {
					return
				}
				mu.Lock()
				out.WriteString(strconv.FormatInt(seq, 10) + "\n")
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {} // until killed
}

// kill -9 while 64 writers append: every acknowledged entry is in the log after restart, the log verifies
// (a torn last frame was cut off), and it keeps going — three crashes in a row on the same log.
func TestKillMidGroupLosesNoAcknowledgedEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	sk, vk, err := audit.GenerateSignerKey("profile-vault.test/crash")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "skey"), []byte(sk), 0o600)
	os.WriteFile(filepath.Join(dir, "vkey"), []byte(vk), 0o600)
	s, err := audit.NewSigner(sk, vk)
	if err != nil {
		t.Fatal(err)
	}
	var acked int64
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), "SEGLOG_CRASH_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() && n < 3000 {
			line := strings.TrimSpace(sc.Text())
			seq, err := strconv.ParseInt(line, 10, 64)
			if err != nil {
				continue // test framework output
			}
			acked = max(acked, seq)
			n++
		}
		cmd.Process.Kill() // SIGKILL: no deferred code, no final checkpoint
		cmd.Wait()
		if n < 3000 {
			t.Fatalf("round %d: the child acknowledged only %d entries", round, n)
		}
		l, err := Open(filepath.Join(dir, "log"), Options{Signer: s})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if l.Size() < acked {
			t.Fatalf("round %d: %d entries acknowledged, %d in the log after the crash", round, acked, l.Size())
		}
		mustVerify(t, l, s.Verifier())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
