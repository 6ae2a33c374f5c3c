package policies

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// embeddedSet is loaded once for the read-only tests.
var embeddedSet = sync.OnceValues(func() (*Set, error) { return Load("") })

// loadEmbedded returns the Set of the built-in files.
func loadEmbedded(t testing.TB) *Set {
	t.Helper()
	s, err := embeddedSet()
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	return s
}

// writeDir writes the given files into a new temporary directory and returns it.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// embeddedText returns a built-in file as a string.
func embeddedText(t testing.TB, name string) string {
	t.Helper()
	b := Embedded(name)
	if b == nil {
		t.Fatalf("no embedded %s", name)
	}
	return string(b)
}

// replaceOnce replaces old by new in s, failing the test when old is absent.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(s, old, new, 1)
}

func TestLoadEmbedded(t *testing.T) {
	s := loadEmbedded(t)
	files := s.Files()
	if len(files) != len(FileNames()) || len(files) != 8 {
		t.Fatalf("Files has %d entries", len(files))
	}
	for _, name := range FileNames() {
		if !bytes.Equal(files[name], Embedded(name)) {
			t.Errorf("Files()[%q] differs from the embedded file", name)
		}
	}
	files[fileSchema][0] = 'X' // a copy: must not affect the Set
	if s.Files()[fileSchema][0] == 'X' {
		t.Error("Files returned shared bytes")
	}
	if len(s.Hash()) != 64 {
		t.Errorf("Hash = %q", s.Hash())
	}
	want := []string{"admin", "analyst", "compliance_officer", "customer_service", "data_steward", "marketing", "subject", "witness"}
	if got := s.Roles(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Roles = %v, want %v", got, want)
	}
	if !s.pruned {
		t.Error("built-in model not compiled with the pruned enumeration")
	}
	t.Logf("compiled %d table entries with %d Casbin evaluations", len(s.table), s.enforceCalls)
}

func TestLoadOverride(t *testing.T) {
	policy := embeddedText(t, filePolicy) + "\np, analyst, analytics, field:city, read, allow, full\n"
	dir := writeDir(t, map[string]string{filePolicy: policy})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Allowed([]Role{"analyst"}, "analytics", "field:city", "read") {
		t.Error("override rule not applied")
	}
	if loadEmbedded(t).Allowed([]Role{"analyst"}, "analytics", "field:city", "read") {
		t.Error("embedded set changed")
	}
	files := s.Files()
	if string(files[filePolicy]) != policy {
		t.Error("Files does not hold the overriding policy.csv")
	}
	for _, name := range []string{fileModel, filePurposes, fileSchema} {
		if !bytes.Equal(files[name], Embedded(name)) {
			t.Errorf("%s did not fall back to the embedded file", name)
		}
	}
	if s.Hash() == loadEmbedded(t).Hash() {
		t.Error("Hash unchanged by an overriding file")
	}
}

func TestLoadEmptyDirEqualsEmbedded(t *testing.T) {
	s, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash() != loadEmbedded(t).Hash() {
		t.Error("an empty directory gives a different hash")
	}
	same := writeDir(t, map[string]string{fileSchema: embeddedText(t, fileSchema)})
	if s, err = Load(same); err != nil || s.Hash() != loadEmbedded(t).Hash() {
		t.Errorf("identical override: err=%v, hash differs=%v", err, err == nil && s.Hash() != loadEmbedded(t).Hash())
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing dir) = %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load(file) = %v", err)
	}
}

func TestHashChangesWithEachFile(t *testing.T) {
	base := loadEmbedded(t).Hash()
	seen := map[string]string{base: "embedded"}
	for _, name := range FileNames() {
		t.Run(name, func(t *testing.T) {
			content := embeddedText(t, name)
			switch name {
			case fileModel, filePolicy:
				content += "\n# edited\n"
			default:
				content += "\n"
			}
			s, err := Load(writeDir(t, map[string]string{name: content}))
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[s.Hash()]; dup {
				t.Errorf("hash after editing %s equals the hash of %s", name, prev)
			}
			seen[s.Hash()] = name
		})
	}
}

func TestLoadBrokenFiles(t *testing.T) {
	policy := embeddedText(t, filePolicy)
	schema := embeddedText(t, fileSchema)
	purposes := embeddedText(t, filePurposes)
	model := embeddedText(t, fileModel)
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"bad CSV", map[string]string{filePolicy: policy + "p, \"marketing, marketing, contact, read, allow, full\n"},
			[]string{"policy.csv:", "bad CSV"}},
		{"wrong column count", map[string]string{filePolicy: "p, marketing, marketing, contact, read, allow\n"},
			[]string{"policy.csv:1:", "6 columns"}},
		{"unknown category in policy", map[string]string{filePolicy: "p, marketing, marketing, contacts, read, allow, full\n"},
			[]string{"policy.csv:1:", "unknown object"}},
		{"unknown field in policy", map[string]string{filePolicy: "p, marketing, marketing, field:mobile, read, allow, full\n"},
			[]string{"policy.csv:1:", "unknown field"}},
		{"unknown purpose in policy", map[string]string{filePolicy: "p, marketing, advertising, contact, read, allow, full\n"},
			[]string{"policy.csv:1:", "unknown purpose"}},
		{"action not valid on object", map[string]string{filePolicy: "p, admin, *, keys, read, allow, -\n"},
			[]string{"policy.csv:1:", "not valid"}},
		{"bad effect", map[string]string{filePolicy: "p, admin, *, keys, rotate, permit, -\n"},
			[]string{"policy.csv:1:", "effect"}},
		{"read without mask", map[string]string{filePolicy: "# c\np, marketing, marketing, contact, read, allow, -\n"},
			[]string{"policy.csv:2:", "mask"}},
		{"mask on a write", map[string]string{filePolicy: "p, marketing, marketing, contact, write, allow, full\n"},
			[]string{"policy.csv:1:", "mask"}},
		{"g2 written by hand", map[string]string{filePolicy: policy + "g2, field:phone, identity\n"},
			[]string{"policy.csv:", "g2"}},
		{"unknown rule type", map[string]string{filePolicy: "p2, a, b\n"}, []string{"policy.csv:1:", "unknown rule type"}},
		{"duplicate rule", map[string]string{filePolicy: "p, admin, *, keys, rotate, allow, -\np, admin, *, keys, rotate, allow, -\n"},
			[]string{"policy.csv:2:", "line 1"}},
		{"conflicting masks", map[string]string{filePolicy: "p, a, customer_service, contact, read, allow, full\np, a, customer_service, contact, read, allow, masked\n"},
			[]string{"policy.csv:2:", "line 1"}},
		{"inheritance cycle", map[string]string{filePolicy: policy + "g, a, b\ng, b, a\n"}, []string{"policy.csv", "cycle"}},
		// A reload took each of these: the first locked out every later reload until a restart, the others
		// let a data subject's token read the staff's trail.
		{"admin without reload", map[string]string{filePolicy: strings.Replace(policy, "p, admin, *, policies, reload, allow, -\n", "", 1)},
			[]string{"policy.csv", "admin role must keep policies reload"}},
		{"subject given a staff resource", map[string]string{filePolicy: policy + "p, subject, data_subject_request, audit, read, allow, -\n"},
			[]string{"policy.csv", "subject role may not be given \"audit\""}},
		{"subject for another purpose", map[string]string{filePolicy: policy + "p, subject, customer_service, contact, read, allow, full\n"},
			[]string{"policy.csv", "subject role is allowed only for purpose data_subject_request"}},
		{"subject inheriting a staff role", map[string]string{filePolicy: policy + "g, subject, admin\n"},
			[]string{"policy.csv", "inherits to or from the subject role"}},
		{"empty policy", map[string]string{filePolicy: "# nothing\n"}, []string{"policy.csv", "no rules"}},
		{"schema JSON syntax", map[string]string{fileSchema: "{\n  \"fields\": [\n    {\"name\": }\n  ]\n}\n"},
			[]string{"schema.json:3:"}},
		{"schema unknown category", map[string]string{fileSchema: replaceOnce(t, schema, `"category": "demographic"`, `"category": "demographics"`)},
			[]string{"schema.json", "occupation", "unknown category"}},
		{"schema duplicate field", map[string]string{fileSchema: replaceOnce(t, schema, `"name": "city"`, `"name": "province"`)},
			[]string{"schema.json", "duplicate field name \"province\""}},
		{"schema unknown type", map[string]string{fileSchema: replaceOnce(t, schema, `"type": "phone"`, `"type": "telephone"`)},
			[]string{"schema.json", "unknown type"}},
		{"schema unknown mask", map[string]string{fileSchema: replaceOnce(t, schema, `"mask": "tail4"`, `"mask": "tail5"`)},
			[]string{"schema.json", "unknown mask"}},
		{"schema sensitive flag", map[string]string{fileSchema: replaceOnce(t, schema, `"max_length": 34, "sensitive": true`, `"max_length": 34, "sensitive": false`)},
			[]string{"schema.json", "bank_account", "sensitive"}},
		{"schema enum without values", map[string]string{fileSchema: replaceOnce(t, schema, `, "values": ["female", "male", "other", "unknown"]`, ``)},
			[]string{"schema.json", "gender", "values"}},
		{"schema date length", map[string]string{fileSchema: replaceOnce(t, schema, `"type": "date", "max_length": 10`, `"type": "date", "max_length": 12`)},
			[]string{"schema.json", "birth_date", "max_length"}},
		{"schema zero length", map[string]string{fileSchema: replaceOnce(t, schema, `"max_length": 256`, `"max_length": 0`)},
			[]string{"schema.json", "address_line", "max_length"}},
		{"schema unknown key", map[string]string{fileSchema: replaceOnce(t, schema, `"mask": "none"`, `"mask": "none", "indexed": true`)},
			[]string{"schema.json", "unknown field"}},
		{"schema trailing data", map[string]string{fileSchema: schema + "{}"}, []string{"schema.json", "after the JSON"}},
		{"schema removes a field the policy names", map[string]string{fileSchema: replaceOnce(t, schema, `"name": "city"`, `"name": "town"`)},
			[]string{"policy.csv:", "unknown field \"city\""}},
		{"purposes unknown legal basis", map[string]string{filePurposes: replaceOnce(t, purposes, `"legal_basis": "contract"`, `"legal_basis": "legitimate_interest"`)},
			[]string{"purposes.json", "account_management", "unknown legal_basis"}},
		{"purposes unknown category", map[string]string{filePurposes: replaceOnce(t, purposes, `"categories": ["identity", "sensitive_identity", "transactions"]`, `"categories": ["identity", "biometrics"]`)},
			[]string{"purposes.json", "risk_control", "unknown category"}},
		{"purposes duplicate", map[string]string{filePurposes: replaceOnce(t, purposes, `"name": "analytics"`, `"name": "marketing"`)},
			[]string{"purposes.json", "duplicate purpose name \"marketing\""}},
		{"purposes consent without kind", map[string]string{filePurposes: replaceOnce(t, purposes, `"consent_kind": "separate"`, `"consent_kind": ""`)},
			[]string{"purposes.json", "third_party_sharing", "consent_kind"}},
		{"purposes necessary consent", map[string]string{filePurposes: replaceOnce(t, purposes, `"consent_kind": "general",
      "categories": ["identity", "contact", "address", "demographic", "transactions", "behavior", "interactions", "tags"],
      "retention": {"days": 365, "clock": ["consent.grant", "order", "cancel", "return", "pos_purchase", "page_view", "cart_add", "favorite", "review", "profile.update"]},
      "necessary": false`, `"consent_kind": "general",
      "categories": ["identity", "contact", "address", "demographic", "transactions", "behavior", "interactions", "tags"],
      "retention": {"days": 365, "clock": ["consent.grant", "order", "cancel", "return", "pos_purchase", "page_view", "cart_add", "favorite", "review", "profile.update"]},
      "necessary": true`)},
			[]string{"purposes.json", "marketing", "necessary"}},
		{"grant beyond the catalog", map[string]string{filePolicy: policy + "p, customer_service, customer_service, demographic, read, allow, full\n"},
			[]string{"policy.csv", "purpose \"customer_service\" may not process \"demographic\""}},
		{"field grant beyond the catalog", map[string]string{filePolicy: policy + "p, customer_service, customer_service, field:bank_account, read, allow, masked\n"},
			[]string{"policy.csv", "may not process \"sensitive_financial\""}},
		{"grant for every purpose beyond the catalog", map[string]string{filePolicy: policy + "p, customer_service, *, address, write, allow, -\n"},
			[]string{"policy.csv", "may not process \"address\""}},
		{"notice without handler", map[string]string{filePurposes: replaceOnce(t, purposes, `"handler": {`, `"former_handler": {`)},
			[]string{"purposes.json", "former_handler"}},
		{"foreign recipient without mechanism", map[string]string{filePurposes: replaceOnce(t, purposes, `, "transfer_mechanism": "standard_contract"}`, `}`)},
			[]string{"purposes.json", "example_global_sg", "transfer_mechanism"}},
		{"unknown transfer mechanism", map[string]string{filePurposes: replaceOnce(t, purposes, `"transfer_mechanism": "standard_contract"`, `"transfer_mechanism": "trust_us"`)},
			[]string{"purposes.json", "example_global_sg", "transfer_mechanism"}},
		{"recipient not described", map[string]string{filePurposes: replaceOnce(t, purposes, `"recipients": ["sf_express"]`, `"recipients": ["zto"]`)},
			[]string{"purposes.json", "\"zto\"", "does not describe"}},
		{"officer without contact", map[string]string{filePurposes: replaceOnce(t, purposes, `"contact": "dpo@example-shop.cn"`, `"contact": ""`)},
			[]string{"purposes.json", "pi_protection_officer.contact"}},
		{"impact assessment without a review date", map[string]string{filePurposes: replaceOnce(t, purposes, `, "review_by": "2027-01-15", "conclusion": "Tags from`, `, "conclusion": "Tags from`)},
			[]string{"purposes.json", "marketing", "impact_assessment needs"}},
		{"impact assessment reviewed before it was made", map[string]string{filePurposes: replaceOnce(t, purposes, `"review_by": "2027-01-15", "conclusion": "Tags from`, `"review_by": "2025-01-15", "conclusion": "Tags from`)},
			[]string{"purposes.json", "marketing", "impact_assessment needs"}},
		{"impact assessment without a scope", map[string]string{filePurposes: replaceOnce(t, purposes, `"scope": "profile tags for marketing from transactions, behaviour, interactions, demographic and address data", `, ``)},
			[]string{"purposes.json", "marketing", "impact_assessment needs"}},
		{"strategy tier with channel and channels", map[string]string{fileStrategy: replaceOnce(t, embeddedText(t, fileStrategy), `"channels": ["wecom", "email"]`, `"channel": "sms", "channels": ["wecom", "email"]`)},
			[]string{"strategy.json", "not both"}},
		{"strategy tier listing a channel twice", map[string]string{fileStrategy: replaceOnce(t, embeddedText(t, fileStrategy), `"channels": ["wecom", "email"]`, `"channels": ["wecom", "wecom"]`)},
			[]string{"strategy.json", "listed twice"}},
		{"strategy tier with an unknown channel", map[string]string{fileStrategy: replaceOnce(t, embeddedText(t, fileStrategy), `"channels": ["wecom", "email"]`, `"channels": ["wecom", "fax"]`)},
			[]string{"strategy.json", "unknown channel"}},
		{"consent purpose without impact assessment", map[string]string{filePurposes: replaceOnce(t, purposes, `"impact_assessment": {"id": "PIA-2026-02", "date": "2026-01-15", "scope": "profile tags for marketing from transactions, behaviour, interactions, demographic and address data", "review_by": "2027-01-15", "conclusion": "Tags from consented data only, no minors, sensitive inferences screened, objection honoured; risk acceptable with these measures."},`, ``)},
			[]string{"purposes.json", "marketing", "impact_assessment is required"}},
		{"impact assessment without a date", map[string]string{filePurposes: replaceOnce(t, purposes, `"id": "PIA-2026-02", "date": "2026-01-15"`, `"id": "PIA-2026-02", "date": "soon"`)},
			[]string{"purposes.json", "marketing", "impact_assessment needs"}},
		{"purposes JSON type", map[string]string{filePurposes: replaceOnce(t, purposes, `"retention": {"days": 730`, `"retention": {"days": "730"`)},
			[]string{"purposes.json:", "retention"}},
		{"purposes unknown clock activity", map[string]string{filePurposes: replaceOnce(t, purposes, `"retention": {"days": 730, "clock": ["order"`, `"retention": {"days": 730, "clock": ["login"`)},
			[]string{"purposes.json", "customer_service", "unknown activity \"login\""}},
		{"purposes empty clock", map[string]string{filePurposes: replaceOnce(t, purposes, `"retention": {"days": 180, "clock": ["consent.grant"]}`, `"retention": {"days": 180, "clock": []}`)},
			[]string{"purposes.json", "third_party_sharing", "retention.clock"}},
		{"purposes two retentions", map[string]string{filePurposes: replaceOnce(t, purposes, `"retention": {"days": 730,`, `"retention_days": 365, "retention": {"days": 730,`)},
			[]string{"purposes.json", "customer_service", "differ"}},
		{"model syntax error", map[string]string{fileModel: replaceOnce(t, model, `r.act == p.act`, `r.act == && p.act`)},
			[]string{"model.conf", "matcher"}},
		{"model garbage", map[string]string{fileModel: "garbage\n"}, []string{"model.conf"}},
		{"model missing section", map[string]string{fileModel: replaceOnce(t, model, "[policy_effect]", "[policy_effects]")},
			[]string{"model.conf"}},
		{"model without mask column", map[string]string{fileModel: replaceOnce(t, model, "p = sub, pur, obj, act, eft, mask", "p = sub, pur, obj, act, eft")},
			[]string{"model.conf", "p must be"}},
		{"model without g2", map[string]string{fileModel: replaceOnce(t, model, "g2 = _, _\n", "")},
			[]string{"model.conf", "g2"}},
		{"model other effect", map[string]string{fileModel: replaceOnce(t, model, "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))", "e = some(where (p.eft == allow))")},
			[]string{"model.conf", "policy_effect"}},
		{"model unknown function", map[string]string{fileModel: replaceOnce(t, model, "g2(r.obj, p.obj)", "g3(r.obj, p.obj)")},
			[]string{"model.conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(writeDir(t, tt.files))
			if err == nil {
				t.Fatalf("Load succeeded (hash %s)", s.Hash())
			}
			if s != nil {
				t.Error("Load returned a Set with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestPurposeBehaviourComesFromTheCatalog checks that which purposes feed the tag engine and which an
// objection shuts off is read from purposes.json, validated, and changeable there alone.
func TestPurposeBehaviourComesFromTheCatalog(t *testing.T) {
	c := loadEmbedded(t).Purposes()
	if got := c.Tagged(); !slices.Equal(got, []PurposeName{"marketing", "personalization"}) {
		t.Errorf("Tagged = %v", got)
	}
	if got := c.Population(); !slices.Equal(got, []PurposeName{"analytics"}) {
		t.Errorf("Population = %v", got)
	}
	if got := c.ShutOffBy(ObjectionPersonalizedMarketing); !slices.Equal(got, []PurposeName{"marketing", "personalization"}) {
		t.Errorf("ShutOffBy = %v", got)
	}
	if got := c.CollectingFor("behavior"); !slices.Equal(got, []PurposeName{"personalization", "analytics"}) {
		t.Errorf("CollectingFor(behavior) = %v", got)
	}
	if got := c.CollectingFor("transactions"); !slices.Equal(got, []PurposeName{"order_fulfillment"}) {
		t.Errorf("CollectingFor(transactions) = %v", got)
	}
	embedded := embeddedText(t, filePurposes)
	// A new consent purpose that feeds per-person tags and yields to the objection: purposes.json alone.
	added := strings.Replace(embedded, `"name": "analytics",`, `"name": "loyalty",
      "description": {"en": "Loyalty offers.", "zh": "会员优惠。"},
      "legal_basis": "consent", "consent_kind": "general", "categories": ["transactions", "tags"],
      "retention_days": 365, "necessary": false, "recipients": [],
      "tags": "subject", "objections": ["personalized_marketing"],
      "impact_assessment": {"id": "PIA-2026-09", "date": "2026-02-01", "scope": "loyalty points", "review_by": "2027-02-01", "conclusion": "acceptable"},
      "notice": {"version": "2026-01", "material": false}
    },
    {
      "name": "analytics",`, 1)
	s, err := Load(writeDir(t, map[string]string{filePurposes: added}))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Purposes().Tagged(); !slices.Equal(got, []PurposeName{"marketing", "personalization", "loyalty"}) {
		t.Errorf("Tagged with loyalty = %v", got)
	}
	if got := s.Purposes().ShutOffBy(ObjectionPersonalizedMarketing); !slices.Contains(got, "loyalty") {
		t.Errorf("ShutOffBy with loyalty = %v", got)
	}
	for name, edit := range map[string][2]string{
		"tags on a contract purpose":       {`"name": "order_fulfillment",`, `"name": "order_fulfillment", "tags": "subject",`},
		"unknown tags":                     {`"tags": "population",`, `"tags": "everything",`},
		"unknown objection":                {`"objections": ["personalized_marketing"],`, `"objections": ["everything"],`},
		"collects a non-event category":    {`"collects": ["transactions", "interactions"],`, `"collects": ["contact"],`},
		"collects what it may not process": {`"collects": ["transactions", "interactions"],`, `"collects": ["behavior"],`},
	} {
		broken := strings.Replace(embedded, edit[0], edit[1], 1)
		if broken == embedded {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := Load(writeDir(t, map[string]string{filePurposes: broken})); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Load = %v, want ErrInvalid", name, err)
		}
	}
}

// A purpose in the catalog's first format (retention_days only) keeps its period with a clock of every
// activity; the current format names its clock.
func TestRetentionClockFormats(t *testing.T) {
	c := loadEmbedded(t).Purposes()
	cs, _ := c.Purpose(PurposeCustomerService)
	if cs.Retention.Days != 730 || cs.RetentionDays != 730 || !slices.Contains(cs.Retention.Clock, "order") || slices.Contains(cs.Retention.Clock, "page_view") {
		t.Errorf("customer_service retention %+v", cs.Retention)
	}
	old := strings.Replace(embeddedText(t, filePurposes), `"retention": {"days": 730, "clock": ["order", "cancel", "return", "pos_purchase", "review", "chat", "complaint", "profile.update"]}`, `"retention_days": 730`, 1)
	cs, _ = loadCustom(t, map[string]string{filePurposes: old}).Purposes().Purpose(PurposeCustomerService)
	if cs.Retention.Days != 730 || len(cs.Retention.Clock) != len(EventTypes())+2 {
		t.Errorf("first-format retention %+v", cs.Retention)
	}
}

// Every legal basis of PIPL Art. 13(1) can be declared; only consent makes a purpose check consent.
func TestEveryLegalBasisOfArticle13(t *testing.T) {
	purposes := embeddedText(t, filePurposes)
	for _, basis := range []string{BasisContract, BasisHumanResources, BasisLegalObligation, BasisEmergency, BasisNewsReporting, BasisDisclosedInformation, BasisOtherLaw} {
		s := loadCustom(t, map[string]string{filePurposes: replaceOnce(t, purposes, `"legal_basis": "contract"`, `"legal_basis": "`+basis+`"`)})
		p, ok := s.Purposes().Purpose(PurposeAccountManagement)
		if !ok || p.LegalBasis != basis || p.NeedsConsent() {
			t.Errorf("%s: %+v", basis, p)
		}
	}
}

// Prices never depend on a profile (PIPL Art. 24 ¶1): the pricing purpose does not process tags, so no
// policy can let any role read a tag (value tier, price sensitivity) for it, while it may read orders.
func TestPricingNeverReadsTags(t *testing.T) {
	base := embeddedText(t, filePolicy)
	for _, rule := range []string{"p, marketing, pricing, tags, read, allow, full", "p, analyst, pricing, field:gender, read, allow, full"} {
		if _, err := Load(writeDir(t, map[string]string{filePolicy: base + rule + "\n"})); err == nil || !strings.Contains(err.Error(), `purpose "pricing" may not process`) {
			t.Errorf("%s: %v", rule, err)
		}
	}
	// Nor can the catalog let pricing process tags, or feed them.
	purposes := embeddedText(t, filePurposes)
	i := strings.Index(purposes, `"name": "pricing"`)
	j := i + strings.Index(purposes[i:], `"categories": [`) + len(`"categories": [`)
	for name, changed := range map[string]string{
		"tags among its categories": purposes[:j] + `"tags", ` + purposes[j:],
		"feeding tags":              purposes[:i] + `"tags": "subject", ` + purposes[i:],
	} {
		if _, err := Load(writeDir(t, map[string]string{filePurposes: changed})); err == nil || !strings.Contains(err.Error(), "pricing may process no tag") {
			t.Errorf("a catalog with pricing %s: %v", name, err)
		}
	}
	s := loadCustom(t, map[string]string{filePolicy: base + "p, pricer, pricing, transactions, read, allow, masked\n"})
	if s.Allowed([]Role{"pricer"}, PurposePricing, ResourceTags, ActRead) || !s.Allowed([]Role{"pricer"}, PurposePricing, CategoryObject(CategoryTransactions), ActRead) {
		t.Error("pricing reads orders only")
	}
}
