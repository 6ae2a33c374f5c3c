package profiling

import (
	_ "embed"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

//go:embed occupations.json
var embeddedOccupations []byte

// OccupationOther is the group of an occupation the table does not know.
const OccupationOther = "other"

// OccupationBusiness is the group of people who run, manage or sell for a business: the strategy table's
// "business users" (TAGS.md).
const OccupationBusiness = "business"

// occupationTable maps a normalised occupation title to its group; built once, never changed.
var occupationTable = func() map[string]string {
	var f struct {
		Groups map[string][]string `json:"groups"`
	}
	if err := json.Unmarshal(embeddedOccupations, &f); err != nil {
		panic("profiling: embedded occupation table: " + err.Error())
	}
	m := map[string]string{}
	for group, titles := range f.Groups {
		for _, t := range titles {
			k := normaliseOccupation(t)
			if prev, dup := m[k]; dup && prev != group {
				panic("profiling: occupation table: " + t + " is in two groups")
			}
			m[k] = group
		}
	}
	return m
}()

// normaliseOccupation lower-cases an occupation, trims it and collapses its runs of spaces.
func normaliseOccupation(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), unicode.IsSpace), " ")
}

// OccupationGroup returns the group of an occupation as written (zh or en) and the table's title it matched:
// the whole text if the table has it, else its longest trailing title (for Chinese a run of trailing
// characters, "软件工程师" → 工程师; for other text trailing words, "senior sales manager" → "manager").
// An empty occupation has no group (ok false); one that matches nothing is OccupationOther with no title.
func OccupationGroup(occupation string) (group, title string, ok bool) {
	s := normaliseOccupation(occupation)
	if s == "" {
		return "", "", false
	}
	for t := s; t != ""; t = shorterTitle(t) {
		if g, found := occupationTable[t]; found {
			return g, t, true
		}
	}
	return OccupationOther, "", true
}

// shorterTitle drops the first word of t, or its first character when t is one word with Chinese in it
// ("IT工程师" → "t工程师" → … → "工程师"); a single word of other scripts has no shorter title
// ("salesperson" is not "person").
func shorterTitle(t string) string {
	if _, rest, found := strings.Cut(t, " "); found {
		return rest
	}
	if !strings.ContainsFunc(t, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return ""
	}
	_, size := utf8.DecodeRuneInString(t)
	return t[size:]
}
