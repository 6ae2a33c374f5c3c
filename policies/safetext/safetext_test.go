package safetext

import "testing"

func TestName(t *testing.T) {
	for s, want := range map[string]string{
		"sms": "sms", "value.rfm_segment": "value.rfm_segment", "address_line2": "address_line2",
		"":                       NotAName,
		"sms:+8613900000080":     NotAName, // a channel address, not a name
		"13900000174":            NotAName,
		"piixg4_13900000174":     NotAName, // too many digits
		"PIIXG1":                 NotAName, // upper case
		"leak.marker@example.cn": NotAName,
		"测试泄漏甲":                  NotAName,
		"zhang san":              NotAName,
		"a23456789012345678901234567890123456789012345678901234567890abcde": NotAName, // 65 bytes
	} {
		if got := Name(s); got != want {
			t.Errorf("Name(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzName(f *testing.F) {
	f.Add("sms")
	f.Add("+8613900000080")
	f.Fuzz(func(t *testing.T, s string) {
		if got := Name(s); got != s && got != NotAName {
			t.Fatalf("Name(%q) = %q", s, got)
		}
		if got := Name(s); got == s {
			digits := 0
			for _, r := range s {
				if r >= '0' && r <= '9' {
					digits++
				}
				if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
					t.Fatalf("echoed %q, which has %q", s, r)
				}
			}
			if digits > 2 {
				t.Fatalf("echoed %q with %d digits", s, digits)
			}
		}
	})
}
