package importer_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// BenchmarkImport imports one synthetic shop (VAULT_BENCH_SUBJECTS subjects, default 1,000, two months of
// events) into a fresh vault per iteration, on SQLite and on PostgreSQL (VAULT_TEST_POSTGRES; the
// PostgreSQL import opens the pool vaultd import opens), and reports each phase's rate:
//
//	go test -run '^$' -bench Import -benchtime 1x ./internal/importer
//
// On PostgreSQL it also reports the round trips its group commits made per change.
func BenchmarkImport(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_SUBJECTS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	shop := synth.Generate(synth.Options{Seed: 1, Subjects: n, Now: now, Start: now.AddDate(0, -2, 0)})
	if err := shop.WriteDir(dir, "ndjson"); err != nil {
		b.Fatal(err)
	}
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			rates := map[ingest.Kind]float64{}
			var trips, changes int64
			for range b.N {
				b.StopTimer()
				dsn := ""
				if store == "postgres" {
					dsn = pgtest.NewDatabase(b)
				}
				s := apptest.Start(b, func(c *app.Config) { c.DB, c.DBPool = dsn, 16 })
				im := &importer.Importer{Vault: s.App.Vault, Steward: vault.Caller{Subject: "bench", Roles: []policies.Role{policies.RoleDataSteward}}}
				b.StartTimer()
				if _, err := im.Run(b.Context(), []string{dir}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, p := range im.Phases {
					rates[p.Kind] += float64(p.Lines) / p.Duration.Seconds() / float64(b.N)
				}
				if pg := s.App.Internals().Postgres; pg != nil {
					_, c, t := pg.GroupStats()
					changes, trips = changes+c, trips+t
				}
				b.StartTimer()
			}
			b.ReportMetric(rates[ingest.KindSubjects], "subjects/s")
			b.ReportMetric(rates[ingest.KindConsents], "consents/s")
			b.ReportMetric(rates[ingest.KindEvents], "eventlines/s")
			if changes > 0 {
				b.ReportMetric(float64(trips)/float64(changes), "trips/change")
			}
		})
	}
}
