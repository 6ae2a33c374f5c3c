package vault_test

import (
	"context"
	"os"
	"path/filepath"
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
	officer := vault.Access{Caller: compliance.Caller, Purpose: "compliance_audit"}
	rep, err := svc.Review().CrossBorderReport(ctx, officer, time.Now().UTC().Year())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Recipient != "example_global_sg" || rep.Recipients[0].Individuals != 2 ||
		rep.Recipients[0].Country != "SG" || rep.Recipients[0].TransferMechanism != "standard_contract" || rep.AuditSeq == 0 {
		t.Fatalf("report %+v", rep)
	}
	if last, _ := svc.Review().CrossBorderReport(ctx, officer, time.Now().UTC().Year()-1); len(last.Recipients) != 0 {
		t.Fatalf("last year's report: %+v", last)
	}
	if _, err := svc.Review().CrossBorderReport(ctx, marketer, 2026); vault.ErrorCode(err) != vault.CodePermissionDenied {
		t.Fatalf("marketing read the report: %v", err)
	}
}
