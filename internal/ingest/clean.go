package ingest

import (
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/profilevault/profilevault/internal/normalize"
	"github.com/profilevault/profilevault/policies"
)

// BaseCurrency is the currency every amount is converted to.
const BaseCurrency = "CNY"

// cnyRates is the fixed conversion table (CNY per unit). The rates are deliberately fixed — reference
// rates of early 2026, rounded — so that an import is reproducible; the original currency and the rate
// used are kept in the event's attrs.
var cnyRates = map[string]float64{
	"CNY": 1,
	"RMB": 1, // a common non-ISO spelling of CNY
	"USD": 7.20,
	"EUR": 7.80,
	"HKD": 0.92,
}

// RateToCNY returns how many CNY one unit of currency is worth in the fixed rate table, and false for a
// currency outside it. Codes are matched case-insensitively after trimming. The table:
//
//	CNY, RMB  1
//	USD       7.20
//	EUR       7.80
//	HKD       0.92
func RateToCNY(currency string) (float64, bool) {
	r, ok := cnyRates[strings.ToUpper(strings.TrimSpace(currency))]
	return r, ok
}

// knownCurrency reports whether RateToCNY knows c.
func knownCurrency(c string) bool { _, ok := RateToCNY(c); return ok }

// Names under which Cleaner.Event reports its changes.
const (
	ChangeCurrency = "currency" // converted to CNY, or the code respelled ("rmb" → "CNY")
	ChangeRounding = "rounding" // an amount or price rounded to 2 decimals
	ChangeNumber   = "number"   // a numeric string turned into a number
)

// Schema field names the Cleaner gives special treatment.
const (
	fieldName     = "name"
	fieldGender   = "gender"
	fieldProvince = "province"
	fieldCity     = "city"
)

// embeddedSchema is the schema of the built-in policy files, loaded once.
var embeddedSchema = sync.OnceValues(func() (*policies.Schema, error) {
	set, err := policies.Load("")
	if err != nil {
		return nil, err
	}
	return set.Schema(), nil
})

// CleanCounts counts what a Cleaner changed, by schema field name (subjects) or change name (events:
// ChangeCurrency, ChangeRounding, ChangeNumber), and what it imputed, by field name.
type CleanCounts struct {
	Standardised map[string]int `json:"standardised"`
	Imputed      map[string]int `json:"imputed"`
}

// storeCity is where a POS store is.
type storeCity struct{ city, province string }

// Cleaner standardises subject fields and event amounts and imputes missing places. It holds the
// schema, the region table, the POS store table and its counters; it is safe for concurrent use.
type Cleaner struct {
	schema *policies.Schema
	fields []policies.Field
	stores map[string]storeCity
	now    func() time.Time

	mu           sync.Mutex
	standardised map[string]int
	imputed      map[string]int
}

// NewCleaner returns a Cleaner using the built-in schema and a POS store table (store_id → city, any
// spelling the region table knows; a city it does not know is kept as written, trimmed, with no
// province). The table is copied.
func NewCleaner(stores map[string]string) *Cleaner {
	s, _ := embeddedSchema() // a nil schema makes Subject reject every row with "schema_unavailable"
	return NewCleanerWithSchema(s, stores)
}

// NewCleanerWithSchema is NewCleaner with a given schema (a deployment's edited policies).
func NewCleanerWithSchema(schema *policies.Schema, stores map[string]string) *Cleaner {
	c := &Cleaner{schema: schema, stores: make(map[string]storeCity, len(stores)), now: time.Now,
		standardised: map[string]int{}, imputed: map[string]int{}}
	if schema != nil {
		c.fields = schema.Fields()
	}
	for id, city := range stores {
		city = collapseSpace(city)
		if city == "" {
			continue
		}
		sc := storeCity{city: city}
		if canon, prov, ok := CanonicalCity(city); ok {
			sc = storeCity{city: canon, province: prov}
		}
		c.stores[id] = sc
	}
	return c
}

// SetClock sets the clock used to reject birth dates in the future (default time.Now); for tests.
func (c *Cleaner) SetClock(now func() time.Time) { c.now = now }

// Counts returns a copy of the counters.
func (c *Cleaner) Counts() CleanCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CleanCounts{Standardised: maps.Clone(c.standardised), Imputed: maps.Clone(c.imputed)}
}

// count adds one to each name in a counter.
func (c *Cleaner) count(m map[string]int, names ...string) {
	if len(names) == 0 {
		return
	}
	c.mu.Lock()
	for _, n := range names {
		m[n]++
	}
	c.mu.Unlock()
}

// Subject checks and standardises a subject's fields in place and returns the names of the fields it
// changed, in schema order. Every value is trimmed and its inner white space collapsed (a value left
// empty is dropped); then by type:
//
//   - phone: E.164 (normalize.Phone: "138 0000 1234" → "+8613800001234");
//   - email: full-width forms folded, lower-cased (normalize.Email);
//   - id_number: upper-cased, check digit verified (normalize.IDNumber);
//   - date: "1990/4/1", "1990.04.01", "19900401", "1990年4月1日" → "1990-04-01"; a birth date in the
//     future or before 1900 is invalid;
//   - enum: matched case-insensitively; gender also from "男", "女", "M", "F", "man", "woman", "未知", "保密";
//   - province and city: the region table's canonical names ("广东省" → "广东", "广州市" → "广州"; names
//     the table does not know are kept as written);
//   - name: white space between two Chinese characters removed ("张 伟" → "张伟").
//
// Finally every value must pass the schema's Field.Validate. A key that is not a schema field is
// rejected with "unknown_field", an invalid value with "bad_value:<field>". On error the row must be
// discarded: some fields may already have been rewritten.
func (c *Cleaner) Subject(s *SubjectRow) (changed []string, err *RowError) {
	if c.schema == nil {
		return nil, rowErr(reasonSchemaNotReady, "")
	}
	for name := range s.Fields {
		if _, ok := c.schema.Field(name); !ok {
			return nil, rowErr(ReasonUnknownField, "")
		}
	}
	for _, f := range c.fields {
		v, ok := s.Fields[f.Name]
		if !ok {
			continue
		}
		nv, bad := c.standardise(f, v)
		if bad {
			return nil, rowErr(ReasonBadValue, f.Name)
		}
		if nv == "" {
			delete(s.Fields, f.Name)
			changed = append(changed, f.Name)
			continue
		}
		if f.Validate(nv) != nil {
			return nil, rowErr(ReasonBadValue, f.Name)
		}
		if nv != v {
			s.Fields[f.Name] = nv
			changed = append(changed, f.Name)
		}
	}
	c.count(c.standardised, changed...)
	return changed, nil
}

// standardise returns the standard form of one value ("" when nothing is left) or bad.
func (c *Cleaner) standardise(f policies.Field, v string) (string, bool) {
	if !utf8.ValidString(v) {
		return "", true
	}
	v = collapseSpace(v)
	if v == "" {
		return "", false
	}
	switch f.Type {
	case policies.TypePhone:
		p, err := normalize.Phone(v)
		return p, err != nil
	case policies.TypeEmail:
		e, err := normalize.Email(foldWidth(v))
		return e, err != nil
	case policies.TypeIDNumber:
		id, err := normalize.IDNumber(foldWidth(v))
		return id, err != nil
	case policies.TypeDate:
		return normDate(foldWidth(v), c.now())
	case policies.TypeEnum:
		return normEnum(f, v)
	}
	switch f.Name {
	case fieldProvince:
		if p, ok := CanonicalProvince(v); ok {
			return p, false
		}
	case fieldCity:
		if city, _, ok := CanonicalCity(v); ok {
			return city, false
		}
	case fieldName:
		return joinHan(v), false
	}
	return v, false
}

// collapseSpace trims s and replaces every inner run of white space (including the ideographic space
// and tabs) with one ASCII space; it returns s itself when nothing changes.
func collapseSpace(s string) string {
	clean := true
	prevSpace := true // a leading space is a change
	for i, r := range s {
		sp := unicode.IsSpace(r)
		if sp && (prevSpace || r != ' ' || i == len(s)-1) {
			clean = false
			break
		}
		prevSpace = sp
	}
	if clean {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// isHan reports whether r is a CJK ideograph.
func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// joinHan removes single spaces between two Chinese characters (v is already collapsed).
func joinHan(v string) string {
	if !strings.Contains(v, " ") {
		return v
	}
	rs := []rune(v)
	out := rs[:0:0]
	for i, r := range rs {
		if r == ' ' && i > 0 && i+1 < len(rs) && isHan(rs[i-1]) && isHan(rs[i+1]) {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// minBirthYear is the earliest birth year accepted.
const minBirthYear = 1900

// normDate parses the date spellings Subject accepts and returns YYYY-MM-DD, or bad.
func normDate(v string, now time.Time) (string, bool) {
	var y, m, d int
	if len(v) == 8 && allASCIIDigits(v) {
		y, _ = strconv.Atoi(v[:4])
		m, _ = strconv.Atoi(v[4:6])
		d, _ = strconv.Atoi(v[6:])
	} else {
		s := strings.NewReplacer("年", "-", "月", "-", "日", "", "/", "-", ".", "-", " ", "").Replace(v)
		parts := strings.Split(s, "-")
		if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) < 1 || len(parts[1]) > 2 ||
			len(parts[2]) < 1 || len(parts[2]) > 2 {
			return "", true
		}
		for _, p := range parts {
			if !allASCIIDigits(p) {
				return "", true
			}
		}
		y, _ = strconv.Atoi(parts[0])
		m, _ = strconv.Atoi(parts[1])
		d, _ = strconv.Atoi(parts[2])
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d { // 2023-02-30 and the like
		return "", true
	}
	if y < minBirthYear || t.After(now) {
		return "", true
	}
	return t.Format(time.DateOnly), false
}

// allASCIIDigits reports whether s is non-empty and all ASCII digits.
func allASCIIDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// genderAliases maps spellings of gender (lower-cased) to the schema's enum values.
var genderAliases = map[string]string{
	"m": "male", "man": "male", "男": "male", "男性": "male",
	"f": "female", "woman": "female", "女": "female", "女性": "female",
	"其他": "other", "u": "unknown", "未知": "unknown", "保密": "unknown",
}

// normEnum matches an enum value case-insensitively (and gender by its aliases).
func normEnum(f policies.Field, v string) (string, bool) {
	for _, allowed := range f.Values {
		if v == allowed {
			return v, false
		}
	}
	lv := strings.ToLower(v)
	for _, allowed := range f.Values {
		if lv == strings.ToLower(allowed) {
			return allowed, false
		}
	}
	if f.Name == fieldGender {
		if g, ok := genderAliases[lv]; ok && contains(f.Values, g) {
			return g, false
		}
	}
	return "", true
}

// ImputeCity fills a subject's missing city from the POS store table (the subject bought at store
// storeID), and its province too when that is missing and the region table knows the city. It returns
// whether anything was filled; each filled field is counted under Counts().Imputed. A subject that
// already has a city is left alone.
func (c *Cleaner) ImputeCity(s *SubjectRow, storeID string) bool {
	if s.Fields[fieldCity] != "" {
		return false
	}
	st, ok := c.stores[storeID]
	if !ok {
		return false
	}
	if s.Fields == nil {
		s.Fields = map[string]string{}
	}
	s.Fields[fieldCity] = st.city
	filled := []string{fieldCity}
	if s.Fields[fieldProvince] == "" && st.province != "" {
		s.Fields[fieldProvince] = st.province
		filled = append(filled, fieldProvince)
	}
	c.count(c.imputed, filled...)
	return true
}

// ImputeProvince fills a subject's missing province from its city when the region table knows the city
// (city "襄阳" → province "湖北"). It returns whether it filled it (counted as imputed "province").
func (c *Cleaner) ImputeProvince(s *SubjectRow) bool {
	city := s.Fields[fieldCity]
	if city == "" || s.Fields[fieldProvince] != "" {
		return false
	}
	_, prov, ok := CanonicalCity(city)
	if !ok {
		return false
	}
	s.Fields[fieldProvince] = prov
	c.count(c.imputed, fieldProvince)
	return true
}

// Event standardises an event that passed ValidateEvent, in place, and returns what it changed:
//
//   - ChangeNumber: numeric strings in the type's numeric attributes (amount, discount, price, qty,
//     rating, dwell_ms, items[].price, items[].qty) became numbers;
//   - ChangeCurrency: the amounts of an event whose currency attribute is USD, EUR or HKD were
//     converted to CNY with RateToCNY (amount, discount and every items[].price of an order, pos_purchase
//     or return; price of a click, favorite, cart_add or cart_remove), currency set to "CNY", and the
//     original code and the rate kept as attrs original_currency and fx_rate; or a CNY code spelled
//     otherwise ("rmb", " cny") was respelled "CNY". An event without a currency is taken to be in CNY;
//   - ChangeRounding: an amount, discount or price was rounded to 2 decimals (half away from zero).
func (c *Cleaner) Event(e *EventRow) (changed []string) {
	a := e.Attrs
	if a == nil {
		return nil
	}
	var numChanged, rounded, converted bool
	rate := 1.0
	if cur, ok := a["currency"].(string); ok {
		code := strings.ToUpper(strings.TrimSpace(cur))
		if r, known := cnyRates[code]; known {
			rate = r
			if code != BaseCurrency {
				if r != 1 {
					a["original_currency"] = code
					a["fx_rate"] = r
				}
				a["currency"] = BaseCurrency
				converted = true
			} else if cur != code {
				a["currency"] = BaseCurrency
				converted = true
			}
		}
	}
	money := func(m map[string]any, key string) {
		v, present := m[key]
		if !present || v == nil {
			return
		}
		f, ok := number(v)
		if !ok {
			return
		}
		if _, isF := v.(float64); !isF {
			numChanged = true
		}
		x := f * rate
		r := math.Round(x*100) / 100
		if r != x {
			rounded = true
		}
		m[key] = r
	}
	whole := func(m map[string]any, key string) {
		if v, ok := m[key]; ok && v != nil {
			if _, isF := v.(float64); !isF {
				if f, ok := number(v); ok {
					m[key] = f
					numChanged = true
				}
			}
		}
	}
	switch e.Type {
	case TypeOrder, TypePOSPurchase, TypeReturn:
		money(a, "amount")
		money(a, "discount")
		if items, ok := a["items"].([]any); ok {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					money(m, "price")
					whole(m, "qty")
				}
			}
		}
	case TypeClick, TypeFavorite, TypeCartAdd, TypeCartRemove:
		money(a, "price")
	case TypeReview:
		whole(a, "rating")
	case TypePageView:
		whole(a, "dwell_ms")
	}
	if numChanged {
		changed = append(changed, ChangeNumber)
	}
	if converted {
		changed = append(changed, ChangeCurrency)
	}
	if rounded {
		changed = append(changed, ChangeRounding)
	}
	if changed != nil {
		e.attrsLen = 0 // the attrs changed: a later ValidateEvent measures them again
	}
	c.count(c.standardised, changed...)
	return changed
}
