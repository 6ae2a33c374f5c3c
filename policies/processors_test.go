package policies

import (
	"strings"
	"testing"
	"time"
)

// An entrusted processor receives data for its contract's purposes and categories only while the
// contract is in force (its dates read in UTC+8, the last day included); a catalog whose processor strays
// beyond its purposes, has no contract, or is abroad without a transfer mechanism does not load.
func TestProcessors(t *testing.T) {
	cat := loadEmbedded(t).Purposes()
	p, ok := cat.Processor("contact_centre_hz")
	if !ok {
		t.Fatal("the built-in processor is missing")
	}
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	for _, c := range []struct {
		purpose PurposeName
		at      string
		want    bool
	}{
		{PurposeCustomerService, "2026-06-01T00:00:00Z", true},
		{PurposeCustomerService, "2025-12-31T15:59:59Z", false}, // 23:59:59 in UTC+8 on the eve of signing
		{PurposeCustomerService, "2025-12-31T16:00:00Z", true},
		{PurposeCustomerService, "2028-12-31T15:59:59Z", true}, // the last day, in UTC+8
		{PurposeCustomerService, "2028-12-31T16:00:00Z", false},
		{"marketing", "2026-06-01T00:00:00Z", false},
	} {
		if got := p.Entrusted(c.purpose, at(c.at)); got != c.want {
			t.Errorf("Entrusted(%s, %s) = %v", c.purpose, c.at, got)
		}
	}
	if !p.Covers("contact") || p.Covers("identity") {
		t.Error("the contract's categories are not what purposes.json says")
	}
	if info, ok := cat.Party("contact_centre_hz"); !ok || info.Country != "CN" {
		t.Errorf("Party: %+v %v", info, ok)
	}
	base := embeddedText(t, filePurposes)
	const entry = `"purposes": ["customer_service"], "categories": ["contact", "transactions", "interactions"], "at_end": "delete"`
	for name, broken := range map[string]string{
		"a category its purpose may not process": strings.Replace(base, `"categories": ["contact", "transactions", "interactions"]`, `"categories": ["contact", "sensitive_financial"]`, 1),
		"an unknown purpose":                     strings.Replace(base, entry, `"purposes": ["telepathy"], "categories": ["contact"], "at_end": "delete"`, 1),
		"no contract id":                         strings.Replace(base, `"id": "DPA-2026-014"`, `"id": ""`, 1),
		"dates out of order":                     strings.Replace(base, `"until": "2028-12-31"`, `"until": "2025-12-31"`, 1),
		"abroad without a mechanism":             strings.Replace(base, `"contact": "dpo@contact-centre.example", "country": "CN"`, `"contact": "dpo@contact-centre.example", "country": "SG"`, 1),
		"keeps the data at the end":              strings.Replace(base, `"at_end": "delete"`, `"at_end": "keep"`, 1),
		"also a recipient":                       strings.Replace(base, `"contact_centre_hz": {`, `"sf_express": {`, 1),
	} {
		if broken == base {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if _, err := Load(writeDir(t, map[string]string{filePurposes: broken})); err == nil || !strings.Contains(err.Error(), "processor") {
			t.Errorf("%s: loaded (%v)", name, err)
		}
	}
}
