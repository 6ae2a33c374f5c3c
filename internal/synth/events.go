package synth

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Behaviour parameters. Purchases (orders and POS purchases together) follow BG/NBD exactly (up to the cap
// on λ, which touches about one person in ten thousand); browsing is built around them as a Poisson session
// process of rate λ/p thinned by the per-session conversion probability p = pSessionOrder: between two
// purchases come Poisson(λ(1−p)/p · gap) sessions that did not convert, then the session that converts.
// Each session has geometric page views (mean meanViews), so orders per page view come out near
// p/meanViews; p is set a little above 0.008·meanViews to make up for the browsing of prospects and of
// customers whose next purchase lies beyond the end of the window, and for the share of omnichannel
// customers' purchases made in stores.
const (
	meanViews         = 5.0
	pSessionOrder     = 0.042
	dwellMu           = 10.1 // log of the median dwell in ms (≈ 24 s)
	dwellSigma        = 1.0
	maxDwellMS        = 30 * 60 * 1000
	searchShare       = 0.3   // sessions that start with a search
	clickShare        = 0.35  // page views followed by a click
	favoriteShare     = 0.012 // product page views followed by a favourite
	randomCartShare   = 0.013 // page views followed by a cart_add outside the basket of an order
	cartRemoveShare   = 0.3   // of those, removed again
	viewShareShare    = 0.003 // page views followed by a share
	prospectSessions  = 6.0   // mean sessions of a registered person who never buys
	maxLambdaPerDay   = 0.25  // cap on the BG/NBD purchase rate (≈ 1.75 purchases a week)
	firstOrderDays    = 20.0  // mean days from registration to the first purchase
	cancelShare       = 0.03
	returnShare       = 0.05
	posReturnShare    = 0.03
	reviewShare       = 0.3
	preSaleChatShare  = 0.06
	postSaleChatShare = 0.04
	complaintShare    = 0.008 // of orders, besides complaints about returns
	anomalyShare      = 0.002 // orders whose amount is multiplied by 100
	couponUserShare   = 0.3
	parentShare       = 0.15
	enShare           = 0.2
	tzOffset          = 8 * 3600 // China Standard Time, for days, seasons and time-of-day slots
	secondsPerDay     = 86400
)

// Time-of-day slots in local time (those of behavior.active_slot): morning 6–11, midday 11–14, afternoon
// 14–18, evening 18–23, night 23–6.
var (
	slotStartHour = [...]int{6, 11, 14, 18, 23}
	slotHours     = [...]int{5, 3, 4, 5, 7}
	slotTable     = newCum([]float64{0.18, 0.17, 0.20, 0.33, 0.12})
)

// Seasonal category tables: browse (all categories) and basket (the Zipf-ranked base categories), one per
// month, and the brand table.
var (
	browseTables, basketTables [12]cumTable
	baseTable                  = newCum(zipfWeights(numBaseCats, catZipfS))
	brandTable                 = newCum(zipfWeights(brandsPerCat, brandZipfS))
)

func init() {
	z := zipfWeights(numBaseCats, catZipfS)
	for m := range 12 {
		month := m + 1
		w := make([]float64, len(categories))
		for c := range categories {
			if categories[c].pair {
				w[c] = z[9] // pair categories browse like a mid-ranked category
				continue
			}
			w[c] = z[c] * seasonFactor(categories[c], month)
		}
		browseTables[m] = newCum(w)
		basketTables[m] = newCum(w[:numBaseCats])
	}
}

// seasonFactor is the weight multiplier of a category in a month: full in summer (June–August) and winter
// (December–February), half-way (geometrically) in May, September, March and November.
func seasonFactor(c category, month int) float64 {
	switch month {
	case 6, 7, 8:
		return c.summer
	case 5, 9:
		return math.Sqrt(c.summer)
	case 12, 1, 2:
		return c.winter
	case 3, 11:
		return math.Sqrt(c.winter)
	}
	return 1
}

// monthIndex returns the local month (0–11) of a unix time.
func monthIndex(t int64) int { return int(time.Unix(t+tzOffset, 0).UTC().Month()) - 1 }

// localDay returns the unix time of local midnight of the day of t.
func localDay(t int64) int64 {
	d := (t + tzOffset) / secondsPerDay
	return d*secondsPerDay - tzOffset
}

// rawEvent is an event before sorting and id assignment.
type rawEvent struct {
	ts      int64
	seq     int32
	typ     string
	src     string
	attrs   map[string]any
	sent    int8 // 0: no known sentiment; 1, 2, 3: sentiment −1, 0, +1
	anomaly bool
}

// item is one line of a basket.
type item struct {
	cat, brand, n, qty int
	list               int64 // list price in cents
}

// sim simulates one person's events.
type sim struct {
	g      *generator
	r      *rand.Rand
	ps     *person
	ev     []rawEvent
	seq    int32
	nSess  uint64
	nOrder uint64
	// latent traits
	slot       int
	appShare   float64
	en         bool
	mood       [3]float64 // P(−1), P(0), P(+1) of a review without a return
	couponUser bool
	favs       [3]int
	nu         float64 // Gamma-Gamma rate of this person's spend
	dwell      []int64
	items      []item
}

// num and money make JSON numbers: a count, and an amount in cents with two decimals.
func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func money(cents int64) json.Number {
	s := strconv.FormatInt(cents/100, 10) + "."
	c := cents % 100
	if c < 10 {
		s += "0"
	}
	return json.Number(s + strconv.FormatInt(c, 10))
}

// add appends an event.
func (s *sim) add(ts int64, typ, src string, attrs map[string]any) *rawEvent {
	s.ev = append(s.ev, rawEvent{ts: ts, seq: s.seq, typ: typ, src: src, attrs: attrs})
	s.seq++
	return &s.ev[len(s.ev)-1]
}

// slotTime returns a time of day on the local day starting at day: in the person's favourite slot 65 % of
// the time, otherwise in a slot drawn from the population's.
func (s *sim) slotTime(day int64) int64 {
	slot := s.slot
	if s.r.Float64() >= 0.65 {
		slot = slotTable.draw(s.r)
	}
	return day + int64(slotStartHour[slot]*3600+s.r.IntN(slotHours[slot]*3600))
}

// placeInGap returns a time in (a, b) at a time of day drawn by slot when that stays inside the gap.
func (s *sim) placeInGap(a, b int64) int64 {
	if b <= a+1 {
		return a
	}
	u := a + 1 + int64(s.r.Float64()*float64(b-a-1))
	if x := s.slotTime(localDay(u)); x > a && x < b {
		return x
	}
	return u
}

// browsePick draws the category of a page view.
func (s *sim) browsePick(t int64) int {
	if s.r.Float64() < 0.45 {
		return s.favs[s.r.IntN(len(s.favs))]
	}
	return browseTables[monthIndex(t)].draw(s.r)
}

// skuInfo holds a SKU's values, boxed once so that events share them instead of allocating.
type skuInfo struct {
	id                        string
	price                     int64
	idAny, priceAny, brandAny any
}

// skuTable holds every SKU of the catalogue; catAny holds the boxed category keys.
var (
	skuTable [][brandsPerCat][skusPerBrand]skuInfo
	catAny   []any
)

func init() {
	skuTable = make([][brandsPerCat][skusPerBrand]skuInfo, len(categories))
	catAny = make([]any, len(categories))
	for c := range categories {
		catAny[c] = categories[c].key
		for j := range brandsPerCat {
			brand := any(brandName(c, j))
			for n := range skusPerBrand {
				id, p := skuID(c, j, n), skuPrice(c, j, n)
				skuTable[c][j][n] = skuInfo{id: id, price: p, idAny: id, priceAny: money(p), brandAny: brand}
			}
		}
	}
}

// skuAttrs returns the attributes of a SKU event.
func skuAttrs(c, j, n int, sid any) map[string]any {
	k := &skuTable[c][j][n]
	return map[string]any{"sku": k.idAny, "category": catAny[c], "brand": k.brandAny, "price": k.priceAny, "session_id": sid}
}

// run simulates the person's whole history into s.ev.
func (s *sim) run() {
	g, r, p := s.g, s.r, &s.ps.p
	m := g.opts.Model
	s.slot = slotTable.draw(r)
	s.appShare = 0.2
	if r.Float64() < 0.6 {
		s.appShare = 0.85
	}
	s.en = r.Float64() < enShare
	switch u := r.Float64(); {
	case u < 0.35:
		s.mood = [3]float64{0.08, 0.17, 0.75}
	case u < 0.8:
		s.mood = [3]float64{0.15, 0.30, 0.55}
	default:
		s.mood = [3]float64{0.45, 0.30, 0.25}
	}
	s.couponUser = r.Float64() < couponUserShare
	for k := range s.favs {
		s.favs[k] = baseTable.draw(r)
	}
	if r.Float64() < parentShare {
		s.favs[2] = catBabyFormula + r.IntN(2)
	}
	lambda := min(gammaRand(r, m.R, m.Alpha), maxLambdaPerDay) // purchases per day
	pDrop := betaRand(r, m.A, m.B)
	s.nu = gammaRand(r, m.Q, m.V)
	reg := s.ps.prof.reg

	if p.bot {
		s.bot(reg)
		return
	}
	t1 := reg + int64(r.ExpFloat64()*firstOrderDays*secondsPerDay)
	if p.missingCity && t1 >= g.now {
		t1 = reg + int64(r.Float64()*float64(g.now-reg))
	}
	var txs []int64
	dead := false
	if p.buyer && t1 < g.now {
		for t := float64(t1); t < float64(g.now); t += r.ExpFloat64() / lambda * secondsPerDay {
			txs = append(txs, int64(t))
			if r.Float64() < pDrop {
				dead = true
				break
			}
		}
	}
	prev := reg
	for k, tx := range txs {
		offline := p.pos == posOffline || p.pos == posOmni && r.Float64() < 0.5 || k == 0 && p.missingCity
		at := tx
		if x := s.slotTime(localDay(tx)); x < g.now-60 && x > prev && x > g.start+3600 {
			at = x
		}
		if offline {
			s.posPurchase(at)
			prev = tx
			continue
		}
		// Sessions that did not convert: Poisson with the thinned rate λ(1−p)/p over the gap since the
		// previous purchase (before the first purchase, a research phase whose rate gives the same mean).
		rate := lambda * (1 - pSessionOrder) / pSessionOrder
		if k == 0 {
			rate = (1 - pSessionOrder) / pSessionOrder / firstOrderDays
		}
		for range poisson(r, rate*float64(tx-prev)/secondsPerDay) {
			s.session(s.placeInGap(prev, tx), -1, nil)
		}
		s.makeBasket(at)
		s.session(0, at, s.items)
		prev = tx
	}
	if p.pos != posOffline && !dead {
		n := 0
		if len(txs) == 0 {
			n = poisson(r, prospectSessions)
		} else {
			n = poisson(r, lambda/pSessionOrder*float64(g.now-prev)/secondsPerDay)
		}
		for range n {
			s.session(s.placeInGap(prev, g.now), -1, nil)
		}
	}
}

// session writes one browsing session starting at start, or, when orderAt ≥ 0, the session that ends with
// an order of basket at orderAt.
func (s *sim) session(start, orderAt int64, basket []item) {
	r := s.r
	s.nSess++
	sid := any("s_" + hex16(mix64(uint64(s.ps.i)<<24|s.nSess^s.g.sessKey)))
	src := "web"
	if r.Float64() < s.appShare {
		src = "app"
	}
	nv := geometric(r, meanViews)
	s.dwell = s.dwell[:0]
	var total int64
	for range nv {
		d := min(max(int64(lognormal(r, dwellMu, dwellSigma)), 1000), maxDwellMS)
		s.dwell = append(s.dwell, d)
		total += d/1000 + 2
	}
	t := start
	if orderAt >= 0 {
		t = orderAt - total - 20
	}
	searched := false
	if r.Float64() < searchShare {
		c := s.browsePick(t)
		q := categories[c].zh
		if r.Float64() < 0.3 {
			q = brandName(c, brandTable.draw(r)) + " " + q
		}
		s.add(t, "search", src, map[string]any{"query": q, "session_id": sid})
		t += 3 + int64(r.IntN(10))
		searched = true
	}
	shown := min(len(basket), nv)
	for v := range nv {
		var c, j, n int
		page := "product"
		inBasket := v >= nv-shown
		if inBasket {
			it := basket[len(basket)-shown+v-(nv-shown)]
			c, j, n = it.cat, it.brand, it.n
		} else {
			c = s.browsePick(t)
			j, n = brandTable.draw(r), r.IntN(skusPerBrand)
			switch {
			case v == 0 && searched:
				page = "search"
			case v == 0 && r.Float64() < 0.4:
				page = "home"
			case r.Float64() < 0.3:
				page = "list"
			}
		}
		d := s.dwell[v]
		attrs := map[string]any{"page": page, "category": catAny[c], "dwell_ms": num(d), "session_id": sid}
		if page == "product" {
			attrs["sku"] = skuTable[c][j][n].idAny
		}
		s.add(t, "page_view", src, attrs)
		mid := t + d/2000
		if r.Float64() < clickShare {
			s.add(mid, "click", src, skuAttrs(c, j, n, sid))
		}
		if page == "product" && r.Float64() < favoriteShare {
			s.add(mid+1, "favorite", src, skuAttrs(c, j, n, sid))
		}
		if inBasket {
			a := skuAttrs(c, j, n, sid)
			a["qty"] = num(int64(basket[len(basket)-shown+v-(nv-shown)].qty))
			s.add(mid+2, "cart_add", src, a)
		} else if r.Float64() < randomCartShare {
			s.add(mid+2, "cart_add", src, skuAttrs(c, j, n, sid))
			if r.Float64() < cartRemoveShare {
				s.add(mid+4+int64(r.IntN(60)), "cart_remove", src, skuAttrs(c, j, n, sid))
			}
		}
		if r.Float64() < viewShareShare {
			s.add(mid+3, "share", src, map[string]any{"sku": skuTable[c][j][n].idAny, "channel": shareChannel(r)})
		}
		t += d/1000 + 2
	}
	if orderAt < 0 {
		return
	}
	// Basket lines not shown in a page view were added from the cart page or a "buy again" list.
	for k := 0; k < len(basket)-shown; k++ {
		it := basket[k]
		a := skuAttrs(it.cat, it.brand, it.n, sid)
		a["qty"] = num(int64(it.qty))
		s.add(orderAt-15+int64(k), "cart_add", src, a)
	}
	s.order(orderAt, src, basket)
}

func shareChannel(r *rand.Rand) string {
	return [...]string{"wechat", "weibo", "moments", "link"}[r.IntN(4)]
}

// makeBasket draws the lines of a basket bought at t into s.items: each injected pair by its design, then
// base lines (Zipf categories with seasonal drift, or the person's favourites) — at least one line.
func (s *sim) makeBasket(t int64) {
	r := s.r
	s.items = s.items[:0]
	for _, pd := range pairs {
		hasA := r.Float64() < pd.pA
		hasB := r.Float64() < pd.pB0
		if hasA && !hasB {
			hasB = r.Float64() < pd.c
		}
		if hasA {
			s.addItem(pd.a)
		}
		if hasB {
			s.addItem(pd.b)
		}
	}
	n := poisson(r, 0.6)
	if len(s.items) == 0 {
		n++
	}
	month := monthIndex(t)
	for range n {
		c := basketTables[month].draw(r)
		if r.Float64() < 0.4 {
			c = s.favs[r.IntN(2)] // the first two favourites are base categories
		}
		s.addItem(c)
	}
}

// addItem adds a line of category c (merging a repeated SKU into one line).
func (s *sim) addItem(c int) {
	r := s.r
	j, n := brandTable.draw(r), r.IntN(skusPerBrand)
	qty := 1
	if u := r.Float64(); u > 0.95 {
		qty = 3
	} else if u > 0.8 {
		qty = 2
	}
	for k := range s.items {
		if it := &s.items[k]; it.cat == c && it.brand == j && it.n == n {
			it.qty += qty
			return
		}
	}
	s.items = append(s.items, item{cat: c, brand: j, n: n, qty: qty, list: skuTable[c][j][n].price})
}

// orderInfo is what the after-sales events need to know about an order.
type orderInfo struct {
	id    string
	paid  int64   // cents, before any anomaly
	lines []int64 // line totals in cents
	sku   string
}

// purchase writes an order or pos_purchase event of basket at t. The amount paid is drawn from the person's
// Gamma-Gamma spend distribution; the lines' prices share the amount before discount in proportion to list
// price × quantity (so Σ qty·price = amount + discount).
func (s *sim) purchase(t int64, typ, src, store string, basket []item) orderInfo {
	r := s.r
	m := s.g.opts.Model
	s.nOrder++
	oid := "o_" + hex16(mix64(uint64(s.ps.i)<<20|s.nOrder^s.g.orderKey))
	paid := max(int64(math.Round(gammaRand(r, m.P, s.nu)*100)), 100)
	frac := 0.0
	switch {
	case s.couponUser && r.Float64() < 0.6:
		frac = 0.2 + 0.15*r.Float64()
	case !s.couponUser && r.Float64() < 0.1:
		frac = 0.05 + 0.1*r.Float64()
	}
	gross := int64(math.Round(float64(paid) / (1 - frac)))
	info := orderInfo{id: oid, paid: paid, sku: skuTable[basket[0].cat][basket[0].brand][basket[0].n].id}
	items := allocate(gross, basket)
	lines := make([]any, len(items))
	for k, it := range items {
		sk := &skuTable[it.cat][it.brand][it.n]
		lines[k] = map[string]any{"sku": sk.idAny, "category": catAny[it.cat], "brand": sk.brandAny,
			"qty": num(int64(it.qty)), "price": money(it.list)}
		info.lines = append(info.lines, it.list*int64(it.qty))
	}
	amount := paid
	anomaly := r.Float64() < anomalyShare
	if anomaly {
		amount *= 100
	}
	attrs := map[string]any{"order_id": oid, "amount": money(amount), "currency": "CNY", "items": lines,
		"discount": money(gross - paid)}
	if frac > 0 {
		attrs["coupon"] = "CP" + strconv.Itoa(int(math.Round(frac*100)))
	}
	if store != "" {
		attrs["store_id"] = store
	}
	e := s.add(t, typ, src, attrs)
	e.anomaly = anomaly
	return info
}

// allocate shares gross cents among the basket's lines in proportion to list price × quantity; the
// returned items carry the unit price paid in list. The last line takes the rounding remainder (its
// quantity becomes 1 if the remainder does not divide).
func allocate(gross int64, basket []item) []item {
	out := slices.Clone(basket)
	var w float64
	for _, it := range out {
		w += float64(it.list * int64(it.qty))
	}
	rem := gross
	for k := range out[:len(out)-1] {
		it := &out[k]
		tot := int64(math.Round(float64(gross) * float64(it.list*int64(it.qty)) / w))
		unit := max(tot/int64(it.qty), 1)
		it.list = unit
		rem -= unit * int64(it.qty)
	}
	last := &out[len(out)-1]
	if rem < 1 {
		// Rounding left nothing for the last line: put the whole amount on one line.
		return []item{{cat: out[0].cat, brand: out[0].brand, n: out[0].n, qty: 1, list: gross}}
	}
	if rem%int64(last.qty) != 0 {
		last.qty = 1
	}
	last.list = rem / int64(last.qty)
	return out
}

// order writes an online order at t and its after-sales events.
func (s *sim) order(t int64, src string, basket []item) {
	r := s.r
	g := s.g
	if r.Float64() < preSaleChatShare {
		s.chat(t-int64(300+r.IntN(3300)), src, 0)
	}
	o := s.purchase(t, "order", src, "", basket)
	if r.Float64() < cancelShare {
		s.add(t+int64(600+r.IntN(6600)), "cancel", src, map[string]any{"order_id": o.id, "reason": cancelReasons[r.IntN(len(cancelReasons))]})
		return
	}
	returned := false
	if r.Float64() < returnShare {
		returned = s.returnOrder(t, o)
	}
	if r.Float64() < reviewShare {
		at := t + int64(2*secondsPerDay+r.IntN(8*secondsPerDay))
		sent := s.drawSentiment()
		if returned {
			sent = -1
			if r.Float64() < 0.2 {
				sent = 0
			}
		}
		if at < g.now {
			en := s.lang()
			e := s.add(at, "review", src, map[string]any{"order_id": o.id, "rating": num(int64(rating(r, sent))),
				"text": reviewText(r, en, sent), "lang": langTag(en)})
			e.sent = int8(sent + 2)
			if sent == 1 && r.Float64() < 0.15 {
				s.add(at+int64(60+r.IntN(600)), "share", src, map[string]any{"sku": o.sku, "channel": shareChannel(r)})
			}
		}
	}
	if r.Float64() < postSaleChatShare {
		at := t + int64(secondsPerDay+r.IntN(4*secondsPerDay))
		if at < g.now {
			s.chat(at, "crm", s.drawSentiment())
		}
	}
	if !returned && r.Float64() < complaintShare {
		at := t + int64(2*secondsPerDay+r.IntN(8*secondsPerDay))
		if at < g.now {
			s.complaint(at, o.id)
		}
	}
}

// returnOrder writes a return of o (the whole order, or one line) a few days after t, and sometimes a
// complaint about it; it reports whether the return happened before the end of the window.
func (s *sim) returnOrder(t int64, o orderInfo) bool {
	r := s.r
	at := t + int64(3*secondsPerDay+r.IntN(12*secondsPerDay))
	if at >= s.g.now {
		return false
	}
	amount := o.paid
	if len(o.lines) > 1 && r.Float64() < 0.3 {
		amount = min(o.lines[r.IntN(len(o.lines))], o.paid)
	}
	s.add(at, "return", "erp", map[string]any{"order_id": o.id, "amount": money(amount), "currency": "CNY",
		"reason": returnReasons[r.IntN(len(returnReasons))]})
	if r.Float64() < 0.4 {
		if c := at + int64(r.IntN(2*secondsPerDay)); c < s.g.now {
			s.complaint(c, o.id)
		}
	}
	return true
}

// posPurchase writes a purchase in a store at t (the person's home city's stores 90 % of the time, always
// for people whose record lacks the city).
func (s *sim) posPurchase(t int64) {
	r := s.r
	home := s.ps.prof.place
	pl := home
	if !s.ps.p.missingCity && r.Float64() < 0.1 {
		pl = placeTable.draw(r)
	}
	store := storeIDOf(pl, r.IntN(places[pl].stores))
	s.makeBasket(t)
	o := s.purchase(t, "pos_purchase", "pos", store, s.items)
	if r.Float64() < posReturnShare {
		s.returnOrder(t, o)
	}
}

// drawSentiment draws a sentiment from the person's mood.
func (s *sim) drawSentiment() int {
	u := s.r.Float64()
	switch {
	case u < s.mood[0]:
		return -1
	case u < s.mood[0]+s.mood[1]:
		return 0
	}
	return 1
}

// lang returns whether the next text is in English (the person's language 90 % of the time).
func (s *sim) lang() bool {
	if s.r.Float64() < 0.1 {
		return !s.en
	}
	return s.en
}

func langTag(en bool) string {
	if en {
		return "en"
	}
	return "zh"
}

// chat writes a chat message of the given sentiment (pre-sale questions are neutral).
func (s *sim) chat(t int64, src string, sent int) {
	if t < s.g.start {
		return
	}
	en := s.lang()
	e := s.add(t, "chat", src, map[string]any{"text": chatText(s.r, en, sent), "lang": langTag(en)})
	e.sent = int8(sent + 2)
}

// complaint writes a complaint about an order.
func (s *sim) complaint(t int64, orderID string) {
	en := s.lang()
	e := s.add(t, "complaint", "crm", map[string]any{"text": complaintText(s.r, en), "order_id": orderID, "lang": langTag(en)})
	e.sent = 1 // −1
}

// bot writes one to three bursts of a few hundred clicks within about a minute each.
func (s *sim) bot(reg int64) {
	r := s.r
	for range 1 + r.IntN(3) {
		s.nSess++
		sid := any("s_" + hex16(mix64(uint64(s.ps.i)<<24|s.nSess^s.g.sessKey)))
		n := 200 + r.IntN(300)
		dur := 50 + r.IntN(40)
		t0 := s.placeInGap(reg, s.g.now-3600)
		for k := range n {
			t := t0 + int64(k*dur/n)
			c := browseTables[monthIndex(t)].draw(r)
			j, m := brandTable.draw(r), r.IntN(skusPerBrand)
			if k%20 == 0 {
				s.add(t, "page_view", "web", map[string]any{"page": "list", "category": catAny[c],
					"dwell_ms": num(int64(200 + r.IntN(400))), "session_id": sid})
			}
			s.add(t, "click", "web", skuAttrs(c, j, m, sid))
		}
	}
}
