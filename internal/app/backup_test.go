package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"filippo.io/age"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/backup"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

// A backup taken while the vault serves writes, restored after a person was erased, never brings that
// person back: the restore erases again everyone the erasure ledger names. Without the ledger (the
// explicit --without-ledger) the person would come back — which is what the ledger is for.
func TestRestoreNeverResurrectsAnErasedPerson(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "elsewhere", "erasures.ledger") // another volume, as the README advises
	s := apptest.Start(t, func(c *app.Config) { c.ErasureLedger = ledger })
	st := s.Token("st-1", "data_steward")
	cs := s.Token("cs-1", "customer_service")
	erased := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613800005678"})
	kept := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// Online: writes and reads go on while the backup is taken.
	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := s.Do("POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{"name": fmt.Sprintf("顾客%d", i)}})
			if r.Status == 201 {
				created.Add(1)
			}
			s.Do("GET", "/v1/subjects/"+kept, cs, "customer_service", nil)
		}
	}()
	var archive bytes.Buffer
	m, err := app.Backup(context.Background(), app.Config{DataDir: s.Dir}, []age.Recipient{id.Recipient()}, &archive)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if created.Load() == 0 {
		t.Fatal("no write ran beside the backup: not an online test")
	}
	names := map[string]bool{}
	for _, f := range m.Files {
		names[f.Name] = true
	}
	for _, want := range []string{"vault.db", "kek.json", "jwt-signing-key.pem", "audit-checkpoint.key", "audit/checkpoints"} {
		if !names[want] {
			t.Errorf("the backup lacks %s: %v", want, names)
		}
	}
	for n := range names {
		if strings.Contains(n, "erasures") {
			t.Errorf("the erasure ledger is in the backup (%s)", n)
		}
	}
	for _, secret := range []string{"韩梅梅", "8613800005678", "AGE-SECRET-KEY"} {
		if bytes.Contains(archive.Bytes(), []byte(secret)) {
			t.Errorf("the encrypted archive shows %q", secret)
		}
	}

	// After the backup: one person is erased.
	if r := s.Do("DELETE", "/v1/subjects/"+erased, st, "account_management", nil); r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if _, err := os.Stat(ledger); err != nil {
		t.Fatalf("no ledger after an erasure: %v", err)
	}

	restore := func(t *testing.T, opts app.RestoreOptions) (string, app.RestoreReport, error) {
		dir := filepath.Join(t.TempDir(), "restored")
		rep, err := app.Restore(context.Background(), app.Config{DataDir: dir}, bytes.NewReader(archive.Bytes()), []age.Identity{id}, opts)
		return dir, rep, err
	}
	serve := func(t *testing.T, dir string) func(subject string) apptest.Response {
		r := apptest.Start(t, func(c *app.Config) { c.DataDir = dir })
		tok := r.Token("cs-1", "customer_service")
		return func(subject string) apptest.Response {
			return r.Do("GET", "/v1/subjects/"+subject, tok, "customer_service", nil)
		}
	}

	t.Run("with the ledger, the erased person stays erased", func(t *testing.T) {
		dir, rep, err := restore(t, app.RestoreOptions{Ledgers: []string{ledger}})
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if rep.Reapply.Erased != 1 || rep.Reapply.Records != 1 || !rep.Verify.OK {
			t.Fatalf("report %+v", rep)
		}
		if rep.LedgerCopied != 1 {
			t.Errorf("the restored dir's own ledger got %d records, want 1", rep.LedgerCopied)
		}
		read := serve(t, dir)
		if r := read(erased); r.Status != 404 {
			t.Fatalf("the erased person after restore: %d %s", r.Status, r.Body)
		}
		r := read(kept)
		if r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "李雷" {
			t.Fatalf("the kept person after restore: %d %s", r.Status, r.Body)
		}
	})
	t.Run("without the ledger the person would come back", func(t *testing.T) {
		if _, _, err := restore(t, app.RestoreOptions{}); !errors.Is(err, app.ErrNoLedger) {
			t.Fatalf("restore with no ledger named = %v, want ErrNoLedger", err)
		}
		dir, rep, err := restore(t, app.RestoreOptions{WithoutLedger: true})
		if err != nil || rep.Reapply.Erased != 0 {
			t.Fatalf("restore --without-ledger: %v %+v", err, rep)
		}
		if r := serve(t, dir)(erased); r.Status != 200 {
			t.Fatalf("without the ledger the erased person is %d: the test above proves nothing", r.Status)
		}
	})
	t.Run("a wrong key or a damaged archive restores nothing", func(t *testing.T) {
		other, _ := age.GenerateX25519Identity()
		dir := filepath.Join(t.TempDir(), "restored")
		if _, err := app.Restore(context.Background(), app.Config{DataDir: dir}, bytes.NewReader(archive.Bytes()), []age.Identity{other}, app.RestoreOptions{Ledgers: []string{ledger}}); err == nil {
			t.Fatal("restored with the wrong identity")
		}
		bad := bytes.Clone(archive.Bytes())
		bad[len(bad)/2] ^= 1
		if _, err := app.Restore(context.Background(), app.Config{DataDir: dir}, bytes.NewReader(bad), []age.Identity{id}, app.RestoreOptions{Ledgers: []string{ledger}}); err == nil {
			t.Fatal("restored a damaged archive")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a failed restore left %d files behind", len(entries))
		}
	})
	t.Run("a restored vault that does not start leaves nothing behind", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "restored")
		cfg := app.Config{DataDir: dir, PolicyDir: filepath.Join(t.TempDir(), "no-such-policy")} // fails after the archive is extracted
		if _, err := app.Restore(context.Background(), cfg, bytes.NewReader(archive.Bytes()), []age.Identity{id}, app.RestoreOptions{Ledgers: []string{ledger}}); err == nil {
			t.Fatal("restored under a policy dir that does not exist")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a restore that failed after extracting left %d files behind (keys among them)", len(entries))
		}
		if _, err := app.Restore(context.Background(), app.Config{DataDir: dir}, bytes.NewReader(archive.Bytes()), []age.Identity{id}, app.RestoreOptions{Ledgers: []string{ledger}}); err != nil {
			t.Fatalf("a restore into the same dir after the failed one: %v", err)
		}
	})
	t.Run("a restore never overwrites a data dir", func(t *testing.T) {
		_, err := app.Restore(context.Background(), app.Config{DataDir: s.Dir}, bytes.NewReader(archive.Bytes()), []age.Identity{id}, app.RestoreOptions{Ledgers: []string{ledger}})
		if !errors.Is(err, backup.ErrNotEmpty) {
			t.Fatalf("restore over the live dir = %v", err)
		}
	})
	// On PostgreSQL each node records the erasures it made in its own ledger: a restore applies every
	// ledger it is given (it took one, and people erased through the other nodes came back). Here the
	// ledger's two records are split into two files, as two nodes would have written them.
	t.Run("every node's ledger", func(t *testing.T) {
		if r := s.Do("DELETE", "/v1/subjects/"+kept, st, "account_management", nil); r.Status != 200 {
			t.Fatalf("erase: %d %s", r.Status, r.Body)
		}
		raw, err := os.ReadFile(ledger)
		lines := strings.SplitAfter(strings.TrimSpace(string(raw)), "\n")
		if err != nil || len(lines) != 2 {
			t.Fatalf("the ledger: %d records, %v", len(lines), err)
		}
		nodeA, nodeB := filepath.Join(t.TempDir(), "a.ledger"), filepath.Join(t.TempDir(), "b.ledger")
		if err := errors.Join(os.WriteFile(nodeA, []byte(lines[0]), 0o600), os.WriteFile(nodeB, []byte(lines[1]+"\n"), 0o600)); err != nil {
			t.Fatal(err)
		}
		dir, rep, err := restore(t, app.RestoreOptions{Ledgers: []string{nodeA, nodeB}})
		if err != nil || rep.Reapply.Records != 2 || rep.Reapply.Erased != 2 || rep.LedgerCopied != 2 {
			t.Fatalf("restore with both ledgers: %+v %v", rep, err)
		}
		read := serve(t, dir)
		if a, b := read(erased), read(kept); a.Status != 404 || b.Status != 404 {
			t.Fatalf("after restoring with both nodes' ledgers: %d, %d", a.Status, b.Status)
		}
	})
}

// A vault kept in PostgreSQL is backed up while it serves writes — a dump of its schema in one snapshot,
// the key files and a manifest of what the snapshot held — and restored into an empty database: the
// restored database holds exactly what the manifest says (checked before the vault starts on it), the
// person erased after the backup stays erased (the ledger), the others answer as before, and the trail
// verifies. A database that is not empty, or a data dir where a dump belongs, are refused.
func TestBackupAndRestoreOnPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ledger := filepath.Join(t.TempDir(), "elsewhere", "erasures.ledger")
	s := apptest.Start(t, func(c *app.Config) { c.DB, c.ErasureLedger = dsn, ledger })
	st, cs := s.Token("st-1", "data_steward"), s.Token("cs-1", "customer_service")
	erased := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613800005678"})
	kept := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if r := s.Do("POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{"name": fmt.Sprintf("顾客%d", i)}}); r.Status == 201 {
				created.Add(1)
			}
			s.Do("GET", "/v1/subjects/"+kept, cs, "customer_service", nil)
		}
	})
	var archive bytes.Buffer
	m, err := app.Backup(context.Background(), app.Config{DataDir: s.Dir, DB: dsn}, []age.Recipient{id.Recipient()}, &archive)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if created.Load() == 0 {
		t.Fatal("no write ran beside the backup: not an online test")
	}
	names := map[string]bool{}
	for _, f := range m.Files {
		names[f.Name] = true
	}
	if m.Format != backup.FormatPostgres || !names["postgres.dump"] || !names["kek.json"] || !names["audit-checkpoint.key"] || names["vault.db"] {
		t.Fatalf("manifest: format %d, members %v", m.Format, names)
	}
	var info postgres.DumpInfo
	if err := json.Unmarshal(m.Postgres, &info); err != nil || info.LogSize == 0 || info.Tables["subjects"] < 2 || len(info.Keys) != 3 {
		t.Fatalf("what the snapshot held: %+v %v", info, err)
	}
	for _, secret := range []string{"韩梅梅", "8613800005678", "AGE-SECRET-KEY"} {
		if bytes.Contains(archive.Bytes(), []byte(secret)) {
			t.Errorf("the encrypted archive shows %q", secret)
		}
	}
	if r := s.Do("DELETE", "/v1/subjects/"+erased, st, "account_management", nil); r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	restore := func(dir, db string) (app.RestoreReport, error) {
		return app.Restore(context.Background(), app.Config{DataDir: dir, DB: db}, bytes.NewReader(archive.Bytes()), []age.Identity{id}, app.RestoreOptions{Ledgers: []string{ledger}})
	}

	t.Run("into a database that is not empty, nothing", func(t *testing.T) {
		before, dir := s.Do("GET", "/v1/subjects/"+kept, cs, "customer_service", nil), filepath.Join(t.TempDir(), "node")
		if _, err := restore(dir, dsn); !errors.Is(err, postgres.ErrTargetNotEmpty) {
			t.Fatalf("restore over the serving database = %v, want ErrTargetNotEmpty", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a refused restore left %d files", len(entries))
		}
		if r := s.Do("GET", "/v1/subjects/"+kept, cs, "customer_service", nil); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != before.JSON["fields"].(map[string]any)["name"] {
			t.Fatalf("the serving database after a refused restore: %d %s", r.Status, r.Body)
		}
	})
	t.Run("into a data dir, nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "restored")
		if _, err := restore(dir, ""); !errors.Is(err, app.ErrArchiveKind) {
			t.Fatalf("restore of a PostgreSQL backup without --db = %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a refused restore left %d files", len(entries))
		}
	})
	t.Run("into an empty database, the backup with the ledger's erasures", func(t *testing.T) {
		target, dir := pgtest.NewDatabase(t), filepath.Join(t.TempDir(), "node")
		rep, err := restore(dir, target)
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if rep.Reapply.Erased != 1 || !rep.Verify.OK || rep.Verify.Entries <= info.LogSize {
			t.Fatalf("report %+v (the snapshot held %d entries)", rep, info.LogSize)
		}
		if _, err := os.Stat(backup.DumpFile(dir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the dump stayed in the data dir: %v", err)
		}
		r := apptest.Start(t, func(c *app.Config) { c.DataDir, c.DB = dir, target })
		tok := r.Token("cs-1", "customer_service")
		if got := r.Do("GET", "/v1/subjects/"+erased, tok, "customer_service", nil); got.Status != 404 {
			t.Fatalf("the erased person after restore: %d %s", got.Status, got.Body)
		}
		if got := r.Do("GET", "/v1/subjects/"+kept, tok, "customer_service", nil); got.Status != 200 || got.JSON["fields"].(map[string]any)["name"] != "李雷" {
			t.Fatalf("the kept person after restore: %d %s", got.Status, got.Body)
		}
		n, err := r.App.CountActiveSubjects(context.Background())
		if want := info.Tables["subjects"] - 1; err != nil || int64(n) != want {
			t.Fatalf("%d active subjects restored, the snapshot held %d (one erased since): %v", n, want+1, err)
		}
	})
}
