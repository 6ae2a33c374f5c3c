package policies

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedSchema(t *testing.T) {
	s := loadEmbedded(t).Schema()
	want := []Field{
		{Name: "name", Category: "identity", Type: "string", MaxLength: 64, Mask: "name"},
		{Name: "gender", Category: "identity", Type: "enum", MaxLength: 7, Mask: "redact", Values: []string{"female", "male", "other", "unknown"}},
		{Name: "birth_date", Category: "identity", Type: "date", MaxLength: 10, Mask: "year"},
		{Name: "phone", Category: "contact", Type: "phone", MaxLength: 32, BlindIndex: true, Mask: "phone"},
		{Name: "email", Category: "contact", Type: "email", MaxLength: 254, BlindIndex: true, Mask: "email"},
		{Name: "province", Category: "address", Type: "string", MaxLength: 32, Mask: "none"},
		{Name: "city", Category: "address", Type: "string", MaxLength: 32, Mask: "none"},
		{Name: "district", Category: "address", Type: "string", MaxLength: 32, Mask: "redact"},
		{Name: "address_line", Category: "address", Type: "string", MaxLength: 256, Mask: "redact"},
		{Name: "occupation", Category: "demographic", Type: "string", MaxLength: 64, Mask: "none"},
		{Name: "industry", Category: "demographic", Type: "string", MaxLength: 64, Mask: "none"},
		{Name: "id_number", Category: "sensitive_identity", Type: "id_number", MaxLength: 18, Sensitive: true, BlindIndex: true, Mask: "id_number"},
		{Name: "bank_account", Category: "sensitive_financial", Type: "string", MaxLength: 34, Sensitive: true, Mask: "tail4"},
	}
	got := s.Fields()
	if len(got) != len(want) {
		t.Fatalf("schema has %d fields, want %d", len(got), len(want))
	}
	for i := range want {
		if !fieldsEqual(got[i], want[i]) {
			t.Errorf("field %d = %+v, want %+v", i, got[i], want[i])
		}
		f, ok := s.Field(want[i].Name)
		if !ok || !fieldsEqual(f, want[i]) {
			t.Errorf("Field(%q) = %+v, %v", want[i].Name, f, ok)
		}
	}
	if _, ok := s.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
	if got, want := s.Categories(), []string{"identity", "contact", "address", "demographic", "sensitive_identity",
		"sensitive_financial", "behavior", "transactions", "interactions", "tags"}; !slices.Equal(got, want) {
		t.Errorf("Categories = %v", got)
	}
	if got := s.FieldsIn("address"); len(got) != 4 || got[0].Name != "province" || got[3].Name != "address_line" {
		t.Errorf("FieldsIn(address) = %+v", got)
	}
	if got := s.FieldsIn("behavior"); len(got) != 0 {
		t.Errorf("FieldsIn(behavior) = %+v", got)
	}
}

func fieldsEqual(a, b Field) bool {
	return a.Name == b.Name && a.Category == b.Category && a.Type == b.Type && a.MaxLength == b.MaxLength &&
		a.Sensitive == b.Sensitive && a.BlindIndex == b.BlindIndex && a.Mask == b.Mask && slices.Equal(a.Values, b.Values)
}

func TestFieldValidate(t *testing.T) {
	s := loadEmbedded(t).Schema()
	tests := []struct {
		field, value string
		ok           bool
	}{
		{"name", "李雷", true},
		{"name", strings.Repeat("李", 64), true},
		{"name", strings.Repeat("李", 65), false},
		{"name", "", false},
		{"name", "a\nb", false},
		{"name", "\xff", false},
		{"gender", "female", true},
		{"gender", "f", false},
		{"birth_date", "1990-04-01", true},
		{"birth_date", "1990-02-30", false},
		{"birth_date", "1990-4-1", false},
		{"phone", "+8613800001234", true},
		{"phone", "+86 138-0000-1234", true},
		{"phone", "138abc", false},
		{"phone", "12345", false},
		{"phone", "1+3800001234", false},
		{"email", "wei@example.cn", true},
		{"email", "wei@localhost", false},
		{"email", "a@b@example.cn", false},
		{"email", "@example.cn", false},
		{"email", "wei @example.cn", false},
		{"id_number", "42060219900401123X", true},
		{"id_number", "420602199004011234", true},
		{"id_number", "42060219900401123Y", false},
		{"id_number", "4206021990040112", false},
		{"bank_account", "6222020200112233445", true},
		{"city", "襄阳", true},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.value, func(t *testing.T) {
			f, ok := s.Field(tt.field)
			if !ok {
				t.Fatalf("no field %q", tt.field)
			}
			err := f.Validate(tt.value)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidValue) {
					t.Errorf("error %v does not wrap ErrInvalidValue", err)
				}
				if len(tt.value) > 3 && strings.Contains(err.Error(), tt.value) {
					t.Errorf("error %q contains the value", err)
				}
			}
		})
	}
}

func TestEmbeddedPurposes(t *testing.T) {
	c := loadEmbedded(t).Purposes()
	type want struct {
		basis, kind string
		necessary   bool
		recipients  bool
	}
	wants := map[string]want{
		"account_management":    {"contract", "", true, false},
		"order_fulfillment":     {"contract", "", true, false},
		"customer_service":      {"contract", "", true, false},
		"marketing":             {"consent", "general", false, false},
		"personalization":       {"consent", "general", false, false},
		"analytics":             {"consent", "general", false, false},
		"pricing":               {"contract", "", true, false},
		"risk_control":          {"legal_obligation", "", true, false},
		"third_party_sharing":   {"consent", "separate", false, true},
		"cross_border_transfer": {"consent", "separate", false, true},
		"data_subject_request":  {"legal_obligation", "", true, false},
		"compliance_audit":      {"legal_obligation", "", true, false},
	}
	all := c.All()
	if len(all) != len(wants) {
		t.Fatalf("catalog has %d purposes, want %d", len(all), len(wants))
	}
	for _, p := range all {
		w, ok := wants[string(p.Name)]
		if !ok {
			t.Errorf("unexpected purpose %q", p.Name)
			continue
		}
		if p.LegalBasis != w.basis || p.ConsentKind != w.kind || p.Necessary != w.necessary || (len(p.Recipients) > 0) != w.recipients {
			t.Errorf("%s = %+v, want %+v", p.Name, p, w)
		}
		if p.Description["en"] == "" || p.Description["zh"] == "" || p.RetentionDays <= 0 ||
			p.Notice.Version != "2026-01" || p.Notice.Material != (p.Name == "marketing") || p.Recipients == nil || p.Categories == nil {
			t.Errorf("%s incomplete: %+v", p.Name, p)
		}
		if p.NeedsConsent() != (w.basis == "consent") {
			t.Errorf("%s: NeedsConsent = %v", p.Name, p.NeedsConsent())
		}
		if got, ok := c.Purpose(p.Name); !ok || got.Name != p.Name {
			t.Errorf("Purpose(%q) = %v, %v", p.Name, got.Name, ok)
		}
	}
	m, _ := c.Purpose("marketing")
	for _, cat := range []string{"transactions", "behavior", "interactions", "demographic", "address"} {
		if !m.Processes(cat) {
			t.Errorf("marketing does not process %s", cat)
		}
	}
	for _, cat := range []string{"sensitive_identity", "sensitive_financial"} {
		for _, p := range all {
			if p.NeedsConsent() && p.Processes(cat) {
				t.Errorf("consent-based purpose %s processes %s", p.Name, cat)
			}
		}
	}
	if _, ok := c.Purpose(NoPurpose); ok {
		t.Error("NoPurpose is in the catalog")
	}
}

// TestPurposesCoverPolicy checks that every category a rule lets a role read or write for a purpose is one
// the purpose may process.
func TestPurposesCoverPolicy(t *testing.T) {
	s := loadEmbedded(t)
	for _, r := range s.Rules() {
		if r.Effect != "allow" || r.Purpose == AnyPurpose || !isDataObject(r.Object) || r.Action == string(ActCompute) {
			continue
		}
		cat := r.Object
		if name, ok := strings.CutPrefix(cat, FieldPrefix); ok {
			f, _ := s.Schema().Field(name)
			cat = f.Category
		}
		p, _ := s.Purposes().Purpose(PurposeName(r.Purpose))
		if !p.Processes(cat) {
			t.Errorf("policy.csv:%d: %s may %s %s for %s, which does not process it", r.Line, r.Role, r.Action, cat, r.Purpose)
		}
	}
}

func TestConsentCountsOnlyWithoutALaterMaterialNotice(t *testing.T) {
	mk := Purpose{Notice: Notice{Version: "v3", Material: true}, NoticeHistory: []Notice{{Version: "v1"}, {Version: "v2", Material: false}}}
	pz := Purpose{Notice: Notice{Version: "v3"}, NoticeHistory: []Notice{{Version: "v1"}, {Version: "v2", Material: true}}}
	for _, tc := range []struct {
		p    Purpose
		v    string
		want bool
	}{
		{mk, "v3", true}, {mk, "v2", false}, {mk, "v1", false}, {mk, "v9", false},
		{pz, "v3", true}, {pz, "v2", true}, {pz, "v1", false}, {pz, "", false},
	} {
		if got := tc.p.ConsentCounts(tc.v); got != tc.want {
			t.Errorf("ConsentCounts(%q) = %v, want %v (%+v)", tc.v, got, tc.want, tc.p)
		}
	}
}
