package vault_test

import (
	"context"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// A child's data is sensitive (PIPL Art. 28, 31): no marketing or personalisation tag inputs for anyone
// under 14, guardian consent or not; and a child cannot leave the guardian rule by clearing or changing
// their own birth date — a data steward can, after checking the evidence.
func TestMinorsGetNoTagsAndCannotLeaveTheGuardianRuleAlone(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	child, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("小明"), "birth_date": str("2016-05-01"), "city": str("杭州")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []policies.PurposeName{"marketing", "personalization"} {
		if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, child.ID, consent.Grant{Purpose: p, Kind: consent.Guardian, NoticeVersion: "2026-01", Method: "guardian form"}); err != nil {
			t.Fatalf("guardian consent for %s: %v", p, err)
		}
	}
	bases := 0
	if _, _, err := svc.Tags().TagInputs(ctx, tagger, svc.Tags().TagPurposes(), []string{child.ID}, func(in vault.TagInput) error {
		bases += len(in.Bases)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if bases != 0 {
		t.Fatalf("a child under guardian consent got tag inputs for %d purposes", bases)
	}

	self := vault.Access{Caller: vault.Caller{Subject: child.ID, Roles: []policies.Role{vault.RoleSubject}}}
	for name, v := range map[string]*string{"cleared": nil, "adult": str("1990-01-01")} {
		_, err := svc.DataSubjects().MeUpdate(ctx, self, map[string]*string{"birth_date": v})
		if vault.ErrorCode(err) != vault.CodePermissionDenied || vault.AuditSeqOf(err) == 0 {
			t.Errorf("child's own birth date %s: %v (want an audited 403)", name, err)
		}
	}
	if _, err := svc.DataSubjects().MeSetConsent(ctx, self, "marketing", true, "2026-01", ""); vault.ErrorCode(err) != vault.CodeGuardianConsentRequired {
		t.Errorf("the child's own marketing consent: %v (want 403 guardian_consent_required)", err)
	}
	// Another minor date is the child's to correct; the steward may end the guardian rule.
	if _, err := svc.DataSubjects().MeUpdate(ctx, self, map[string]*string{"birth_date": str("2016-06-01")}); err != nil {
		t.Errorf("a correction that keeps the child under 14: %v", err)
	}
	if _, err := svc.Profiles().Update(ctx, steward, child.ID, map[string]*string{"birth_date": str("1990-01-01")}); err != nil {
		t.Errorf("the steward's verified correction: %v", err)
	}
}

// The enforcement point never stores a tag value that lets one infer sensitive information, whatever
// computed it: the tag is left out (and the other tags of the set kept), and the entry counts it.
func TestSensitiveTagValuesAreNeverStored(t *testing.T) {
	ctx := context.Background()
	svc, store := newService(t, 100)
	id := taggedSubject(t, svc)
	tags := []vault.TagValue{
		{Key: "interest.top_categories", Level: "interest", Value: "降压药,茶叶", Inputs: []string{"transactions"}, ExplanationZH: "品类", ExplanationEN: "categories", Algorithm: "t"},
		{Key: "value.rfm_segment", Level: "value", Value: "champions", Inputs: []string{"transactions"}, ExplanationZH: "常买", ExplanationEN: "buys often", Algorithm: "t"},
	}
	_, seq, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: id, Purpose: "marketing", ConsentIDs: consentIDs(svc, id, "marketing"), Tags: tags}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.Tags(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Key != "value.rfm_segment" {
		t.Fatalf("stored %d tags: %+v", len(rows), rows)
	}
	e, err := store.Leaf(ctx, seq)
	if err != nil || !strings.Contains(string(e), "screened_sensitive:1") {
		t.Fatalf("entry %d does not count the screened tag: %s %v", seq, e, err)
	}
}

// An unknown birth date is unverified, not adult: a purpose that needs an age (marketing) takes no consent
// of the subject's own, reads and tag inputs under it are withheld as age_verification_required, and a
// guardian's consent counts as for a child; once the age is known, all of it works again.
func TestUnknownAgeIsUnverifiedNotAdult(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	grant := func(id string, kind consent.Kind) error {
		_, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, id, consent.Grant{Purpose: "marketing", Kind: kind, NoticeVersion: "2026-01", Method: "t"})
		return err
	}
	unknown, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("无名"), "city": str("杭州")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := grant(unknown.ID, consent.General); vault.ErrorCode(err) != vault.CodePermissionDenied || !strings.Contains(err.Error(), "birth date is unknown") {
		t.Fatalf("own consent with an unknown age: %v", err)
	}
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("有名"), "city": str("杭州"), "birth_date": str("1990-01-01")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := grant(c.ID, consent.General); err != nil {
		t.Fatal(err)
	}
	bases := func() int {
		t.Helper()
		n := 0
		if _, _, err := svc.Tags().TagInputs(ctx, tagger, []policies.PurposeName{"marketing"}, []string{c.ID}, func(in vault.TagInput) error {
			n += len(in.Bases)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	city := func() string {
		t.Helper()
		v, err := svc.Profiles().Read(ctx, marketer, c.ID, []string{"city"})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Withheld) > 0 {
			return v.Withheld[0].Reason
		}
		return v.Fields["city"]
	}
	if got, n := city(), bases(); got != "杭州" || n != 1 {
		t.Fatalf("adult with consent: city %q, %d tag bases", got, n)
	}
	if _, err := svc.Profiles().Update(ctx, steward, c.ID, map[string]*string{"birth_date": nil}); err != nil {
		t.Fatal(err)
	}
	if got, n := city(), bases(); got != consent.ReasonAgeVerificationRequired || n != 0 {
		t.Fatalf("age unknown: city %q, %d tag bases", got, n)
	}
	if err := grant(c.ID, consent.Guardian); err != nil {
		t.Fatal(err)
	}
	if got, n := city(), bases(); got != "杭州" || n != 0 {
		t.Fatalf("age unknown with a guardian's consent: city %q, %d tag bases (no tags, as for a child)", got, n)
	}
	if _, err := svc.Profiles().Update(ctx, steward, c.ID, map[string]*string{"birth_date": str("1990-01-01")}); err != nil {
		t.Fatal(err)
	}
	if n := bases(); n != 1 {
		t.Fatalf("tag inputs once the age is known: %d", n)
	}
}
