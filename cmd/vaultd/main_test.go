package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// syncBuf lets the test read what a running command has written so far.
type syncBuf struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuf() *syncBuf { b := &syncBuf{mu: make(chan struct{}, 1)}; return b }
func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}
func (b *syncBuf) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func TestDemoServesAndTokensWork(t *testing.T) {
	dir := t.TempDir() + "/data"
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "40", "--addr", "127.0.0.1:0", "--log-format", "text"}, env(map[string]string{"VAULT_DATA_DIR": dir}), stdout, stderr)
	}()
	addr := waitFor(t, stderr, regexp.MustCompile(`serving on http://([0-9.:]+)`))
	for _, want := range []string{"created key-encryption key ring", "created JWT signing key", "created database", "generated a synthetic shop: 40 subject records"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	// The shop's events went in through the importer, and behaviour without consent was refused.
	imported := regexp.MustCompile(`imported in \S+: (\d+) accepted, \d+ merged, (\d+) rejected`).FindStringSubmatch(stderr.String())
	if imported == nil || imported[1] == "0" || imported[2] == "0" {
		t.Errorf("demo import summary missing or empty:\n%s", stderr.String())
	}
	out := stdout.String()
	tok := regexp.MustCompile(`CUSTOMER_SERVICE_TOKEN=(\S+)`).FindStringSubmatch(out)
	id := regexp.MustCompile(`/v1/subjects/(sub_[a-z0-9]+)`).FindStringSubmatch(out)
	if tok == nil || id == nil || !regexp.MustCompile(`demo — \d+ subjects`).MatchString(out) {
		t.Fatalf("demo output lacks a token or subject id:\n%s", out)
	}
	// One ready token per role of API.md, and a few demo subjects' own tokens, each of which works.
	for _, role := range []string{"ADMIN", "DATA_STEWARD", "CUSTOMER_SERVICE", "MARKETING", "ANALYST", "COMPLIANCE_OFFICER", "WITNESS"} {
		if !strings.Contains(out, "export "+role+"_TOKEN=") {
			t.Errorf("demo prints no %s token", role)
		}
	}
	subjectTokens := regexp.MustCompile(`export (SUBJECT_TOKEN(?:_\d)?)=(\S+)   # data subject (sub_[a-z0-9]+)`).FindAllStringSubmatch(out, -1)
	if len(subjectTokens) != 3 {
		t.Errorf("demo prints %d subject tokens, want 3:\n%s", len(subjectTokens), out)
	}
	for _, m := range subjectTokens {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+m[2])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), m[3]) {
			t.Errorf("%s: GET /v1/me %d", m[1], resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/subjects/"+id[1], nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	req.Header.Set("X-Purpose", "customer_service")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name"`) {
		t.Fatalf("demo read: %d %s", resp.StatusCode, body)
	}

	// A write command refuses while the server holds the data dir.
	err = run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("keys rotate beside a running server: %v", err)
	}
	// vaultd token works beside it and its token is accepted.
	var tokOut bytes.Buffer
	if err := run(context.Background(), []string{"token", "--data-dir", dir, "--role", "customer_service", "--sub", "agent-7", "--ttl", "10m"}, env(nil), &tokOut, io.Discard); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tokOut.String()))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("minted token refused: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not shut down")
	}
	// Offline rotation now works, and a restarted server still reads the data.
	var rot bytes.Buffer
	if err := run(context.Background(), []string{"keys", "rotate", "--data-dir", dir}, env(nil), &rot, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Every subject has its general key, and buyers a transactions key too.
	subjects, _ := strconv.Atoi(regexp.MustCompile(`demo — (\d+) subjects`).FindStringSubmatch(out)[1])
	m := regexp.MustCompile(`DEKs rewrapped: (\d+)`).FindStringSubmatch(rot.String())
	if m == nil {
		t.Fatalf("rotation output: %s", rot.String())
	}
	if n, _ := strconv.Atoi(m[1]); n <= subjects {
		t.Fatalf("rotation rewrapped %d DEKs for %d subjects: %s", n, subjects, rot.String())
	}
}

func waitFor(t *testing.T, b *syncBuf, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %v in:\n%s", re, b.String())
	return ""
}

func TestCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"token", "--data-dir", t.TempDir()}, 2},
		{[]string{"token", "--data-dir", t.TempDir(), "--role", "adminn", "--sub", "x"}, 2},          // no such role
		{[]string{"token", "--data-dir", t.TempDir(), "--role", "admin,marketing", "--sub", "x"}, 2}, // one role of that name
		{[]string{"token", "--data-dir", t.TempDir(), "--role", "admin", "--sub", "x", "--ttl", "48h"}, 2},
		{[]string{"policy", "explain", "--role", "marketing"}, 2},
		{[]string{"policy", "explain", "--role", "marketing", "--purpose", "nope"}, 2},
		{[]string{"policy", "explain", "--role", "markting", "--purpose", "marketing"}, 2}, // an unknown role, as an unknown purpose
		{[]string{"migrate", "--from", "sqlite:" + t.TempDir(), "--to", "mysql://x"}, 2},
		{[]string{"serve", "stray"}, 2},
		// Given, 0 is refused as the API refuses it (it silently meant "the default"); --changed is a run of
		// its own, not one subject's.
		{[]string{"tags", "compute", "--data-dir", t.TempDir(), "--rules-max-len", "0"}, 2},
		{[]string{"tags", "compute", "--data-dir", t.TempDir(), "--rules-min-support", "0"}, 2},
		{[]string{"tags", "compute", "--data-dir", t.TempDir(), "--changed", "--subject", "sub_x"}, 2},
	} {
		err := run(context.Background(), tc.args, env(nil), io.Discard, io.Discard)
		var ex exitError
		if !errors.As(err, &ex) || ex.code != tc.code {
			t.Errorf("%v: %v, want exit %d", tc.args, err, tc.code)
		}
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--data-dir", t.TempDir(), "--max-bulk-mib", "0"}, nil, "--max-bulk-mib must be 1 to 4096"},
		{[]string{"serve", "--data-dir", t.TempDir()}, map[string]string{"VAULT_MAX_BULK_MIB": "lots"}, "VAULT_MAX_BULK_MIB must be an integer"},
	} {
		if err := run(context.Background(), tc.args, env(tc.env), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	err := run(context.Background(), []string{"token", "--data-dir", t.TempDir(), "--role", "admin", "--sub", "x"}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no signing key") {
		t.Errorf("token without a data dir: %v", err)
	}
}

// TestOfflineCommandsRefuseAMistypedDataDir: the commands that work on a vault refuse a data dir without
// one, and create nothing there (a rotation "done" on a typo would leave the real vault unrotated).
func TestOfflineCommandsRefuseAMistypedDataDir(t *testing.T) {
	for _, args := range [][]string{
		{"keys", "check"}, {"keys", "rotate"}, {"tags", "compute"}, {"retention", "run"}, {"events", "reseal"},
		{"audiences", "build", "--rule", "value.churn_risk == 'high'", "--channel", "sms"}, {"audit", "reindex"},
	} {
		dir := filepath.Join(t.TempDir(), "typo")
		err := run(context.Background(), append(args, "--data-dir", dir), env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no vault in the data directory") {
			t.Errorf("%v on a data dir that does not exist: %v", args, err)
		}
		if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("%v created %s", args, dir)
		}
	}
}

func TestPolicyExplain(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"policy", "explain", "--role", "marketing", "--purpose", "marketing"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"legal basis: consent", "phone", "masked", "id_number"} {
		if !strings.Contains(s, want) {
			t.Errorf("explain output lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`(?m)^name\s+identity\s+no`).MatchString(s) {
		t.Errorf("marketing should not read name:\n%s", s)
	}
	if !strings.Contains(s, "may request: nothing") {
		t.Errorf("marketing may request nothing:\n%s", s)
	}
	// The categories without fields are explained too: marketing reads behaviour and tags for
	// personalization (the matrix says so), not transactions.
	out.Reset()
	if err := run(context.Background(), []string{"policy", "explain", "--role", "marketing", "--purpose", "personalization"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^behavior\s+yes\s+no\s+yes\s+general consent`, `(?m)^tags\s+yes`, `(?m)^transactions\s+no`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("explain marketing/personalization lacks %s:\n%s", re, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"policy", "explain", "--role", "customer_service", "--purpose", "risk_control"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "field id_number, for at most 4h, approved by compliance_officer"; !strings.Contains(out.String(), want) {
		t.Errorf("explain for customer_service/risk_control lacks %q:\n%s", want, out.String())
	}
}

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir() + "/data"
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := newSyncBuf(), newSyncBuf()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--subjects", "25", "--data-dir", dir, "--addr", "127.0.0.1:0"}, env(nil), stdout, stderr)
	}()
	waitFor(t, stderr, regexp.MustCompile(`serving on (http)`))
	// verify works beside the running server (read-only, no lock)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("verify beside a server: %v", err)
	}
	cancel()
	<-done
	out.Reset()
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	var entries int
	fmt.Sscanf(out.String(), "ok: %d entries", &entries)
	if entries < 25 {
		t.Fatalf("verify checked %d entries, want at least the 25 creations", entries)
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "export", "--data-dir", dir, "--format", "csv"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != entries+1 || !strings.HasPrefix(out.String(), "seq,ts,") {
		t.Fatalf("csv export: %d lines\n%s", lines, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "export", "--data-dir", dir, "--since", "2999-01-01T00:00:00Z"}, env(nil), &out, io.Discard); err != nil || out.Len() != 0 {
		t.Fatalf("export since the future: %v %q", err, out.String())
	}
	// Without its checkpoints the log proves nothing (a rewritten history passes every other check):
	// exit 1, and serve refuses to sign over it.
	unsigned := t.TempDir() + "/unsigned"
	if err := os.CopyFS(unsigned, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(unsigned, func(path string, d os.DirEntry, err error) error { // CopyFS leaves files 0644
		if err == nil && !d.IsDir() {
			err = os.Chmod(path, 0o600)
		}
		return err
	})
	for _, f := range []string{"checkpoints", "checkpoint"} {
		os.Remove(filepath.Join(unsigned, "audit", f))
	}
	out.Reset()
	var ex exitError
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", unsigned}, env(nil), &out, io.Discard); !errors.As(err, &ex) || ex.code != 1 ||
		!strings.Contains(out.String(), "no signed checkpoint") {
		t.Fatalf("verify without checkpoints: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"serve", "--data-dir", unsigned, "--addr", "127.0.0.1:0"}, env(nil), io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "no signed checkpoint") {
		t.Fatalf("serve over a log without checkpoints: %v", err)
	}
	// Nor an emptied one: its segments deleted too, verify checked 0 entries and said ok.
	segments, _ := filepath.Glob(filepath.Join(unsigned, "audit", "segments", "*"))
	for _, f := range segments {
		os.Remove(f)
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "verify", "--data-dir", unsigned}, env(nil), &out, io.Discard); !errors.As(err, &ex) || ex.code != 1 ||
		!strings.Contains(out.String(), "first bad seq: 1") || !strings.Contains(out.String(), "audit log is missing") {
		t.Fatalf("verify of an emptied log: %v\n%s", err, out.String())
	}
	// Tamper with one entry in the log's segment file: exit 1 and the bad sequence number.
	segs, err := filepath.Glob(filepath.Join(dir, "audit", "segments", "*.log"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	raw, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(raw, []byte(`{"seq":7,`))
	edit := at + bytes.Index(raw[at:], []byte(`"action":"`)) + len(`"action":"`)
	raw[edit] ^= 0x20 // one letter's case
	if err := os.WriteFile(segs[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, env(nil), &out, io.Discard)
	if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(out.String(), "first bad seq: 7") {
		t.Fatalf("tampered: %v\n%s", err, out.String())
	}
	err = run(context.Background(), []string{"audit", "verify", "--data-dir", t.TempDir()}, env(nil), io.Discard, io.Discard)
	if !errors.As(err, &ex) || ex.code != 2 {
		t.Fatalf("no database: %v", err)
	}
}

// newVault creates an empty vault in dir, as a first serve would.
func newVault(t *testing.T, dir string) {
	t.Helper()
	a, err := app.Open(context.Background(), app.Config{DataDir: dir, Notices: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestAudiencesBuildCommand(t *testing.T) {
	dir := t.TempDir() + "/data"
	newVault(t, dir)
	var out bytes.Buffer
	// On a vault with nobody in it the build runs and finds nobody; a bad rule names its position.
	if err := run(context.Background(), []string{"audiences", "build", "--data-dir", dir, "--rule", "value.rfm_segment == 'at_risk'", "--channel", "sms"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "size: 0") || !strings.Contains(out.String(), "excluded.no_consent: 0") {
		t.Fatalf("output: %s", out.String())
	}
	err := run(context.Background(), []string{"audiences", "build", "--data-dir", dir, "--rule", "value.rfm_segment in 'x'", "--channel", "sms"}, env(nil), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "at character 21") {
		t.Fatalf("a bad rule: %v", err)
	}
	if err := run(context.Background(), []string{"audiences", "build", "--data-dir", dir}, env(nil), &out, io.Discard); err == nil {
		t.Fatal("missing flags must fail")
	}
}

func TestAudiencesSimulateAndCampaignTruth(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"synth", "--subjects", "5", "--out", dir + "/shop"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/shop/campaign_truth.json")
	if err != nil || !strings.Contains(string(b), `"retention_lift_relative": 0.18`) {
		t.Fatalf("campaign truth: %v %s", err, b)
	}
	out.Reset()
	newVault(t, dir+"/data")
	if err := run(context.Background(), []string{"audiences", "build", "--data-dir", dir + "/data", "--rule", "value.churn_risk == 'high'", "--channel", "sms"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(out.String(), "audience: "), "\n", 2)[0])
	out.Reset()
	if err := run(context.Background(), []string{"audiences", "simulate", "--data-dir", dir + "/data", "--audience", id}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tier: none") || !strings.Contains(out.String(), "treated: 0") {
		t.Fatalf("simulate: %s", out.String())
	}
	var ex exitError
	if err := run(context.Background(), []string{"audiences", "simulate", "--data-dir", dir + "/data", "--audience", id, "--tier", "nonsense"}, env(nil), &out, io.Discard); !errors.As(err, &ex) || ex.code != 2 ||
		!strings.Contains(ex.msg, "churn_winback") {
		t.Fatalf("an unknown tier: %v", err)
	}
}

// TestEventsResealCommand: on a shop imported in the binary attribute encoding the command opens every
// event and reseals none; without a subcommand it prints its usage. (The conversion itself:
// vault.TestResealEventsMovesJSONToBinary.)
func TestEventsResealCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if err := run(ctx, []string{"synth", "--subjects", "20", "--months", "2", "--out", dir + "/shop"}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "--data-dir", dir + "/data", "--stores", dir + "/shop/stores.json", dir + "/shop"}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"events", "reseal", "--data-dir", dir + "/data"}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("reseal: %v\n%s", err, out.String())
	}
	var subjects, events, resealed, current, unopened int
	if _, err := fmt.Sscanf(out.String(), "subjects: %d\nevents: %d\nresealed: %d\nalready binary: %d\nnot opened: %d\n",
		&subjects, &events, &resealed, &current, &unopened); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if subjects < 15 || events == 0 || resealed != 0 || current != events || unopened != 0 {
		t.Fatalf("reseal on binary events:\n%s", out.String())
	}
	var ex exitError
	if err := run(ctx, []string{"events"}, env(nil), io.Discard, io.Discard); !errors.As(err, &ex) || ex.code != 2 {
		t.Fatalf("no subcommand: %v", err)
	}
}

// TestPinnedKey: a --pubkey that is given must pin a key; an empty one (an unset variable), a missing or
// empty file, or text that is neither a key nor a file is an error, never a quiet fall-back to the host's key.
func TestPinnedKey(t *testing.T) {
	dir := t.TempDir()
	const key = "profile-vault/audit/70d9b815+7f4ee8fd+AasR8obesnPKMnBsMgFND7EeD8idZg8NGgkYm9TJHSPK"
	keyFile, empty := filepath.Join(dir, "k.pub"), filepath.Join(dir, "empty.pub")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		pubkey string
		given  bool
		pinned bool
		err    string
	}{
		{"", false, false, ""},
		{"", true, false, "--pubkey is empty"},
		{"  ", true, false, "--pubkey is empty"},
		{key, true, true, ""},
		{keyFile, true, true, ""},
		{key, false, true, ""}, // VAULT_AUDIT_PUBKEY
		{empty, true, false, "is empty"},
		{filepath.Join(dir, "typo.pub"), true, false, "no such file"},
		{"garbage", true, false, "no such file garbage"},
	} {
		got, pinned, err := pinnedKey(tc.pubkey, tc.given)
		if pinned != tc.pinned || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) || pinned && got != key {
			t.Errorf("pinnedKey(%q, %v) = %q, %v, %v; want pinned %v, error %q", tc.pubkey, tc.given, got, pinned, err, tc.pinned, tc.err)
		}
	}
}

// TestGroupHelp: "vaultd tags -h" and the like print the group's usage on stdout and exit 0, as "vaultd -h"
// does (they printed it on stderr with exit 2, as for a usage error).
func TestGroupHelp(t *testing.T) {
	// A subcommand's -h is exit 0 too (keys check said "vaultd: " and exit 2).
	for _, sub := range [][]string{{"keys", "check"}, {"keys", "rotate"}, {"keys", "purge"}, {"audit", "verify"}, {"audiences", "build"}} {
		var errOut bytes.Buffer
		if err := run(context.Background(), append(sub, "-h"), env(nil), io.Discard, &errOut); err != nil {
			var ex exitError
			if !errors.As(err, &ex) || ex.code != 0 {
				t.Errorf("%v -h: %v", sub, err)
			}
		}
	}
	for cmd := range commandGroups {
		for _, h := range []string{"-h", "--help", "help"} {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), []string{cmd, h}, env(nil), &out, &errOut); err != nil {
				t.Errorf("%s %s: %v", cmd, h, err)
			}
			if !strings.HasPrefix(out.String(), "usage: vaultd "+cmd) || errOut.Len() != 0 {
				t.Errorf("%s %s: stdout %q, stderr %q", cmd, h, out.String(), errOut.String())
			}
		}
	}
}

// The processing record (the policy versions in force and their dates) is the servers': an offline command
// run without the server's --policy-dir records nothing (`keys check` recorded the built-in policy as in
// force over the one the server ran).
func TestOfflineCommandsRecordNoPolicyInForce(t *testing.T) {
	dir, policyDir := t.TempDir(), t.TempDir()
	for _, name := range policies.FileNames() {
		b := policies.Embedded(name)
		if name == "policy.csv" {
			b = append(b, "\np, analyst, analytics, field:city, read, allow, full\n"...)
		}
		if err := os.WriteFile(filepath.Join(policyDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	served := func() []vault.PolicyInForce {
		t.Helper()
		a, err := app.Open(context.Background(), app.Config{DataDir: dir, PolicyDir: policyDir, Notices: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		admin := vault.Access{Caller: vault.Caller{Subject: "root", Roles: []policies.Role{policies.RoleAdmin}}}
		hist, err := a.Vault.PolicyHistory(context.Background(), admin)
		if err != nil {
			t.Fatal(err)
		}
		return hist
	}
	before := served()
	if len(before) != 1 {
		t.Fatalf("history after the server's start: %+v", before)
	}
	for _, args := range [][]string{{"keys", "check", "--data-dir", dir}, {"retention", "run", "--data-dir", dir}} {
		if err := run(context.Background(), args, env(nil), io.Discard, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if after := served(); len(after) != 1 || after[0].Hash != before[0].Hash {
		t.Fatalf("history after offline commands with the built-in policy: %+v", after)
	}
}
