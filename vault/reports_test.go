package vault_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// The yearly cross-border report counts, per recipient abroad, the distinct individuals whose data it
// received (allowed releases only), and those with sensitive categories apart, from the trail alone.
func TestCrossBorderReport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rules := string(policies.Embedded("policy.csv")) + "\np, logistics, cross_border_transfer, identity, read, allow, full\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.csv"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := testConfig(t)
	cfg.Policy = pol
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordPolicyInForce(ctx, admin); err != nil {
		t.Fatal(err)
	}
	abroad := vault.Access{Caller: vault.Caller{Subject: "lg", Roles: []policies.Role{"logistics"}}, Purpose: "cross_border_transfer", Recipient: "example_global_sg"}
	var ids []string
	for i := range 3 {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("客户"), "birth_date": str("1980-01-01")}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		if i == 2 {
			continue // no consent: the read is refused and does not count
		}
		if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "cross_border_transfer", Kind: consent.Separate,
			NoticeVersion: "2026-01", Method: "t", Recipient: "example_global_sg"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range append(ids, ids[0]) { // the first subject twice: one individual
		if _, err := svc.Profiles().Read(ctx, abroad, id, []string{"name"}); err != nil {
			t.Fatal(err)
		}
	}
	// Asked for an id number, refused it: no sensitive data left (it counted as a sensitive transfer).
	if v, err := svc.Profiles().Read(ctx, abroad, ids[1], []string{"name", "id_number"}); err != nil || len(v.Withheld) != 1 {
		t.Fatalf("a read asking for an id number: %+v %v", v, err)
	}
	officer := vault.Access{Caller: compliance.Caller, Purpose: "compliance_audit"}
	rep, err := svc.Review().CrossBorderReport(ctx, officer, time.Now().UTC().Year())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Recipient != "example_global_sg" || rep.Recipients[0].Individuals != 2 ||
		rep.Recipients[0].SensitiveIndividuals != 0 || rep.Recipients[0].Country != "SG" || rep.Recipients[0].TransferMechanism != "standard_contract" || rep.AuditSeq == 0 {
		t.Fatalf("report %+v", rep)
	}
	// A year without transfers lists the recipient abroad with nobody, not nothing: "no transfers" is not
	// "no recipients".
	if last, _ := svc.Review().CrossBorderReport(ctx, officer, time.Now().UTC().Year()-1); len(last.Recipients) != 1 ||
		last.Recipients[0].Recipient != "example_global_sg" || last.Recipients[0].Individuals != 0 {
		t.Fatalf("last year's report: %+v", last)
	}
	if _, err := svc.Review().CrossBorderReport(ctx, marketer, 2026); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("marketing read the report: %v", err)
	}
	// The catalog changes afterwards (the recipient moves into China, as if its contract were replaced):
	// what it received abroad stays in the year's report, judged by the catalog each read was decided under
	// (judged by today's, a recipient left the report once the catalog no longer named it abroad).
	reloadEdited(t, svc, dir, "purposes.json", `"country": "SG", "transfer_mechanism": "standard_contract"`, `"country": "CN"`)
	if after, err := svc.Review().CrossBorderReport(ctx, officer, time.Now().UTC().Year()); err != nil || len(after.Recipients) != 1 ||
		after.Recipients[0].Individuals != 2 || after.Recipients[0].Country != "SG" {
		t.Fatalf("the report after the recipient left the catalog's recipients abroad: %+v %v", after, err)
	}
}

// Every policy version that came into force is kept with its date: the policy at a past time is the one
// then in force, and a process starting with the same policy records nothing new.
func TestPolicyVersionsAreKeptWithTheirDates(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	t0 := time.Now().UTC()
	at := func(ts time.Time) *vault.Service { return svc.WithClock(func() time.Time { return ts }) }
	if err := at(t0).RecordPolicyInForce(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if err := at(t0.Add(time.Hour)).RecordPolicyInForce(ctx, admin); err != nil { // same policy: nothing new
		t.Fatal(err)
	}
	first := svc.Policy().Hash()
	dir := t.TempDir()
	rules := string(policies.Embedded("policy.csv")) + "\np, analyst, analytics, field:city, read, allow, full\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.csv"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := policies.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := at(t0.Add(48*time.Hour)).ReloadPolicy(ctx, admin, next); err != nil {
		t.Fatal(err)
	}
	hist, err := svc.PolicyHistory(ctx, admin)
	if err != nil || len(hist) != 2 || hist[0].Hash != first || hist[1].Hash != next.Hash() {
		t.Fatalf("history %+v %v", hist, err)
	}
	then, err := svc.PolicyAt(ctx, admin, t0.Add(24*time.Hour))
	if err != nil || then.Hash != first || then.Files["policy.csv"] != string(policies.Embedded("policy.csv")) {
		t.Fatalf("policy a day after start: %s %v", then.Hash, err)
	}
	if now, err := svc.PolicyAt(ctx, admin, t0.Add(72*time.Hour)); err != nil || now.Hash != next.Hash() {
		t.Fatalf("policy after the reload: %s %v", now.Hash, err)
	}
	if _, err := svc.PolicyAt(ctx, admin, t0.Add(-time.Hour)); vault.ErrorCode(err) != vault.CodeNotFound {
		t.Fatalf("before the first version: %v", err)
	}
	if _, err := svc.PolicyHistory(ctx, marketer); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("marketing read the policy history: %v", err)
	}
}

// The console's reports count from the trail and the consent histories: per day, purpose and role, the
// denials, and the subjects holding a valid consent at each day's end.
func TestActivityAndConsentReports(t *testing.T) {
	ctx := context.Background()
	cfg, _, _ := testConfig(t)
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("客户"), "phone": str("+8613800001234"), "birth_date": str("1980-01-01")}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	for _, id := range ids[:2] {
		if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, id, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, ids[1], "marketing"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids { // one allowed (consent), two denied (withdrawn, none)
		if _, err := svc.Profiles().Read(ctx, marketer, id, []string{"phone"}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := svc.Review().ActivityReport(ctx, compliance, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Days) != 30 || rep.AuditSeq == 0 {
		t.Fatalf("default window: %d days, seq %d", len(rep.Days), rep.AuditSeq)
	}
	today := rep.Days[len(rep.Days)-1]
	if today.Day != time.Now().UTC().Format(time.DateOnly) || today.ByPurpose["marketing"] != 3 || today.ByRole["marketing"] != 3 ||
		today.Denied != 2 || today.ByPurpose["account_management"] != 6 || today.Total != 9 {
		t.Fatalf("today: %+v", today)
	}
	rates, err := svc.Review().ConsentRates(ctx, compliance, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	last := len(rates.Days) - 1
	var marketing []int
	for _, p := range rates.Purposes {
		if p.Purpose == "marketing" {
			marketing = p.Granted
		}
		if p.Purpose == "account_management" {
			t.Fatal("a purpose on contract has no consent rate")
		}
	}
	if rates.Subjects[last] != 3 || marketing[last] != 1 || rates.Subjects[0] != 0 || marketing[0] != 0 {
		t.Fatalf("consent rates: subjects %v marketing %v", rates.Subjects, marketing)
	}
	// A material change of the marketing notice: the consent given under 2026-01 no longer counts, and the
	// rate says so as enforcement does (it went on counting it).
	reloadEdited(t, svc, t.TempDir(), "purposes.json",
		`"notice": {"version": "2026-01", "material": true, "channels": ["sms", "email", "push", "wecom", "short_video"]},
      "notice_history": [{"version": "2025-06", "material": false}]`,
		`"notice": {"version": "2026-12", "material": true, "channels": ["sms", "email", "push", "wecom", "short_video"]},
      "notice_history": [{"version": "2025-06", "material": false}, {"version": "2026-01", "material": true}]`)
	if v, err := svc.Profiles().Read(ctx, marketer, ids[0], []string{"phone"}); err != nil || len(v.Withheld) != 1 {
		t.Fatalf("a marketing read after the material change: %+v %v", v, err)
	}
	rates, err = svc.Review().ConsentRates(ctx, compliance, time.Time{}, time.Time{})
	for _, p := range rates.Purposes {
		if p.Purpose == "marketing" && (err != nil || p.Granted[last] != 0) {
			t.Fatalf("marketing consents counted after the material change: %v %v", p.Granted, err)
		}
	}
	// Windows are bounded, and refusals are recorded like any other.
	if _, err := svc.Review().ActivityReport(ctx, compliance, time.Now().AddDate(0, 0, -100), time.Now()); vault.ErrorCode(err) != vault.CodeInvalidArgument {
		t.Fatalf("a 100-day window: %v", err)
	}
	if _, err := svc.Review().ConsentRates(ctx, marketer, time.Time{}, time.Time{}); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("marketing reading consent rates: %v", err)
	}
}

// reloadEdited puts in force, as admin, the built-in policy with one file edited (old replaced by new, which
// must occur) in dir, which may hold other files of the policy already.
func reloadEdited(t *testing.T, svc *vault.Service, dir, file, old, new string) {
	t.Helper()
	text := string(policies.Embedded(file))
	if !strings.Contains(text, old) {
		t.Fatalf("%s does not hold %q", file, old)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strings.Replace(text, old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := policies.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReloadPolicy(context.Background(), admin, next); err != nil {
		t.Fatal(err)
	}
}
