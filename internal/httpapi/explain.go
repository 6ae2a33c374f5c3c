package httpapi

import (
	"strconv"
	"strings"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/vault"
)

// whyText tells a data subject, in their language (zh or en), why a purpose may use their data: its
// legal basis, their own consent (given, withdrawn, expired, or one only a guardian can give) or objection, a
// restriction they asked for, and how long it is kept. It is presentation: the domain
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
	case "human_resources", "emergency", "news_reporting", "disclosed_information", "other_law":
		w := otherBases[x.LegalBasis]
		if zh {
			b.WriteString(w.zh)
		} else {
			b.WriteString(w.en)
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
		case x.ConsentBlocked == consent.ReasonGuardianConsentRequired && zh:
			b.WriteString("需要同意；您未满14周岁，此项同意只能由父母或其他监护人作出（个人信息保护法第31条），在此之前不会用于此目的。")
		case x.ConsentBlocked == consent.ReasonGuardianConsentRequired:
			b.WriteString("Needs consent; you are under 14, so only a parent or guardian can give it (PIPL Art. 31), and until then your data is not used for this purpose.")
		case x.ConsentBlocked == consent.ReasonAgeVerificationRequired && zh:
			b.WriteString("需要您的同意，且此目的对儿童有不同处理：请先补充出生日期再作出同意；在此之前不会用于此目的。")
		case x.ConsentBlocked == consent.ReasonAgeVerificationRequired:
			b.WriteString("Needs your consent, and this purpose treats children differently: add your birth date before consenting; until then your data is not used for it.")
		case x.YourConsent == "withdrawn" && zh:
			b.WriteString("基于同意，而您已撤回同意，因此不再用于此目的。")
		case x.YourConsent == "withdrawn":
			b.WriteString("Based on consent, which you withdrew: your data is no longer used for this purpose.")
		case x.YourConsent == "expired" && zh:
			b.WriteString("基于同意，而您的同意已到期，因此不再用于此目的；您可以重新同意。")
		case x.YourConsent == "expired":
			b.WriteString("Based on consent, which has expired: your data is no longer used for this purpose until you consent again.")
		case zh:
			b.WriteString("需要您的同意；您尚未同意，因此不会用于此目的。")
		default:
			b.WriteString("Needs your consent; you have not given it, so your data is not used for this purpose.")
		}
	}
	if x.Restricted && zh {
		b.WriteString("您已要求限制处理（个人信息保护法第44条）：在您解除之前，工作人员看不到您的数据，也不会用于标签或营销，仅作存储。")
	} else if x.Restricted {
		b.WriteString(" You restricted processing (PIPL Art. 44): until you lift it, staff see none of your data for this purpose and it feeds no tag or campaign; it is only stored.")
	}
	if zh {
		b.WriteString("保存期限：" + days + "天。")
	} else {
		b.WriteString(" Kept for " + days + " days.")
	}
	return b.String()
}

// otherBases words the legal bases of PIPL Art. 13(1) beside consent, contract and legal obligation.
var otherBases = map[string]struct{ zh, en string }{
	"human_resources": {"为按照依法制定的劳动规章制度和依法签订的集体合同实施人力资源管理所必需（第13条第1款第2项）。",
		"Necessary for human resources management under lawful labour rules and collective contracts (PIPL Art. 13(1)(2))."},
	"emergency": {"为应对突发公共卫生事件，或者紧急情况下为保护自然人的生命健康和财产安全所必需（第13条第1款第4项）。",
		"Necessary to respond to a public health emergency, or to protect a person's life, health or property in an emergency (PIPL Art. 13(1)(4))."},
	"news_reporting": {"为公共利益实施新闻报道、舆论监督等行为，在合理的范围内处理（第13条第1款第5项）。",
		"For news reporting and public-opinion supervision in the public interest, within a reasonable scope (PIPL Art. 13(1)(5))."},
	"disclosed_information": {"在合理的范围内处理您自行公开或者其他已经合法公开的个人信息（第13条第1款第6项）。",
		"Information you disclosed yourself, or that was otherwise lawfully disclosed, processed within a reasonable scope (PIPL Art. 13(1)(6))."},
	"other_law": {"法律、行政法规规定的其他情形（第13条第1款第7项）。",
		"A case another law or administrative regulation provides for (PIPL Art. 13(1)(7))."},
}
