package vault_test

import (
	"slices"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func TestIngestGatesCollection(t *testing.T) {
	svc, store := newService(t, 1000)
	ctx := t.Context()
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{ExternalID: "crm-1", Source: "crm", Fields: profile()})
	if err != nil {
		t.Fatal(err)
	}
	noConsent, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: profile()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "personalization", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	order := func(id, ref string) vault.EventInput {
		return vault.EventInput{EventID: id, SubjectRef: ref, Type: "order", TS: now, Source: "app",
			Attrs: map[string]any{"order_id": "o-" + id, "amount": 99.5, "currency": "CNY", "items": []any{map[string]any{"sku": "s1", "category": "diapers", "brand": "b", "qty": 1, "price": 99.5}}}}
	}
	// Behaviour dated after the consent was given (a minute ago, at the latest).
	viewAt := func(id, ref string, ts time.Time) vault.EventInput {
		return vault.EventInput{EventID: id, SubjectRef: ref, Type: "page_view", TS: ts, Source: "web", Attrs: map[string]any{"page": "/p", "category": "toys", "dwell_ms": 1200, "session_id": "s"}}
	}
	view := func(id, ref string) vault.EventInput { return viewAt(id, ref, time.Now()) }
	fulfil := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "order_fulfillment"}
	res, err := svc.Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{
		order("e1", "external:crm:crm-1"), order("e2", c.ID), order("e1", c.ID), // the third repeats e1
		view("e3", c.ID),                 // behaviour is not collected for order_fulfillment
		order("e4", "external:crm:nope"), // unknown subject
		{EventID: "e5", SubjectRef: c.ID, Type: "teleport", TS: now},
		{EventID: "e6", SubjectRef: c.ID, Type: "order", TS: time.Now().Add(time.Hour), Attrs: map[string]any{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{3: "not_permitted_for_purpose", 4: "unknown_subject", 5: "unknown_type", 6: "bad_time"}
	if res.Accepted != 2 || res.Duplicates != 1 || len(res.Rejected) != len(want) {
		t.Fatalf("result %+v", res)
	}
	for _, r := range res.Rejected {
		if want[r.Index] != r.Error {
			t.Errorf("index %d: %s, want %s", r.Index, r.Error, want[r.Index])
		}
	}
	// Behaviour under personalization is collected only with consent.
	pers := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "personalization"}
	res, err = svc.Ingestion().IngestEvents(ctx, pers, []vault.EventInput{view("b1", c.ID), view("b2", noConsent.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].Error != "consent_required" {
		t.Fatalf("gated collection: %+v", res)
	}
	// The birth date opened for the age rule is named on each subject's own entry: the collected one's,
	// and a refusal for the one whose events were not collected.
	entries, err := store.Query(ctx, audit.Filter{Action: string(vault.ActionEventIngest), Purpose: "personalization", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	perSubject := map[audit.Decision]int{}
	for _, e := range entries {
		if e.SubjectRef != "" && slices.Contains(e.DecisionInputs, "birth_date") {
			perSubject[e.Decision]++
		}
	}
	if perSubject[audit.Allow] != 1 || perSubject[audit.Deny] != 1 {
		t.Fatalf("per-subject entries naming the opened birth date: %v", perSubject)
	}
	// Behaviour dated before the consent was given is not collected now that it exists.
	if res, err := svc.Ingestion().IngestEvents(ctx, pers, []vault.EventInput{viewAt("b0", c.ID, now)}); err != nil || res.Accepted != 0 ||
		len(res.Rejected) != 1 || res.Rejected[0].Error != "consent_required" {
		t.Fatalf("behaviour from before the consent: %+v %v", res, err)
	}
	// Re-sending changes nothing.
	res, _ = svc.Ingestion().IngestEvents(ctx, pers, []vault.EventInput{view("b1", c.ID)})
	if res.Accepted != 0 || res.Duplicates != 1 {
		t.Fatalf("idempotence: %+v", res)
	}
	if n, _ := store.CountRows(ctx, "events"); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}
	// Transactions get their own key class; erasure shreds the others at once and deletes their events,
	// while the recent orders stay under a legal hold.
	rec, _ := store.Subject(ctx, c.ID)
	if _, ok := rec.DEKs[vault.ClassTransactions]; !ok {
		t.Fatal("no transactions DEK")
	}
	if r, err := svc.Profiles().Erase(ctx, steward, c.ID); err != nil || len(r.Held) == 0 || r.Held[0].Category != "transactions" {
		t.Fatalf("erase with recent orders: %+v %v, want the transactions held", r, err)
	}
	svc.Profiles().WaitPurges()
	if n, _ := store.CountRows(ctx, "events"); n != 2 {
		t.Fatalf("%d events after a held erasure, want the 2 orders", n)
	}
}
