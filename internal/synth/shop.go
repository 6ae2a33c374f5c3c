package synth

import (
	"runtime"
	"slices"
	"sync"
	"time"
)

// NoticeVersion is the privacy notice version that every synthetic consent was given under.
const NoticeVersion = "2026-01"

// Conversion targets of the synthetic browsing: cart_add events per page_view and order events per
// page_view, over the whole population.
const (
	TargetViewToCart  = 0.026
	TargetViewToOrder = 0.008
)

// CNYPerUSD converts the CDNOW Gamma-Gamma scale (US dollars) into yuan for DefaultModel.
const CNYPerUSD = 7.0

// Model holds the parameters of the purchase process: BG/NBD for the number and timing of purchases and
// Gamma-Gamma for their amounts.
type Model struct {
	// R and Alpha are the shape and rate of the Gamma distribution of the purchase rate λ, with Alpha in
	// days (λ is in purchases per day).
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha_days"`
	// A and B are the parameters of the Beta distribution of the dropout probability p after each purchase.
	A float64 `json:"a"`
	B float64 `json:"b"`
	// P is the shape of the Gamma distribution of one purchase's amount; Q and V are the shape and rate
	// of the Gamma distribution of its rate ν, with V in CNY.
	P float64 `json:"p"`
	Q float64 `json:"q"`
	V float64 `json:"v_cny"`
}

// DefaultModel returns the published CDNOW fits (lifetimes' quick-start) converted to this shop's units:
// BG/NBD r = 0.242593, alpha = 4.413532 weeks = 30.894724 days, a = 0.792886, b = 2.425752; Gamma-Gamma
// p = 6.25, q = 3.74, v = 15.45 US dollars = 108.15 CNY (mean spend per purchase ≈ 247 CNY).
func DefaultModel() Model {
	return Model{R: 0.242593, Alpha: 4.413532 * 7, A: 0.792886, B: 2.425752, P: 6.25, Q: 3.74, V: 15.45 * CNYPerUSD}
}

// Options configures the synthetic shop.
type Options struct {
	// Seed selects the shop; the same Options always give the same shop, byte for byte once written.
	Seed uint64
	// Subjects is the number of people. Most have one subject record; about 1 % also appear in another
	// source (duplicates), so len(Shop.Subjects) is a little larger.
	Subjects int
	// Now is the end of the observation window; the zero value means 2026-06-01T00:00:00+08:00.
	Now time.Time
	// Start is the beginning of the window; the zero value means Now minus 24 months.
	Start time.Time
	// Model overrides the purchase model; the zero value means DefaultModel().
	Model Model
	// OnlyConsentedBehavior drops the behaviour events (page views, clicks, searches, favourites, cart
	// events) of people with neither a personalization nor an analytics consent, as a collector that gates
	// on consent would. By default they are kept, and the vault is expected to reject them.
	OnlyConsentedBehavior bool
}

// Shop is a complete synthetic shop.
type Shop struct {
	// Subjects are the subject records, person by person (a person's primary record first).
	Subjects []SubjectRecord
	// Events are the events, person by person, each person's in time order.
	Events []Event
	// Consents are the consent records, person by person.
	Consents []ConsentRecord
	// Objections are the objections to personalised marketing.
	Objections []ObjectionRecord
	// Truth is the ground truth the generator designed in.
	Truth Truth
}

// SubjectRecord is one subject record as a source system knows it.
type SubjectRecord struct {
	// ExternalID is the record's id in its source system.
	ExternalID string
	// Source is the source system: crm, app, web or pos.
	Source string
	// Fields are the profile fields keyed by schema field name; absent fields are missing, never empty.
	Fields map[string]string
}

// Ref returns the record's subject reference, "external:<source>:<external_id>".
func (r SubjectRecord) Ref() string { return ref(r.Source, r.ExternalID) }

// Profile is the former name of SubjectRecord, kept for Profiles.
type Profile = SubjectRecord

// Event is one event. Numeric attributes are json.Number values (amounts and prices with two decimals), so
// that an event equals its own JSON decoding with UseNumber.
type Event struct {
	// EventID is unique and deterministic ("ev_" and 16 hex digits).
	EventID string
	// SubjectRef is "external:<source>:<external_id>" of the record the event belongs to.
	SubjectRef string
	// Type is one of the event types of API.md.
	Type string
	// Source is app, web, pos, crm or erp.
	Source string
	// TS is the event time in UTC, to the second.
	TS time.Time
	// Attrs are the type's attributes (API.md) and a few more (session_id on behaviour events, sku on
	// product page views, qty on cart_add, lang on texts, channel on shares, order_id on complaints).
	// Values are strings, json.Number, or for items a []any of map[string]any.
	Attrs map[string]any
}

// ConsentRecord is one consent as a collection point recorded it.
type ConsentRecord struct {
	// SubjectRef is the record the consent was given on.
	SubjectRef string
	// Purpose is the purpose consented to.
	Purpose string
	// Kind is general, separate (third-party sharing) or guardian (subjects under 14).
	Kind string
	// NoticeVersion is the notice shown, always NoticeVersion.
	NoticeVersion string
	// Method is how the consent was captured (app_checkbox, web_form, phone_call, paper_form, guardian_form).
	Method string
	// GrantedAt is when it was given (UTC, within 30 days after registration).
	GrantedAt time.Time
	// Recipient is the named recipient of a third-party-sharing consent, or "".
	Recipient string
}

// ObjectionRecord is an objection a subject raised (PIPL Art. 24).
type ObjectionRecord struct {
	// SubjectRef is the record the objection was raised on.
	SubjectRef string
	// Kind is always personalized_marketing.
	Kind string
}

// PairTruth is an injected co-purchase rule with its designed measures over purchase baskets (the
// category sets of order and pos_purchase events).
type PairTruth struct {
	// Antecedent and Consequent are category keys of the rule Antecedent → Consequent.
	Antecedent string `json:"antecedent"`
	Consequent string `json:"consequent"`
	// Support is P(both), Confidence P(Consequent | Antecedent) and Lift Confidence / P(Consequent), per
	// basket, as designed.
	Support    float64 `json:"support"`
	Confidence float64 `json:"confidence"`
	Lift       float64 `json:"lift"`
	// Description says the rule in words.
	Description string `json:"description"`
}

// Truth is the ground truth of a shop, for tests. Subject references are "external:<source>:<id>".
type Truth struct {
	// Seed, Persons, Start, Now and Model repeat the options used.
	Seed    uint64    `json:"seed"`
	Persons int       `json:"persons"`
	Start   time.Time `json:"start"`
	Now     time.Time `json:"now"`
	Model   Model     `json:"model"`
	// Pairs are the injected co-purchase rules.
	Pairs []PairTruth `json:"pairs"`
	// ReviewSentiment maps the event id of every review, chat and complaint to its designed sentiment
	// (−1, 0 or +1; complaints are −1).
	ReviewSentiment map[string]int `json:"review_sentiment"`
	// Minors are the records of people under 14 at Now; their consents are all of kind guardian.
	Minors []string `json:"minors"`
	// Objectors are the records carrying an objection to personalised marketing.
	Objectors []string `json:"objectors"`
	// Duplicates are groups of records of the same person in different sources: the same name and a
	// shared phone number (formatted differently) or e-mail address (in another case).
	Duplicates [][]string `json:"duplicates"`
	// NearDuplicates are pairs of different people that look alike — family members sharing a phone and
	// address with near-identical names, or namesakes in the same city — which must not be merged.
	NearDuplicates [][]string `json:"near_duplicates"`
	// DirtyPhones counts phone values written so that they fail the schema's check (full-width digits,
	// dots, a "tel:" prefix); DirtyFields lists them by record.
	DirtyPhones int                 `json:"dirty_phones"`
	DirtyFields map[string][]string `json:"dirty_fields"`
	// MissingCity counts records without a city; MissingCityRefs lists them. Each such person buys in
	// stores of their city (see StoreCity), starting with their first purchase.
	MissingCity     int      `json:"missing_city"`
	MissingCityRefs []string `json:"missing_city_refs"`
	// UpperCaseEmails and PlaceVariants count records with an upper-case e-mail address and with a
	// province or city spelled with its suffix ("广东省", "广州市").
	UpperCaseEmails int `json:"upper_case_emails"`
	PlaceVariants   int `json:"place_variants"`
	// Bots are records with bursts of hundreds of clicks a minute.
	Bots []string `json:"bots"`
	// AnomalousOrders are the event ids of purchases whose amount was multiplied by 100.
	AnomalousOrders []string `json:"anomalous_orders"`
}

// generator holds the normalised options and the keys derived from the seed.
type generator struct {
	opts                     Options
	key                      uint64
	idKey, orderKey, sessKey uint64
	start, now               int64
	nowDate                  time.Time // the local date of Now, at midnight UTC
}

// defaultNow is the reference time used when Options.Now is zero.
var defaultNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.FixedZone("CST", tzOffset))

func newGenerator(o Options) *generator {
	if o.Now.IsZero() {
		o.Now = defaultNow
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.Start.IsZero() || !o.Start.Before(o.Now) {
		o.Start = o.Now.AddDate(0, -24, 0)
	}
	o.Start = o.Start.UTC().Truncate(time.Second)
	if o.Model == (Model{}) {
		o.Model = DefaultModel()
	}
	o.Subjects = max(o.Subjects, 0)
	key := mix64(o.Seed ^ 0x9e3779b97f4a7c15)
	local := o.Now.Add(tzOffset * time.Second)
	g := &generator{opts: o, key: key, idKey: mix64(key ^ saltEventID), orderKey: mix64(key ^ saltOrderID),
		sessKey: mix64(key ^ saltSession), start: o.Start.Unix(), now: o.Now.Unix(),
		nowDate: time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)}
	if g.now-g.start < 3*secondsPerDay {
		g.start = g.now - 3*secondsPerDay
		g.opts.Start = time.Unix(g.start, 0).UTC()
	}
	return g
}

// behaviorTypes are the event types of the behavior category.
var behaviorTypes = map[string]bool{"page_view": true, "click": true, "search": true, "favorite": true, "cart_add": true, "cart_remove": true}

// personEvents is the output of one person's simulation.
type personEvents struct {
	events     []Event
	sentiments []eventSentiment
	anomalies  []string
}

type eventSentiment struct {
	id string
	s  int
}

// simulate generates person ps's events into out (reusing its buffers) and returns out.events.
func (g *generator) simulate(ps *person, s *sim, out *personEvents) {
	*s = sim{g: g, r: newRand(g.key, saltEvents, ps.i), ps: ps, ev: s.ev[:0], dwell: s.dwell, items: s.items}
	s.run()
	slices.SortFunc(s.ev, func(a, b rawEvent) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return int(a.seq - b.seq)
	})
	out.events, out.sentiments, out.anomalies = out.events[:0], out.sentiments[:0], out.anomalies[:0]
	base := uint64(ps.i) << 24
	for k := range s.ev {
		e := &s.ev[k]
		if e.ts < g.start || e.ts >= g.now {
			continue
		}
		id := "ev_" + hex16(mix64((base|uint64(k))^g.idKey))
		if g.opts.OnlyConsentedBehavior && !ps.behavior && behaviorTypes[e.typ] {
			continue
		}
		out.events = append(out.events, Event{EventID: id, SubjectRef: ps.refFor(e.src), Type: e.typ, Source: e.src,
			TS: time.Unix(e.ts, 0).UTC(), Attrs: e.attrs})
		if e.sent != 0 {
			out.sentiments = append(out.sentiments, eventSentiment{id, int(e.sent) - 2})
		}
		if e.anomaly {
			out.anomalies = append(out.anomalies, id)
		}
	}
	// Drop the references to attribute maps so the buffer does not keep them alive.
	clear(s.ev)
}

// chunkSize is the number of people a worker of each generates at a time.
const chunkSize = 16

// chunk is a run of people generated by one worker.
type chunk struct {
	lo, hi int
	people []person
	events []personEvents
	done   chan struct{}
}

// each runs fn for every person in order with their records, consents and events. People are independent
// (each has their own random streams), so workers generate chunks of them in parallel while fn consumes
// the chunks in order; at most a few chunks are in memory at once. fn must not keep pe.events' backing
// array beyond the call.
func (g *generator) each(fn func(ps *person, pe *personEvents) error) error {
	n := g.opts.Subjects
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 || n <= chunkSize {
		var (
			ps person
			s  sim
			pe personEvents
		)
		for i := range n {
			g.makePerson(i, &ps)
			g.simulate(&ps, &s, &pe)
			if err := fn(&ps, &pe); err != nil {
				return err
			}
		}
		return nil
	}
	jobs := make(chan *chunk)
	ordered := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	go func() {
		defer close(ordered)
		defer close(jobs)
		for lo := 0; lo < n; lo += chunkSize {
			c := &chunk{lo: lo, hi: min(lo+chunkSize, n), done: make(chan struct{})}
			select {
			case ordered <- c:
			case <-stop:
				return
			}
			select {
			case jobs <- c:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var s sim
			for c := range jobs {
				c.people = make([]person, c.hi-c.lo)
				c.events = make([]personEvents, c.hi-c.lo)
				for k := range c.people {
					g.makePerson(c.lo+k, &c.people[k])
					g.simulate(&c.people[k], &s, &c.events[k])
				}
				close(c.done)
			}
		})
	}
	var err error
	for c := range ordered {
		<-c.done
		for k := range c.people {
			if err = fn(&c.people[k], &c.events[k]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		close(stop)
		for range ordered {
		}
	}
	wg.Wait()
	return err
}

// truthBuilder accumulates the ground truth person by person.
type truthBuilder struct{ t Truth }

func newTruthBuilder(g *generator) *truthBuilder {
	t := Truth{Seed: g.opts.Seed, Persons: g.opts.Subjects, Start: g.opts.Start, Now: g.opts.Now, Model: g.opts.Model,
		ReviewSentiment: map[string]int{}, DirtyFields: map[string][]string{},
		Minors: []string{}, Objectors: []string{}, Duplicates: [][]string{}, NearDuplicates: [][]string{},
		MissingCityRefs: []string{}, Bots: []string{}, AnomalousOrders: []string{}}
	for _, p := range pairs {
		t.Pairs = append(t.Pairs, p.truth())
	}
	return &truthBuilder{t: t}
}

func (b *truthBuilder) add(ps *person, pe *personEvents) {
	t := &b.t
	p := &ps.p
	if p.minor {
		t.Minors = append(t.Minors, ps.refs...)
	}
	if p.objector {
		t.Objectors = append(t.Objectors, ps.refs...)
	}
	if len(ps.refs) > 1 {
		t.Duplicates = append(t.Duplicates, slices.Clone(ps.refs))
	}
	if ps.nearGroup != nil {
		t.NearDuplicates = append(t.NearDuplicates, ps.nearGroup)
	}
	for r, f := range ps.dirty {
		t.DirtyFields[r] = f
	}
	t.DirtyPhones += ps.dirtyPhones
	t.MissingCity += ps.missingCity
	if ps.missingCity > 0 {
		t.MissingCityRefs = append(t.MissingCityRefs, ps.refs[0])
	}
	t.UpperCaseEmails += ps.upperEmails
	t.PlaceVariants += ps.placeVariants
	if p.bot {
		t.Bots = append(t.Bots, ps.refs[0])
	}
	for _, s := range pe.sentiments {
		t.ReviewSentiment[s.id] = s.s
	}
	t.AnomalousOrders = append(t.AnomalousOrders, pe.anomalies...)
}

// objections returns the person's objection records.
func (ps *person) objections() []ObjectionRecord {
	if !ps.p.objector {
		return nil
	}
	out := make([]ObjectionRecord, len(ps.refs))
	for k, r := range ps.refs {
		out[k] = ObjectionRecord{SubjectRef: r, Kind: "personalized_marketing"}
	}
	return out
}

// Generate builds the whole shop in memory. Expect a few hundred events per person (about 1 KB of memory
// each); for large shops use Write or StreamEvents.
func Generate(opts Options) Shop {
	g := newGenerator(opts)
	tb := newTruthBuilder(g)
	var shop Shop
	_ = g.each(func(ps *person, pe *personEvents) error {
		shop.Subjects = append(shop.Subjects, ps.records...)
		shop.Consents = append(shop.Consents, ps.consents...)
		shop.Objections = append(shop.Objections, ps.objections()...)
		shop.Events = append(shop.Events, pe.events...)
		tb.add(ps, pe)
		return nil
	})
	shop.Truth = tb.t
	return shop
}

// GenerateSubjects builds the shop without its events, quickly: the same subject records, consents,
// objections and truth as Generate, except that the truth about events (ReviewSentiment, AnomalousOrders)
// is empty. With StreamEvents it gives the whole shop in bounded memory.
func GenerateSubjects(opts Options) Shop {
	g := newGenerator(opts)
	tb := newTruthBuilder(g)
	var (
		shop Shop
		ps   person
		pe   personEvents
	)
	for i := range g.opts.Subjects {
		g.makePerson(i, &ps)
		shop.Subjects = append(shop.Subjects, ps.records...)
		shop.Consents = append(shop.Consents, ps.consents...)
		shop.Objections = append(shop.Objections, ps.objections()...)
		tb.add(&ps, &pe)
	}
	shop.Truth = tb.t
	return shop
}

// StreamEvents calls fn with the same events as Generate(opts).Events, in the same order, generating them
// person by person in bounded memory. It stops at and returns the first error from fn.
func StreamEvents(opts Options, fn func(Event) error) error {
	return newGenerator(opts).each(func(_ *person, pe *personEvents) error {
		for _, e := range pe.events {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}
