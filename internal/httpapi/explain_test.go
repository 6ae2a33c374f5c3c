package httpapi

import (
	"cmp"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// A consent purpose says where the person stands, in both languages: consented, objected, withdrawn,
// expired, a child whose guardian alone can consent, an unknown age, not asked yet; and a restriction.
func TestWhyTextSaysWhereThePersonStands(t *testing.T) {
	cases := []struct {
		x      vault.PurposeExplanation
		en, zh string
	}{
		{vault.PurposeExplanation{YourConsent: "granted"}, "withdraw at any time", "随时撤回"},
		{vault.PurposeExplanation{YourConsent: "granted", Objected: true}, "objected to personalised marketing", "反对个性化营销"},
		{vault.PurposeExplanation{YourConsent: "withdrawn"}, "which you withdrew", "已撤回同意"},
		{vault.PurposeExplanation{YourConsent: "expired"}, "which has expired", "已到期"},
		{vault.PurposeExplanation{ConsentBlocked: consent.ReasonGuardianConsentRequired}, "only a parent or guardian", "监护人"},
		{vault.PurposeExplanation{ConsentBlocked: consent.ReasonAgeVerificationRequired}, "add your birth date", "出生日期"},
		{vault.PurposeExplanation{}, "you have not given it", "尚未同意"},
		{vault.PurposeExplanation{YourConsent: "granted", Restricted: true}, "You restricted processing", "限制处理"},
		{vault.PurposeExplanation{LegalBasis: policies.BasisContract, Restricted: true}, "You restricted processing", "限制处理"},
	}
	for _, c := range cases {
		c.x.LegalBasis = cmp.Or(c.x.LegalBasis, policies.BasisConsent)
		if en := whyText(c.x, "en"); !strings.Contains(en, c.en) {
			t.Errorf("%+v in English: %q, want it to say %q", c.x, en, c.en)
		}
		if zh := whyText(c.x, "zh"); !strings.Contains(zh, c.zh) {
			t.Errorf("%+v in Chinese: %q, want it to say %q", c.x, zh, c.zh)
		}
	}
}

// Each legal basis of PIPL Art. 13(1) is worded in both languages, naming its item of the article.
func TestWhyTextWordsEveryLegalBasis(t *testing.T) {
	items := map[string]string{policies.BasisContract: "(2)", policies.BasisHumanResources: "(2)", policies.BasisLegalObligation: "(3)",
		policies.BasisEmergency: "(4)", policies.BasisNewsReporting: "(5)", policies.BasisDisclosedInformation: "(6)", policies.BasisOtherLaw: "(7)"}
	for basis, item := range items {
		x := vault.PurposeExplanation{LegalBasis: basis, RetentionDays: 30}
		if en := whyText(x, "en"); !strings.Contains(en, "13(1)"+item) || strings.Contains(en, "Needs your consent") {
			t.Errorf("%s in English: %q", basis, en)
		}
		if zh := whyText(x, "zh"); !strings.Contains(zh, "第13条第1款") || strings.Contains(zh, "需要您的同意") {
			t.Errorf("%s in Chinese: %q", basis, zh)
		}
	}
}
