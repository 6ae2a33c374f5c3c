package normalize

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// e164 is the shape every normalised phone number must have.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// checkRejection verifies a normaliser error: ErrInvalidValue, empty result, value not echoed.
func checkRejection(t *testing.T, in, out string, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("error %v does not wrap ErrInvalidValue", err)
	}
	if out != "" {
		t.Fatalf("returned %q with an error", out)
	}
	if s := strings.TrimSpace(in); len(s) >= 12 && strings.Contains(err.Error(), s) {
		t.Fatalf("error echoes the value: %v", err)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"+86 138 0000 1234", "13800001234", "008613800001234", "8613800001234", "+1 (415) 555-0100",
		"＋８６ １３８", "（+86）138\u30000000", "++1", "", "00", "+0123456789",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Phone(in)
		if err != nil {
			checkRejection(t, in, out, err)
			return
		}
		if !e164.MatchString(out) {
			t.Fatalf("Phone(%q) = %q, not E.164", in, out)
		}
		again, err := Phone(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: Phone(%q) = %q, %v", out, again, err)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"lilei@example.cn", " LiLei@Example.CN ", "李雷@例子.中国", "a@b", "@b.c", "a@b..c", "a@@b.c",
		"ÜSER@EXAMPLE.DE", "İ@x.y", "a\x00@b.c", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Email(in)
		if err != nil {
			checkRejection(t, in, out, err)
			return
		}
		local, domain, ok := strings.Cut(out, "@")
		if !ok || local == "" || strings.Contains(domain, "@") || !strings.Contains(domain, ".") {
			t.Fatalf("Email(%q) = %q, not local@domain.tld", in, out)
		}
		if out != strings.TrimSpace(out) || strings.ContainsAny(out, " \t\r\n") {
			t.Fatalf("Email(%q) = %q contains white space", in, out)
		}
		again, err := Email(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: Email(%q) = %q, %v", out, again, err)
		}
	})
}

func FuzzNormalizeIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "11010519491231002x", "440524188001010014", "420602850720331", "110101199003077777", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := IDNumber(in)
		if err != nil {
			checkRejection(t, in, out, err)
			return
		}
		switch len(out) {
		case 18:
			if idCheckChar(out[:17]) != out[17] {
				t.Fatalf("IDNumber(%q) = %q with a bad check digit", in, out)
			}
		case 15:
			if !allDigits(out) {
				t.Fatalf("IDNumber(%q) = %q, not 15 digits", in, out)
			}
		default:
			t.Fatalf("IDNumber(%q) = %q, wrong length", in, out)
		}
		again, err := IDNumber(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: IDNumber(%q) = %q, %v", out, again, err)
		}
	})
}
