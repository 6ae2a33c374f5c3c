package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// seedShop fills s (SQLite) through the real code paths: a small synthetic shop imported through the
// importer, every tag computed (and the frozen models), then over HTTP a consent granted and withdrawn, an
// erasure and a read with a justification (a sealed note beside its entry). It returns a kept subject, the
// one who withdrew, and the erased one.
func seedShop(t *testing.T, s *apptest.Stack) (kept, withdrew, erased string) {
	t.Helper()
	ctx := context.Background()
	files := t.TempDir()
	if _, err := synth.Write(synth.Options{Seed: 7, Subjects: 40, Now: time.Now()}, files, "ndjson"); err != nil {
		t.Fatal(err)
	}
	stores := map[string]string{}
	for _, st := range synth.Stores() {
		stores[st.ID] = st.City
	}
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "seeder", Roles: []policies.Role{policies.RoleDataSteward}}, Stores: stores}
	if rep, err := im.Run(ctx, []string{files}); err != nil || rep.Accepted == 0 {
		t.Fatalf("import: %v %+v", err, rep)
	}
	r := *s.App.Tags
	r.Caller = vault.Caller{Subject: "tagger", Roles: []policies.Role{policies.RoleDataSteward}}
	if sum, err := r.Full(ctx); err != nil || sum.Subjects == 0 {
		t.Fatalf("tags: %v %+v", err, sum)
	}
	st := s.Token("st-1", "data_steward")
	kept = s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613500000001", "email": "hmm@example.com", "birth_date": "1984-09-10"})
	withdrew = s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613500000002", "birth_date": "1990-01-02"})
	erased = s.CreateSubject(map[string]any{"name": "王芳", "phone": "+8613500000003"})
	for _, id := range []string{kept, withdrew} {
		if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", map[string]any{"purpose": "marketing", "notice_version": "2026-01",
			"method": "app_checkbox", "kind": "general", "evidence": "checkbox"}); r.Status != 201 {
			t.Fatalf("grant: %d %s", r.Status, r.Body)
		}
	}
	if r := s.Do("DELETE", "/v1/subjects/"+withdrew+"/consents/marketing", st, "account_management", nil); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/subjects/"+erased, st, "account_management", nil); r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if r := s.DoHeaders("GET", "/v1/subjects/"+kept, s.Token("cs-1", "customer_service"), "customer_service", nil,
		map[string]string{"X-Justification": "TICKET-4711"}); r.Status != 200 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	return kept, withdrew, erased
}

// reads are the answers migrate must keep: a subject read, the consents of the one who withdrew, the
// erased one's 404 and the audit review of the kept subject.
type reads struct {
	subject, consents map[string]any
	erased            int
	review            []any
}

func migrateReads(t *testing.T, s *apptest.Stack, kept, withdrew, erased string) reads {
	t.Helper()
	cs, co := s.Token("cs-1", "customer_service"), s.Token("co-1", "compliance_officer")
	var out reads
	r := s.Do("GET", "/v1/subjects/"+kept, cs, "customer_service", nil)
	if r.Status != 200 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	out.subject = r.JSON["fields"].(map[string]any)
	r = s.Do("GET", "/v1/subjects/"+withdrew+"/consents", s.Token("st-1", "data_steward"), "account_management", nil)
	if r.Status != 200 {
		t.Fatalf("consents: %d %s", r.Status, r.Body)
	}
	out.consents = r.JSON
	out.erased = s.Do("GET", "/v1/subjects/"+erased, cs, "customer_service", nil).Status
	r = s.Do("GET", "/v1/audit/events?subject_id="+kept+"&limit=100", co, "compliance_audit", nil)
	if r.Status != 200 {
		t.Fatalf("audit review: %d %s", r.Status, r.Body)
	}
	out.review = r.JSON["events"].([]any)
	return out
}

// A data dir built by the real code paths moves into PostgreSQL whole: the same reads answer the same, the
// trail verifies with the same head and the same signed checkpoints under the same key, and every table
// holds what it held. A non-empty target, a running server's data dir and a tampered source are refused,
// the last before anything is copied.
func TestMigrateToPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	s := apptest.Start(t)
	kept, withdrew, erased := seedShop(t, s)
	// An audience and an access request: stored as JSON documents whose member names differ between the
	// stores (created_at, CreatedAt) — copied verbatim, they lost the holdout size, times and creators.
	mk, co := s.Token("mk", "marketing"), s.Token("co", "compliance_officer")
	aud := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "m", "rule": "value.rfm_segment == 'champions'", "channel": "sms", "holdout": 0.2})
	if aud.Status != 201 {
		t.Fatalf("audience: %d %s", aud.Status, aud.Body)
	}
	audPath := "/v1/audiences/" + aud.JSON["id"].(string)
	if r := s.Do("POST", "/v1/access-requests", s.Token("cs", "customer_service"), "risk_control", map[string]any{"fields": []string{"id_number"},
		"subjects": []string{kept}, "justification": "chargeback", "duration": "1h"}); r.Status != 201 {
		t.Fatalf("access request: %d %s", r.Status, r.Body)
	}
	audBefore, reqsBefore := s.Do("GET", audPath, mk, "marketing", nil).JSON, s.Do("GET", "/v1/access-requests", co, "", nil).JSON["requests"]
	before := migrateReads(t, s, kept, withdrew, erased)
	if before.erased != 404 || len(before.review) < 3 {
		t.Fatalf("the seeded reads: erased %d, %d review entries", before.erased, len(before.review))
	}

	if _, err := app.Migrate(ctx, app.MigrateOptions{DataDir: s.Dir, DB: dsn}); !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("migrate beside a running server = %v, want ErrLocked", err)
	}

	var sum app.MigrateSummary
	var srcCheckpoints []audit.StoredCheckpoint
	var srcReport audit.Report
	s.RestartWith(func(dir string) {
		trail, err := app.OpenTrail(dir)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := os.ReadFile(filepath.Join(dir, datadir.AuditKeyFile+".pub"))
		v, err := audit.NewVerifier(strings.TrimSpace(string(pub)))
		if err != nil {
			t.Fatal(err)
		}
		srcReport, _ = trail.Verify(ctx, v)
		srcCheckpoints, _ = trail.Checkpoints(ctx)
		trail.Close()
		if !srcReport.OK || len(srcCheckpoints) == 0 {
			t.Fatalf("source trail: %+v, %d checkpoints", srcReport, len(srcCheckpoints))
		}

		var calls int
		sum, err = app.Migrate(ctx, app.MigrateOptions{DataDir: dir, DB: dsn, Batch: 64, Progress: func(done, total int64) {
			calls++
			if done > total {
				t.Errorf("progress %d of %d", done, total)
			}
		}})
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if calls < 3 {
			t.Errorf("progress reported %d times", calls)
		}

		// Into a database that holds a vault: refused, nothing added.
		if _, err := app.Migrate(ctx, app.MigrateOptions{DataDir: dir, DB: dsn}); !errors.Is(err, postgres.ErrNotEmpty) {
			t.Fatalf("migrate into a non-empty database = %v, want ErrNotEmpty", err)
		}

		// A tampered source: refused before anything is copied.
		segs, _ := filepath.Glob(filepath.Join(dir, datadir.AuditLogDir, "segments", "*.log"))
		if len(segs) == 0 {
			t.Fatal("no audit segment")
		}
		orig, err := os.ReadFile(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(orig, []byte(`"decision":"allow"`))
		if i < 0 {
			t.Fatal("no allow entry in the first segment")
		}
		bad := bytes.Clone(orig)
		copy(bad[i:], `"decision":"deny!"`)
		if err := os.WriteFile(segs[0], bad, 0o600); err != nil {
			t.Fatal(err)
		}
		other := pgtest.NewDatabase(t)
		_, err = app.Migrate(ctx, app.MigrateOptions{DataDir: dir, DB: other})
		if err2 := os.WriteFile(segs[0], orig, 0o600); err2 != nil {
			t.Fatal(err2)
		}
		if !errors.Is(err, app.ErrSourceTrail) {
			t.Fatalf("migrate of a tampered source = %v, want ErrSourceTrail", err)
		}
		conn, err := pgx.Connect(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var rows int64
		var schema bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass('subjects') IS NOT NULL").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if schema { // verified before anything is copied: the target is not even migrated
			t.Error("a refused migration touched the target")
			if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM subjects) + (SELECT count(*) FROM audit_log_entries)").Scan(&rows); err != nil {
				t.Fatal(err)
			}
		}
		if rows != 0 {
			t.Fatalf("a refused migration left %d rows in the target", rows)
		}
	})

	// Every table holds what it held; the trail verifies on the target with the source's head.
	for _, c := range sum.Tables {
		if c.SourceRows != c.TargetRows {
			t.Errorf("%s → %s: %d → %d rows", c.Source, c.Target, c.SourceRows, c.TargetRows)
		}
	}
	for _, want := range []string{"subjects", "deks", "fields", "blind_index", "consent_events", "events", "event_ids", "tags", "tag_models", "audit_log_notes"} {
		i := slices.IndexFunc(sum.Tables, func(c app.TableCount) bool { return c.Target == want })
		if i < 0 || sum.Tables[i].TargetRows == 0 {
			t.Errorf("nothing migrated into %s", want)
		}
	}
	target, err := postgres.OpenTrail(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(s.Dir, datadir.AuditKeyFile+".pub"))
	v, _ := audit.NewVerifier(strings.TrimSpace(string(pub)))
	rep, err := target.Verify(ctx, v)
	if err != nil || !rep.OK || rep.Head != srcReport.Head || rep.Entries != srcReport.Entries || rep.Indexed != rep.Entries {
		t.Fatalf("target verify: %v %+v; source %+v", err, rep, srcReport)
	}
	cps, err := target.Checkpoints(ctx)
	target.Close()
	if err != nil || len(cps) != len(srcCheckpoints) {
		t.Fatalf("target checkpoints: %v, %d of %d", err, len(cps), len(srcCheckpoints))
	}
	for i := range cps {
		if cps[i].Size != srcCheckpoints[i].Size || !bytes.Equal(cps[i].Note, srcCheckpoints[i].Note) {
			t.Fatalf("checkpoint %d differs: size %d vs %d", i, cps[i].Size, srcCheckpoints[i].Size)
		}
	}

	// A node on the migrated database, with the data dir's keys, answers the same reads.
	node := apptest.Start(t, func(c *app.Config) { c.DataDir = copyKeys(t, s.Dir, keyFiles...); c.DB = dsn })
	after := migrateReads(t, node, kept, withdrew, erased)
	if !jsonEqual(before.subject, after.subject) {
		t.Errorf("subject read: %v, was %v", after.subject, before.subject)
	}
	if !jsonEqual(before.consents, after.consents) {
		t.Errorf("consents: %v, was %v", after.consents, before.consents)
	}
	if after.erased != 404 {
		t.Errorf("the erased subject reads %d on PostgreSQL", after.erased)
	}
	if a := node.Do("GET", audPath, node.Token("mk", "marketing"), "marketing", nil).JSON; !jsonEqual(a, audBefore) {
		t.Errorf("the audience on PostgreSQL: %v, was %v", a, audBefore)
	}
	if r := node.Do("GET", "/v1/access-requests", node.Token("co", "compliance_officer"), "", nil).JSON["requests"]; !jsonEqual(r, reqsBefore) {
		t.Errorf("the access requests on PostgreSQL: %v, were %v", r, reqsBefore)
	}
	// The review answers what it answered, plus the entries of the reads since (newest first).
	if len(after.review) < len(before.review) || !jsonEqual(before.review, after.review[len(after.review)-len(before.review):]) {
		t.Errorf("audit review: %d entries, was %d:\n%v\n%v", len(after.review), len(before.review), after.review, before.review)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Every table of the SQLite schema is either copied by migrate or named with the reason it is not, so that
// a table added later cannot be forgotten silently.
func TestMigrateCoversEverySQLiteTable(t *testing.T) {
	s := apptest.Start(t)
	db := s.App.Internals().Store
	if db == nil {
		t.Fatal("not on SQLite")
	}
	copied, skipped := app.MigratedTables()
	names, err := db.TableNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("only %d tables listed", len(names))
	}
	for _, n := range names {
		if !slices.Contains(copied, n) && skipped[n] == "" {
			t.Errorf("SQLite table %s is neither migrated nor named as left behind", n)
		}
	}
}
