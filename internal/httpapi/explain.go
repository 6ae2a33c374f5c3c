package httpapi

import (
	"strconv"
	"strings"

	"github.com/profilevault/profilevault/vault"
)

// whyText tells a data subject, in their language (zh or en), why a purpose may use their data: its
// legal basis, their own consent or objection, and how long it is kept. It is presentation: the domain
// gives the facts (vault.PurposeExplanation), the wire words them.
func whyText(x vault.PurposeExplanation, lang string) string {
	days := strconv.Itoa(x.RetentionDays)
	zh := lang == "zh"
	var b strings.Builder
	switch x.LegalBasis {
	case "contract":
		if zh {
			b.WriteString("为履行与您的合同所必需（个人信息保护法第13条第1款第2项），无需另行同意。")
		} else {
			b.WriteString("Necessary to perform our contract with you (PIPL Art. 13(1)(2)); no separate consent is needed.")
		}
	case "legal_obligation":
		if zh {
			b.WriteString("为履行法定义务所必需（第13条第1款第3项）。")
		} else {
			b.WriteString("Necessary to meet a legal obligation (PIPL Art. 13(1)(3)).")
		}
	default:
		switch {
		case x.Objected && zh:
			b.WriteString("基于您的同意；您已反对个性化营销，因此不会用于此目的。")
		case x.Objected:
			b.WriteString("Based on your consent; you objected to personalised marketing, so it is not used for this purpose.")
		case x.YourConsent == "granted" && zh:
			b.WriteString("基于您的同意，您可随时撤回。")
		case x.YourConsent == "granted":
			b.WriteString("Based on your consent, which you can withdraw at any time.")
		case zh:
			b.WriteString("需要您的同意；您尚未同意，因此不会用于此目的。")
		default:
			b.WriteString("Needs your consent; you have not given it, so your data is not used for this purpose.")
		}
	}
	if zh {
		b.WriteString("保存期限：" + days + "天。")
	} else {
		b.WriteString(" Kept for " + days + " days.")
	}
	return b.String()
}
