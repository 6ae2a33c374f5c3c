package vault_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// Retention (PIPL Art. 19) runs from the newest activity on each purpose's clock, in calendar days, and
// never hides a subject's own data from them. customer_service keeps 730 days from an order, a
// complaint or a profile change; marketing 365 days from a marketing consent or a purchase.
func TestRetentionRunsFromTheActivityEachPurposeReliesOn(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	t0 := time.Now()
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	at := func(ts time.Time) *vault.Service { return svc.WithClock(func() time.Time { return ts }) }
	create := func() string {
		t.Helper()
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("李雷"), "phone": str("+8613800005678"), "birth_date": str("1985-03-04"), "city": str("杭州")}})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	granted := func(s *vault.Service, a vault.Access, id string) (bool, string) {
		t.Helper()
		field := "name"
		if a.Purpose == "marketing" {
			field = "city"
		}
		v, err := s.Profiles().Read(ctx, a, id, []string{field})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Withheld) > 0 {
			return false, v.Withheld[0].Reason
		}
		return v.Fields[field] != "", ""
	}
	expect := func(what string, ok bool, reason string, want bool) {
		t.Helper()
		if ok != want || (!want && reason != vault.ReasonRetentionExpired) {
			t.Errorf("%s: granted %v (%s), want granted %v", what, ok, reason, want)
		}
	}

	idle := create()
	ok, r := granted(at(day(730)), agent, idle)
	expect("customer service, no activity, day 730", ok, r, true)
	ok, r = granted(at(day(730).Add(time.Second)), agent, idle)
	expect("customer service, no activity, just after day 730", ok, r, false)

	buyer := create()
	fulfil := vault.Access{Caller: steward.Caller, Purpose: "order_fulfillment"}
	if _, err := at(day(700)).Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{{EventID: "o-700", SubjectRef: buyer, Type: "order", TS: day(700), Source: "app",
		Attrs: map[string]any{"order_id": "o-700", "amount": 30.0, "currency": "CNY", "items": []any{map[string]any{"sku": "s", "category": "tea", "brand": "b", "qty": 1, "price": 30.0}}}}}); err != nil {
		t.Fatal(err)
	}
	ok, r = granted(at(day(732)), agent, buyer)
	expect("customer service, ordered on day 700, day 732", ok, r, true)
	ok, r = granted(at(day(1430)), agent, buyer)
	expect("customer service, ordered on day 700, day 1430", ok, r, true)
	ok, r = granted(at(day(1430).Add(time.Second)), agent, buyer)
	expect("customer service, ordered on day 700, just after day 1430", ok, r, false)

	fan := create()
	if _, _, err := at(day(366)).ConsentRecords().GrantConsent(ctx, steward, fan, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	ok, r = granted(at(day(366)), marketer, fan)
	expect("marketing, consent given on day 366", ok, r, true)
	ok, r = granted(at(day(731).Add(time.Second)), marketer, fan)
	expect("marketing, consent given on day 366, just after day 731", ok, r, false)
	if res, err := at(day(800)).Tags().SubjectTags(ctx, marketer, fan, "en"); err != nil || len(res.Withheld) != 1 || res.Withheld[0].Reason != vault.ReasonRetentionExpired {
		t.Errorf("marketing tags past retention: %+v %v", res, err)
	}

	// Nor does the tag engine get the subject's data for marketing any longer.
	bases := func(ts time.Time) int {
		t.Helper()
		n := 0
		_, _, err := at(ts).Tags().TagInputs(ctx, tagger, []policies.PurposeName{"marketing"}, []string{fan}, func(in vault.TagInput) error {
			n += len(in.Bases)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if bases(day(400)) != 1 || bases(day(800)) != 0 {
		t.Errorf("tag inputs for marketing: %d on day 400 (want 1), %d on day 800 (want 0)", bases(day(400)), bases(day(800)))
	}

	// The subject's own view is never cut by retention.
	self := vault.Access{Caller: vault.Caller{Subject: idle, Roles: []policies.Role{vault.RoleSubject}}}
	me, err := at(day(1200)).DataSubjects().Me(ctx, self)
	if err != nil || me.Fields["name"] != "李雷" || me.Fields["phone"] == "" {
		t.Errorf("own data on day 1200: %+v %v", me.Fields, err)
	}
}

// The E-Commerce Law hold is three calendar years from the transaction's completion (its newest
// transaction event), so an order on 29 February 2024 is held until 1 March 2027, not 1,095 days.
func TestTransactionHoldIsThreeCalendarYears(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	leap := time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)
	at := func(ts time.Time) *vault.Service { return svc.WithClock(func() time.Time { return ts }) }
	c, err := at(leap.Add(-time.Hour)).Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("韩梅梅")}})
	if err != nil {
		t.Fatal(err)
	}
	fulfil := vault.Access{Caller: steward.Caller, Purpose: "order_fulfillment"}
	for i, ts := range []time.Time{leap.AddDate(0, 0, -10), leap} { // the newest transaction event counts
		if _, err := at(leap).Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{{EventID: "o-" + strconv.Itoa(i), SubjectRef: c.ID, Type: "order", TS: ts, Source: "pos",
			Attrs: map[string]any{"order_id": "o", "amount": 9.0, "currency": "CNY", "items": []any{map[string]any{"sku": "s", "category": "tea", "brand": "b", "qty": 1, "price": 9.0}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := at(leap.AddDate(0, 0, 1)).Profiles().Erase(ctx, steward, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	if len(r.Held) != 1 || !r.Held[0].Until.Equal(want) {
		t.Fatalf("held %+v, want until %s", r.Held, want)
	}
	// The hold ends then, not a day earlier.
	admin := vault.Access{Caller: vault.Caller{Subject: "retention", Roles: []policies.Role{policies.RoleAdmin}}}
	if n, err := at(want.Add(-time.Second)).Profiles().RunRetention(ctx, admin); err != nil || n != 0 {
		t.Fatalf("retention a second before the hold ends: %d %v", n, err)
	}
	if n, err := at(want.Add(time.Second)).Profiles().RunRetention(ctx, admin); err != nil || n != 1 {
		t.Fatalf("retention a second after the hold ends: %d %v", n, err)
	}
}

// The retention job deletes what no purpose may keep any longer: behaviour once personalization's year has
// run out (nobody else keeps it), then the whole subject once every purpose's period has; a customer who
// ordered recently keeps their record.
func TestExpireRetainedDeletesWhatNoPurposeKeeps(t *testing.T) {
	ctx := context.Background()
	svc, store := newService(t, 100)
	t0 := time.Now()
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	at := func(ts time.Time) *vault.Service { return svc.WithClock(func() time.Time { return ts }) }
	admin := vault.Access{Caller: vault.Caller{Subject: "retention", Roles: []policies.Role{policies.RoleAdmin}}}
	create := func() string {
		t.Helper()
		c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"name": str("李雷"), "phone": str("+8613800005678"), "city": str("杭州"), "birth_date": str("1980-01-02")}})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	idle, buyer := create(), create()
	if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, idle, consent.Grant{Purpose: "personalization", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	pers := vault.Access{Caller: steward.Caller, Purpose: "personalization"}
	if res, err := at(day(1)).Ingestion().IngestEvents(ctx, pers, []vault.EventInput{{EventID: "v1", SubjectRef: idle, Type: "page_view", TS: day(1), Source: "web",
		Attrs: map[string]any{"page": "/p", "category": "toys", "dwell_ms": 1200, "session_id": "s"}}}); err != nil || res.Accepted != 1 {
		t.Fatalf("behaviour: %+v %v", res, err)
	}
	fulfil := vault.Access{Caller: steward.Caller, Purpose: "order_fulfillment"}
	if _, err := at(day(1000)).Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{{EventID: "o1", SubjectRef: buyer, Type: "order", TS: day(1000), Source: "app",
		Attrs: map[string]any{"order_id": "o1", "amount": 9.0, "currency": "CNY", "items": []any{map[string]any{"sku": "s", "category": "tea", "brand": "b", "qty": 1, "price": 9.0}}}}}); err != nil {
		t.Fatal(err)
	}
	events := func(id string) int {
		t.Helper()
		n := 0
		if err := store.Events(ctx, id, func(vault.StoredEvent) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run := func(ts time.Time) int {
		t.Helper()
		n, err := at(ts).Profiles().ExpireRetained(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := run(day(300)); n != 0 || events(idle) != 1 {
		t.Fatalf("day 300: %d changed, %d events", n, events(idle))
	}
	if n := run(day(400)); n != 1 || events(idle) != 0 {
		t.Fatalf("day 400: %d changed, %d behaviour events left", n, events(idle))
	}
	if v, err := at(day(400)).Profiles().Read(ctx, agent, idle, []string{"name"}); err != nil || v.Fields["name"] != "李雷" {
		t.Fatalf("the profile went with the behaviour: %+v %v", v, err)
	}
	// Day 1100: account management's three years from the last activity are over; only risk control (five
	// years, identity) still keeps something, so contact and address go and the name stays.
	if n := run(day(1100)); n != 1 {
		t.Fatalf("day 1100: %d changed, want the idle subject's contact and address deleted", n)
	}
	rec, _ := store.Subject(ctx, idle)
	if _, ok := rec.Fields["phone"]; ok || rec.State != vault.StateActive {
		t.Fatalf("day 1100: phone kept or subject erased (%s)", rec.State)
	}
	if _, ok := rec.Fields["name"]; !ok {
		t.Fatal("day 1100: the name went, though risk control keeps identity")
	}
	// Day 1900: nothing may be kept any longer: the subject is erased.
	if n := run(day(1900)); n < 1 {
		t.Fatalf("day 1900: %d changed", n)
	}
	if rec, _ := store.Subject(ctx, idle); rec.State != vault.StateErased {
		t.Fatalf("idle subject after every period: %s", rec.State)
	}
	if rec, _ := store.Subject(ctx, buyer); rec.State != vault.StateActive {
		t.Fatalf("the buyer who ordered on day 1000 was erased by day 1900")
	}
}
