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
