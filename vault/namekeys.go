package vault

import (
	"strings"
	"unicode"

	"github.com/profilevault/profilevault/audit"
)

// fieldNameKey is the blind-index pseudo-field of a subject's name keys: tokens of the normalised name
// together with the birth date, and for names of three or more characters also of each one-character
// deletion of it. Two records whose names are within one edit of each other and that share a birth date
// share a token, so identity resolution can find near-identical names without a readable name index; such
// matches are weak and only ever go to the steward's review queue.
const fieldNameKey = "_name_key"

// NameKeys returns the values a record's name keys are made of (nameKeyValues): records that share one
// have names within one edit of each other and the same birth date, and the second is queued for review
// against the first. An importer groups such records so that which comes first does not depend on its
// workers. The values are personal data: keep them in memory only.
func NameKeys(name, birthDate string) []string { return nameKeyValues(name, birthDate) }

// nameKeyValues returns the values whose tokens index a name and birth date ("" if either is missing).
func nameKeyValues(name, birthDate string) []string {
	norm := normaliseName(name)
	if norm == "" || birthDate == "" {
		return nil
	}
	runes := []rune(norm)
	out := []string{norm + "\x00" + birthDate}
	if len(runes) >= 3 {
		seen := map[string]bool{out[0]: true}
		for i := range runes {
			v := string(runes[:i]) + string(runes[i+1:]) + "\x00" + birthDate
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// normaliseName drops spaces, interpuncts and dots and folds case and full-width Latin letters, so that
// "王 芳", "王芳" and "ＷＡＮＧ Fang" / "wang fang" compare equal.
func normaliseName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsSpace(r), r == '·', r == '•', r == '.', r == '・':
			continue
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// nameKeyTokens returns the blind tokens of the name keys of a subject whose current record is rec after
// values (changes: nil removes) apply, and whether the write changes them at all. A kept value is opened
// inside the gate and named in e; ErrKEKMissing if it cannot be opened on this node.
func (s *Profiles) nameKeyTokens(e *audit.Entry, rec SubjectRecord, values map[string]*string) ([][]byte, bool, error) {
	nv, nameChanged := values["name"]
	bv, birthChanged := values["birth_date"]
	if !nameChanged && !birthChanged {
		return nil, false, nil
	}
	current := func(v *string, changed bool, field string) (string, error) {
		if changed {
			if v == nil {
				return "", nil
			}
			return *v, nil
		}
		got, _, err := s.gate.decisionOpen(e, rec, field)
		return string(got), err
	}
	name, err := current(nv, nameChanged, "name")
	if err != nil {
		return nil, false, err
	}
	birth, err := current(bv, birthChanged, "birth_date")
	if err != nil {
		return nil, false, err
	}
	var tokens [][]byte
	for _, v := range nameKeyValues(name, birth) {
		tokens = append(tokens, s.gate.blindToken(fieldNameKey, v))
	}
	return tokens, true, nil
}
