package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/policies"
)

// GET /v1/notice is the public privacy notice (PIPL Art. 17, 30, 39), before any collection and without a
// token: who handles the data and how to reach them and their personal information protection officer,
// every purpose with its legal basis, categories, retention and recipients (name, contact, country and, for
// one abroad, the transfer mechanism), and how to exercise one's rights — in Chinese or English
// (?lang=zh|en, else Accept-Language). It holds no personal data and is not recorded.

type noticeDTO struct {
	Language string `json:"language"`
	// Version identifies the published text exactly (the policy set's hash: any edit makes a new one);
	// NoticeVersion is the newest of the purposes' notice versions, the label consents carry ("2026-01").
	Version       string             `json:"version"`
	NoticeVersion string             `json:"notice_version"`
	PublishedAt   *time.Time         `json:"published_at,omitempty"` // when this version came into force
	Handler       noticeHandlerDTO   `json:"handler"`
	Rights        string             `json:"rights"`
	Purposes      []noticePurposeDTO `json:"purposes"`
}

type noticeHandlerDTO struct {
	Name    string           `json:"name"`
	Address string           `json:"address"`
	Contact string           `json:"contact"`
	Officer noticeOfficerDTO `json:"pi_protection_officer"`
}

type noticeOfficerDTO struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
}

type noticePurposeDTO struct {
	Purpose       string               `json:"purpose"`
	Description   string               `json:"description"`
	LegalBasis    string               `json:"legal_basis"`
	Method        string               `json:"method"` // how the data is processed (PIPL Art. 17), in the notice's language
	ConsentKind   string               `json:"consent_kind,omitempty"`
	Categories    []string             `json:"categories"`
	RetentionDays int                  `json:"retention_days"`
	Necessary     bool                 `json:"necessary"`
	NoticeVersion string               `json:"notice_version"`
	Recipients    []noticeRecipientDTO `json:"recipients"`
}

type noticeRecipientDTO struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Contact           string `json:"contact"`
	Country           string `json:"country"`
	TransferMechanism string `json:"transfer_mechanism,omitempty"`
}

func (s *Server) getNotice(c *gin.Context) {
	lang := c.Query("lang")
	if lang != "zh" && lang != "en" {
		lang = language(c)
	}
	pol := s.vault.Policy()
	versions, err := s.vault.NoticeVersions(c.Request.Context())
	if err != nil {
		s.abortWith(c, err)
		return
	}
	out := toNoticeDTO(pol, lang)
	for _, v := range versions { // the latest time this version came into force
		if v.Version == out.Version {
			out.PublishedAt = &v.PublishedAt
		}
	}
	c.Header("Content-Language", lang)
	c.JSON(http.StatusOK, out)
}

// GET /v1/notice/versions lists every published version of the notice with its dates, oldest first (no
// token, not recorded, like the notice).

type noticeVersionDTO struct {
	Version      string     `json:"version"`
	PublishedAt  time.Time  `json:"published_at"`
	SupersededAt *time.Time `json:"superseded_at,omitempty"`
	Current      bool       `json:"current"`
}

func (s *Server) getNoticeVersions(c *gin.Context) {
	versions, err := s.vault.NoticeVersions(c.Request.Context())
	if err != nil {
		s.abortWith(c, err)
		return
	}
	out := make([]noticeVersionDTO, len(versions))
	for i, v := range versions {
		out[i] = noticeVersionDTO{Version: v.Version, PublishedAt: v.PublishedAt, Current: v.SupersededAt.IsZero()}
		if !v.SupersededAt.IsZero() {
			out[i].SupersededAt = &versions[i].SupersededAt
		}
	}
	c.JSON(http.StatusOK, gin.H{"versions": out})
}

// toNoticeDTO renders the catalog's notice content in lang.
func toNoticeDTO(pol *policies.Set, lang string) noticeDTO {
	cat := pol.Purposes()
	out := noticeDTO{Language: lang, Version: pol.Hash(), NoticeVersion: newestNoticeVersion(cat), Rights: cat.Handler().Rights[lang],
		Handler: toNoticeHandlerDTO(cat, lang)}
	for _, p := range cat.All() {
		np := noticePurposeDTO{Purpose: string(p.Name), Description: p.Description[lang], LegalBasis: p.LegalBasis, Method: processingMethod(p, lang), ConsentKind: p.ConsentKind,
			Categories: p.Categories, RetentionDays: p.Retention.Days, Necessary: p.Necessary, NoticeVersion: p.Notice.Version,
			Recipients: []noticeRecipientDTO{}}
		for _, r := range p.Recipients {
			info, _ := cat.Recipient(r)
			np.Recipients = append(np.Recipients, noticeRecipientDTO{ID: r, Name: info.Name[lang], Contact: info.Contact,
				Country: info.Country, TransferMechanism: info.TransferMechanism})
		}
		out.Purposes = append(out.Purposes, np)
	}
	return out
}

// newestNoticeVersion is the newest of the purposes' notice versions: the label consents carry. Versions
// are dates ("2026-01"), so they sort as text.
func newestNoticeVersion(cat *policies.Catalog) string {
	newest := ""
	for _, p := range cat.All() {
		newest = max(newest, p.Notice.Version)
	}
	return newest
}

// toNoticeHandlerDTO renders the catalog's handler and its PI protection officer in lang.
func toNoticeHandlerDTO(cat *policies.Catalog, lang string) noticeHandlerDTO {
	h := cat.Handler()
	return noticeHandlerDTO{Name: h.Name[lang], Address: h.Address[lang], Contact: h.Contact,
		Officer: noticeOfficerDTO{Name: h.Officer.Name[lang], Contact: h.Officer.Contact}}
}

// processingMethod describes how a purpose processes data (PIPL Art. 17: the method of processing), from
// what the catalog says the purpose does: every purpose stores its categories encrypted and lets the roles
// the policy names use them; a purpose that feeds the tag engine also analyses them automatically, and one
// with recipients provides them.
func processingMethod(p policies.Purpose, lang string) string {
	parts := []string{methodPhrases.stored[lang]}
	switch p.Tags {
	case policies.TagsSubject:
		parts = append(parts, methodPhrases.subjectTags[lang])
	case policies.TagsPopulation:
		parts = append(parts, methodPhrases.populationTags[lang])
	}
	if len(p.Recipients) > 0 {
		parts = append(parts, methodPhrases.recipients[lang])
	}
	return strings.Join(parts, methodPhrases.separator[lang])
}

// methodPhrases are processingMethod's phrases by language, as the catalog holds its texts.
var methodPhrases = struct{ stored, subjectTags, populationTags, recipients, separator map[string]string }{
	stored: map[string]string{
		"en": "stored encrypted field by field and used by the staff roles the policy names for this purpose, every access recorded",
		"zh": "逐字段加密存储，仅由策略为此目的指定的员工角色使用，每次访问均有记录"},
	subjectTags: map[string]string{
		"en": "analysed automatically to compute profile tags about you, which you can see, have explained and refuse",
		"zh": "自动分析以计算关于你的画像标签，你可以查看、获得解释并拒绝"},
	populationTags: map[string]string{
		"en": "analysed automatically in aggregate (population statistics, no decision about you)",
		"zh": "以汇总方式自动分析（群体统计，不针对你作出决定）"},
	recipients: map[string]string{"en": "provided to the recipients listed", "zh": "提供给下列接收方"},
	separator:  map[string]string{"en": "; ", "zh": "；"},
}
