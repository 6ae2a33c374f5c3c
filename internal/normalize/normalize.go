// Package normalize puts identifiers into their canonical form before they are stored or blind-indexed:
// phone numbers to E.164, e-mail addresses lower-cased, PRC resident id numbers upper-cased with their check
// digit verified. Errors never contain the value.
package normalize

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxPhoneInput bounds the raw length (bytes) Phone looks at.
	maxPhoneInput = 64
	// maxEmailInput bounds the raw length (bytes) Email looks at.
	maxEmailInput = 512
	// maxEmailLen is the longest normalised address accepted (RFC 5321 path limit).
	maxEmailLen = 254
	// maxEmailLocal is the longest local part accepted (RFC 5321).
	maxEmailLocal = 64
)

// invalid returns ErrInvalidValue for kind, never echoing the value.
// ErrInvalidValue means a value is not a valid phone number, e-mail address or id number.
var ErrInvalidValue = errors.New("invalid value")

func invalid(kind, reason string) error {
	return fmt.Errorf("normalize: %s %s: %w", kind, reason, ErrInvalidValue)
}

// isPhoneSeparator reports whether r may appear between the digits of a phone number and is
// dropped: white space (including the ideographic space), ASCII and Unicode hyphens and dashes,
// and ASCII or full-width parentheses.
func isPhoneSeparator(r rune) bool {
	switch r {
	case '-', '(', ')', '（', '）', '‐', '‑', '‒', '–', '—', '―', '－', '.', '/', '．', '／':
		return true
	}
	return unicode.IsSpace(r)
}

// Phone returns the E.164 form ("+" and 8 to 15 digits, the first not 0) of a phone
// number. Separators (white space, hyphens and dashes, parentheses) are dropped and full-width
// digits and plus signs are read as ASCII. Accepted forms:
//
//   - "+" followed by the country code and number, e.g. "+86 138 0000 1234", "+1 (415) 555-0100";
//   - "00" followed by the country code and number (international call prefix), e.g. "008613800001234";
//   - 11 digits starting with 1, read as a mainland China mobile number: "13800001234" → "+8613800001234";
//   - 13 digits starting with 861 (a China mobile number written with its country code but no
//     "+"): "8613800001234" → "+8613800001234".
//
// Anything else returns ErrInvalidValue; the error never contains the value. The result is a
// fixed point: normalising it again returns it unchanged.
func Phone(s string) (string, error) {
	if len(s) > maxPhoneInput {
		return "", invalid("phone", "is too long")
	}
	// A tel: URI (RFC 3966) is a phone number written as a link.
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") {
		s = s[4:]
	}
	var buf [maxPhoneInput]byte
	digits := buf[:0]
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r >= '０' && r <= '９':
			digits = append(digits, byte(r-'０'+'0'))
		case r == '+' || r == '＋':
			if plus || len(digits) > 0 {
				return "", invalid("phone", "has a misplaced plus sign")
			}
			plus = true
		case isPhoneSeparator(r):
		default:
			return "", invalid("phone", "contains a character that is not a digit or separator")
		}
	}

	var intl []byte // country code and subscriber number, without "+"
	switch {
	case plus:
		intl = digits
	case len(digits) > 2 && digits[0] == '0' && digits[1] == '0':
		intl = digits[2:]
	case len(digits) == 11 && digits[0] == '1':
		intl = append([]byte("86"), digits...)
	case len(digits) == 13 && digits[0] == '8' && digits[1] == '6' && digits[2] == '1':
		intl = digits
	default:
		return "", invalid("phone", "is neither international (+ or 00) nor an 11-digit China mobile number")
	}
	if len(intl) < 8 || len(intl) > 15 {
		return "", invalid("phone", "must have 8 to 15 digits including the country code")
	}
	if intl[0] == '0' {
		return "", invalid("phone", "has a country code starting with 0")
	}
	return "+" + string(intl), nil
}

// Email returns an e-mail address trimmed of surrounding white space and lower-cased.
// It returns ErrInvalidValue unless the address is valid UTF-8 without white space or control
// characters, has exactly one "@" with a non-empty local part of at most 64 bytes, and a domain
// that contains a dot and has no empty labels, and is at most 254 bytes long. The error never
// contains the value.
func Email(s string) (string, error) {
	if len(s) > maxEmailInput {
		return "", invalid("email", "is too long")
	}
	if !utf8.ValidString(s) {
		return "", invalid("email", "is not valid UTF-8")
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > maxEmailLen {
		return "", invalid("email", "is too long")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", invalid("email", "contains white space or a control character")
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case !ok || strings.Contains(domain, "@"):
		return "", invalid("email", "must contain exactly one @")
	case local == "":
		return "", invalid("email", "has an empty local part")
	case len(local) > maxEmailLocal:
		return "", invalid("email", "has a local part longer than 64 bytes")
	case !strings.Contains(domain, "."):
		return "", invalid("email", "has a domain without a dot")
	case strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return "", invalid("email", "has an empty domain label")
	}
	return s, nil
}

// idWeights are the ISO 7064 MOD 11-2 weights of the first 17 digits of a PRC resident id.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum modulo 11 to the check character.
const idCheckChars = "10X98765432"

// idCheckChar returns the ISO 7064 MOD 11-2 check character of 17 ASCII digits.
func idCheckChar(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// IDNumber returns a PRC resident identity card number trimmed and upper-cased. It
// accepts the 18-character form (17 digits and a check character, a digit or X, which must match
// the ISO 7064 MOD 11-2 checksum) and the legacy 15-digit form. Anything else returns
// ErrInvalidValue; the error never contains the value.
func IDNumber(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch len(s) {
	case 18:
		if !allDigits(s[:17]) {
			return "", invalid("id number", "must start with 17 digits")
		}
		last := s[17]
		if (last < '0' || last > '9') && last != 'X' {
			return "", invalid("id number", "must end with a digit or X")
		}
		if idCheckChar(s[:17]) != last {
			return "", invalid("id number", "has a wrong check digit")
		}
	case 15:
		if !allDigits(s) {
			return "", invalid("id number", "of 15 characters must be all digits")
		}
	default:
		return "", invalid("id number", "must have 18 or 15 characters")
	}
	return s, nil
}

// allDigits reports whether s is non-empty and consists of ASCII digits only.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ByType is the vault's Normalizer: the canonical form of a value of a phone, email or id_number field.
func ByType(fieldType, value string) (string, error) {
	switch fieldType {
	case "phone":
		return Phone(value)
	case "email":
		return Email(value)
	case "id_number":
		return IDNumber(value)
	}
	return "", fmt.Errorf("normalize: no normaliser for this type: %w", ErrInvalidValue)
}
