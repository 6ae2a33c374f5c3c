package sentiment

import "strings"

// Driver is a lexicon entry that moved a text's score, with the sign of its push.
type Driver struct {
	Phrase   string `json:"phrase"` // an entry of the shipped lexicon ("不会再买", "had to return"), never the text around it
	Negative bool   `json:"negative"`
}

// Drivers returns up to n of the lexicon's sentiment entries that moved text's score most, strongest
// first: for each phrase Explain lists, the longest sentiment entry of the lexicon inside it. It names the
// vocabulary, not the text — an explanation shown beside a tag may name "不会再买" without quoting the
// review ("这家店我不会再买了") the entry was found in. Phrases without an entry inside are left out.
func Drivers(text string, n int) []Driver {
	var out []Driver
	seen := map[string]bool{}
	for _, c := range Explain(text).Phrases {
		if len(out) >= n {
			break
		}
		entry := longestEntry(c.Phrase)
		if entry == "" || seen[entry] {
			continue
		}
		seen[entry] = true
		out = append(out, Driver{Phrase: entry, Negative: c.Weight < 0})
	}
	return out
}

// longestEntry returns the longest sentiment entry of the lexicon (kind word or acknowledgement) inside
// phrase: a run of characters for Chinese, of words for English (lower-cased), or "".
func longestEntry(phrase string) string {
	if DetectLanguage(phrase) == Chinese {
		runes := []rune(phrase)
		for l := min(len(runes), lex.zh.maxLen); l > 0; l-- {
			for i := 0; i+l <= len(runes); i++ {
				if k := string(runes[i : i+l]); sentimentEntry(lex.zh, k) {
					return k
				}
			}
		}
		return ""
	}
	words := strings.Fields(strings.ToLower(phrase))
	for i := range words {
		words[i] = strings.Trim(words[i], ".,;:!?\"()[]")
	}
	for l := min(len(words), lex.en.maxLen); l > 0; l-- {
		for i := 0; i+l <= len(words); i++ {
			if k := strings.Join(words[i:i+l], " "); sentimentEntry(lex.en, k) {
				return k
			}
		}
	}
	return ""
}

// sentimentEntry reports whether k is an entry of d that carries a sentiment of its own.
func sentimentEntry(d dict, k string) bool {
	e, ok := d.m[k]
	return ok && (e.kind == kindWord || e.kind == kindAck) && e.val != 0
}
