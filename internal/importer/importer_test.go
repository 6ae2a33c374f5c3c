package importer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func TestImportSyntheticShopTwice(t *testing.T) {
	dir := t.TempDir()
	shop := synth.Generate(synth.Options{Seed: 3, Subjects: 120, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t)
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	rep, err := im.Run(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted < len(shop.Events)/2 || rep.RejectedTotal() == 0 {
		t.Fatalf("first import: %v", rep.Lines())
	}
	// Behaviour without consent and events of minors without guardian consent are refused, never stored.
	if rep.Rejected["consent_required"] == 0 {
		t.Fatalf("no gated behaviour: %v", rep.Lines())
	}
	tables := []string{"events", "consent_events", "subjects", "fields"}
	before := map[string]int{}
	for _, table := range tables {
		n, err := s.App.Internals().Store.CountRows(t.Context(), table)
		if err != nil {
			t.Fatal(err)
		}
		before[table] = n
	}
	events := before["events"]
	// Re-importing the same files changes nothing: events, consents, subjects and fields stay as they were.
	rep2, err := im.Run(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if n, _ := s.App.Internals().Store.CountRows(t.Context(), table); n != before[table] {
			t.Errorf("re-import changed %s: %d → %d rows", table, before[table], n)
		}
	}
	if rep2.Duplicates < events {
		t.Fatalf("re-import: %d duplicates for %d events\n%s", rep2.Duplicates, events, strings.Join(rep2.Lines(), "\n"))
	}
	// A file with one bad row keeps the good rows around it.
	bad := filepath.Join(t.TempDir(), "events-bad.ndjson")
	lines, _ := os.ReadFile(filepath.Join(dir, "events.ndjson"))
	first := strings.SplitN(string(lines), "\n", 3)
	os.WriteFile(bad, []byte(first[0]+"\n{not json\n"+first[1]+"\n"), 0o600)
	rep3, err := im.Run(t.Context(), []string{bad})
	if err != nil {
		t.Fatal(err)
	}
	if rep3.RejectedTotal() != 1 || rep3.Duplicates+rep3.RejectedTotal() != 3 {
		t.Fatalf("bad row: %v", rep3.Lines())
	}
}

func TestImportDrawsProgress(t *testing.T) {
	dir := t.TempDir()
	shop := synth.Generate(synth.Options{Seed: 4, Subjects: 30, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t)
	var progress apptest.SyncBuffer
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}, Progress: &progress, BatchSize: 500}
	if _, err := im.Run(t.Context(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	if !strings.Contains(out, "] 100% events:") || !strings.Contains(out, "\r[") {
		t.Fatalf("progress output: %q", out[max(0, len(out)-300):])
	}
}

// TestImportUsesTheLoadedSchema adds a field through --policy-dir (a schema.json beside the built-in
// policy): an import accepts it, as the API does, instead of checking records against the embedded schema.
func TestImportUsesTheLoadedSchema(t *testing.T) {
	policyDir := t.TempDir()
	schema, err := os.ReadFile(filepath.Join("..", "..", "policies", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	extra := `{"name": "loyalty_tier", "category": "demographic", "type": "string", "max_length": 16, "sensitive": false, "blind_index": false, "mask": "none"},` + "\n    "
	edited := strings.Replace(string(schema), `{"name": "occupation"`, extra+`{"name": "occupation"`, 1)
	if edited == string(schema) {
		t.Fatal("could not edit the schema")
	}
	if err := os.WriteFile(filepath.Join(policyDir, "schema.json"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, func(c *app.Config) { c.PolicyDir = policyDir })
	dir := t.TempDir()
	row := `{"source":"crm","external_id":"c-77","fields":{"name":"孙八","loyalty_tier":"gold"}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "subjects.ndjson"), []byte(row), 0o600); err != nil {
		t.Fatal(err)
	}
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	rep, err := im.Run(t.Context(), []string{dir})
	if err != nil || rep.RejectedTotal() != 0 {
		t.Fatalf("import with a policy-dir field: %v %v", err, rep.Lines())
	}
}

// Two records of one person that share only an email (their phones differ) are merged the same way on
// every run: the first in the file is kept, the second merges into it, and what depends on the survivor
// (a consent that needs the birth date only the second record had) comes out the same each time.
func TestImportOfOnePersonsRecordsIsTheSameOnEveryRun(t *testing.T) {
	const pairs = 60
	dir := t.TempDir()
	var subjects, consents strings.Builder
	for i := range pairs {
		fmt.Fprintf(&subjects, `{"external_id":"A%04d","source":"crm","fields":{"name":"王芳","email":"p%d@example.cn","phone":"1380013%04d"}}`+"\n", i, i, i)
		fmt.Fprintf(&subjects, `{"external_id":"B%04d","source":"app","fields":{"name":"王芳","email":"p%d@example.cn","phone":"1390013%04d","birth_date":"1990-01-01"}}`+"\n", i, i, i)
		fmt.Fprintf(&consents, `{"subject_id":"external:app:B%04d","purpose":"marketing","notice_version":"2026-01","method":"app_checkbox","kind":"general","granted_at":"2026-10-27T14:19:37Z"}`+"\n", i)
	}
	for name, body := range map[string]string{"subjects.ndjson": subjects.String(), "consents.ndjson": consents.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var first []string
	for run := range 3 {
		s := apptest.Start(t)
		im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
		rep, err := im.Run(t.Context(), []string{dir})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Merged != pairs {
			t.Fatalf("run %d: %d of %d pairs merged\n%s", run, rep.Merged, pairs, strings.Join(rep.Lines(), "\n"))
		}
		lines := rep.Lines()
		if run == 0 {
			first = lines
			continue
		}
		if strings.Join(lines, "\n") != strings.Join(first, "\n") {
			t.Fatalf("run %d differs from the first:\n%s\n--- first:\n%s", run, strings.Join(lines, "\n"), strings.Join(first, "\n"))
		}
	}
}

// TestABadFileImportsNothing: a file that cannot be imported — a CSV header without a column its kind
// needs, or one that does not open — stops the import before any record is stored, and says which file and
// which column; a directory's entries that are not import files are listed as skipped, not passed over.
func TestABadFileImportsNothing(t *testing.T) {
	s := apptest.Start(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("subjects.ndjson", `{"source":"crm","external_id":"c-1","fields":{"name":"孙八","phone":"+8613800007777"}}`+"\n")
	write("events.csv", "event_id;subject_id;type;ts;source;attrs\ne1;external:crm:c-1;page_view;2026-01-01T00:00:00Z;app;{}\n")
	write("customers.json", "{}\n")
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	_, err := im.Run(t.Context(), []string{dir})
	if err == nil || !strings.Contains(err.Error(), "events.csv: bad CSV header") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("a semicolon-separated header: %v", err)
	}
	if len(im.Skipped) != 2 || !strings.Contains(strings.Join(im.Skipped, "\n"), "customers.json: not a subjects*") ||
		!strings.Contains(strings.Join(im.Skipped, "\n"), "old: a directory") {
		t.Fatalf("skipped: %q", im.Skipped)
	}
	st := s.Token("st", "data_steward")
	found := func() int {
		r := s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "phone", "value": "+8613800007777"})
		if r.Status != 200 {
			t.Fatalf("lookup: %d %s", r.Status, r.Body)
		}
		return len(r.JSON["ids"].([]any))
	}
	if found() != 0 {
		t.Fatal("the subjects file was imported before the bad events file stopped the import")
	}
	// The header names what is missing; a header that is a record is not repeated.
	for header, want := range map[string]string{
		"event_id,subject_id,type,ts,attrs\n":               "no source column",
		"13900000174,e1,page_view,2026,app,{}\n":            "column 1 ((not a name)) is not a column of events files",
		"event_id,subject_id,type,ts,source,source,attrs\n": "column 6 (source) appears twice",
	} {
		write("events.csv", header)
		_, err := im.Run(t.Context(), []string{filepath.Join(dir, "events.csv")})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "13900000174") {
			t.Errorf("header %q: %v, want %q", header, err, want)
		}
	}
	// The good file alone imports (the lookup above could see it).
	if _, err := im.Run(t.Context(), []string{filepath.Join(dir, "subjects.ndjson")}); err != nil || found() != 1 {
		t.Fatalf("the subjects file alone: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "events.csv"), 0); err == nil && os.Geteuid() != 0 {
		if _, err := im.Run(t.Context(), []string{dir}); err == nil || !strings.Contains(err.Error(), "nothing was imported") {
			t.Errorf("an unreadable file: %v", err)
		}
	}
}

// TestRejectionsNameTheirLines: the report says where each rejected record was — the reader's refusals,
// the cleaner's, and the vault's (an event of a subject nobody has, a consent for no one) — by file and line.
func TestRejectionsNameTheirLines(t *testing.T) {
	s := apptest.Start(t)
	dir := t.TempDir()
	subjects := `{"source":"crm","external_id":"c-1","fields":{"name":"孙八"}}
{"source":"crm","external_id":"c-2","fields":{"name":"周九","phone":"not a phone"}}
not json
{"source":"crm","external_id":"c-3","fields":{"name":"吴十"}}
`
	events := `{"event_id":"e1","subject_id":"external:crm:c-1","type":"page_view","ts":"2026-01-01T00:00:00Z","source":"app","attrs":{"page":"home"}}
{"event_id":"e2","subject_id":"external:crm:nobody","type":"page_view","ts":"2026-01-01T00:00:00Z","source":"app","attrs":{"page":"home"}}
{"event_id":"e3","subject_id":"external:crm:c-1","type":"teleport","ts":"2026-01-01T00:00:00Z","source":"app","attrs":{}}
`
	consents := `{"subject_id":"external:crm:nobody","purpose":"marketing","kind":"general","notice_version":"2026-01","method":"app","granted_at":"2026-01-01T00:00:00Z"}
`
	for name, text := range map[string]string{"subjects.ndjson": subjects, "events.ndjson": events, "consents.ndjson": consents} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	rep, err := im.Run(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]string{}
	for _, x := range rep.At {
		at[fmt.Sprintf("%s:%d", filepath.Base(x.File), x.Line)] = x.Reason
	}
	for place, reason := range map[string]string{"subjects.ndjson:2": "bad_value:phone", "subjects.ndjson:3": "malformed_json",
		"events.ndjson:2": "unknown_subject", "events.ndjson:3": "unknown_type", "consents.ndjson:1": "unknown_subject"} {
		if !strings.HasPrefix(at[place], strings.SplitN(reason, ":", 2)[0]) {
			t.Errorf("%s: rejected as %q, want %q (all: %v)", place, at[place], reason, at)
		}
	}
	if len(rep.At) != rep.RejectedTotal() {
		t.Errorf("%d places for %d rejections: %v", len(rep.At), rep.RejectedTotal(), rep.At)
	}
	if !slices.ContainsFunc(rep.Lines(), func(l string) bool {
		return strings.HasPrefix(l, "at ") && strings.HasSuffix(l, "events.ndjson:2: "+at["events.ndjson:2"])
	}) {
		t.Errorf("the report's lines do not name the place: %q", rep.Lines())
	}
}

// TestReimportNeverUndoesAWithdrawal: a person withdraws a consent an import granted; importing the same
// file again is unchanged (the capture is recorded: a duplicate), and a feed with an older capture of the
// same purpose is refused as withdrawn_since — neither grants it again.
func TestReimportNeverUndoesAWithdrawal(t *testing.T) {
	dir := t.TempDir()
	write := func(consents string) {
		t.Helper()
		for name, body := range map[string]string{
			"subjects.ndjson": `{"external_id":"T1","source":"crm","fields":{"name":"周杰","phone":"13800000101","birth_date":"1990-01-01"}}` + "\n",
			"consents.ndjson": consents} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	grant := func(at string) string {
		return `{"subject_id":"external:crm:T1","purpose":"marketing","notice_version":"2026-01","method":"app_checkbox","kind":"general","granted_at":"` + at + `"}` + "\n"
	}
	s := apptest.Start(t)
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	write(grant("2026-10-01T23:40:00Z"))
	if _, err := im.Run(t.Context(), []string{dir}); err != nil {
		t.Fatal(err)
	}
	id, err := s.App.Vault.Ingestion().ResolveSubject(t.Context(), vault.Access{Caller: im.Steward, Purpose: policies.PurposeAccountManagement}, "external:crm:T1")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(id, "subject"), "", map[string]any{"granted": false}); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	granted := func() bool {
		for _, c := range s.Do("GET", "/v1/me", s.Token(id, "subject"), "", nil).JSON["consents"].([]any) {
			if m := c.(map[string]any); m["purpose"] == "marketing" && m["status"] == "granted" {
				return true
			}
		}
		return false
	}
	rep, err := im.Run(t.Context(), []string{dir})
	if err != nil || granted() || rep.Duplicates < 1 {
		t.Fatalf("re-import after a withdrawal: granted %v, %v\n%s", granted(), err, strings.Join(rep.Lines(), "\n"))
	}
	write(grant("2026-09-01T08:00:00Z")) // an older capture from another feed
	rep, err = im.Run(t.Context(), []string{dir})
	if err != nil || granted() || rep.Rejected["withdrawn_since"] != 1 {
		t.Fatalf("an older capture after a withdrawal: granted %v, %v\n%s", granted(), err, strings.Join(rep.Lines(), "\n"))
	}
}

// An objection imported again is a duplicate, as a consent is: it was counted as accepted each time, so a
// feed read twice reported objections it did not change.
func TestReimportedObjectionIsADuplicate(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"subjects.ndjson":   `{"external_id":"T1","source":"crm","fields":{"name":"周杰","phone":"13800000101","birth_date":"1990-01-01"}}` + "\n",
		"objections.ndjson": `{"subject_id":"external:crm:T1","kind":"personalized_marketing"}` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := apptest.Start(t)
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	rep, err := im.Run(t.Context(), []string{dir})
	if err != nil || rep.Accepted != 2 || rep.Duplicates != 0 {
		t.Fatalf("first import: %v\n%s", err, strings.Join(rep.Lines(), "\n"))
	}
	rep, err = im.Run(t.Context(), []string{dir})
	if err != nil || rep.Accepted != 0 || rep.Duplicates != 2 {
		t.Fatalf("the same files again: %v\n%s", err, strings.Join(rep.Lines(), "\n"))
	}
}
