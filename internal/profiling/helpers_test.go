package profiling

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai without relying on the host's zoneinfo

	"github.com/profilevault/profilevault/internal/synth"
)

// testNow is 2026-06-01 08:00 in Shanghai.
var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// allowAll returns an Allowed map with every input category.
func allowAll() map[string]bool {
	m := map[string]bool{}
	for _, c := range InputCategories() {
		m[c] = true
	}
	return m
}

// allow returns an Allowed map with the given categories.
func allow(cats ...string) map[string]bool {
	m := map[string]bool{}
	for _, c := range cats {
		m[c] = true
	}
	return m
}

// ago returns testNow minus d days.
func ago(days float64) time.Time { return testNow.Add(-time.Duration(days * 24 * float64(time.Hour))) }

func ev(typ string, ts time.Time, attrs map[string]any) Event {
	if attrs == nil {
		attrs = map[string]any{}
	}
	return Event{ID: fmt.Sprintf("ev-%s-%d", typ, ts.UnixNano()), Type: typ, Source: "app", TS: ts, Attrs: attrs}
}

func pageView(ts time.Time, category string) Event {
	return ev("page_view", ts, map[string]any{"page": "product", "category": category, "dwell_ms": json.Number("12000")})
}

func cartAdd(ts time.Time, category, brand string) Event {
	return ev("cart_add", ts, map[string]any{"sku": "SKU-1", "category": category, "brand": brand, "price": json.Number("10.00")})
}

// order returns an online order paid amount with a discount, of one item per category given.
func order(id string, ts time.Time, amount, discount float64, categories ...string) Event {
	items := make([]any, len(categories))
	for k, c := range categories {
		items[k] = map[string]any{"sku": "SKU-" + c, "category": c, "brand": "b_" + c, "qty": json.Number("1"),
			"price": json.Number(fmt.Sprintf("%.2f", (amount+discount)/float64(len(categories))))}
	}
	return ev("order", ts, map[string]any{"order_id": id, "amount": json.Number(fmt.Sprintf("%.2f", amount)),
		"currency": "CNY", "items": items, "discount": json.Number(fmt.Sprintf("%.2f", discount))})
}

// orders returns n orders of amount 100 spread evenly over (from, to] days ago.
func orders(prefix string, n int, fromDays, toDays float64) []Event {
	var out []Event
	for k := range n {
		d := fromDays - (fromDays-toDays)*float64(k+1)/float64(n+1)
		out = append(out, order(fmt.Sprintf("%s%02d", prefix, k), ago(d), 100, 0, "snacks"))
	}
	return out
}

// tagMap indexes tags by key.
func tagMap(tags []Tag) map[string]Tag {
	m := map[string]Tag{}
	for _, t := range tags {
		m[t.Key] = t
	}
	return m
}

// computeOne extracts and computes a subject's tags at testNow in Shanghai.
func computeOne(t testing.TB, s Subject, pop Population) map[string]Tag {
	t.Helper()
	loc := shanghai(t)
	return tagMap(Compute(s, Extract(s, testNow, loc), pop, testNow, loc))
}

// shopSubjects converts a synthetic shop into subjects (one per subject record) with the given Allowed.
func shopSubjects(shop synth.Shop, allowed func(i int) map[string]bool) []Subject {
	byRef := make(map[string]int, len(shop.Subjects))
	subs := make([]Subject, len(shop.Subjects))
	for i, r := range shop.Subjects {
		subs[i] = Subject{ID: r.Ref(), Fields: r.Fields, Allowed: allowed(i)}
		byRef[r.Ref()] = i
	}
	for _, e := range shop.Events {
		i, ok := byRef[e.SubjectRef]
		if !ok {
			continue
		}
		subs[i].Events = append(subs[i].Events, Event{ID: e.EventID, Type: e.Type, Source: e.Source, TS: e.TS, Attrs: e.Attrs})
	}
	return subs
}

// smallShop is the 500-subject synthetic shop shared by the tests (generated once).
var smallShop = sync.OnceValue(func() synth.Shop {
	return synth.Generate(synth.Options{Seed: 11, Subjects: 500, Now: testNow})
})
