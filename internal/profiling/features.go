package profiling

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/sentiment"
)

// Feature-extraction constants.
const (
	// DefaultHalfLifeDays is the default half-life of interest weights.
	DefaultHalfLifeDays = 30.0
	// SessionGap ends a browsing session: a gap of more than 30 minutes between behaviour events.
	SessionGap = 30 * time.Minute
	// CartWindow is how long after a cart addition an order must follow for the cart not to count as
	// abandoned.
	CartWindow = 24 * time.Hour
	// DealShare is the discount share (discount / price before discount) from which an order counts as a
	// deal for price sensitivity.
	DealShare = 0.20
	// WindowDays is the length of the churn comparison windows (the last 90 days and the 90 before) and the
	// look-back of the purchase-factors target.
	WindowDays = 90
	// maxTopEntries is the number of top categories and brands kept in Features.
	maxTopEntries = 5
	// maxSeasonCategories bounds the categories kept for season affinity.
	maxSeasonCategories = 32
)

// Interest weights of TAGS.md: view 1, cart 3, favourite 2, order 5.
const (
	weightView     = 1.0
	weightCart     = 3.0
	weightFavorite = 2.0
	weightOrder    = 5.0
)

// Time-of-day slots (behavior.active_slot), local time: morning 6–11, midday 11–14, afternoon 14–18,
// evening 18–23, night 23–6.
var slotNames = [5]string{"morning", "midday", "afternoon", "evening", "night"}

var slotNamesZH = [5]string{"上午", "中午", "下午", "晚上", "深夜"}

// slotOf returns the slot of a local hour.
func slotOf(hour int) int {
	switch {
	case hour >= 6 && hour < 11:
		return 0
	case hour >= 11 && hour < 14:
		return 1
	case hour >= 14 && hour < 18:
		return 2
	case hour >= 18 && hour < 23:
		return 3
	}
	return 4
}

// Seasons (interest.season_affinity), by local month: spring March–May, summer June–August, autumn
// September–November, winter December–February.
var seasonNames = [4]string{"spring", "summer", "autumn", "winter"}

var seasonNamesZH = [4]string{"春季", "夏季", "秋季", "冬季"}

func seasonOf(m time.Month) int {
	switch m {
	case time.March, time.April, time.May:
		return 0
	case time.June, time.July, time.August:
		return 1
	case time.September, time.October, time.November:
		return 2
	}
	return 3
}

// Weighted is a name with a weight (a category or brand with its decayed interest).
type Weighted struct {
	// Name is the category or brand.
	Name string `json:"name"`
	// Weight is the decayed interest weight.
	Weight float64 `json:"weight"`
}

// Snapshot holds what was known at the cut WindowDays before extraction, so that the purchase-factors
// tree predicts orders of the last WindowDays from earlier data only.
type Snapshot struct {
	// Orders, Spend and DealOrders count the non-cancelled orders before the cut and their gross amount.
	Orders     int     `json:"orders"`
	Spend      float64 `json:"spend"`
	DealOrders int     `json:"deal_orders"`
	// DaysSinceLastOrder is the age of the last order at the cut, or -1 without one.
	DaysSinceLastOrder float64 `json:"days_since_last_order"`
	// Sessions, PageViews and Carts count browsing before the cut.
	Sessions  int `json:"sessions"`
	PageViews int `json:"page_views"`
	Carts     int `json:"carts"`
	// TenureDays is the time from MemberSince to the cut (negative when the subject joined later).
	TenureDays float64 `json:"tenure_days"`
}

// Features is the compact per-subject summary the tags and the population models are computed from: counts,
// sums and small maps, never raw events or texts. Fields of a category outside Categories are zero.
type Features struct {
	// SubjectID is the subject's id (used to break RFM ties).
	SubjectID string `json:"subject_id"`
	// ExtractedAt is the time the features describe.
	ExtractedAt time.Time `json:"extracted_at"`
	// Categories are the input categories that were allowed, and so read, at extraction.
	Categories CategorySet `json:"categories"`
	// HalfLifeDays is the half-life used for the interest weights.
	HalfLifeDays float64 `json:"half_life_days"`

	// Age is the age in whole years at extraction, or -1 when unknown (identity).
	Age int `json:"age"`
	// Province and City are canonical short names, and CityTier the city's tier (1–4, 0 unknown) (address).
	Province string `json:"province,omitempty"`
	City     string `json:"city,omitempty"`
	CityTier int    `json:"city_tier,omitempty"`
	// OccupationGroup is the group of the occupation field and OccupationTitle the table's title it matched
	// (empty for "other"); both empty when there is none (demographic).
	OccupationGroup string `json:"occupation_group,omitempty"`
	OccupationTitle string `json:"occupation_title,omitempty"`
	// MemberSince is the earlier of registration and the first event read; MemberSinceInputs is the
	// category of that event when it came first (empty when registration came first).
	MemberSince       time.Time   `json:"member_since"`
	MemberSinceInputs CategorySet `json:"member_since_inputs"`

	// Sessions counts browsing sessions (behaviour events split at gaps of more than SessionGap);
	// PageViewSessions those with at least one page view; SlotSessions the sessions by starting slot.
	Sessions         int    `json:"sessions"`
	PageViews        int    `json:"page_views"`
	PageViewSessions int    `json:"page_view_sessions"`
	SlotSessions     [5]int `json:"slot_sessions"`
	// Carts counts cart additions old enough to judge (at least CartWindow before extraction) and
	// CartsAbandoned those not followed by an order within CartWindow.
	Carts          int `json:"carts"`
	CartsAbandoned int `json:"carts_abandoned"`

	// Orders counts distinct non-cancelled orders and POS purchases; CancelledOrders the cancelled ones;
	// Returns the return events.
	Orders          int `json:"orders"`
	CancelledOrders int `json:"cancelled_orders"`
	Returns         int `json:"returns"`
	// FirstOrder and LastOrder are the times of the first and last non-cancelled order.
	FirstOrder time.Time `json:"first_order"`
	LastOrder  time.Time `json:"last_order"`
	// PurchaseDays counts the distinct local days with an order; RepeatSpend is the gross amount of orders
	// on days after the first (the Gamma-Gamma input).
	PurchaseDays int     `json:"purchase_days"`
	RepeatSpend  float64 `json:"repeat_spend"`
	// GrossSpend sums the amounts paid for non-cancelled orders; Refunds the amounts returned.
	GrossSpend float64 `json:"gross_spend"`
	Refunds    float64 `json:"refunds"`
	// DealOrders counts orders with a coupon or discount of at least DealShare; OnlineOrders and
	// OfflineOrders split orders by channel.
	DealOrders    int `json:"deal_orders"`
	OnlineOrders  int `json:"online_orders"`
	OfflineOrders int `json:"offline_orders"`
	// OrdersLast90 and OrdersPrev90 count orders in the last WindowDays and the WindowDays before.
	OrdersLast90 int `json:"orders_last90"`
	OrdersPrev90 int `json:"orders_prev90"`
	// RepurchaseDays is the median number of days between consecutive orders, or -1 with fewer than two.
	RepurchaseDays float64 `json:"repurchase_days"`

	// Review, rating, share and complaint counts (interactions).
	Reviews         int     `json:"reviews"`
	Rated           int     `json:"rated"`
	RatingSum       float64 `json:"rating_sum"`
	PositiveReviews int     `json:"positive_reviews"`
	NegativeReviews int     `json:"negative_reviews"`
	Recommendations int     `json:"recommendations"`
	Shares          int     `json:"shares"`
	Complaints      int     `json:"complaints"`
	// SentimentSum and SentimentTexts give the mean sentiment of review and chat texts.
	SentimentSum   float64 `json:"sentiment_sum"`
	SentimentTexts int     `json:"sentiment_texts"`
	// SentimentDrivers are the lexicon entries that moved the most negative and the most positive of those
	// texts most (sentiment.Drivers): what the tag's explanation names, never the texts themselves.
	SentimentDrivers []sentiment.Driver `json:"sentiment_drivers,omitempty"`

	// TopCategories and TopBrands are the strongest time-decayed interests, strongest first (at most 5).
	TopCategories []Weighted `json:"top_categories,omitempty"`
	TopBrands     []Weighted `json:"top_brands,omitempty"`
	// SeasonCategories holds undecayed interest weights per category and season (spring, summer, autumn,
	// winter), for the season shares.
	SeasonCategories map[string][4]float64 `json:"season_categories,omitempty"`

	// Before is the snapshot at the cut WindowDays before extraction.
	Before Snapshot `json:"before"`
}

// NetSpend returns the net revenue: gross spend of non-cancelled orders minus refunds.
func (f *Features) NetSpend() float64 { return f.GrossSpend - f.Refunds }

// ExtractOptions tunes feature extraction; the zero value selects the defaults.
type ExtractOptions struct {
	// HalfLifeDays is the half-life of interest weights (default DefaultHalfLifeDays).
	HalfLifeDays float64
}

// Extract computes a subject's features at now with the default options; loc is the local time zone for
// time-of-day slots, days and seasons (nil means China Standard Time, UTC+8).
func Extract(s Subject, now time.Time, loc *time.Location) Features {
	return ExtractWith(s, now, loc, ExtractOptions{})
}

// cst is China Standard Time, the default local zone.
var cst = time.FixedZone("CST", 8*3600)

func locOrDefault(loc *time.Location) *time.Location {
	if loc == nil {
		return cst
	}
	return loc
}

// purchase is one order or POS purchase seen during extraction.
type purchase struct {
	ts        time.Time
	id        string
	amount    float64
	deal      bool
	offline   bool
	cancelled bool
	ev        *Event
}

// extractor holds the running state of one extraction.
type extractor struct {
	now, cut time.Time
	loc      *time.Location
	halfLife float64
	f        *Features

	// s screens and maps category and brand names (Subject.category, Subject.brand).
	s          *Subject
	cat, brand map[string]float64
	season     map[string][4]float64
	purchases  []purchase
	orderIDs   map[string]int
	cancels    []string
	carts      []time.Time
	lastBeh    time.Time
	sessPV     int
	inSession  bool
	// The most negative and the most positive review or chat text so far, and their scores: the texts
	// whose drivers the attitude.sentiment tag names.
	mostNeg, mostPos   string
	negScore, posScore float64
}

// ExtractWith computes a subject's features at now. Only fields and events of categories in s.Allowed are
// read; events after now and of unknown types are ignored.
func ExtractWith(s Subject, now time.Time, loc *time.Location, o ExtractOptions) Features {
	loc = locOrDefault(loc)
	hl := o.HalfLifeDays
	if !(hl > 0) || math.IsInf(hl, 0) {
		hl = DefaultHalfLifeDays
	}
	mask := SetOf(s.Allowed)
	f := Features{SubjectID: s.ID, ExtractedAt: now, Categories: mask, HalfLifeDays: hl, Age: -1, RepurchaseDays: -1}
	if mask.Has(Identity) {
		if a, ok := ageAt(s.Fields["birth_date"], now.In(loc)); ok {
			f.Age = a
		}
	}
	if mask.Has(Address) {
		f.Province, f.City, f.CityTier = placeOf(s.Fields["province"], s.Fields["city"])
	}
	if mask.Has(Demographic) {
		f.OccupationGroup, f.OccupationTitle, _ = OccupationGroup(s.Fields["occupation"])
	}
	if !s.CreatedAt.IsZero() && !s.CreatedAt.After(now) {
		f.MemberSince = s.CreatedAt
	}
	x := extractor{now: now, cut: now.AddDate(0, 0, -WindowDays), loc: loc, halfLife: hl, f: &f, s: &s}
	events := s.Events
	if slices.IsSortedFunc(events, func(a, b Event) int { return a.TS.Compare(b.TS) }) {
		for i := range events {
			x.event(&events[i], mask)
		}
	} else {
		idx := make([]int, len(events))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return events[a].TS.Compare(events[b].TS) })
		for _, i := range idx {
			x.event(&events[i], mask)
		}
	}
	x.endSession()
	x.finish()
	return f
}

// event folds one event into the features.
func (x *extractor) event(e *Event, mask CategorySet) {
	if e.TS.After(x.now) {
		return
	}
	typeCat := EventCategory(e.Type)
	cat := e.Category
	if cat == "" {
		cat = typeCat
	}
	if cat == "" || !mask.Has(cat) || typeCat != cat {
		return
	}
	f := x.f
	if f.MemberSince.IsZero() || e.TS.Before(f.MemberSince) {
		f.MemberSince = e.TS
		f.MemberSinceInputs = NewCategorySet(cat)
	}
	switch cat {
	case Behavior:
		x.behavior(e)
	case Transactions:
		x.transaction(e)
	case Interactions:
		x.interaction(e)
	}
}

// behavior handles page views, clicks, searches, favourites and cart events.
func (x *extractor) behavior(e *Event) {
	f := x.f
	if !x.inSession || e.TS.Sub(x.lastBeh) > SessionGap {
		x.endSession()
		x.inSession = true
		f.Sessions++
		f.SlotSessions[slotOf(e.TS.In(x.loc).Hour())]++
		if e.TS.Before(x.cut) {
			f.Before.Sessions++
		}
	}
	x.lastBeh = e.TS
	switch e.Type {
	case "page_view":
		f.PageViews++
		x.sessPV++
		if e.TS.Before(x.cut) {
			f.Before.PageViews++
		}
		x.interest(e.TS, attrString(e.Attrs, "category"), "", weightView)
	case "favorite":
		x.interest(e.TS, attrString(e.Attrs, "category"), attrString(e.Attrs, "brand"), weightFavorite)
	case "cart_add":
		if e.TS.Before(x.cut) {
			f.Before.Carts++
		}
		if !e.TS.After(x.now.Add(-CartWindow)) {
			x.carts = append(x.carts, e.TS)
		}
		x.interest(e.TS, attrString(e.Attrs, "category"), attrString(e.Attrs, "brand"), weightCart)
	}
}

// endSession closes the current browsing session.
func (x *extractor) endSession() {
	if x.inSession && x.sessPV > 0 {
		x.f.PageViewSessions++
	}
	x.inSession, x.sessPV = false, 0
}

// transaction handles orders, POS purchases, cancellations and returns.
func (x *extractor) transaction(e *Event) {
	f := x.f
	switch e.Type {
	case "order", "pos_purchase":
		id := attrString(e.Attrs, "order_id")
		if id != "" {
			if x.orderIDs == nil {
				x.orderIDs = map[string]int{}
			}
			if _, dup := x.orderIDs[id]; dup {
				return
			}
			x.orderIDs[id] = len(x.purchases)
		}
		amount, _ := attrNumber(e.Attrs, "amount")
		amount = max(amount, 0)
		disc, hasDisc := attrNumber(e.Attrs, "discount")
		deal := false
		if hasDisc {
			deal = disc > 0 && disc/(amount+disc) >= DealShare-1e-9
		} else {
			deal = attrString(e.Attrs, "coupon") != ""
		}
		x.purchases = append(x.purchases, purchase{ts: e.TS, id: id, amount: amount, deal: deal,
			offline: e.Type == "pos_purchase" || e.Source == "pos", ev: e})
	case "cancel":
		if id := attrString(e.Attrs, "order_id"); id != "" {
			x.cancels = append(x.cancels, id)
		}
	case "return":
		f.Returns++
		amount, ok := attrNumber(e.Attrs, "amount")
		if !ok {
			if k, found := x.orderIDs[attrString(e.Attrs, "order_id")]; found {
				amount = x.purchases[k].amount
			}
		}
		f.Refunds += max(amount, 0)
	}
}

// interaction handles reviews, chats, complaints and shares.
func (x *extractor) interaction(e *Event) {
	f := x.f
	switch e.Type {
	case "review":
		f.Reviews++
		text := attrString(e.Attrs, "text")
		score := 0.0
		if text != "" {
			score = sentiment.Score(text)
			x.scored(text, score)
		}
		if r, ok := attrNumber(e.Attrs, "rating"); ok && r >= 1 && r <= 5 {
			f.Rated++
			f.RatingSum += r
			switch {
			case r >= 4:
				f.PositiveReviews++
			case r <= 2:
				f.NegativeReviews++
			}
		} else {
			switch sentiment.LabelOf(score) {
			case sentiment.Positive:
				f.PositiveReviews++
			case sentiment.Negative:
				f.NegativeReviews++
			}
		}
		if score > 0 && recommends(text) {
			f.Recommendations++
		}
	case "chat":
		if text := attrString(e.Attrs, "text"); text != "" {
			x.scored(text, sentiment.Score(text))
		}
	case "complaint":
		f.Complaints++
	case "share":
		f.Shares++
	}
}

// recommends reports whether a review text recommends the product.
func recommends(text string) bool {
	if strings.Contains(text, "推荐") {
		return true
	}
	return strings.Contains(strings.ToLower(text), "recommend")
}

// interest adds a decayed weight for a category and brand.
func (x *extractor) interest(ts time.Time, category, brand string, w float64) {
	category, brand = x.s.category(category), x.s.brand(brand)
	if category == "" && brand == "" {
		return
	}
	age := x.now.Sub(ts).Hours() / 24
	d := w * math.Exp2(-max(age, 0)/x.halfLife)
	if category != "" {
		category = strings.ReplaceAll(category, ",", " ")
		if x.cat == nil {
			x.cat = make(map[string]float64, 16)
			x.season = map[string][4]float64{} // kept in the features until the tags are computed: no spare room
		}
		x.cat[category] += d
		s := x.season[category]
		s[seasonOf(ts.In(x.loc).Month())] += w
		x.season[category] = s
	}
	if brand != "" {
		brand = strings.ReplaceAll(brand, ",", " ")
		if x.brand == nil {
			x.brand = make(map[string]float64, 16)
		}
		x.brand[brand] += d
	}
}

// finish resolves cancellations, derives the order features, cart abandonment and the top lists.
// scored folds one text's sentiment score into the features and keeps the most extreme texts.
func (x *extractor) scored(text string, score float64) {
	x.f.SentimentSum += score
	x.f.SentimentTexts++
	if score < x.negScore {
		x.mostNeg, x.negScore = text, score
	}
	if score > x.posScore {
		x.mostPos, x.posScore = text, score
	}
}

// maxDrivers is how many lexicon entries the sentiment tag's explanation names at most.
const maxDrivers = 3

// sentimentDrivers are the drivers of the most negative and the most positive text — two of each, the
// stronger text's first, three in all — without repeats.
func (x *extractor) sentimentDrivers() []sentiment.Driver {
	texts := []string{x.mostNeg, x.mostPos}
	if x.posScore > -x.negScore {
		texts[0], texts[1] = texts[1], texts[0]
	}
	var out []sentiment.Driver
	seen := map[string]bool{}
	for _, t := range texts {
		if t == "" {
			continue
		}
		for _, d := range sentiment.Drivers(t, 2) {
			if len(out) < maxDrivers && !seen[d.Phrase] {
				seen[d.Phrase] = true
				out = append(out, d)
			}
		}
	}
	return out
}

func (x *extractor) finish() {
	f := x.f
	f.SentimentDrivers = x.sentimentDrivers()
	for _, id := range x.cancels {
		if k, ok := x.orderIDs[id]; ok && !x.purchases[k].cancelled {
			x.purchases[k].cancelled = true
			f.CancelledOrders++
		}
	}
	last90 := x.now.AddDate(0, 0, -WindowDays)
	prev90 := x.now.AddDate(0, 0, -2*WindowDays)
	var (
		lastDay, firstDay int64
		prev              time.Time
		gaps              []float64
		lastBefore        time.Time
	)
	for k := range x.purchases {
		p := &x.purchases[k]
		if p.cancelled {
			continue
		}
		f.Orders++
		f.GrossSpend += p.amount
		if f.Orders == 1 {
			f.FirstOrder = p.ts
		} else {
			gaps = append(gaps, p.ts.Sub(prev).Hours()/24)
		}
		prev = p.ts
		f.LastOrder = p.ts
		if p.deal {
			f.DealOrders++
		}
		if p.offline {
			f.OfflineOrders++
		} else {
			f.OnlineOrders++
		}
		switch {
		case p.ts.After(last90):
			f.OrdersLast90++
		case p.ts.After(prev90):
			f.OrdersPrev90++
		}
		if p.ts.Before(x.cut) {
			f.Before.Orders++
			f.Before.Spend += p.amount
			if p.deal {
				f.Before.DealOrders++
			}
			lastBefore = p.ts
		}
		day := civilDay(p.ts.In(x.loc))
		if f.PurchaseDays == 0 {
			firstDay = day
		}
		if f.PurchaseDays == 0 || day != lastDay {
			f.PurchaseDays++
			lastDay = day
		}
		if day != firstDay {
			f.RepeatSpend += p.amount
		}
		for _, it := range attrItems(p.ev.Attrs) {
			x.interest(p.ts, attrString(it, "category"), attrString(it, "brand"), weightOrder)
		}
	}
	if len(gaps) > 0 {
		f.RepurchaseDays = median(gaps)
	}
	f.Before.DaysSinceLastOrder = -1
	if !lastBefore.IsZero() {
		f.Before.DaysSinceLastOrder = x.cut.Sub(lastBefore).Hours() / 24
	}
	if !f.MemberSince.IsZero() {
		f.Before.TenureDays = x.cut.Sub(f.MemberSince).Hours() / 24
	}
	// Cart abandonment: a cart addition is followed by any order (cancelled or not) within CartWindow.
	if len(x.carts) > 0 && f.Categories.Has(Transactions) {
		j := 0
		for _, t := range x.carts {
			for j < len(x.purchases) && !x.purchases[j].ts.After(t) {
				j++
			}
			f.Carts++
			if j == len(x.purchases) || x.purchases[j].ts.Sub(t) > CartWindow {
				f.CartsAbandoned++
			}
		}
	}
	f.TopCategories = top(x.cat, maxTopEntries)
	f.TopBrands = top(x.brand, maxTopEntries)
	if len(x.season) > maxSeasonCategories {
		keep := top(x.cat, maxSeasonCategories)
		m := make(map[string][4]float64, len(keep))
		for _, w := range keep {
			m[w.Name] = x.season[w.Name]
		}
		x.season = m
	}
	f.SeasonCategories = x.season
}

// top returns the n entries of m with the largest weights, strongest first, ties by name.
func top(m map[string]float64, n int) []Weighted {
	if len(m) == 0 {
		return nil
	}
	out := make([]Weighted, 0, len(m))
	for k, v := range m {
		out = append(out, Weighted{k, v})
	}
	slices.SortFunc(out, func(a, b Weighted) int {
		if a.Weight != b.Weight {
			if a.Weight > b.Weight {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// civilDay returns the day number (days since 1970-01-01) of the calendar date of t in its location.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// median returns the median of xs (reordering xs).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// ageAt parses a birth date (YYYY-MM-DD) and returns the age in whole years on the local date of now.
func ageAt(birth string, now time.Time) (int, bool) {
	b, err := time.Parse(time.DateOnly, strings.TrimSpace(birth))
	if err != nil {
		return 0, false
	}
	y, m, d := now.Date()
	age := y - b.Year()
	if m < b.Month() || m == b.Month() && d < b.Day() {
		age--
	}
	if age < 0 || age > 130 {
		return 0, false
	}
	return age, true
}

// placeOf returns the canonical province, city and city tier (0 when there is no city).
func placeOf(province, city string) (string, string, int) {
	p, c := canonicalProvince(province), canonicalCity(city)
	tier := 0
	if c != "" {
		tier, _ = CityTier(c)
		if info, ok := cityTable[c]; ok && p == "" {
			p = info.province
		}
	}
	return p, c, tier
}

// EventAttributes are the event attributes the engine reads (Extract, Compute, Baskets): the vault hands it
// no others (vault.Tags.SetTagAttributes), so it neither decodes nor holds session ids, SKUs, page names
// or search queries it has no use for. An attribute read anywhere in the engine must be listed here
// (TestEngineReadsOnlyEventAttributes).
func EventAttributes() []string {
	return []string{"amount", "brand", "category", "coupon", "discount", "items", "order_id", "rating", "text"}
}

// attrString returns a string attribute (a json.Number is returned in its text form).
func attrString(a map[string]any, k string) string {
	switch v := a[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// attrNumber returns a numeric attribute given as a number or a numeric string.
func attrNumber(a map[string]any, k string) (float64, bool) {
	var (
		f   float64
		err error
	)
	switch v := a[k].(type) {
	case json.Number:
		f, err = strconv.ParseFloat(string(v), 64)
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case int32:
		f = float64(v)
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
	default:
		return 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// attrItems returns the item objects of an order.
func attrItems(a map[string]any) []map[string]any {
	switch v := a["items"].(type) {
	case []map[string]any:
		return v
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, it := range v {
			if m, ok := it.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}
