package importer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// importTables are the tables an import writes, counted on both stores.
var importTables = []string{"subjects", "deks", "fields", "blind_index", "events", "consent_events"}

// imported is what one store made of a shop: the two runs' reports, the rows after each, and the audit
// entries by action, decision and status.
type imported struct {
	first, second []string
	rows, again   map[string]int
	entries       map[string]int
}

// importTwice imports dir into a fresh vault (on PostgreSQL when dsn is set) twice, with the importer's
// default workers and batches unless configure changes them, and returns what it made.
func importTwice(t *testing.T, dir, dsn string, configure func(*importer.Importer)) imported {
	t.Helper()
	// As `vaultd import` runs (VAULT_COMMIT_TIMEOUT defaults to a minute for the offline commands): a busy
	// machine slows a batch's commit, it does not abort the import.
	s := apptest.Start(t, func(c *app.Config) { c.DB, c.CommitTimeout = dsn, time.Minute })
	count := func() map[string]int {
		out := map[string]int{}
		for _, table := range importTables {
			var n int
			var err error
			if dsn == "" {
				n, err = s.App.Internals().Store.CountRows(t.Context(), table)
			} else {
				n, err = countPG(t.Context(), dsn, table)
			}
			if err != nil {
				t.Fatal(err)
			}
			out[table] = n
		}
		return out
	}
	im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "import-test", Roles: []policies.Role{"data_steward"}}}
	if configure != nil {
		configure(im)
	}
	var out imported
	for run := range 2 {
		rep, err := im.Run(t.Context(), []string{dir})
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, p := range im.Phases {
			lines += p.Lines
		}
		if len(im.Phases) != 4 || im.Phases[0].Kind != ingest.KindSubjects || lines != rep.LinesRead {
			t.Fatalf("phases %v for %d lines read", im.Phases, rep.LinesRead)
		}
		if run == 0 {
			out.first, out.rows = rep.Lines(), count()
		} else {
			out.second, out.again = rep.Lines(), count()
		}
	}
	trail, err := app.OpenTrailOn(t.Context(), dsn, s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	// Entry by entry from the log (SQLite's review index, which Export reads, may still lag behind it).
	out.entries = map[string]int{}
	for seq := int64(1); ; seq++ {
		canon, err := trail.Leaf(t.Context(), seq)
		if errors.Is(err, audit.ErrNoEntry) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil {
			t.Fatal(err)
		}
		out.entries[fmt.Sprintf("%s %s %d per-subject:%v", e.Action, e.Decision, e.Status, e.SubjectRef != "")]++
	}
	return out
}

func countPG(ctx context.Context, dsn, table string) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	return n, conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
}

// withoutReviews drops what depends on which of two workers' subjects with similar names came first (the
// weak-match review queue, racy on any store).
func withoutReviews[T any](m map[string]T, lines []string) (map[string]T, []string) {
	out := map[string]T{}
	for k, v := range m {
		if !strings.HasPrefix(k, string(vault.ActionMergeReview)+" ") {
			out[k] = v
		}
	}
	return out, slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasPrefix(l, "review_queued:") })
}

// An import on PostgreSQL (changes group-committed and pipelined) does what it does on SQLite: the same
// report, the same rows, the same audit entries (one per subject where SQLite writes one), and a second
// run of the same files changes nothing and reports every stored event and consent a duplicate.
func TestImportOnPostgresAsOnSQLite(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := t.TempDir()
	shop := synth.Generate(synth.Options{Seed: 3, Subjects: 120, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		t.Fatal(err)
	}
	sq, pg := importTwice(t, dir, "", nil), importTwice(t, dir, dsn, nil)
	if sq.rows["events"] == 0 || sq.rows["consent_events"] == 0 {
		t.Fatalf("the SQLite import stored nothing: %v", sq.rows)
	}
	sqEntries, sqFirst := withoutReviews(sq.entries, sq.first)
	pgEntries, pgFirst := withoutReviews(pg.entries, pg.first)
	if !slices.Equal(sqFirst, pgFirst) || !slices.Equal(sq.second, pg.second) {
		t.Errorf("reports differ\nSQLite:     %v then %v\nPostgreSQL: %v then %v", sq.first, sq.second, pg.first, pg.second)
	}
	for _, table := range importTables {
		if sq.rows[table] != pg.rows[table] || pg.again[table] != pg.rows[table] {
			t.Errorf("%s: %d rows on SQLite, %d on PostgreSQL, %d after its second run", table, sq.rows[table], pg.rows[table], pg.again[table])
		}
	}
	if fmt.Sprint(sqEntries) != fmt.Sprint(pgEntries) {
		t.Errorf("audit entries differ\nSQLite:     %v\nPostgreSQL: %v", sqEntries, pgEntries)
	}
	var dups int
	if _, err := fmt.Sscanf(pg.second[1], "duplicates: %d", &dups); err != nil || dups < pg.rows["events"]+pg.rows["consent_events"] {
		t.Errorf("the second run on PostgreSQL: %v, want every stored event and consent a duplicate (%v)", pg.second, err)
	}
}
