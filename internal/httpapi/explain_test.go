package httpapi

import (
	"strings"
	"testing"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

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
