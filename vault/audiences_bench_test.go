package vault_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// benchMarketer builds audiences in the benchmarks.
var benchMarketer = vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}

// benchPopulation is a vault of N subjects (N from VAULT_BENCH_SUBJECTS, default 10,000), each with a
// name, a birth date, a phone, a marketing consent and the marketing tags tags(i) (key=value).
func benchPopulation(b *testing.B, tags func(i int) []string) (*vault.Service, int) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("VAULT_BENCH_SUBJECTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	cfg, _, _ := testConfig(b)
	svc, err := vault.New(cfg)
	if err != nil {
		b.Fatal(err)
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
	return svc, n
}

// BenchmarkAudienceBuild is the number: an audience built over N subjects with stored tags and a
// marketing consent (N from VAULT_BENCH_SUBJECTS, default 10,000), and the members read rate.
//
//	VAULT_BENCH_SUBJECTS=100000 go test -run '^$' -bench AudienceBuild -benchtime 1x ./vault
func BenchmarkAudienceBuild(b *testing.B) {
	ctx := context.Background()
	segments := []string{"at_risk", "cant_lose", "champions", "loyal"}
	svc, n := benchPopulation(b, func(i int) []string { return []string{"value.rfm_segment=" + segments[i%4]} })
	b.ResetTimer()
	var aud vault.AudienceRow
	var err error
	for range b.N {
		if aud, err = svc.Audiences().Build(ctx, benchMarketer, vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms", Holdout: 0.1}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/build")
	b.ReportMetric(float64(n), "subjects")
	b.ReportMetric(float64(aud.Size+aud.HoldoutSize), "members")
	read, cursor := 0, ""
	b.StartTimer()
	start := b.Elapsed()
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
	svc, n := benchPopulation(b, func(i int) []string {
		churn := "low"
		if i%7 == 0 {
			churn = "high"
		}
		return []string{"value.churn_risk=" + churn, "behavior.price_sensitivity=" + prices[i%3], "value.lifecycle_stage=" + stages[i%5]}
	})
	b.ResetTimer()
	var plan vault.CampaignPlan
	var err error
	for range b.N {
		if plan, err = svc.Audiences().Plan(ctx, benchMarketer, 0.1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	members := 0
	for _, t := range plan.Tiers {
		members += t.Audience.Size + t.Audience.HoldoutSize
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/plan")
	b.ReportMetric(float64(n), "subjects")
	b.ReportMetric(float64(members), "members")
	b.ReportMetric(float64(plan.Unmatched), "unmatched")
}
