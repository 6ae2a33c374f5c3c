package vault_test

import (
	"testing"

	"github.com/profilevault/profilevault/vault"
)

// A client may put a value where a field name belongs; errors repeat only what looks like a field name.
func TestSafeFieldNameRepeatsNoValue(t *testing.T) {
	for in, want := range map[string]string{
		"shoe_size":                           "shoe_size",
		"address_line2":                       "address_line2",
		"13800001234":                         "(not a field name)", // a phone number
		"11010519491231002":                   "(not a field name)", // an id number
		"li_lei_1990":                         "(not a field name)", // a name and a year
		"w@example.cn":                        "(not a field name)",
		"Phone":                               "(not a field name)",
		"李雷":                                  "(not a field name)",
		"":                                    "(not a field name)",
		"a_very_long_field_name_that_goes_on": "(not a field name)",
	} {
		if got := vault.SafeFieldName(in); got != want {
			t.Errorf("SafeFieldName(%q) = %q, want %q", in, got, want)
		}
	}
}
