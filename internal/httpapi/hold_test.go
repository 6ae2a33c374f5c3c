package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func TestErasureUnderLegalHold(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})
	ts := time.Now().Add(-24 * time.Hour).UTC()
	order := `{"events":[{"event_id":"ev-h1","subject_id":"` + id + `","type":"order","ts":"` + ts.Format(time.RFC3339) + `","source":"app","attrs":{"order_id":"o-1","amount":50,"currency":"CNY","items":[{"sku":"s","category":"c","brand":"b","qty":1,"price":50}]}},` +
		`{"event_id":"ev-h2","subject_id":"` + id + `","type":"review","ts":"` + ts.Format(time.RFC3339) + `","source":"app","attrs":{"order_id":"o-1","rating":4,"text":"不错"}}]}`
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", order); r.JSON["accepted"].(float64) != 2 {
		t.Fatalf("events: %s", r.Body)
	}
	r := s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil)
	if r.Status != 409 || r.ErrorCode() != "legal_hold" {
		t.Fatalf("erase under hold: %d %s", r.Status, r.Body)
	}
	e := r.JSON["error"].(map[string]any)
	held := e["held"].([]any)[0].(map[string]any)
	until, _ := time.Parse(time.RFC3339, held["until"].(string))
	if held["category"] != "transactions" || until.Sub(ts) < 3*364*24*time.Hour {
		t.Fatalf("held: %v", held)
	}
	receipt := e["receipt"].(map[string]any)
	if sh := receipt["classes_shredded"].([]any); len(sh) != 1 || sh[0] != "general" || receipt["signature"] == "" {
		t.Fatalf("receipt: %v", receipt)
	}
	// Everything else is gone: 404 everywhere, no lookup, the review (interactions) deleted with its key.
	if r := s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil); r.Status != 404 {
		t.Fatalf("read after erasure: %d", r.Status)
	}
	if r := s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "phone", "value": "13800001234"}); len(r.JSON["ids"].([]any)) != 0 {
		t.Fatal("held subject still found by phone")
	}
	s.App.Vault.Profiles().WaitPurges()
	if n, _ := s.App.Internals().Store.CountRows(t.Context(), "events"); n != 1 {
		t.Fatalf("%d events kept, want only the order", n)
	}
	rec, _ := s.App.Internals().Store.Subject(t.Context(), id)
	if _, ok := rec.DEKs[vault.ClassTransactions]; !ok || len(rec.DEKs) != 1 {
		t.Fatalf("keys after held erasure: %v", rec.DEKs)
	}
	// Repeating the call gives the same answer: the same hold and the same receipt, but for the entry of
	// this call (its audit_seq and so its signature).
	r2 := s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil)
	if r2.Status != 409 || r2.ErrorCode() != "legal_hold" || !strings.Contains(string(r2.Body), held["until"].(string)) {
		t.Fatalf("repeat: %d %s", r2.Status, r2.Body)
	}
	again := r2.JSON["error"].(map[string]any)["receipt"].(map[string]any)
	for _, k := range []string{"subject_id", "subject_ref", "erased_at", "classes_shredded", "held"} {
		if fmt.Sprint(again[k]) != fmt.Sprint(receipt[k]) {
			t.Errorf("repeated receipt %s = %v, first %v", k, again[k], receipt[k])
		}
	}
	if again["subject_ref"] == "" || again["audit_seq"] == receipt["audit_seq"] {
		t.Errorf("repeated receipt: %v (first %v)", again, receipt)
	}
	// Nothing expires before the hold ends.
	if n, err := s.App.Vault.Profiles().RunRetention(t.Context(), vault.Access{Caller: vault.Caller{Subject: "retention", Roles: []policies.Role{"admin"}}}); err != nil || n != 0 {
		t.Fatalf("retention before the hold ends: %d %v", n, err)
	}
}

func TestRetentionShredsWhenTheHoldEnds(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "韩梅梅"})
	// An order from almost three years ago: the hold ends within days.
	ts := time.Now().Add(-3*365*24*time.Hour + 48*time.Hour).UTC().Format(time.RFC3339)
	s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[{"event_id":"ev-r1","subject_id":"`+id+`","type":"order","ts":"`+ts+`","source":"pos","attrs":{"order_id":"o","amount":9,"currency":"CNY","items":[{"sku":"s","category":"c","brand":"b","qty":1,"price":9}]}}]}`)
	if r := s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil); r.Status != 409 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	later := time.Now().Add(72 * time.Hour)
	n, err := s.App.Vault.WithClock(func() time.Time { return later }).Profiles().RunRetention(t.Context(), vault.Access{Caller: vault.Caller{Subject: "retention", Roles: []policies.Role{"admin"}}})
	if err != nil || n != 1 {
		t.Fatalf("retention: %d %v", n, err)
	}
	rec, _ := s.App.Internals().Store.Subject(t.Context(), id)
	if len(rec.DEKs) != 0 {
		t.Fatalf("keys survive the end of the hold: %v", rec.DEKs)
	}
	s.App.Vault.Profiles().WaitPurges()
	if c, _ := s.App.Internals().Store.CountRows(t.Context(), "events"); c != 0 {
		t.Fatalf("%d events survive the end of the hold", c)
	}
	if r := s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil); r.Status != 404 {
		t.Fatalf("after the hold: %d", r.Status)
	}
}
