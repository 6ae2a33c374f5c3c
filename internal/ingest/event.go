package ingest

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/policies"
)

// Limits of one event.
const (
	// MaxAttrsBytes bounds the JSON encoding of an event's attrs (API.md: ≤ 4 KiB per event).
	MaxAttrsBytes = 4 << 10
	// MaxClockSkew is how far in the future an event time (or a consent grant time) may lie.
	MaxClockSkew = 5 * time.Minute
	// MaxIDBytes bounds event ids, external ids, order ids and other identifiers.
	MaxIDBytes = 128
)

// Event categories (the policies package's category names).
const (
	CategoryBehavior     = "behavior"
	CategoryTransactions = "transactions"
	CategoryInteractions = "interactions"
)

// Event types (API.md).
const (
	TypePageView    = "page_view"
	TypeClick       = "click"
	TypeSearch      = "search"
	TypeFavorite    = "favorite"
	TypeCartAdd     = "cart_add"
	TypeCartRemove  = "cart_remove"
	TypeOrder       = "order"
	TypeCancel      = "cancel"
	TypeReturn      = "return"
	TypePOSPurchase = "pos_purchase"
	TypeReview      = "review"
	TypeChat        = "chat"
	TypeComplaint   = "complaint"
	TypeShare       = "share"
)

// Category returns the category of an event type — behavior (page_view, click, search, favorite,
// cart_add, cart_remove), transactions (order, cancel, return, pos_purchase) or interactions (review,
// chat, complaint, share) — and false for an unknown type. The vault owns the mapping.
func Category(eventType string) (string, bool) { return policies.EventCategory(eventType) }

// EventTypes returns every event type, sorted.
func EventTypes() []string { return policies.EventTypes() }

// Sources are the source systems a record may come from.
var sources = []string{"app", "web", "pos", "crm", "erp"}

// Sources returns the source systems a record may name: app, web, pos, crm, erp.
func Sources() []string { return slices.Clone(sources) }

// ValidSource reports whether s is one of Sources.
func ValidSource(s string) bool { return slices.Contains(sources, s) }

// EventRow is one event as read from a file or request body.
type EventRow struct {
	EventID    string
	SubjectRef string // a vault subject id ("sub_…") or "external:<source>:<external_id>"
	Type       string
	Source     string
	TS         time.Time
	Attrs      map[string]any // never nil after reading; numbers are float64 (or numeric strings before Cleaner.Event)

	// attrsLen is the length of the attrs JSON as read, or 0 when unknown (then ValidateEvent encodes).
	attrsLen int
}

// Category returns the event's category, or "" for an unknown type.
func (e *EventRow) Category() string { c, _ := Category(e.Type); return c }

// SubjectRef is a parsed subject reference.
type SubjectRef struct {
	// ID is the vault subject id, when the reference is "sub_…".
	ID string
	// Source and ExternalID are set when the reference is "external:<source>:<external_id>".
	Source, ExternalID string
}

// ParseSubjectRef parses a subject reference: a vault subject id ("sub_" followed by 1-60 ASCII
// letters, digits, '_' or '-') or "external:<source>:<external_id>" with a source of Sources and a
// valid external id (see ValidExternalID). It returns false for anything else.
func ParseSubjectRef(ref string) (SubjectRef, bool) {
	if rest, ok := strings.CutPrefix(ref, "external:"); ok {
		src, ext, ok := strings.Cut(rest, ":")
		if !ok || !ValidSource(src) || !ValidExternalID(ext) {
			return SubjectRef{}, false
		}
		return SubjectRef{Source: src, ExternalID: ext}, true
	}
	rest, ok := strings.CutPrefix(ref, "sub_")
	if !ok || len(rest) == 0 || len(rest) > 60 {
		return SubjectRef{}, false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return SubjectRef{}, false
		}
	}
	return SubjectRef{ID: ref}, true
}

// ValidExternalID reports whether s can be an external id or event id: 1 to MaxIDBytes bytes of valid
// UTF-8 without control characters and without leading or trailing white space.
func ValidExternalID(s string) bool { return validIdent(s) }

// validIdent implements ValidExternalID.
func validIdent(s string) bool {
	if s == "" || len(s) > MaxIDBytes || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// ValidateEvent checks an event against API.md as of now; see ValidateEventAt.
func ValidateEvent(e *EventRow) *RowError { return ValidateEventAt(e, time.Now()) }

// ValidateEventAt checks an event as of now and returns nil or why it must be rejected:
//
//   - event_id is a valid identifier (ValidExternalID), subject_id a valid reference (ParseSubjectRef),
//     type one of EventTypes, source one of Sources;
//   - ts is set and at most MaxClockSkew after now;
//   - attrs encode to at most MaxAttrsBytes of JSON and carry the attributes of the type, checked as
//     below; other attributes are kept unchecked.
//
// Per type (a "string" is non-empty; a "number" is a finite JSON number or a numeric string, which
// Cleaner.Event turns into a number; a "count" is a whole number):
//
//	order, pos_purchase   order_id string; amount number > 0; currency one of CNY, RMB, USD, EUR, HKD
//	                      (any case); items a non-empty array of {sku, category, brand strings; qty count > 0;
//	                      price number ≥ 0}; optional coupon string, discount number ≥ 0, store_id string
//	cancel                order_id string; reason string
//	return                order_id string; amount number > 0; reason string; optional currency
//	review                order_id string; rating count 1-5; optional text string (may be empty)
//	chat, complaint       text string
//	share                 sku string
//	page_view             page string; optional category string, dwell_ms count ≥ 0, session_id string
//	click, favorite,
//	cart_add, cart_remove sku string; optional category, brand strings, price number ≥ 0
//	search                query string
//
// An order_id may also be a whole number. The reason never contains a value from the event.
func ValidateEventAt(e *EventRow, now time.Time) *RowError {
	switch {
	case e.EventID == "":
		return rowErr(ReasonMissingField, "event_id")
	case !validIdent(e.EventID):
		return rowErr(ReasonBadValue, "event_id")
	case e.SubjectRef == "":
		return rowErr(ReasonMissingField, "subject_id")
	case e.Type == "":
		return rowErr(ReasonMissingField, "type")
	case e.Source == "":
		return rowErr(ReasonMissingField, "source")
	case e.TS.IsZero():
		return rowErr(ReasonMissingField, "ts")
	}
	if _, ok := ParseSubjectRef(e.SubjectRef); !ok {
		return rowErr(ReasonBadSubjectRef, "")
	}
	if _, ok := Category(e.Type); !ok {
		return rowErr(ReasonUnknownType, "")
	}
	if !ValidSource(e.Source) {
		return rowErr(ReasonBadValue, "source")
	}
	if e.TS.After(now.Add(MaxClockSkew)) {
		return rowErr(ReasonFutureTime, "")
	}
	if e.Attrs == nil {
		e.Attrs = map[string]any{}
	}
	if n := e.attrsLen; n == 0 || n > MaxAttrsBytes {
		// Unknown, or the raw text was long (perhaps only through white space): measure the compact encoding.
		b, err := json.Marshal(e.Attrs)
		if err != nil {
			return rowErr(ReasonBadAttrs, "")
		}
		if len(b) > MaxAttrsBytes {
			return rowErr(ReasonAttrsTooLarge, "")
		}
	}
	return checkAttrs(e.Type, e.Attrs)
}

// checkAttrs applies the per-type attribute checks.
func checkAttrs(typ string, a map[string]any) *RowError {
	switch typ {
	case TypeOrder, TypePOSPurchase:
		if bad := firstBad(a, reqID("order_id"), reqNum("amount", gt0)); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
		if c, ok := a["currency"].(string); !ok || !knownCurrency(c) {
			return rowErr(ReasonBadAttrs, "currency")
		}
		if bad := checkItems(a["items"]); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
		if bad := firstBad(a, optStr("coupon"), optNum("discount", ge0), optID("store_id")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypeCancel:
		if bad := firstBad(a, reqID("order_id"), reqStr("reason")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypeReturn:
		if bad := firstBad(a, reqID("order_id"), reqNum("amount", gt0), reqStr("reason")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
		if v, present := a["currency"]; present {
			if c, ok := v.(string); !ok || !knownCurrency(c) {
				return rowErr(ReasonBadAttrs, "currency")
			}
		}
	case TypeReview:
		if bad := firstBad(a, reqID("order_id"), reqCount("rating", 1, 5)); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
		if v, present := a["text"]; present && v != nil {
			if _, ok := v.(string); !ok {
				return rowErr(ReasonBadAttrs, "text")
			}
		}
	case TypeChat, TypeComplaint:
		if bad := firstBad(a, reqStr("text")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypeShare:
		if bad := firstBad(a, reqStr("sku")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypePageView:
		if bad := firstBad(a, reqStr("page"), optStr("category"), optCount("dwell_ms", 0, math.MaxInt64),
			optStr("session_id")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypeClick, TypeFavorite, TypeCartAdd, TypeCartRemove:
		if bad := firstBad(a, reqStr("sku"), optStr("category"), optStr("brand"), optNum("price", ge0)); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	case TypeSearch:
		if bad := firstBad(a, reqStr("query")); bad != "" {
			return rowErr(ReasonBadAttrs, bad)
		}
	default:
		return rowErr(ReasonUnknownType, "")
	}
	return nil
}

// attrCheck checks one attribute of a map and returns its name when it is bad.
type attrCheck func(a map[string]any) string

// firstBad returns the name of the first failing check, or "".
func firstBad(a map[string]any, checks ...attrCheck) string {
	for _, c := range checks {
		if bad := c(a); bad != "" {
			return bad
		}
	}
	return ""
}

func gt0(x float64) bool { return x > 0 }
func ge0(x float64) bool { return x >= 0 }

// reqStr requires a non-empty string.
func reqStr(name string) attrCheck {
	return func(a map[string]any) string {
		if s, ok := a[name].(string); !ok || strings.TrimSpace(s) == "" {
			return name
		}
		return ""
	}
}

// optStr allows a missing or null attribute, otherwise requires a string.
func optStr(name string) attrCheck {
	return func(a map[string]any) string {
		v, ok := a[name]
		if !ok || v == nil {
			return ""
		}
		if _, ok := v.(string); !ok {
			return name
		}
		return ""
	}
}

// reqID requires an identifier: a valid identifier string or a whole number.
func reqID(name string) attrCheck {
	return func(a map[string]any) string {
		if !validAttrID(a[name]) {
			return name
		}
		return ""
	}
}

// optID allows a missing or null attribute, otherwise requires an identifier.
func optID(name string) attrCheck {
	return func(a map[string]any) string {
		v, ok := a[name]
		if !ok || v == nil || validAttrID(v) {
			return ""
		}
		return name
	}
}

// validAttrID reports whether v is an identifier string or a non-negative whole number below 2^53.
func validAttrID(v any) bool {
	switch x := v.(type) {
	case string:
		return validIdent(x)
	case float64:
		return x >= 0 && x == math.Trunc(x) && x < 1<<53
	case int:
		return x >= 0
	case int64:
		return x >= 0
	}
	return false
}

// reqNum requires a number (or numeric string) satisfying ok.
func reqNum(name string, ok func(float64) bool) attrCheck {
	return func(a map[string]any) string {
		if f, isNum := number(a[name]); !isNum || !ok(f) {
			return name
		}
		return ""
	}
}

// optNum allows a missing or null attribute, otherwise requires a number satisfying ok.
func optNum(name string, ok func(float64) bool) attrCheck {
	return func(a map[string]any) string {
		v, present := a[name]
		if !present || v == nil {
			return ""
		}
		if f, isNum := number(v); !isNum || !ok(f) {
			return name
		}
		return ""
	}
}

// reqCount requires a whole number in [lo, hi].
func reqCount(name string, lo, hi float64) attrCheck {
	return func(a map[string]any) string {
		f, ok := number(a[name])
		if !ok || f != math.Trunc(f) || f < lo || f > hi {
			return name
		}
		return ""
	}
}

// optCount allows a missing or null attribute, otherwise requires a whole number in [lo, hi].
func optCount(name string, lo, hi float64) attrCheck {
	req := reqCount(name, lo, hi)
	return func(a map[string]any) string {
		if v, present := a[name]; !present || v == nil {
			return ""
		}
		return req(a)
	}
}

// number returns v as a finite float64: a float64, an integer, a json.Number or a numeric string.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	case string:
		s := strings.TrimSpace(x)
		if s == "" || len(s) > 32 {
			return 0, false
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// maxItems bounds the number of line items of one order (the 4 KiB limit bounds it anyway).
const maxItems = 200

// checkItems checks an order's items and returns the name of the bad attribute, or "".
func checkItems(v any) string {
	items, ok := v.([]any)
	if !ok || len(items) == 0 || len(items) > maxItems {
		return "items"
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return "items"
		}
		if bad := firstBad(m, reqStr("sku"), reqStr("category"), reqStr("brand"),
			reqCount("qty", 1, math.MaxInt32), reqNum("price", ge0)); bad != "" {
			return "items." + bad
		}
	}
	return ""
}

// OrderAmount returns the amount of an order or pos_purchase event (in CNY once Cleaner.Event has run),
// and false for other events or a missing amount.
func OrderAmount(e *EventRow) (float64, bool) {
	if e.Type != TypeOrder && e.Type != TypePOSPurchase {
		return 0, false
	}
	return number(e.Attrs["amount"])
}

// StoreID returns the store_id attribute of a pos_purchase (or order) event, or "".
func StoreID(e *EventRow) string {
	switch v := e.Attrs["store_id"].(type) {
	case string:
		return v
	case float64:
		if v >= 0 && v == math.Trunc(v) && v < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
	}
	return ""
}
