// Package vaultproc builds, starts and stops the real vaultd binary for the measurement tools under bench/
// (bench/soak, bench/flood): a demo or serve process on a data dir and a loopback address, the tokens the demo
// prints, the process's memory and open files from /proc, and the offline `vaultd audit` commands.
//
// The server's stdout and stderr go to files in a work directory, never to the terminal: the demo prints
// tokens and subject ids, and nothing here echoes them.
package vaultproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles ./cmd/vaultd of the module the current directory belongs to into dir/vaultd.
func Build(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the profilevault module: run from the repository (or pass -binary)")
	}
	bin := filepath.Join(dir, "vaultd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/vaultd")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/vaultd: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago, so that a restarted server can
// listen where the first one did.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Server is one running vaultd process.
type Server struct {
	Bin, DataDir, Addr string
	stdoutPath         string
	stderrPath         string
	cmd                *exec.Cmd
	done               chan struct{} // closed when the process has exited
	waitErr            error
}

// StartDemo runs `vaultd demo` (it seeds a new data dir with subjects, or serves an existing one as it is)
// and waits until it serves. idsOut, when set, receives the ids of up to 10,000 active subjects; extra are
// further flags of the server.
func StartDemo(bin, dataDir, addr, logDir string, subjects int, idsOut string, extra ...string) (*Server, error) {
	args := []string{"demo", "--data-dir", dataDir, "--addr", addr, "--subjects", strconv.Itoa(subjects), "--log-level", "warn"}
	if idsOut != "" {
		args = append(args, "--ids-out", idsOut)
	}
	args = append(args, extra...)
	return start(bin, dataDir, addr, logDir, "demo", args, 15*time.Minute)
}

// StartServe runs `vaultd serve` on an existing (or new) data dir and waits until it serves.
func StartServe(bin, dataDir, addr, logDir string, extra ...string) (*Server, error) {
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", addr, "--log-level", "warn"}, extra...)
	return start(bin, dataDir, addr, logDir, "serve", args, 5*time.Minute)
}

var servingLine = regexp.MustCompile(`serving on http://(\S+)`)

func start(bin, dataDir, addr, logDir, name string, args []string, timeout time.Duration) (*Server, error) {
	stamp := time.Now().Format("150405.000")
	s := &Server{Bin: bin, DataDir: dataDir, Addr: addr,
		stdoutPath: filepath.Join(logDir, name+"-"+stamp+".out"), stderrPath: filepath.Join(logDir, name+"-"+stamp+".err"),
		done: make(chan struct{})}
	stdout, err := os.OpenFile(s.stdoutPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(s.stderrPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	// Files, not pipes: the child writes to them directly, so what it printed on stdout before its
	// "serving on" line on stderr is in the file by the time we read that line.
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = stdout, stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tool
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(timeout)
	for {
		raw, _ := os.ReadFile(s.stderrPath)
		if m := servingLine.FindSubmatch(raw); m != nil {
			s.Addr = string(m[1])
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("vaultd %s exited before serving (%v); its log:\n%s", name, s.waitErr, s.logTail(20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("vaultd %s did not serve within %s; its log:\n%s", name, timeout, s.logTail(20))
		}
	}
}

// logTail returns the last n lines the server wrote on stderr: its structured log, which holds no personal
// data by design.
func (s *Server) logTail(n int) string {
	raw, _ := os.ReadFile(s.stderrPath)
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Base is the server's base URL.
func (s *Server) Base() string { return "http://" + s.Addr }

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Tokens returns the tokens a demo printed, by their variable name (CUSTOMER_SERVICE_TOKEN, …).
func (s *Server) Tokens() (map[string]string, error) {
	raw, err := os.ReadFile(s.stdoutPath)
	if err != nil {
		return nil, err
	}
	toks := map[string]string{}
	for _, m := range regexp.MustCompile(`export ([A-Z_]+_TOKEN)=(\S+)`).FindAllSubmatch(raw, -1) {
		toks[string(m[1])] = string(m[2])
	}
	if len(toks) == 0 {
		return nil, errors.New("the demo printed no tokens")
	}
	return toks, nil
}

// WaitReady polls GET /readyz until it answers 200.
func (s *Server) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.Base() + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("vaultd exited while waiting for /readyz (%v)", s.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("/readyz not 200 within %s", timeout)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGTERM (graceful shutdown) and waits up to timeout; a process that has not exited by then is
// killed. It returns an error unless the process exited with status 0.
func (s *Server) Stop(timeout time.Duration) error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.waitErr
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("vaultd did not stop within %s after SIGTERM; killed", timeout)
	}
}

// ProcStats is what /proc says of a process.
type ProcStats struct {
	RSSKiB     int64         // VmRSS
	RSSAnonKiB int64         // RssAnon: the part of VmRSS that is anonymous memory (heaps, stacks, caches)
	RSSFileKiB int64         // RssFile: the part that is mapped files (the binary, mmapped databases)
	OpenFDs    int           // entries of /proc/PID/fd
	CPU        time.Duration // user + system time so far
}

// clockTick is the unit of the times in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// Stats reads the server's VmRSS, CPU time and the number of its open file descriptors.
func (s *Server) Stats() (ProcStats, error) {
	pid := s.PID()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStats{}, err
	}
	var st ProcStats
	// After the command name in parentheses: state, ppid, … utime and stime are the 12th and 13th.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
		if f := strings.Fields(string(stat[i+1:])); len(f) > 12 {
			utime, _ := strconv.ParseInt(f[11], 10, 64)
			stime, _ := strconv.ParseInt(f[12], 10, 64)
			st.CPU = time.Duration(utime+stime) * clockTick
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStats{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	fields := map[string]*int64{"VmRSS:": &st.RSSKiB, "RssAnon:": &st.RSSAnonKiB, "RssFile:": &st.RSSFileKiB}
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), "\t")
		if dst := fields[name]; dst != nil {
			*dst, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return ProcStats{}, err
	}
	st.OpenFDs = len(fds)
	return st, nil
}

// Token mints a token with `vaultd token` (the data dir's own signing key; works beside a running server).
func Token(bin, dataDir, role, sub string, ttl time.Duration) (string, error) {
	out, err := exec.Command(bin, "token", "--data-dir", dataDir, "--role", role, "--sub", sub, "--ttl", ttl.String()).Output()
	if err != nil {
		return "", fmt.Errorf("vaultd token: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// AuditVerify runs `vaultd audit verify --data-dir DIR` and returns its output and exit code (0 intact,
// 1 tampered, 2 cannot run; -1 when it could not be started).
func AuditVerify(ctx context.Context, bin, dataDir string) (string, int) {
	out, err := exec.CommandContext(ctx, bin, "audit", "verify", "--data-dir", dataDir).CombinedOutput()
	var ex *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ex):
		return string(out), ex.ExitCode()
	default:
		return err.Error(), -1
	}
}

// AuditExport runs `vaultd audit export --data-dir DIR` (NDJSON: one canonical entry a line) and calls fn
// for every line.
func AuditExport(ctx context.Context, bin, dataDir string, fn func(line []byte) error) error {
	cmd := exec.CommandContext(ctx, bin, "audit", "export", "--data-dir", dataDir, "--format", "ndjson")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var fnErr error
	for fnErr == nil && sc.Scan() {
		fnErr = fn(sc.Bytes())
	}
	if fnErr != nil {
		cmd.Process.Kill()
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && fnErr == nil {
		return fmt.Errorf("vaultd audit export: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if fnErr != nil {
		return fnErr
	}
	return sc.Err()
}

// DirBytes is the total size of the regular files under path (0 when it does not exist).
func DirBytes(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// FileBytes is the total size of the named files under dir (missing ones count 0).
func FileBytes(dir string, names ...string) int64 {
	var n int64
	for _, name := range names {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
			n += info.Size()
		}
	}
	return n
}

// MachineBusy is the CPU time all cores spent not idle since boot, from the first line of /proc/stat
// ("cpu user nice system idle iowait irq softirq steal …", in USER_HZ ticks): with the server's and the
// load generator's own CPU time it shows how much other processes took of a shared machine.
func MachineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle or iowait; guest time is already in user
			busy += n
		}
	}
	return time.Duration(busy) * clockTick
}
