package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/dsr"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/normalize"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// seed creates n subjects with a name and returns id → name.
func seed(t *testing.T, s *apptest.Stack, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("韩梅梅%d", i)
		out[s.CreateSubject(map[string]any{"name": name, "phone": fmt.Sprintf("+86135%08d", i)})] = name
	}
	return out
}

// readAll checks that every subject decrypts to its name through the real HTTP stack.
func readAll(t *testing.T, s *apptest.Stack, names map[string]string, when string) {
	t.Helper()
	tok := s.Token("cs", "customer_service")
	for id, name := range names {
		r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", tok, "customer_service", nil)
		if r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != name {
			t.Errorf("%s: subject %s: %d %s", when, id, r.Status, r.Body)
		}
	}
}

// deksByVersion counts the stored DEKs per KEK version.
func deksByVersion(t *testing.T, s *apptest.Stack) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	if err := s.App.Internals().Store.DEKs(context.Background(), func(d vault.DEK) error { out[d.KEKVersion]++; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// retiredVersions lists the ring's retired (or purged) versions.
func retiredVersions(s *apptest.Stack) []uint32 {
	var out []uint32
	for _, k := range s.App.Internals().Crypto.KEKs() {
		if k.RetiredAt != nil {
			out = append(out, k.Version)
		}
	}
	return out
}

func entry(reason string) func(error) audit.Entry {
	return func(error) audit.Entry {
		return audit.Entry{TS: time.Now(), Action: "test.setup", Decision: audit.Allow, Status: 200, Reason: reason,
			Actor: audit.Actor{Sub: "test", Roles: []string{"admin"}}}
	}
}

// TestRetirementCountsDEKsInItsOwnTransaction puts a DEK back under the old version after the rewrap pass
// and before retirement — as a writer that wrapped a DEK just before the rotation and committed just after
// the scan would. The old version must not be retired while that DEK exists: the rotation sweeps again,
// retires it only once nothing uses it, and a purge afterwards loses nothing. Retiring regardless of the
// count fails this test.
func TestRetirementCountsDEKsInItsOwnTransaction(t *testing.T) {
	s := apptest.Start(t)
	names := seed(t, s, 12)
	var straggler vault.DEK
	if err := s.App.Internals().Store.DEKs(context.Background(), func(d vault.DEK) error { straggler = d; return nil }); err != nil {
		t.Fatal(err)
	}
	if straggler.KEKVersion != 1 {
		t.Fatalf("seeded DEK under version %d, want 1", straggler.KEKVersion)
	}
	ctx := context.Background()
	put := false
	res, err := s.App.Vault.Keys().RotateKeys(ctx, app.SystemAccess("test"), vault.RunOptions{BatchSize: 5, Step: func(st vault.RotationStep) {
		if st != vault.StepRewrapped || put {
			return
		}
		put = true
		if by := deksByVersion(t, s); by[1] != 0 {
			t.Errorf("after the rewrap pass %d DEKs are still under version 1", by[1])
		}
		if _, err := s.App.Internals().Store.Commit(ctx, func(tx vault.Tx) error { return tx.PutDEK(straggler) }, entry("straggler")); err != nil {
			t.Fatalf("put the straggler back: %v", err)
		}
	}})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if !put {
		t.Fatal("the rotation never reported the rewrapped step")
	}
	if !slices.Equal(res.Retired, []uint32{1}) || len(res.Kept) != 0 || res.Rewrapped != len(names)+1 {
		t.Errorf("rotation result %+v, want version 1 retired after %d rewraps", res, len(names)+1)
	}
	if by := deksByVersion(t, s); by[1] != 0 || by[2] != len(names) {
		t.Errorf("DEKs by version after the rotation: %v", by)
	}
	// The store refuses any DEK row under a retired version from now on.
	if _, err := s.App.Internals().Store.Commit(ctx, func(tx vault.Tx) error { return tx.PutDEK(straggler) }, entry("late straggler")); err == nil {
		t.Error("a DEK under a retired KEK version was stored")
	}
	// Purging the retired version loses nothing, now and after a restart.
	p, err := s.App.Vault.Keys().PurgeKeys(ctx, app.SystemAccess("test"), time.Now().Add(time.Hour))
	if err != nil || !slices.Equal(p.Purged, []uint32{1}) {
		t.Fatalf("purge: %+v %v", p, err)
	}
	readAll(t, s, names, "after the purge")
	s.Restart()
	if rep, _ := s.App.Vault.Keys().LastKeyReport(); !rep.OK() || rep.DEKs != len(names) {
		t.Errorf("key check after restart: %+v", rep)
	}
	readAll(t, s, names, "after the purge and a restart")
}

// TestPurgeRechecksReferences restores a database backup taken before a rotation beside the rotated ring:
// its DEKs name the now-retired version. The key check still passes (retired versions unwrap), the purge
// refuses and destroys nothing, a rotation moves those DEKs, and then the purge goes through.
func TestPurgeRechecksReferences(t *testing.T) {
	s := apptest.Start(t)
	names := seed(t, s, 6)
	db := filepath.Join(s.Dir, datadir.DatabaseFile)
	backup := filepath.Join(t.TempDir(), "backup.db")
	s.RestartWith(func(string) { copyFile(t, db, backup) })
	ctx := context.Background()
	if _, err := s.App.Vault.Keys().RotateKeys(ctx, app.SystemAccess("test"), vault.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := retiredVersions(s); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("retired after the rotation: %v", got)
	}
	s.RestartWith(func(string) {
		copyFile(t, backup, db)
		for _, suffix := range []string{"-wal", "-shm"} {
			_ = os.Remove(db + suffix)
		}
	})
	if rep, _ := s.App.Vault.Keys().LastKeyReport(); !rep.OK() {
		t.Fatalf("key check on the restored backup: %+v", rep)
	}
	readAll(t, s, names, "restored backup")
	_, err := s.App.Vault.Keys().PurgeKeys(ctx, app.SystemAccess("test"), time.Now().Add(time.Hour))
	if vault.ErrorCode(err) != vault.CodeConflict || vault.AuditSeqOf(err) == 0 {
		t.Fatalf("purge with DEKs under the retired version: %v, want an audited conflict", err)
	}
	if ks := s.App.Internals().Crypto.KEKs(); ks[0].PurgedAt != nil {
		t.Fatal("the refused purge destroyed version 1")
	}
	readAll(t, s, names, "after the refused purge")
	if _, err := s.App.Vault.Keys().RotateKeys(ctx, app.SystemAccess("test"), vault.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := s.App.Vault.Keys().PurgeKeys(ctx, app.SystemAccess("test"), time.Now().Add(time.Hour))
	if err != nil || !slices.Equal(p.Purged, []uint32{1, 2}) {
		t.Fatalf("purge after the rotation: %+v %v", p, err)
	}
	readAll(t, s, names, "after rotation and purge")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// restartWithKEKPurged restarts s after rotating its ring at ringPath and purging KEK version 1 behind the
// vault's back, as a stale ring file or a lost key would leave it: DEKs still wrapped under 1 do not open.
func restartWithKEKPurged(t *testing.T, s *apptest.Stack, ringPath string) {
	t.Helper()
	s.RestartWith(func(string) {
		r, err := keys.OpenRing(ringPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Rotate(); err != nil {
			t.Fatal(err)
		}
		if err := r.Retire([]uint32{1}); err != nil {
			t.Fatal(err)
		}
		if err := r.Purge([]uint32{1}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMissingKEKStopsTheServer loses a KEK version that DEKs still use (purged behind the vault's back):
// opening the data dir reports how many DEKs and subjects are affected, RequireKeys refuses, /readyz says
// so, and no rotation starts.
func TestMissingKEKStopsTheServer(t *testing.T) {
	s := apptest.Start(t)
	names := seed(t, s, 4)
	ringPath := s.App.Internals().Ring.Path()
	restartWithKEKPurged(t, s, ringPath)
	rep, _ := s.App.Vault.Keys().LastKeyReport()
	if rep.OK() || rep.Missing != len(names) || rep.Affected != len(names) {
		t.Fatalf("key report %+v, want %d missing", rep, len(names))
	}
	err := s.App.RequireKeys()
	if !errors.Is(err, vault.ErrKeysUnusable) || !strings.Contains(err.Error(), fmt.Sprintf("data of %d subject(s)", len(names))) ||
		!strings.Contains(err.Error(), "version(s) [1]") {
		t.Fatalf("RequireKeys = %v", err)
	}
	for id := range names {
		if strings.Contains(err.Error(), id) {
			t.Fatal("the message names a subject")
		}
	}
	if r := s.Do("GET", "/readyz", "", "", nil); r.Status != 503 || r.JSON["keys"].(map[string]any)["missing"] != float64(len(names)) {
		t.Errorf("readyz: %d %s", r.Status, r.Body)
	}
	// Restoring the previous ring file brings the data back.
	s.RestartWith(func(string) {
		prev, err := os.ReadFile(ringPath + ".prev")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ringPath, prev, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if err := s.App.RequireKeys(); err != nil {
		t.Fatalf("after restoring the previous ring: %v", err)
	}
	readAll(t, s, names, "restored ring")
}

// A read or a change that needs a DEK wrapped under a KEK version the ring lacks (a ring file that is an
// older copy: here version 1 purged behind the vault's back) is answered 503 unavailable over HTTP, not
// 500: the data is intact, and the node serves it again once its ring file holds the version. Neither the
// answer nor the log names a value of the subject.
func TestAMissingKEKAnswersUnavailable(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000007", "birth_date": "1984-09-10"})
	ringPath := s.App.Internals().Ring.Path()
	restartWithKEKPurged(t, s, ringPath)
	cs, st := s.Token("cs", "customer_service"), s.Token("st", "data_steward")
	for _, r := range []apptest.Response{
		s.Do("GET", "/v1/subjects/"+id+"?fields=name,phone", cs, "customer_service", nil),
		// Sealing a corrected value under the subject's DEK needs it too.
		s.Do("PATCH", "/v1/subjects/"+id, st, "account_management", map[string]any{"fields": map[string]any{"city": "杭州"}}),
	} {
		if r.Status != 503 || r.ErrorCode() != string(vault.CodeUnavailable) || !strings.Contains(string(r.Body), "key ring does not hold") {
			t.Errorf("with the KEK missing: %d %s, want 503 unavailable", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "韩梅梅") || strings.Contains(string(r.Body), "13500000007") {
			t.Errorf("the answer holds a value of the subject: %s", r.Body)
		}
	}
	if logs := s.Logs(); strings.Contains(logs, "韩梅梅") || strings.Contains(logs, "13500000007") || !strings.Contains(logs, "KEK version missing") {
		t.Errorf("the log names a value of the subject, or not the cause:\n%s", logs)
	}
	// With the previous ring file back, the same read answers.
	s.RestartWith(func(string) {
		prev, err := os.ReadFile(ringPath + ".prev")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ringPath, prev, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	readAll(t, s, map[string]string{id: "韩梅梅"}, "restored ring")
}

// A decision that has to open a field — the age rule's birth date, for a purpose based on consent — cannot
// be made on a node whose ring lacks the field's KEK version: it is answered 503 unavailable, with an entry
// that says so, and never decided as if the subject had no birth date (which would take an adult for
// someone of unknown age and withhold their data, or refuse their consent, as age_verification_required).
func TestADecisionThatNeedsAMissingKEKAnswersUnavailable(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000008", "birth_date": "1984-09-10"})
	st := s.Token("st", "data_steward")
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", map[string]any{"purpose": "marketing", "notice_version": "2026-01",
		"method": "app_checkbox", "kind": "general", "evidence": "checkbox"}); r.Status != 201 {
		t.Fatalf("grant before the rotation: %d %s", r.Status, r.Body)
	}
	mk := s.Token("mk", "marketing")
	if r := s.Do("GET", "/v1/subjects/"+id+"?fields=phone", mk, "marketing", nil); r.Status != 200 || !strings.Contains(string(r.Body), "0008") {
		t.Fatalf("marketing read before the rotation: %d %s", r.Status, r.Body)
	}
	ringPath := s.App.Internals().Ring.Path()
	restartWithKEKPurged(t, s, ringPath)
	mk, st = s.Token("mk", "marketing"), s.Token("st", "data_steward")
	co := s.Token("co", "compliance_officer")
	for name, r := range map[string]apptest.Response{
		"marketing read": s.Do("GET", "/v1/subjects/"+id+"?fields=phone", mk, "marketing", nil),
		"tags read":      s.Do("GET", "/v1/subjects/"+id+"/tags", mk, "marketing", nil),
		"consent grant": s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", map[string]any{"purpose": "personalization", "notice_version": "2026-01",
			"method": "app_checkbox", "kind": "general", "evidence": "checkbox"}),
	} {
		if r.Status != 503 || r.ErrorCode() != string(vault.CodeUnavailable) || !strings.Contains(string(r.Body), "key ring does not hold") {
			t.Errorf("%s with the KEK missing: %d %s, want 503 unavailable", name, r.Status, r.Body)
			continue
		}
		seq := r.Header.Get("X-Audit-Seq")
		ev := s.Do("GET", "/v1/audit/events?limit=50&min_seq="+seq+"&subject_id="+id, co, "compliance_audit", nil)
		events, _ := ev.JSON["events"].([]any)
		var entry map[string]any
		for _, x := range events {
			if m := x.(map[string]any); fmt.Sprint(m["seq"]) == seq {
				entry = m
			}
		}
		if ev.Status != 200 || entry == nil {
			t.Errorf("%s: no entry %s in the review: %d %s", name, seq, ev.Status, ev.Body)
			continue
		}
		if entry["decision"] != "deny" || fmt.Sprint(entry["status"]) != "503" || entry["reason"] != "key_unavailable" {
			t.Errorf("%s: the entry says %v, want denied 503 key_unavailable", name, entry)
		}
	}
	// A batch decision leaves such a subject out and counts them apart, rather than as a minor.
	r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "x", "rule": "value.rfm_segment in ['at_risk']", "channel": "sms"})
	excluded, _ := r.JSON["excluded"].(map[string]any)
	if r.Status != 201 || fmt.Sprint(excluded["key_unavailable"]) != "1" || fmt.Sprint(excluded["minor"]) != "0" {
		t.Errorf("audience build with the KEK missing: %d %s, want the subject excluded as key_unavailable", r.Status, r.Body)
	}
}

// TestNoNewRingBesideADatabase refuses to start a data dir whose database exists but whose ring is gone:
// a fresh ring would make every stored DEK unreadable.
func TestNoNewRingBesideADatabase(t *testing.T) {
	dir := t.TempDir()
	a, err := app.Open(context.Background(), app.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := os.Remove(filepath.Join(dir, datadir.KEKFile)); err != nil {
		t.Fatal(err)
	}
	_, err = app.Open(context.Background(), app.Config{DataDir: dir, Notices: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "no new ring is created") {
		t.Fatalf("open without a ring: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, datadir.KEKFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new ring was created")
	}
}

// TestRotationLeaseAcrossNodes runs two enforcement points on one store, as two nodes sharing a database
// would (neither may assume it is alone): while one rotates, the other is refused; a lease whose holder
// stopped renewing it is taken over and the rotation resumed, and the old holder cannot write any more.
func TestRotationLeaseAcrossNodes(t *testing.T) {
	s := apptest.Start(t)
	names := seed(t, s, 8)
	clock := time.Now()
	node := func(now func() time.Time) *vault.Service {
		pol, err := policies.Load("")
		if err != nil {
			t.Fatal(err)
		}
		v, err := vault.New(vault.Config{Store: s.App.Internals().Store, Trail: s.App.Internals().Store, Requests: s.App.Internals().Store, Identity: s.App.Internals().Store, Access: s.App.Internals().Store, Audiences: s.App.Internals().Store,
			Rules: dsr.NewRules(), Checkpoints: s.App.Auditor, Crypto: s.App.Internals().Crypto, KeyRing: s.App.Internals().Crypto, KeyStore: s.App.Internals().Store,
			Normalize: normalize.ByType, Policy: pol, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := node(time.Now)
	ctx := context.Background()
	job, err := a.Keys().StartRotation(ctx, app.SystemAccess("node-a"))
	if err != nil {
		t.Fatal(err)
	}
	// Node A stalls after its first batch (a paused process, a network partition).
	stalled := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := job.Run(ctx, vault.RunOptions{BatchSize: 3, Step: func(st vault.RotationStep) {
			if st == vault.StepBatch {
				select {
				case <-stalled:
				default:
					close(stalled)
					<-release
				}
			}
		}})
		done <- err
	}()
	<-stalled
	b := node(func() time.Time { return clock })
	if _, err := b.Keys().StartRotation(ctx, app.SystemAccess("node-b")); vault.ErrorCode(err) != vault.CodeRotationInProgress || vault.AuditSeqOf(err) == 0 {
		t.Fatalf("node B while A holds the lease: %v, want an audited rotation_in_progress", err)
	}
	// Two minutes later A's lease has expired: B takes over and resumes the same rotation.
	clock = clock.Add(2 * time.Minute)
	res, err := b.Keys().RotateKeys(ctx, app.SystemAccess("node-b"), vault.RunOptions{})
	if err != nil || !res.Resumed || res.JobID != job.ID() || res.NewVersion != 2 || !slices.Equal(res.Retired, []uint32{1}) {
		t.Fatalf("node B's takeover: %+v %v", res, err)
	}
	close(release)
	if err := <-done; err == nil {
		t.Fatal("node A went on writing after losing its lease")
	}
	if by := deksByVersion(t, s); by[2] != len(names) || len(by) != 1 {
		t.Errorf("DEKs by version: %v", by)
	}
	readAll(t, s, names, "after the takeover")
}

// The audit checkpoint key and the JWT signing key are never silently replaced beside a database either: a
// new checkpoint key signs what no pinned key or witness accepts, a new JWT key fails every token issued.
func TestNoNewSigningKeysBesideADatabase(t *testing.T) {
	for _, file := range []string{datadir.AuditKeyFile, datadir.JWTKeyFile} {
		dir := t.TempDir()
		a, err := app.Open(context.Background(), app.Config{DataDir: dir, Notices: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		if err := os.Remove(filepath.Join(dir, file)); err != nil {
			t.Fatal(err)
		}
		_, err = app.Open(context.Background(), app.Config{DataDir: dir, Notices: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "no new key is created") {
			t.Fatalf("open without %s: %v", file, err)
		}
		if _, err := os.Stat(filepath.Join(dir, file)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a new %s was created", file)
		}
	}
}
