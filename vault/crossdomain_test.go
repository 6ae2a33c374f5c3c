package vault_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// tagFailStore hands every change a transaction whose DeleteTags fails while fail is set.
type tagFailStore struct {
	*sqlite.Store
	fail *atomic.Bool
}

func (s tagFailStore) Commit(ctx context.Context, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	if change == nil {
		return s.Store.Commit(ctx, nil, entry)
	}
	return s.Store.Commit(ctx, func(tx vault.Tx) error { return change(tagFailTx{tx, s.fail}) }, entry)
}

type tagFailTx struct {
	vault.Tx
	fail *atomic.Bool
}

func (t tagFailTx) DeleteTags(subject string, purpose policies.PurposeName) error {
	if t.fail.Load() {
		return errors.New("derived data could not be removed")
	}
	return t.Tx.DeleteTags(subject, purpose)
}

// A withdrawal and the deletion of the tags that rested on the consent are one transaction: if the tags
// cannot be deleted, the consent is not withdrawn either.
func TestWithdrawalDeletesTagsInItsTransaction(t *testing.T) {
	ctx := context.Background()
	cfg, store, _ := testConfig(t)
	fail := &atomic.Bool{}
	cfg.Store = tagFailStore{Store: store, fail: fail}
	svc, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := taggedSubject(t, svc)
	state := func() (fields, tags int) {
		t.Helper()
		v, err := svc.Profiles().Read(ctx, marketer, id, []string{"city"})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := svc.Tags().SubjectTags(ctx, marketer, id, "en")
		if err != nil {
			t.Fatal(err)
		}
		return len(v.Fields), len(tr.Tags)
	}
	if f, n := state(); f != 1 || n != 1 {
		t.Fatalf("before: %d fields, %d tags", f, n)
	}
	fail.Store(true)
	if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, id, "marketing"); err == nil {
		t.Fatal("withdrawal committed although its tags could not be deleted")
	}
	if f, n := state(); f != 1 || n != 1 {
		t.Fatalf("withdrawal half-applied: %d fields, %d tags", f, n)
	}
	fail.Store(false)
	if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, id, "marketing"); err != nil {
		t.Fatal(err)
	}
	if f, n := state(); f != 0 || n != 0 {
		t.Fatalf("after withdrawal: %d fields, %d tags", f, n)
	}
}

// taggedSubject creates an adult with a marketing consent and one stored marketing tag.
func taggedSubject(t *testing.T, svc *vault.Service) string {
	t.Helper()
	ctx := context.Background()
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"city": str("杭州"), "birth_date": str("1980-02-03")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: c.ID, Purpose: "marketing", ConsentIDs: consentIDs(svc, c.ID, "marketing"),
		Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value", Value: "champions", Inputs: []string{"transactions"}, ExplanationZH: "常买", ExplanationEN: "buys often", Algorithm: "rfm-1"}}}}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// An erasure deletes the subject's stored tags (rows, not only their keys); an objection to personalised
// marketing deletes the tags of the purposes it shuts off.
func TestErasureAndObjectionDeleteStoredTags(t *testing.T) {
	ctx := context.Background()
	svc, store := newService(t, 100)
	stored := func(id string) int {
		t.Helper()
		rows, err := store.Tags(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	erased := taggedSubject(t, svc)
	objector := taggedSubject(t, svc)
	if stored(erased) != 1 || stored(objector) != 1 {
		t.Fatal("fixture stored no tags")
	}
	if _, err := svc.Profiles().Erase(ctx, steward, erased); err != nil {
		t.Fatal(err)
	}
	if n := stored(erased); n != 0 {
		t.Fatalf("erasure left %d tag rows", n)
	}
	if _, err := svc.ConsentRecords().RecordObjection(ctx, steward, objector, vault.ObjectionPersonalizedMarketing); err != nil {
		t.Fatal(err)
	}
	if n := stored(objector); n != 0 {
		t.Fatalf("objection left %d marketing tag rows", n)
	}
}

// Every change to a subject's tag inputs — fields, consents, objections, events, merges and their
// reverts — marks the subject's tags stale in the change's own transaction (an explicit call to the tag
// service, not a side effect of the adapter), and a read marks nothing.
func TestEveryInputChangeMarksTagsStale(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	imported, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "c-1", Source: "crm",
		Fields: map[string]*string{"name": str("王芳"), "email": str("wang@example.cn"), "birth_date": str("1980-02-03")}})
	if err != nil {
		t.Fatal(err)
	}
	id := imported.ID
	dirty := func() bool {
		t.Helper()
		ids, err := svc.Tags().DirtySubjects(ctx, tagger, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(ids, id)
	}
	settle := func() {
		t.Helper()
		if _, _, err := svc.Tags().StoreTags(ctx, tagger, []vault.SubjectTags{{SubjectID: id, Purpose: "analytics", Seen: math.MaxInt64 - 1}}); err != nil {
			t.Fatal(err)
		}
		if dirty() {
			t.Fatal("storing tags left the subject pending")
		}
	}
	if !dirty() {
		t.Fatal("a new subject is not pending")
	}
	fulfil := vault.Access{Caller: steward.Caller, Purpose: "order_fulfillment"}
	var mergeID string
	for _, c := range []struct {
		name   string
		change func() error
		marks  bool
	}{
		{"read", func() error { _, err := svc.Profiles().Read(ctx, steward, id, []string{"name"}); return err }, false},
		{"correction", func() error {
			_, err := svc.Profiles().Update(ctx, steward, id, map[string]*string{"city": str("杭州")})
			return err
		}, true},
		{"consent grant", func() error {
			_, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, id, consent.Grant{Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"})
			return err
		}, true},
		{"consent withdrawal", func() error {
			_, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, id, "marketing")
			return err
		}, true},
		{"objection", func() error {
			_, err := svc.ConsentRecords().RecordObjection(ctx, steward, id, vault.ObjectionPersonalizedMarketing)
			return err
		}, true},
		{"events", func() error {
			_, err := svc.Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{{EventID: "o1", SubjectRef: id, Type: "order", TS: time.Now().Add(-time.Hour), Source: "app",
				Attrs: map[string]any{"order_id": "o-1", "amount": 9.5, "currency": "CNY", "items": []any{map[string]any{"sku": "s1", "category": "tea", "brand": "b", "qty": 1, "price": 9.5}}}}})
			return err
		}, true},
		{"merge", func() error {
			o, err := svc.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "a-9", Source: "app",
				Fields: map[string]*string{"email": str("WANG@example.cn"), "occupation": str("teacher")}})
			if err == nil && (!o.Merged || o.ID != id) {
				err = fmt.Errorf("not merged: %+v", o)
			}
			return err
		}, true},
		{"merge revert", func() error {
			page, err := svc.Stewardship().Merges(ctx, steward, "", 0)
			if err != nil || len(page.Rows) != 1 {
				return fmt.Errorf("merges: %v %v", page.Rows, err)
			}
			mergeID = page.Rows[0].ID
			_, err = svc.Stewardship().RevertMerge(ctx, steward, mergeID)
			return err
		}, true},
	} {
		settle()
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := dirty(); got != c.marks {
			t.Errorf("%s: pending = %v, want %v", c.name, got, c.marks)
		}
	}
}

// A withdrawal deletes, in its own transaction, the behaviour collected under that consent alone; what
// was collected under another purpose (an order, for the contract) stays.
func TestWithdrawalDeletesWhatWasCollectedUnderIt(t *testing.T) {
	ctx := context.Background()
	svc, store := newService(t, 100)
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"city": str("杭州"), "birth_date": str("1980-02-03")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ConsentRecords().GrantConsent(ctx, steward, c.ID, consent.Grant{Purpose: "personalization", Kind: consent.General, NoticeVersion: "2026-01", Method: "t"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pers := vault.Access{Caller: steward.Caller, Purpose: "personalization"}
	fulfil := vault.Access{Caller: steward.Caller, Purpose: "order_fulfillment"}
	if res, err := svc.Ingestion().IngestEvents(ctx, pers, []vault.EventInput{{EventID: "v1", SubjectRef: c.ID, Type: "page_view", TS: now, Source: "web",
		Attrs: map[string]any{"page": "/p", "category": "toys", "dwell_ms": 1200, "session_id": "s"}}}); err != nil || res.Accepted != 1 {
		t.Fatalf("behaviour: %+v %v", res, err)
	}
	if res, err := svc.Ingestion().IngestEvents(ctx, fulfil, []vault.EventInput{{EventID: "o1", SubjectRef: c.ID, Type: "order", TS: now, Source: "app",
		Attrs: map[string]any{"order_id": "o1", "amount": 9.0, "currency": "CNY", "items": []any{map[string]any{"sku": "s", "category": "tea", "brand": "b", "qty": 1, "price": 9.0}}}}}); err != nil || res.Accepted != 1 {
		t.Fatalf("order: %+v %v", res, err)
	}
	if n, _ := store.CountRows(ctx, "events"); n != 2 {
		t.Fatalf("%d events before the withdrawal", n)
	}
	_, seq, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, c.ID, "personalization")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	if err := store.Events(ctx, c.ID, func(e vault.StoredEvent) error { types = append(types, e.Type); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(types) != 1 || types[0] != "order" {
		t.Fatalf("events after withdrawing personalization: %v", types)
	}
	if e, err := store.Leaf(ctx, seq); err != nil || !strings.Contains(string(e), "events_deleted:1") {
		t.Fatalf("the withdrawal's entry does not count the deleted events: %s %v", e, err)
	}
}
