package ingest

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
)

//go:embed regions.json
var regionsJSON []byte

// regionFile is the JSON shape of regions.json.
type regionFile struct {
	Provinces []struct {
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
		Cities  []struct {
			Name    string   `json:"name"`
			Aliases []string `json:"aliases"`
		} `json:"cities"`
	} `json:"provinces"`
}

// cityInfo is a canonical city and its province.
type cityInfo struct{ city, province string }

// regionTable maps normalised spellings to canonical names.
type regionTable struct {
	provinces map[string]string   // key → canonical province
	cities    map[string]cityInfo // key → canonical city
	nProv     int
	nCity     int
}

// regions returns the embedded region table, parsed once.
var regions = sync.OnceValues(func() (*regionTable, error) { return parseRegions(regionsJSON) })

// parseRegions builds a region table and rejects a spelling that would map to two places.
func parseRegions(data []byte) (*regionTable, error) {
	var f regionFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("ingest: regions.json: %w", err)
	}
	t := &regionTable{provinces: map[string]string{}, cities: map[string]cityInfo{}}
	for _, p := range f.Provinces {
		if p.Name == "" {
			return nil, errors.New("ingest: regions.json: a province without a name")
		}
		t.nProv++
		for _, a := range append([]string{p.Name}, p.Aliases...) {
			k := regionKey(a)
			if prev, dup := t.provinces[k]; dup && prev != p.Name {
				return nil, fmt.Errorf("ingest: regions.json: province spelling %q is ambiguous", a)
			}
			t.provinces[k] = p.Name
		}
		for _, c := range p.Cities {
			if c.Name == "" {
				return nil, errors.New("ingest: regions.json: a city without a name")
			}
			t.nCity++
			info := cityInfo{city: c.Name, province: p.Name}
			for _, a := range append([]string{c.Name}, c.Aliases...) {
				k := regionKey(a)
				if prev, dup := t.cities[k]; dup && prev != info {
					return nil, fmt.Errorf("ingest: regions.json: city spelling %q is ambiguous", a)
				}
				t.cities[k] = info
			}
		}
	}
	return t, nil
}

// regionSuffixes are stripped (longest first) when a spelling is not found as is.
var regionSuffixes = []string{
	"特别行政区", "特別行政區", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区",
	"省", "市", "autonomousregion", "municipality", "province", "city", "sar",
}

// regionKey normalises a spelling for lookup: full-width forms folded, white space removed, lower-cased.
func regionKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range foldWidth(s) {
		if unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// lookup finds key in m as is, or with one known suffix stripped.
func lookup[V any](m map[string]V, s string) (V, bool) {
	k := regionKey(s)
	if v, ok := m[k]; ok {
		return v, true
	}
	for _, suf := range regionSuffixes {
		if base, ok := strings.CutSuffix(k, suf); ok && base != "" {
			if v, ok := m[base]; ok {
				return v, true
			}
		}
	}
	var zero V
	return zero, false
}

// CanonicalProvince returns the canonical short name of a provincial-level division from any of its
// spellings in the region table ("广东省", "Guangdong", "广东" → "广东"; "北京市" → "北京";
// "广西壮族自治区" → "广西"), and false when the table does not know it.
func CanonicalProvince(s string) (string, bool) {
	t, err := regions()
	if err != nil {
		return "", false
	}
	return lookup(t.provinces, s)
}

// CanonicalCity returns the canonical short name of a city from any of its spellings in the region
// table ("广州市", "Guangzhou" → "广州"; "襄樊" → "襄阳") and its province, and false when the table does
// not know it.
func CanonicalCity(s string) (city, province string, ok bool) {
	t, err := regions()
	if err != nil {
		return "", "", false
	}
	info, ok := lookup(t.cities, s)
	return info.city, info.province, ok
}

// foldWidth maps full-width ASCII forms (U+FF01–U+FF5E) to ASCII and the ideographic space to a space;
// it returns s itself when there is nothing to fold.
func foldWidth(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			break
		}
	}
	if i == len(s) {
		return s
	}
	need := false
	for _, r := range s[i:] {
		if (r >= 0xFF01 && r <= 0xFF5E) || r == 0x3000 {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0x3000:
			return ' '
		}
		return r
	}, s)
}
