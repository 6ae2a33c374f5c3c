package vault_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/sqlite"
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

func (t tagFailTx) DeleteTags(subject, purpose string) error {
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
	state := func() (fields, tags int) {
		t.Helper()
		v, err := svc.Profiles().Read(ctx, marketer, c.ID, []string{"city"})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := svc.Tags().SubjectTags(ctx, marketer, c.ID, "en")
		if err != nil {
			t.Fatal(err)
		}
		return len(v.Fields), len(tr.Tags)
	}
	if f, n := state(); f != 1 || n != 1 {
		t.Fatalf("before: %d fields, %d tags", f, n)
	}
	fail.Store(true)
	if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, c.ID, "marketing"); err == nil {
		t.Fatal("withdrawal committed although its tags could not be deleted")
	}
	if f, n := state(); f != 1 || n != 1 {
		t.Fatalf("withdrawal half-applied: %d fields, %d tags", f, n)
	}
	fail.Store(false)
	if _, _, err := svc.ConsentRecords().WithdrawConsent(ctx, steward, c.ID, "marketing"); err != nil {
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
