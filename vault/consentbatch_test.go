package vault_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// TestImportConsentsAsOneAtATime imports the same consent records into two vaults holding the same
// subjects: as one batch (ImportConsents) and one record at a time (ImportConsent). Each record must come
// out the same — recorded, duplicate, refused with the same code — with the same rows and the same audit
// entries: new grants, a grant identical to an active one, two records of one subject (the second a
// duplicate of the first), an unknown purpose, a child's grant (only a guardian's may be recorded) and a
// guardian's, a purpose that needs the age of a subject without a birth date, an erased subject.
func TestImportConsentsAsOneAtATime(t *testing.T) {
	granted := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	grant := func(p, method string, kind consent.Kind) consent.Grant {
		return consent.Grant{Purpose: policies.PurposeName(p), Kind: kind, NoticeVersion: "2026-01", Method: method, Evidence: "form " + method, GrantedAt: &granted}
	}
	people := []vault.NewSubject{
		{Fields: map[string]*string{"name": str("王芳"), "birth_date": str("1990-04-01")}},
		{Fields: map[string]*string{"name": str("李娜"), "birth_date": str("1985-02-03")}},
		{Fields: map[string]*string{"name": str("小明"), "birth_date": str("2018-05-01")}},
		{Fields: map[string]*string{"name": str("无生日")}},
		{Fields: map[string]*string{"name": str("离开"), "birth_date": str("1970-01-01")}},
		{Fields: map[string]*string{"name": str("张伟"), "birth_date": str("1979-09-09")}},
		{Fields: map[string]*string{"name": str("小红"), "birth_date": str("2019-01-01")}},
		{Fields: map[string]*string{"name": str("也无生日")}},
		{Fields: map[string]*string{"name": str("陈静"), "birth_date": str("2000-12-12")}},
	}
	run := func(batched bool) ([]string, []string, int) {
		cfg, store, crypto := testConfig(t)
		cfg.LookupsPerSecond, cfg.LookupBurst = 1000, 1<<30
		svc, err := vault.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		labels := map[string]string{}
		var ids []string
		for i, p := range people {
			c, err := svc.Profiles().Create(ctx, steward, p)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
			labels[c.ID] = fmt.Sprintf("person-%d", i)
		}
		if _, err := svc.ConsentRecords().ImportConsent(ctx, steward, ids[1], grant("marketing", "web", consent.General)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Profiles().Erase(ctx, steward, ids[4]); err != nil {
			t.Fatal(err)
		}
		svc.Profiles().WaitPurges()
		in := []vault.ConsentImport{
			{Subject: ids[0], Grant: grant("marketing", "web", consent.General)},
			{Subject: ids[1], Grant: grant("marketing", "web", consent.General)}, // identical to an active grant
			{Subject: ids[5], Grant: grant("analytics", "app", consent.General)},
			{Subject: ids[8], Grant: grant("marketing", "web", consent.General)},
			{Subject: ids[8], Grant: grant("marketing", "web", consent.General)}, // the batch's own record again
			{Subject: ids[2], Grant: grant("marketing", "web", consent.General)}, // a child
			{Subject: ids[6], Grant: grant("marketing", "paper", consent.Guardian)},
			{Subject: ids[3], Grant: grant("marketing", "web", consent.General)}, // no birth date
			{Subject: ids[7], Grant: grant("no_such_purpose", "web", consent.General)},
			{Subject: ids[4], Grant: grant("analytics", "web", consent.General)}, // erased
			{Subject: ids[1], Grant: grant("personalization", "app", consent.General)},
		}
		var results []vault.ConsentImported
		if batched {
			results = svc.ConsentRecords().ImportConsents(ctx, steward, in)
		} else {
			for _, c := range in {
				dup, err := svc.ConsentRecords().ImportConsent(ctx, steward, c.Subject, c.Grant)
				results = append(results, vault.ConsentImported{Duplicate: dup, Err: err})
			}
		}
		var outcomes []string
		for i, r := range results {
			code := ""
			if r.Err != nil {
				code = string(vault.ErrorCode(r.Err))
			}
			outcomes = append(outcomes, fmt.Sprintf("%d duplicate=%v err=%s", i, r.Duplicate, code))
		}
		n, err := store.CountRows(ctx, "consent_events")
		if err != nil {
			t.Fatal(err)
		}
		return outcomes, trailSummary(t, store, crypto, labels), n
	}
	batchOut, batchTrail, batchRows := run(true)
	oneOut, oneTrail, oneRows := run(false)
	if !slices.Equal(batchOut, oneOut) {
		t.Errorf("outcomes differ\nbatch:\n  %s\none at a time:\n  %s", strings.Join(batchOut, "\n  "), strings.Join(oneOut, "\n  "))
	}
	if batchRows != oneRows {
		t.Errorf("%d consent events after the batch, %d one at a time", batchRows, oneRows)
	}
	if !slices.Equal(batchTrail, oneTrail) {
		t.Errorf("audit entries differ\nbatch:\n  %s\none at a time:\n  %s", strings.Join(batchTrail, "\n  "), strings.Join(oneTrail, "\n  "))
	}
	// The records exercised what they mean to.
	for _, want := range []string{"0 duplicate=false err=", "1 duplicate=true err=", "2 duplicate=false err=", "4 duplicate=true err=",
		"5 duplicate=false err=guardian_consent_required", "6 duplicate=false err=", "8 duplicate=false err=invalid_argument",
		"9 duplicate=false err=not_found"} {
		if !slices.Contains(oneOut, want) {
			t.Errorf("no outcome %q in %v", want, oneOut)
		}
	}
}
