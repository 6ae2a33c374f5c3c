package vault_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// benchMarketer builds audiences in the benchmarks.
var benchMarketer = vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}

// benchPopulation is a vault of N subjects (N from VAULT_BENCH_SUBJECTS, default 10,000), each with a
// name, a birth date, a phone, a marketing consent and the marketing tags tags(i) (key=value).
//
// With VAULT_BENCH_DIR set, the population is kept in that directory (one subdirectory per benchmark and
// N) and seeded only once, for profiling runs one after another; the trail and the audiences of earlier
// runs stay in it, so numbers to report come from a fresh population (without the variable).
func benchPopulation(b *testing.B, tags func(i int) []string) (*vault.Service, int, *sqlite.Store) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_SUBJECTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir, seeded := b.TempDir(), ""
	if keep := os.Getenv("VAULT_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("%s-%d", b.Name(), n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		seeded = filepath.Join(dir, "seeded")
	}
	cfg, store, _ := testConfigIn(b, dir)
	svc, err := vault.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if seeded != "" {
		if _, err := os.Stat(seeded); err == nil {
			indexSettled(b, store)
			return svc, n, store
		}
		defer func() {
			if !b.Failed() {
				os.WriteFile(seeded, nil, 0o600)
			}
		}()
	}
	tagger := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{
					"name": str("客户"), "birth_date": str("1985-03-03"), "phone": str(fmt.Sprintf("+86138%08d", i))}})
				if err != nil {
					b.Error(err)
					return
				}
				g, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "app"})
				if err != nil {
					b.Error(err)
					return
				}
				var tv []vault.TagValue
				for _, kv := range tags(i) {
					k, v, _ := strings.Cut(kv, "=")
					tv = append(tv, vault.TagValue{Key: k, Level: strings.SplitN(k, ".", 2)[0], Value: v, Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"})
				}
				if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: c.ID, Purpose: "marketing", ConsentIDs: []string{g.ID}, Tags: tv}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	indexSettled(b, store)
	return svc, n, store
}

// indexSettled waits until the review index covers the trail (it is written off the hot path, after the
// entries), so that a measurement does not pay for the index of the work before it; it returns how long
// that took.
func indexSettled(b *testing.B, store *sqlite.Store) time.Duration {
	start := time.Now()
	for store.IndexLag() > 0 {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("the review index is still %d entries behind", store.IndexLag())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// benchProfile starts a CPU profile of the timed part alone (not the population's seeding) when
// VAULT_BENCH_CPUPROFILE names a file prefix: it writes PREFIX.part; the returned func stops it.
func benchProfile(b *testing.B, part string) func() {
	prefix := os.Getenv("VAULT_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "." + part)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// BenchmarkAudienceBuild is the number: an audience built over N subjects with stored tags and a
// marketing consent (N from VAULT_BENCH_SUBJECTS, default 10,000), and the members read rate.
//
//	VAULT_BENCH_SUBJECTS=100000 go test -run '^$' -bench AudienceBuild -benchtime 1x ./vault
func BenchmarkAudienceBuild(b *testing.B) {
	ctx := context.Background()
	segments := []string{"at_risk", "cant_lose", "champions", "loyal"}
	svc, n, store := benchPopulation(b, func(i int) []string { return []string{"value.rfm_segment=" + segments[i%4]} })
	b.ResetTimer()
	var aud vault.AudienceRow
	var err error
	stop := benchProfile(b, "build")
	cpu := processCPU()
	for range b.N {
		if aud, _, err = svc.Audiences().Build(ctx, benchMarketer, vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms", Holdout: 0.1}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64((processCPU()-cpu).Milliseconds())/float64(b.N), "cpu-ms/build")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/build")
	b.ReportMetric(float64(n), "subjects")
	b.ReportMetric(float64(aud.Size+aud.HoldoutSize), "members")
	if os.Getenv("VAULT_BENCH_SETTLE") != "" {
		// The review index of the build's entries first (by default the members are read while the index
		// catches up, as right after a build).
		b.ReportMetric(float64(indexSettled(b, store).Milliseconds()), "index-ms")
	}
	read, cursor := 0, ""
	b.StartTimer()
	start := b.Elapsed()
	stop = benchProfile(b, "members")
	cpu = processCPU()
	for {
		page, err := svc.Audiences().Members(ctx, benchMarketer, aud.ID, cursor, 1000)
		if err != nil {
			b.Fatal(err)
		}
		read += len(page.Members)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	stop()
	b.ReportMetric(float64((processCPU() - cpu).Milliseconds()), "cpu-ms/members")
	b.ReportMetric(float64(read)/(b.Elapsed()-start).Seconds(), "members_read/s")
}

// BenchmarkCampaignPlan is the third number: the campaign plan (POST /v1/campaigns/plan) over N
// subjects whose tags spread them over the strategy's tiers (and some over none).
//
//	VAULT_BENCH_SUBJECTS=100000 go test -run '^$' -bench CampaignPlan -benchtime 1x ./vault
func BenchmarkCampaignPlan(b *testing.B) {
	ctx := context.Background()
	stages := []string{"new", "active", "loyal", "dormant", "churned"}
	prices := []string{"price_sensitive", "quality_seeking", "neutral"}
	svc, n, _ := benchPopulation(b, func(i int) []string {
		churn := "low"
		if i%7 == 0 {
			churn = "high"
		}
		return []string{"value.churn_risk=" + churn, "behavior.price_sensitivity=" + prices[i%3], "value.lifecycle_stage=" + stages[i%5]}
	})
	b.ResetTimer()
	var plan vault.CampaignPlan
	var err error
	stop := benchProfile(b, "plan")
	cpu := processCPU()
	for range b.N {
		if plan, err = svc.Audiences().Plan(ctx, benchMarketer, 0.1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64((processCPU()-cpu).Milliseconds())/float64(b.N), "cpu-ms/plan")
	members := 0
	for _, t := range plan.Tiers {
		members += t.Audience.Size + t.Audience.HoldoutSize
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/plan")
	b.ReportMetric(float64(n), "subjects")
	b.ReportMetric(float64(members), "members")
	b.ReportMetric(float64(plan.Unmatched), "unmatched")
}

// BenchmarkSelectionEntries is the part of a build the vault cannot make cheaper: N audience.select
// entries (N from VAULT_BENCH_SUBJECTS) shaped as a build's — a subject pseudonym, the birth date and one
// tag among the decision inputs, the reason — committed in groups of 4,096, as a build logs them, and
// then the review index catching up with them. It reports the wall and CPU time of each.
//
//	VAULT_BENCH_SUBJECTS=100000 go test -run '^$' -bench SelectionEntries -benchtime 1x ./vault
func BenchmarkSelectionEntries(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_SUBJECTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	_, store, crypto := testConfig(b)
	entries := make([]audit.Entry, n)
	for i := range entries {
		entries[i] = audit.Entry{TS: time.Now().UTC(), Purpose: "marketing", Action: string(vault.ActionAudienceSelect), PolicyHash: "sha256:policy",
			Actor: audit.Actor{Sub: "mk", Roles: []string{"marketing"}}, SubjectRef: crypto.Pseudonym(fmt.Sprint("subject:", i)),
			Categories: []string{"tags"}, DecisionInputs: []string{"birth_date", "tag:marketing:value.rfm_segment"},
			Decision: audit.Allow, Reason: "audience:aud_0123456789abcdef group:treated", Status: 200}
	}
	b.ResetTimer()
	for range b.N {
		cpu, start := processCPU(), time.Now()
		writer, appends := store.Stats().CommitNanos.Load(), store.Stats().LogSyncNanos.Load()
		for all := entries; len(all) > 0; {
			group := all[:min(len(all), 4096)]
			all = all[len(group):]
			if _, err := store.CommitMany(ctx, nil, func(error) []audit.Entry { return group }); err != nil {
				b.Fatal(err)
			}
		}
		logged, loggedCPU := time.Since(start), processCPU()-cpu
		indexed := indexSettled(b, store)
		b.ReportMetric(float64(logged.Milliseconds()), "log-ms")
		b.ReportMetric(float64(loggedCPU.Milliseconds()), "log-cpu-ms")
		// The writer's time in those commits, and the part of it appending to the log (write, fdatasync).
		b.ReportMetric(float64(time.Duration(store.Stats().CommitNanos.Load()-writer).Milliseconds()), "writer-ms")
		b.ReportMetric(float64(time.Duration(store.Stats().LogSyncNanos.Load()-appends).Milliseconds()), "append-ms")
		b.ReportMetric(float64((logged + indexed).Milliseconds()), "indexed-ms")
		b.ReportMetric(float64((processCPU() - cpu).Milliseconds()), "indexed-cpu-ms")
	}
}
