package ingest

import (
	"unicode"
)

// NearDuplicateName is the NameSimilarity at or above which two names are worth a data steward's look.
const NearDuplicateName = 0.9

// NameSimilarity returns the Jaro-Winkler similarity (prefix scale 0.1, common prefix of at most 4) of
// two names, between 0 (nothing in common) and 1 (the same name), computed over Unicode code points
// (runes), so that each Chinese character counts as one. Before comparing, full-width forms are
// folded, letters lower-cased, and white space and the separators '·', '•', '.', '-', '_' removed:
// "张 伟" and "张伟" score 1, "Li Lei" and "lilei" score 1, "张伟" and "李娜" score 0. Two empty names
// score 0.
func NameSimilarity(a, b string) float64 {
	ra, rb := nameRunes(a), nameRunes(b)
	return jaroWinkler(ra, rb)
}

// nameRunes normalises a name for comparison.
func nameRunes(s string) []rune {
	s = foldWidth(s)
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		switch r {
		case '·', '•', '.', '-', '_', '・':
			continue
		}
		out = append(out, unicode.ToLower(r))
	}
	return out
}

// jaroWinkler computes the Jaro-Winkler similarity of two rune strings.
func jaroWinkler(a, b []rune) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	window := max(len(b)/2-1, 0)
	aMatch := make([]bool, len(a))
	bMatch := make([]bool, len(b))
	matches := 0
	for i, r := range a {
		lo, hi := max(0, i-window), min(len(b), i+window+1)
		for j := lo; j < hi; j++ {
			if !bMatch[j] && b[j] == r {
				aMatch[i], bMatch[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	// Count transpositions: matched runes in a different order.
	half, j := 0, 0
	for i := range a {
		if !aMatch[i] {
			continue
		}
		for !bMatch[j] {
			j++
		}
		if a[i] != b[j] {
			half++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(len(a)) + m/float64(len(b)) + (m-float64(half)/2)/m) / 3
	prefix := 0
	for prefix < min(4, len(a)) && a[prefix] == b[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
