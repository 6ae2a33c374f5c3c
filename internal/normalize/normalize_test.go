package normalize

import (
	"errors"
	"strings"
	"testing"
)

// checkNormalizer runs a normaliser table: want == "" means the input must be rejected with
// ErrInvalidValue, and the error must not echo the input.
func checkNormalizer(t *testing.T, fn func(string) (string, error), tests []struct{ name, in, want string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fn(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidValue) {
					t.Fatalf("(%q) = %q, %v; want ErrInvalidValue", tt.in, got, err)
				}
				if got != "" {
					t.Errorf("returned %q with an error", got)
				}
				if s := strings.TrimSpace(tt.in); len(s) >= 5 && strings.Contains(err.Error(), s) {
					t.Errorf("error echoes the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("(%q) = %q, want %q", tt.in, got, tt.want)
			}
			again, err := fn(got)
			if err != nil || again != got {
				t.Errorf("not idempotent: (%q) = %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	checkNormalizer(t, Phone, []struct{ name, in, want string }{
		{"E.164", "+8613800001234", "+8613800001234"},
		{"spaced international", "+86 138 0000 1234", "+8613800001234"},
		{"dashes and spaces", "+86 138-0000-1234", "+8613800001234"},
		{"parenthesised country code", "(+86) 138 0000 1234", "+8613800001234"},
		{"China mobile, national", "13800001234", "+8613800001234"},
		{"China mobile, dashes", "138-0000-1234", "+8613800001234"},
		{"China mobile, padded", "  138 0000 1234\t", "+8613800001234"},
		{"00 prefix", "008613800001234", "+8613800001234"},
		{"00 prefix spaced", "0086 138 0000 1234", "+8613800001234"},
		{"86 without plus", "8613800001234", "+8613800001234"},
		{"full-width digits", "＋８６ １３８ ００００ １２３４", "+8613800001234"},
		{"full-width parentheses and ideographic space", "（+86）138\u30000000\u30001234", "+8613800001234"},
		{"US", "+1 (415) 555-0100", "+14155550100"},
		{"UK", "+44 20 7946 0958", "+442079460958"},
		{"Hong Kong 8-digit", "+852 9123 4567", "+85291234567"},
		{"Beijing landline intl", "+86 10 6552 9988", "+861065529988"},
		{"shortest", "+12345678", "+12345678"},
		{"longest", "+123456789012345", "+123456789012345"},
		{"empty", "", ""},
		{"only separators", " - ( ) ", ""},
		{"only plus", "+", ""},
		{"too short international", "+1234567", ""},
		{"too long international", "+1234567890123456", ""},
		{"country code 0", "+0123456789", ""},
		{"00 then 0", "000123456789", ""},
		{"national without country, 10 digits", "1380000123", ""},
		{"national 11 digits not starting with 1", "23800001234", ""},
		{"domestic landline", "010-6552-9988", ""},
		{"two plus signs", "++8613800001234", ""},
		{"plus in the middle", "86+13800001234", ""},
		{"letters", "+86 138 0000 12ab", ""},
		{"extension", "+1 415 555 0100 x12", ""},
		{"dot separators", "138.0000.1234", "+8613800001234"},
		{"slashes", "138/0000/1234", "+8613800001234"},
		{"tel: URI", "tel:+8613800001234", "+8613800001234"},
		{"TEL: URI, national", "TEL:13800001234", "+8613800001234"},
		{"tel: alone", "tel:", ""},
		{"way too long", strings.Repeat("1", 65), ""},
		{"invalid UTF-8", "+86138\xff00001234", ""},
	})
}

func TestNormalizeEmail(t *testing.T) {
	checkNormalizer(t, Email, []struct{ name, in, want string }{
		{"plain", "lilei@example.cn", "lilei@example.cn"},
		{"upper case", "LiLei@Example.CN", "lilei@example.cn"},
		{"trimmed", "  w.meimei@example.com.cn \n", "w.meimei@example.com.cn"},
		{"plus tag", "user+shop@mail.example.org", "user+shop@mail.example.org"},
		{"unicode local part", "李雷@例子.中国", "李雷@例子.中国"},
		{"unicode upper case", "ÜSER@EXAMPLE.DE", "üser@example.de"},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"no at", "lilei.example.cn", ""},
		{"two ats", "li@lei@example.cn", ""},
		{"empty local part", "@example.cn", ""},
		{"empty domain", "lilei@", ""},
		{"domain without dot", "lilei@localhost", ""},
		{"domain leading dot", "lilei@.example.cn", ""},
		{"domain trailing dot", "lilei@example.cn.", ""},
		{"domain empty label", "lilei@example..cn", ""},
		{"inner space", "li lei@example.cn", ""},
		{"inner tab", "lilei@exam\tple.cn", ""},
		{"control character", "lilei\x00@example.cn", ""},
		{"invalid UTF-8", "lilei\xff@example.cn", ""},
		{"local part too long", strings.Repeat("a", 65) + "@example.cn", ""},
		{"address too long", "a@" + strings.Repeat("b", 250) + ".cn", ""},
		{"input too long", strings.Repeat(" ", 600) + "a@example.cn", ""},
	})
}

func TestNormalizeIDNumber(t *testing.T) {
	checkNormalizer(t, IDNumber, []struct{ name, in, want string }{
		{"check digit X", "11010519491231002X", "11010519491231002X"},
		{"lower-case x", "11010519491231002x", "11010519491231002X"},
		{"trimmed", "  11010519491231002x ", "11010519491231002X"},
		{"check digit 4", "440524188001010014", "440524188001010014"},
		{"check digit 3", "420602199001011233", "420602199001011233"},
		{"check digit 8", "420602198507203318", "420602198507203318"},
		{"legacy 15 digits", "420602850720331", "420602850720331"},
		{"wrong check digit", "110101199003077777", ""},
		{"wrong check digit X", "110105194912310021", ""},
		{"check X where digit expected", "42060219900101123X", ""},
		{"digit changed", "11010519491231003X", ""},
		{"letter inside", "1101051949123100AX", ""},
		{"invalid last character", "11010519491231002Y", ""},
		{"17 characters", "11010519491231002", ""},
		{"19 characters", "11010519491231002X1", ""},
		{"15 with X", "42060285072033X", ""},
		{"inner space", "110105 19491231002X", ""},
		{"empty", "", ""},
		{"full-width digits", "１１０１０５１９４９１２３１００２Ｘ", ""},
	})
}
