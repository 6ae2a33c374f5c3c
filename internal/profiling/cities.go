package profiling

import (
	_ "embed"
	"encoding/json"
	"strings"
)

//go:embed cities.json
var embeddedCities []byte

// cityInfo is a city's province and tier (1–4) from the shipped table.
type cityInfo struct {
	province string
	tier     int
}

// cityTable maps canonical city names to their province and tier; it is built once and never changes.
var cityTable = func() map[string]cityInfo {
	var f struct {
		Tiers map[string][]string `json:"tiers"`
	}
	if err := json.Unmarshal(embeddedCities, &f); err != nil {
		panic("profiling: embedded city table: " + err.Error())
	}
	m := map[string]cityInfo{}
	for tier, list := range f.Tiers {
		t := int(tier[0] - '0')
		for _, e := range list {
			city, prov, _ := strings.Cut(e, "/")
			m[city] = cityInfo{province: prov, tier: t}
		}
	}
	return m
}()

// provinceSuffixes are stripped from province names, longest first.
var provinceSuffixes = []string{"维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"}

// canonicalProvince returns the short canonical name of a province ("广东省" → "广东",
// "广西壮族自治区" → "广西").
func canonicalProvince(p string) string {
	p = strings.TrimSpace(p)
	for _, s := range provinceSuffixes {
		if q, ok := strings.CutSuffix(p, s); ok && q != "" {
			return q
		}
	}
	return p
}

// canonicalCity returns the short canonical name of a city ("广州市" → "广州").
func canonicalCity(c string) string {
	c = strings.TrimSpace(c)
	if q, ok := strings.CutSuffix(c, "市"); ok && q != "" {
		return q
	}
	return c
}

// CityTier returns the tier of a city (1, 2, 3, or 4 for a city missing from the table) and whether the city
// is in the table; the name may carry the 市 suffix.
func CityTier(city string) (tier int, known bool) {
	c, ok := cityTable[canonicalCity(city)]
	if !ok {
		return 4, false
	}
	return c.tier, true
}
