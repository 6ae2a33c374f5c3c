package policies

import (
	"strings"
	"unicode/utf8"
)

// minRevealLength is the shortest value (in characters, or national digits for phones) of which the phone
// and id_number patterns reveal the first 3 and last 4 characters; shorter values are starred entirely.
const minRevealLength = 8

// MaskValue returns v masked with the field's pattern, as returned by a read granted "masked":
//
//	phone      "13800001234" or "+86 138-0000-1234" → "138****1234": the national digits (a +86/0086 prefix
//	           is dropped) with the first 3 and last 4 kept; under 8 digits → "****"
//	email      "wei@example.cn" → "w***@example.cn": the first character of the local part, then "***"
//	name       "李雷" → "李*", "欧阳娜娜" → "欧***": the first character, then one '*' per character
//	id_number  the first 3 and last 4 characters kept, the rest starred, same length; under 8 → all starred
//	tail4      "****" and the last 4 characters; 4 characters or fewer → "****"
//	year       "1990-04-01" → "1990-**-**"; no leading year → "****-**-**"
//	redact     "***"
//	none       v unchanged
//
// An unknown pattern redacts. The empty value stays empty. Masking is rune-aware and never panics, whatever
// the input (short, odd or not UTF-8).
func (f Field) MaskValue(v string) string {
	return maskWith(f.Mask, v)
}

// maskWith applies a mask pattern to v.
func maskWith(pattern, v string) string {
	if v == "" {
		return ""
	}
	switch pattern {
	case PatternNone:
		return v
	case PatternPhone:
		return maskPhone(v)
	case PatternEmail:
		return maskEmail(v)
	case PatternName:
		return maskName(v)
	case PatternIDNumber:
		return keepEnds([]rune(v))
	case PatternTail4:
		r := []rune(v)
		if len(r) <= 4 {
			return "****"
		}
		return "****" + string(r[len(r)-4:])
	case PatternYear:
		return maskYear(v)
	default: // PatternRedact and anything unknown
		return "***"
	}
}

// keepEnds keeps the first 3 and last 4 characters and stars the rest, preserving the length; values
// shorter than minRevealLength are starred entirely.
func keepEnds(r []rune) string {
	n := len(r)
	if n < minRevealLength {
		return strings.Repeat("*", n)
	}
	var b strings.Builder
	b.Grow(n + 8)
	b.WriteString(string(r[:3]))
	b.WriteString(strings.Repeat("*", n-7))
	b.WriteString(string(r[n-4:]))
	return b.String()
}

// maskPhone masks the national digits of a phone number.
func maskPhone(v string) string {
	digits := make([]rune, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			digits = append(digits, rune(c))
		}
	}
	trimmed := strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(trimmed, "+86") && len(digits) > 2:
		digits = digits[2:]
	case strings.HasPrefix(trimmed, "0086") && len(digits) > 4:
		digits = digits[4:]
	case len(digits) == 13 && string(digits[:3]) == "861":
		digits = digits[2:]
	}
	if len(digits) < minRevealLength {
		return "****"
	}
	return keepEnds(digits)
}

// maskEmail keeps the first character of the local part and the domain.
func maskEmail(v string) string {
	local, domain := v, ""
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		local, domain = v[:at], v[at:]
	}
	if local == "" {
		return "***" + domain
	}
	first, _ := utf8.DecodeRuneInString(local)
	return string(first) + "***" + domain
}

// maskName keeps the first character and stars every other one.
func maskName(v string) string {
	r := []rune(v)
	if len(r) == 1 {
		return "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// maskYear keeps the year of a YYYY-MM-DD date.
func maskYear(v string) string {
	if len(v) >= 4 {
		year := v[:4]
		ok := true
		for i := 0; i < 4; i++ {
			if year[i] < '0' || year[i] > '9' {
				ok = false
				break
			}
		}
		if ok {
			return year + "-**-**"
		}
	}
	return "****-**-**"
}
