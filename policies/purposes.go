package policies

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Legal bases of a purpose: the seven of PIPL Art. 13(1). Only consent needs the subject's consent; under
// every other basis the policy alone decides, and every access is still audited.
const (
	BasisConsent              = "consent"               // (1)
	BasisContract             = "contract"              // (2) concluding or performing a contract
	BasisHumanResources       = "human_resources"       // (2) HR management under lawful labour rules
	BasisLegalObligation      = "legal_obligation"      // (3)
	BasisEmergency            = "emergency"             // (4) public health emergency, or life and property in an emergency
	BasisNewsReporting        = "news_reporting"        // (5) news reporting and public-opinion supervision in the public interest
	BasisDisclosedInformation = "disclosed_information" // (6) information the subject disclosed, or otherwise lawfully disclosed
	BasisOtherLaw             = "other_law"             // (7) other cases laws and administrative regulations provide
)

// Consent kinds a consent-based purpose requires (PIPL Art. 14, 23, 29, 39).
const (
	ConsentGeneral  = "general"
	ConsentSeparate = "separate"
)

// Notice is the version of the privacy notice a purpose is currently presented under.
type Notice struct {
	// Version names the notice text, e.g. "2026-01"; consents record the version they were given under.
	Version string `json:"version"`
	// Material is true when this version changed the purpose, method or categories materially, so that
	// consents given under earlier versions no longer count (PIPL Art. 14).
	Material bool `json:"material"`
	// Channels are the channels of commercial messages this version asks consent for (marketing): a
	// consent given under it covers them unless it names fewer (Advertising Law Art. 43).
	Channels []string `json:"channels,omitempty"`
}

// Channels of commercial messages a marketing consent may cover.
var Channels = []string{"sms", "email", "push", "wecom", "short_video"}

// NoticeChannels returns the channels notice version v of the purpose names (nil for an unknown version
// or one that names none).
func (p Purpose) NoticeChannels(v string) []string {
	for _, n := range append(append([]Notice(nil), p.NoticeHistory...), p.Notice) {
		if n.Version == v {
			return n.Channels
		}
	}
	return nil
}

// Purpose is one entry of the purposes catalog.
type Purpose struct {
	// Name is the purpose's identifier, as declared in X-Purpose.
	Name PurposeName `json:"name"`
	// Description holds the human-readable description by language ("en", "zh"). Read-only.
	Description map[string]string `json:"description"`
	// LegalBasis is contract, legal_obligation or consent.
	LegalBasis string `json:"legal_basis"`
	// ConsentKind is general or separate for consent-based purposes, empty otherwise.
	ConsentKind string `json:"consent_kind"`
	// Categories lists the categories this purpose may process (compute on). Read-only.
	Categories []string `json:"categories"`
	// Retention is how long the purpose keeps using a subject's data after the last activity it relies
	// on (PIPL Art. 19).
	Retention Retention `json:"retention"`
	// RetentionDays repeats Retention.Days (the catalog's first format, still accepted: a purpose with only
	// retention_days gets a clock of every activity).
	RetentionDays int `json:"retention_days"`
	// Necessary is true when the purpose is necessary to provide the service (never for consent-based
	// purposes): only necessary purposes may gate a feature (PIPL Art. 16).
	Necessary bool `json:"necessary"`
	// Recipients names the third parties data is provided to for this purpose; empty if none. Read-only.
	Recipients []string `json:"recipients"`
	// Notice is the current notice version.
	Notice Notice `json:"notice"`
	// NoticeHistory lists the earlier notice versions, oldest first, each marked material or not relative
	// to its predecessor.
	NoticeHistory []Notice `json:"notice_history,omitempty"`
	// Tags says what the tag engine computes under the purpose: TagsSubject (per-person tags, stored and
	// shown), TagsPopulation (population models and aggregate insights only) or "" (nothing). Only
	// consent-based purposes may feed the tag engine.
	Tags string `json:"tags,omitempty"`
	// Objections lists the objection kinds (PIPL Art. 24) that shut the purpose off for a subject.
	Objections []string `json:"objections,omitempty"`
	// Keeps says whether the purpose's retention keeps data stored (default true). A purpose that only
	// serves requests or the audit of others (data_subject_request, compliance_audit) processes whatever is
	// stored but is no reason to keep it: false.
	Keeps *bool `json:"keeps_data,omitempty"`
	// ImpactAssessment is the personal information protection impact assessment of the purpose (PIPL Art.
	// 55-56), required for a purpose that rests on consent, provides data to recipients, feeds automated
	// decisions (tags) or processes sensitive categories.
	ImpactAssessment *ImpactAssessment `json:"impact_assessment,omitempty"`
	// Collects lists the event categories that importers collect under this purpose. A category may be
	// collected under several purposes, tried in catalog order: an event refused for lack of consent under
	// one is offered under the next.
	Collects []string `json:"collects,omitempty"`
}

// ImpactAssessment records a purpose's impact assessment (PIPL.md's register): its register id, what was
// assessed, the date it was made, its conclusion and when it is to be reviewed. The assessment itself is kept
// for at least three years (Art. 56) where the id points.
type ImpactAssessment struct {
	ID         string `json:"id"`
	Scope      string `json:"scope"`
	Date       string `json:"date"`
	Conclusion string `json:"conclusion"`
	ReviewBy   string `json:"review_by"`
}

// needsImpactAssessment reports whether PIPL Art. 55 requires an assessment before the purpose's processing.
func (p Purpose) needsImpactAssessment() bool {
	if p.LegalBasis == BasisConsent || len(p.Recipients) > 0 || p.Tags != "" {
		return true
	}
	for _, c := range p.Categories {
		if IsSensitiveCategory(c) {
			return true
		}
	}
	return false
}

// Retention is a purpose's retention period and the clock it runs on.
type Retention struct {
	// Days is the period, counted from the newest activity on the clock.
	Days int `json:"days"`
	// Clock lists the activities that restart the period: event types (order, page_view, …),
	// ClockConsentGrant and ClockProfileUpdate. A subject with none of them counts from their creation.
	Clock []string `json:"clock"`
}

// Retention clock activities besides event types.
const (
	// ClockConsentGrant is a consent granted for the purpose (for a purpose not based on consent: any
	// consent the subject granted).
	ClockConsentGrant = "consent.grant"
	// ClockProfileUpdate is a change to the subject's profile.
	ClockProfileUpdate = "profile.update"
)

// What the tag engine does under a purpose (Purpose.Tags).
const (
	TagsSubject    = "subject"
	TagsPopulation = "population"
)

// ObjectionPersonalizedMarketing is the objection of PIPL Art. 24 ¶3: no personalised marketing or
// recommendations from automated decisions. It is the one objection kind purposes may name.
const ObjectionPersonalizedMarketing = "personalized_marketing"

// ShutOffBy reports whether an objection of kind shuts the purpose off.
func (p Purpose) ShutOffBy(kind string) bool { return slices.Contains(p.Objections, kind) }

// KeepsData reports whether the purpose's retention is a reason to keep data stored (Keeps, default true).
func (p Purpose) KeepsData() bool { return p.Keeps == nil || *p.Keeps }

// NeedsAge reports whether the purpose needs the subject's age to be known: a consent-based purpose that
// profiles individuals (per-person tags), because what it may do differs for a child (PIPL Art. 31; no
// marketing or personalisation tags under 14). An unknown birth date is unverified, not adult.
func (p Purpose) NeedsAge() bool { return p.NeedsConsent() && p.Tags == TagsSubject }

// NeedsConsent reports whether the purpose's legal basis is consent.
func (p Purpose) NeedsConsent() bool { return p.LegalBasis == BasisConsent }

// Processes reports whether the purpose may process the category.
func (p Purpose) Processes(category string) bool { return slices.Contains(p.Categories, category) }

// ConsentCounts reports whether a consent given under notice version v still counts: v must be a known
// version and no later version may have changed the purpose, method or categories materially (PIPL
// Art. 14: new consent is needed then).
func (p Purpose) ConsentCounts(v string) bool {
	versions := append(append([]Notice(nil), p.NoticeHistory...), p.Notice)
	for i, n := range versions {
		if n.Version != v {
			continue
		}
		for _, later := range versions[i+1:] {
			if later.Material {
				return false
			}
		}
		return true
	}
	return false
}

// Catalog is the validated purposes catalog. It is immutable and safe for concurrent use.
type Catalog struct {
	purposes []Purpose
	byName   map[PurposeName]int
	// collecting is CollectingFor's answer per category, built once at load (the importer asks per event).
	collecting map[string][]PurposeName
	// handler and recipients are the notice's content beyond the purposes (notice.go).
	handler    Handler
	recipients map[string]RecipientInfo
	// processors are the entrusted processors (PIPL Art. 21; processors.go).
	processors map[string]ProcessorInfo
}

// Purpose returns the named purpose and whether it exists.
func (c *Catalog) Purpose(name PurposeName) (Purpose, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Purpose{}, false
	}
	return c.purposes[i], true
}

// All returns every purpose in file order. The slice is a copy; the purposes' maps and slices are shared
// and must not be modified.
func (c *Catalog) All() []Purpose { return slices.Clone(c.purposes) }

// Tagged returns, in file order, the purposes under which per-person tags are computed (Tags "subject").
func (c *Catalog) Tagged() []PurposeName {
	return c.named(func(p Purpose) bool { return p.Tags == TagsSubject })
}

// Population returns, in file order, the purposes population models are fitted under (Tags "population").
func (c *Catalog) Population() []PurposeName {
	return c.named(func(p Purpose) bool { return p.Tags == TagsPopulation })
}

// CollectingFor returns, in file order, the purposes events of category are collected under.
func (c *Catalog) CollectingFor(category string) []PurposeName {
	return c.collecting[category]
}

// ShutOffBy returns, in file order, the purposes an objection of kind shuts off.
func (c *Catalog) ShutOffBy(kind string) []PurposeName {
	return c.named(func(p Purpose) bool { return p.ShutOffBy(kind) })
}

func (c *Catalog) named(keep func(Purpose) bool) []PurposeName {
	var out []PurposeName
	for _, p := range c.purposes {
		if keep(p) {
			out = append(out, p.Name)
		}
	}
	return out
}

// Names returns every purpose name in file order.
func (c *Catalog) Names() []PurposeName {
	out := make([]PurposeName, len(c.purposes))
	for i, p := range c.purposes {
		out[i] = p.Name
	}
	return out
}

// purposesFile is the JSON shape of purposes.json.
type purposesFile struct {
	Handler    *Handler                 `json:"handler"`
	Recipients map[string]RecipientInfo `json:"recipients"`
	Processors map[string]ProcessorInfo `json:"processors,omitempty"`
	Purposes   []Purpose                `json:"purposes"`
}

// parsePurposes decodes and validates purposes.json.
func parsePurposes(data []byte) (*Catalog, error) {
	var f purposesFile
	if err := decodeStrict(filePurposes, data, &f); err != nil {
		return nil, err
	}
	if len(f.Purposes) == 0 {
		return nil, fmt.Errorf("%w: %s: no purposes", ErrInvalid, filePurposes)
	}
	c := &Catalog{purposes: f.Purposes, byName: make(map[PurposeName]int, len(f.Purposes)), recipients: f.Recipients, processors: f.Processors}
	if f.Handler != nil {
		c.handler = *f.Handler
	}
	for i := range c.purposes {
		p := &c.purposes[i]
		if err := validatePurpose(p); err != nil {
			return nil, fmt.Errorf("%w: %s: purposes[%d] (%q): %s", ErrInvalid, filePurposes, i, p.Name, err.Error())
		}
		if _, dup := c.byName[p.Name]; dup {
			return nil, fmt.Errorf("%w: %s: purposes[%d]: duplicate purpose name %q", ErrInvalid, filePurposes, i, p.Name)
		}
		if p.Recipients == nil {
			p.Recipients = []string{}
		}
		if p.Categories == nil {
			p.Categories = []string{}
		}
		c.byName[p.Name] = i
	}
	c.collecting = map[string][]PurposeName{}
	for _, p := range c.purposes {
		for _, cat := range p.Collects {
			if !slices.Contains(c.collecting[cat], p.Name) {
				// Clipped, so a caller's append cannot reach the next purpose's slot.
				c.collecting[cat] = slices.Clip(append(c.collecting[cat], p.Name))
			}
		}
	}
	if err := validateNotice(f.Handler, f.Recipients, c.purposes); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, filePurposes, err.Error())
	}
	if err := validateProcessors(f.Processors, f.Recipients, c); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, filePurposes, err.Error())
	}
	return c, nil
}

// validatePurpose checks one catalog entry; the error text is a bare reason.
func validatePurpose(p *Purpose) error {
	if !validName(string(p.Name)) {
		return errors.New("name must be 1-64 lower-case letters, digits, '_', '-' or '.'")
	}
	for _, n := range append(append([]Notice(nil), p.NoticeHistory...), p.Notice) {
		if len(n.Channels) > 0 && p.LegalBasis != BasisConsent {
			return fmt.Errorf("notice %s names channels, but only a consent-based purpose asks consent per channel", n.Version)
		}
		for _, c := range n.Channels {
			if !slices.Contains(Channels, c) {
				return fmt.Errorf("notice %s: unknown channel %q (want one of %v)", n.Version, c, Channels)
			}
		}
	}
	for _, lang := range []string{"en", "zh"} {
		if p.Description[lang] == "" {
			return fmt.Errorf("description.%s is missing", lang)
		}
	}
	switch p.LegalBasis {
	case BasisConsent:
		if p.ConsentKind != ConsentGeneral && p.ConsentKind != ConsentSeparate {
			return fmt.Errorf("consent_kind %q: a consent-based purpose needs general or separate", p.ConsentKind)
		}
		if p.Necessary {
			return errors.New("a consent-based purpose cannot be necessary")
		}
	case BasisContract, BasisHumanResources, BasisLegalObligation, BasisEmergency, BasisNewsReporting, BasisDisclosedInformation, BasisOtherLaw:
		if p.ConsentKind != "" {
			return fmt.Errorf("consent_kind %q: only consent-based purposes have one", p.ConsentKind)
		}
	default:
		return fmt.Errorf("unknown legal_basis %q", p.LegalBasis)
	}
	seen := map[string]bool{}
	for _, c := range p.Categories {
		if !IsCategory(c) {
			return fmt.Errorf("unknown category %q", c)
		}
		if seen[c] {
			return fmt.Errorf("category %q listed twice", c)
		}
		seen[c] = true
	}
	if p.Retention.Days == 0 && len(p.Retention.Clock) == 0 && p.RetentionDays > 0 {
		// The first catalog format: every activity restarts the period.
		p.Retention = Retention{Days: p.RetentionDays, Clock: append(EventTypes(), ClockConsentGrant, ClockProfileUpdate)}
	}
	if p.Retention.Days <= 0 {
		return errors.New("retention.days must be positive")
	}
	if p.RetentionDays != 0 && p.RetentionDays != p.Retention.Days {
		return errors.New("retention_days and retention.days differ")
	}
	p.RetentionDays = p.Retention.Days
	if len(p.Retention.Clock) == 0 {
		return errors.New("retention.clock must name at least one activity")
	}
	for _, c := range p.Retention.Clock {
		if _, ok := EventCategory(c); !ok && c != ClockConsentGrant && c != ClockProfileUpdate {
			return fmt.Errorf("retention.clock: unknown activity %q (an event type, %s or %s)", c, ClockConsentGrant, ClockProfileUpdate)
		}
	}
	seen = map[string]bool{}
	for _, r := range p.Recipients {
		if !validName(r) || seen[r] {
			return fmt.Errorf("recipient %q is not a valid name or is listed twice", r)
		}
		seen[r] = true
	}
	if p.Notice.Version == "" {
		return errors.New("notice.version is missing")
	}
	if p.Name == PurposePricing && (slices.Contains(p.Categories, CategoryTags) || p.Tags != "") {
		// PIPL Art. 24 ¶1: no unreasonable price differentiation from profiles, whatever the catalog says.
		return errors.New("pricing may process no tag and feed none (PIPL Art. 24 ¶1: prices never depend on a profile)")
	}
	if a := p.ImpactAssessment; a != nil {
		made, err1 := time.Parse(time.DateOnly, a.Date)
		review, err2 := time.Parse(time.DateOnly, a.ReviewBy)
		if err1 != nil || err2 != nil || !review.After(made) || a.ID == "" || a.Scope == "" || a.Conclusion == "" {
			return errors.New("impact_assessment needs an id, a scope, a date, a conclusion and a review_by date after it (YYYY-MM-DD)")
		}
	} else if p.needsImpactAssessment() {
		return errors.New("impact_assessment is required: the purpose rests on consent, has recipients, feeds tags or processes sensitive categories (PIPL Art. 55)")
	}
	switch p.Tags {
	case "":
	case TagsSubject, TagsPopulation:
		if p.LegalBasis != BasisConsent {
			return fmt.Errorf("tags %q: only a consent-based purpose may feed the tag engine", p.Tags)
		}
	default:
		return fmt.Errorf("unknown tags %q (want subject, population or none)", p.Tags)
	}
	for _, k := range p.Objections {
		if k != ObjectionPersonalizedMarketing {
			return fmt.Errorf("unknown objection kind %q", k)
		}
	}
	for _, c := range p.Collects {
		if !slices.Contains(EventCategories(), c) || !p.Processes(c) {
			return fmt.Errorf("collects %q: not an event category the purpose processes", c)
		}
	}
	return nil
}
