package vault_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// BenchmarkAudienceBuild is the number: an audience built over N subjects with stored tags and a
// marketing consent (N from VAULT_BENCH_SUBJECTS, default 10,000), and the members read rate.
//
//	VAULT_BENCH_SUBJECTS=100000 go test -run '^$' -bench AudienceBuild -benchtime 1x ./vault
func BenchmarkAudienceBuild(b *testing.B) {
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
	segments := []string{"at_risk", "cant_lose", "champions", "loyal"}
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
				if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: c.ID, Purpose: "marketing", ConsentIDs: []string{g.ID},
					Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: segments[i%4], Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
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
	mk := vault.Access{Caller: vault.Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	b.ResetTimer()
	var aud vault.AudienceRow
	for range b.N {
		if aud, err = svc.Audiences().Build(ctx, mk, vault.AudienceInput{Rule: "value.rfm_segment in ['at_risk', 'cant_lose']", Channel: "sms", Holdout: 0.1}); err != nil {
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
		page, err := svc.Audiences().Members(ctx, mk, aud.ID, cursor, 1000)
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
