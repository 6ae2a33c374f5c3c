package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/vault"
)

// The crash tests re-run this test binary as a child that rotates the keys of a data dir and kills itself
// with SIGKILL at a named step; TestMain turns the binary into that child.
const (
	envKillAt = "VAULTD_TEST_KILL_ROTATION_AT" // step[:n], e.g. batch:2 = after the second batch
	envDir    = "VAULTD_TEST_DATA_DIR"
)

func TestMain(m *testing.M) {
	if at := os.Getenv(envKillAt); at != "" {
		os.Exit(rotateAndDie(os.Getenv(envDir), at))
	}
	os.Exit(m.Run())
}

// rotateAndDie rotates the keys of dir in small batches and sends itself SIGKILL when step `at` has become
// durable. It returns only if the rotation ends first (a test failure).
func rotateAndDie(dir, at string) int {
	name, nth := at, 1
	if i := strings.IndexByte(at, ':'); i >= 0 {
		name = at[:i]
		nth, _ = strconv.Atoi(at[i+1:])
	}
	a, err := app.Open(context.Background(), app.Config{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	seen := 0
	_, err = a.Vault.Keys().RotateKeys(context.Background(), app.SystemAccess("crash-test"), vault.RunOptions{BatchSize: 4,
		Step: func(st vault.RotationStep) {
			if string(st) != name {
				return
			}
			if seen++; seen == nth {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}})
	fmt.Fprintln(os.Stderr, "child: the rotation ended before the kill:", err)
	return 3
}

// TestKill9AtEveryRotationStep kills a rotating process at each step — right after the new version is
// written, mid-rewrap, before and after retirement — and checks that after the restart every subject
// decrypts, `vaultd keys check` finds nothing missing, the interrupted rotation resumes (or, once done, a
// new one starts), and one more rotation completes.
func TestKill9AtEveryRotationStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, at := range []string{"started", "batch:2", "rewrapped", "retired"} {
		t.Run(at, func(t *testing.T) {
			s := apptest.Start(t)
			tok := s.Token("cs", "customer_service")
			names := map[string]string{}
			for i := 0; i < 18; i++ {
				name := fmt.Sprintf("林%d", i)
				names[s.CreateSubject(map[string]any{"name": name, "email": fmt.Sprintf("u%d@example.cn", i)})] = name
			}
			readAll := func(when string) {
				t.Helper()
				for id, name := range names {
					r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", tok, "customer_service", nil)
					if r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != name {
						t.Fatalf("%s: subject %s: %d %s", when, id, r.Status, r.Body)
					}
				}
			}
			s.RestartWith(func(dir string) {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envKillAt+"="+at, envDir+"="+dir)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child was not killed at %s: %v\n%s", at, err, stderr.String())
				}
				var out bytes.Buffer
				if err := run(context.Background(), []string{"keys", "check", "--data-dir", dir}, env(nil), &out, &stderr); err != nil {
					t.Fatalf("keys check after kill -9 at %s: %v\n%s%s", at, err, out.String(), stderr.String())
				}
				if !strings.Contains(out.String(), "missing: 0\n") || !strings.Contains(out.String(), fmt.Sprintf("subjects: %d\n", len(names))) {
					t.Fatalf("keys check output:\n%s", out.String())
				}
			})
			readAll("after kill -9 and restart")
			_, pending, err := s.App.Vault.Keys().PendingRotation(context.Background())
			if err != nil || pending != (at != "retired") {
				t.Fatalf("pending rotation after a kill at %s: %v %v", at, pending, err)
			}
			res, err := s.App.Vault.Keys().RotateKeys(context.Background(), app.SystemAccess("test"), vault.RunOptions{})
			if err != nil {
				t.Fatalf("rotation after the crash: %v", err)
			}
			wantVersion := uint32(2)
			if at == "retired" {
				wantVersion = 3
			}
			if res.Resumed != (at != "retired") || res.NewVersion != wantVersion {
				t.Fatalf("rotation after a kill at %s: %+v", at, res)
			}
			readAll("after the resumed rotation")
			next, err := s.App.Vault.Keys().RotateKeys(context.Background(), app.SystemAccess("test"), vault.RunOptions{})
			if err != nil || next.Resumed || next.NewVersion != wantVersion+1 || next.Rewrapped != len(names) {
				t.Fatalf("a new rotation after the crash: %+v %v", next, err)
			}
			if rep, _ := s.App.Vault.Keys().LastKeyReport(); !rep.OK() || rep.DEKs != len(names) {
				t.Fatalf("key report: %+v", rep)
			}
			s.Restart()
			readAll("after the new rotation and a restart")
			if r := s.Do("GET", "/v1/audit/verify", s.Token("root", "admin"), "", nil); r.JSON["ok"] != true {
				t.Fatalf("audit verify: %s", r.Body)
			}
		})
	}
}
