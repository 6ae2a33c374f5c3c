package policies

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskValue(t *testing.T) {
	tests := []struct {
		name, pattern, in, want string
	}{
		{"phone national", PatternPhone, "13800001234", "138****1234"},
		{"phone +86", PatternPhone, "+8613800001234", "138****1234"},
		{"phone +86 spaced", PatternPhone, "+86 138-0000-1234", "138****1234"},
		{"phone 0086", PatternPhone, "008613800001234", "138****1234"},
		{"phone 86 without plus", PatternPhone, "8613800001234", "138****1234"},
		{"phone foreign", PatternPhone, "+1 (555) 123-4567", "155****4567"},
		{"phone landline 8 digits", PatternPhone, "12345678", "123*5678"},
		{"phone short", PatternPhone, "1234567", "****"},
		{"phone no digits", PatternPhone, "abcdefghij", "****"},
		{"phone only +86", PatternPhone, "+86", "****"},
		{"email", PatternEmail, "wei@example.cn", "w***@example.cn"},
		{"email chinese local", PatternEmail, "李雷@example.cn", "李***@example.cn"},
		{"email no local", PatternEmail, "@example.cn", "***@example.cn"},
		{"email no at", PatternEmail, "weiexample", "w***"},
		{"email two ats", PatternEmail, "a@b@example.cn", "a***@example.cn"},
		{"name two chars", PatternName, "李雷", "李*"},
		{"name four chars", PatternName, "欧阳娜娜", "欧***"},
		{"name one char", PatternName, "李", "*"},
		{"name latin", PatternName, "Wei", "W**"},
		{"id number", PatternIDNumber, "11010519900101123X", "110***********123X"},
		{"id number short", PatternIDNumber, "1234567", "*******"},
		{"id number 8", PatternIDNumber, "12345678", "123*5678"},
		{"id number chinese", PatternIDNumber, "一二三四五六七八九", "一二三**六七八九"},
		{"tail4", PatternTail4, "6222020200112233445", "****3445"},
		{"tail4 exactly 4", PatternTail4, "1234", "****"},
		{"tail4 short", PatternTail4, "12", "****"},
		{"year", PatternYear, "1990-04-01", "1990-**-**"},
		{"year odd", PatternYear, "04/01/1990", "****-**-**"},
		{"year short", PatternYear, "19", "****-**-**"},
		{"redact", PatternRedact, "朝阳区", "***"},
		{"none", PatternNone, "襄阳", "襄阳"},
		{"unknown pattern redacts", "bogus", "secret", "***"},
		{"empty stays empty", PatternPhone, "", ""},
		{"invalid utf8 name", PatternName, "\xff\xfe", "\uFFFD*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Field{Name: "x", Mask: tt.pattern}
			if got := f.MaskValue(tt.in); got != tt.want {
				t.Errorf("MaskValue(%q) with %s = %q, want %q", tt.in, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestMaskValueSchemaFields(t *testing.T) {
	s := loadEmbedded(t)
	tests := []struct{ field, in, want string }{
		{"name", "李雷", "李*"},
		{"gender", "female", "***"},
		{"birth_date", "1990-04-01", "1990-**-**"},
		{"phone", "+8613800001234", "138****1234"},
		{"email", "wei@example.cn", "w***@example.cn"},
		{"province", "湖北", "湖北"},
		{"city", "襄阳", "襄阳"},
		{"district", "樊城区", "***"},
		{"address_line", "人民路1号", "***"},
		{"occupation", "engineer", "engineer"},
		{"industry", "retail", "retail"},
		{"id_number", "420602199004011234", "420***********1234"},
		{"bank_account", "6222020200112233445", "****3445"},
	}
	if len(tests) != len(s.Schema().Fields()) {
		t.Fatalf("table covers %d fields, schema has %d", len(tests), len(s.Schema().Fields()))
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			f, ok := s.Schema().Field(tt.field)
			if !ok {
				t.Fatalf("field %q missing", tt.field)
			}
			if got := f.MaskValue(tt.in); got != tt.want {
				t.Errorf("MaskValue = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzMaskValue(f *testing.F) {
	for _, seed := range []string{"13800001234", "+8613800001234", "wei@example.cn", "李雷", "11010519900101123X",
		"1990-04-01", "", "a", "@", "+86", "\xff", "0086", "w***@x.cn", "一二三四五六七八九十"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, p := range knownPatterns {
			got := maskWith(p, v) // must not panic
			if p == PatternNone {
				continue
			}
			if v == "" && got != "" {
				t.Fatalf("%s: empty input gave %q", p, got)
			}
			switch p {
			case PatternPhone, PatternEmail, PatternIDNumber:
				if len(v) >= 8 && got == v && !strings.Contains(v, "*") {
					t.Fatalf("%s: %q returned unmasked", p, v)
				}
				if len(v) >= 8 && !strings.Contains(got, "*") {
					t.Fatalf("%s: %q gave %q without any '*'", p, v, got)
				}
			}
			if p == PatternIDNumber && utf8.ValidString(v) && utf8.RuneCountInString(got) != utf8.RuneCountInString(v) {
				t.Fatalf("id_number: length changed: %q → %q", v, got)
			}
		}
	})
}
