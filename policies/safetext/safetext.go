// Package safetext decides which client text may be repeated back in an error message or a log line.
// Messages never contain personal data (API.md), but a client may put a value where a name belongs — a
// phone number for a channel, a person's name for a tag key — so only what looks like one of the vault's
// own names is echoed, and everything else is replaced by a placeholder.
package safetext

// NotAName is what Name returns for text that does not look like a name.
const NotAName = "(not a name)"

// Name returns s if it looks like a vault name — a field, category, channel, purpose or tag key: a
// lower-case letter, then at most 63 lower-case letters, digits, underscores and dots, with at most two
// digits (a phone, id or card number has more) — and NotAName otherwise.
func Name(s string) string {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return NotAName
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '_' || c == '.' || c >= 'a' && c <= 'z':
		default:
			return NotAName
		}
	}
	if digits > 2 {
		return NotAName
	}
	return s
}
