package storetest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// RunConsents tests vault.ConsentTx (consent.Store): append-only histories and objections.
func RunConsents(t *testing.T, open Open) {
	a := open(t)
	create(t, a, "sub_a", "sub_b")
	exp := at.Add(24 * time.Hour)
	grant := consent.Event{ID: "c1", Action: consent.ActionGrant, Purpose: policies.PurposeMarketing, Kind: consent.Separate, NoticeVersion: "v2",
		Method: "web", EvidenceSealed: []byte("sealed"), ExpiresAt: &exp, At: at, RecordedBy: "st", Channels: []string{"sms", "email"}}
	commit(t, a, func(tx vault.Tx) error {
		if err := tx.AppendConsent("sub_a", grant); err != nil {
			return err
		}
		if err := tx.AppendConsent("sub_a", consent.Event{ID: "c2", Action: consent.ActionWithdraw, Purpose: policies.PurposeMarketing, Withdraws: "c1",
			At: at.Add(time.Hour), RecordedBy: "sub"}); err != nil {
			return err
		}
		evs, err := tx.ConsentEvents("sub_a")
		if err != nil || len(evs) != 2 || evs[0].ID != "c1" || evs[1].ID != "c2" {
			return fmt.Errorf("history in the transaction: %+v, %v", evs, err)
		}
		if evs, err := tx.ConsentEvents("sub_b"); err != nil || len(evs) != 0 {
			return fmt.Errorf("another subject's history: %+v, %v", evs, err)
		}
		changed, err := tx.SetObjection("sub_a", "automated_marketing", true, at)
		if err != nil || !changed {
			return fmt.Errorf("first objection: %v %v", changed, err)
		}
		if changed, err = tx.SetObjection("sub_a", "automated_marketing", true, at); err != nil || changed {
			return fmt.Errorf("repeated objection changed something: %v %v", changed, err)
		}
		if changed, err = tx.SetObjection("sub_a", "personalized_marketing", false, at); err != nil || changed {
			return fmt.Errorf("lifting an absent objection changed something: %v %v", changed, err)
		}
		if _, err := tx.SetObjection("sub_a", "personalized_marketing", true, at); err != nil {
			return err
		}
		if kinds, err := tx.Objections("sub_a"); err != nil || !slices.Equal(kinds, []string{"automated_marketing", "personalized_marketing"}) {
			return fmt.Errorf("objections %v, %v", kinds, err)
		}
		return nil
	})
	// A duplicate event id is refused: histories are never rewritten.
	if _, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error { return tx.AppendConsent("sub_a", grant) }, entry("consent.grant")); err == nil {
		t.Fatal("a consent event was recorded twice")
	}
	commit(t, a, func(tx vault.Tx) error {
		changed, err := tx.SetObjection("sub_a", "personalized_marketing", false, at)
		if err != nil || !changed {
			return fmt.Errorf("lifting an objection: %v %v", changed, err)
		}
		return nil
	})
	rec, err := a.Store.Subject(t.Context(), "sub_a")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.ConsentEvents) != 2 || len(rec.Consents) != 1 {
		t.Fatalf("history %+v", rec.ConsentEvents)
	}
	c := rec.Consents[0]
	if c.Kind != consent.Separate || c.NoticeVersion != "v2" || string(c.EvidenceSealed) != "sealed" || c.ExpiresAt == nil || !c.ExpiresAt.Equal(exp) ||
		c.WithdrawnAt == nil || !c.WithdrawnAt.Equal(at.Add(time.Hour)) || !slices.Equal(c.Channels, []string{"sms", "email"}) {
		t.Fatalf("derived consent %+v", c)
	}
	if len(rec.Objections) != 1 || !rec.Objections["automated_marketing"].Equal(at) {
		t.Fatalf("objections %v", rec.Objections)
	}
}

// RunEvents tests vault.EventStore with vault.EventTx.
func RunEvents(t *testing.T, open Open) {
	a := open(t)
	create(t, a, "sub_a", "sub_b")
	ev := func(id, subject, typ string, ts time.Time, purpose policies.PurposeName) vault.StoredEvent {
		c, _ := policies.EventCategory(typ)
		return vault.StoredEvent{ID: id, SubjectID: subject, Type: typ, Category: c, Source: "shop", Class: vault.ClassGeneral,
			Purpose: purpose, TS: ts, DEKVersion: 1, Attrs: []byte("a-" + id)}
	}
	var batch []vault.StoredEvent
	for i := range 2500 { // more than a page
		batch = append(batch, ev(fmt.Sprintf("e%05d", i), "sub_a", "page_view", at.Add(time.Duration(2500-i)*time.Second), policies.PurposeAnalytics))
	}
	batch = append(batch, ev("o1", "sub_a", "order", at, policies.PurposeOrderFulfillment), ev("o2", "sub_b", "order", at.Add(time.Minute), policies.PurposeOrderFulfillment))
	var n int
	commit(t, a, func(tx vault.Tx) error { var err error; n, err = tx.PutEvents(batch); return err })
	if n != len(batch) {
		t.Fatalf("inserted %d of %d", n, len(batch))
	}
	// Existing ids are skipped and not counted.
	commit(t, a, func(tx vault.Tx) error {
		var err error
		n, err = tx.PutEvents([]vault.StoredEvent{ev("o1", "sub_a", "order", at, policies.PurposeOrderFulfillment), ev("o3", "sub_a", "order", at.Add(time.Hour), policies.PurposeOrderFulfillment),
			ev("e00001", "sub_a", "page_view", at, policies.PurposeAnalytics)})
		return err
	})
	if n != 1 {
		t.Fatalf("re-sent events counted: %d inserted, want 1", n)
	}
	var got []vault.StoredEvent
	if err := a.Store.Events(t.Context(), "sub_a", func(e vault.StoredEvent) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2502 {
		t.Fatalf("%d events, want 2502", len(got))
	}
	if !slices.IsSortedFunc(got, func(x, y vault.StoredEvent) int { return x.TS.Compare(y.TS) }) {
		t.Fatal("events are not oldest first")
	}
	if e := got[0]; e.ID != "o1" || e.Type != "order" || e.Category != "transactions" || e.Source != "shop" || e.Class != vault.ClassGeneral ||
		e.DEKVersion != 1 || string(e.Attrs) != "a-o1" || e.SubjectID != "sub_a" || !e.TS.Equal(at) {
		t.Fatalf("first event %+v", e)
	}
	rec, _ := a.Store.Subject(t.Context(), "sub_a")
	if !rec.Activity["order"].Equal(at.Add(time.Hour)) || !rec.Activity["page_view"].Equal(at.Add(2500*time.Second)) {
		t.Fatalf("activity %v", rec.Activity)
	}
	// Resealing replaces attributes that are still what was read, and nothing else: not an event whose
	// attributes changed meanwhile, not one that is gone, not another subject's event of the same id.
	commit(t, a, func(tx vault.Tx) error {
		n, err := tx.ResealEvents([]vault.ResealedEvent{
			{SubjectID: "sub_a", ID: "o1", Old: []byte("a-o1"), New: []byte("new-o1")},
			{SubjectID: "sub_a", ID: "e00002", Old: []byte("a-e00002"), New: []byte("new-e00002")},
			{SubjectID: "sub_a", ID: "e00003", Old: []byte("stale"), New: []byte("lost")},
			{SubjectID: "sub_a", ID: "gone", Old: []byte("a-gone"), New: []byte("lost")},
			{SubjectID: "sub_b", ID: "o3", Old: []byte("a-o3"), New: []byte("lost")},
		})
		if err == nil && n != 2 {
			err = fmt.Errorf("resealed %d events, want 2", n)
		}
		return err
	})
	attrsOf := map[string]string{}
	for _, s := range []string{"sub_a", "sub_b"} {
		a.Store.Events(t.Context(), s, func(e vault.StoredEvent) error { attrsOf[e.ID] = string(e.Attrs); return nil })
	}
	if attrsOf["o1"] != "new-o1" || attrsOf["e00002"] != "new-e00002" || attrsOf["e00003"] != "a-e00003" || attrsOf["o3"] != "a-o3" || attrsOf["o2"] != "a-o2" {
		t.Fatalf("after resealing: o1 %q, e00002 %q, e00003 %q, o3 %q, o2 %q", attrsOf["o1"], attrsOf["e00002"], attrsOf["e00003"], attrsOf["o3"], attrsOf["o2"])
	}
	if _, ok := attrsOf["gone"]; ok || len(attrsOf) != 2503 {
		t.Fatalf("resealing added events: %d", len(attrsOf))
	}
	stop := errors.New("stop")
	calls := 0
	if err := a.Store.Events(t.Context(), "sub_a", func(vault.StoredEvent) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Events did not stop at fn's error: %v after %d", err, calls)
	}
	commit(t, a, func(tx vault.Tx) error {
		latest, ok, err := tx.LatestEvent("sub_a", "transactions")
		if err != nil || !ok || !latest.Equal(at.Add(time.Hour)) {
			return fmt.Errorf("latest transaction %v %v %v", latest, ok, err)
		}
		if _, ok, err := tx.LatestEvent("sub_b", "behavior"); ok || err != nil {
			return fmt.Errorf("latest of no events: %v %v", ok, err)
		}
		if n, err := tx.DeleteEventsCollectedUnder("sub_a", policies.PurposeAnalytics); err != nil || n != 2500 {
			return fmt.Errorf("deleted %d collected under analytics, %v", n, err)
		}
		if n, err := tx.DeleteEventsOfCategory("sub_a", "transactions"); err != nil || n != 2 {
			return fmt.Errorf("deleted %d transactions, %v", n, err)
		}
		return nil
	})
	rec, _ = a.Store.Subject(t.Context(), "sub_a")
	if _, ok := rec.Activity["order"]; ok {
		t.Fatalf("the activity of a deleted category stays: %v", rec.Activity)
	}
	got = nil
	a.Store.Events(t.Context(), "sub_b", func(e vault.StoredEvent) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0].ID != "o2" {
		t.Fatalf("another subject's events changed: %+v", got)
	}
}

// RunTags tests vault.TagStore with vault.TagTx: sealed tags, the frozen model, and the dirty set ordered
// by audit sequence numbers.
func RunTags(t *testing.T, open Open) {
	a := open(t)
	create(t, a, "sub_a", "sub_b", "sub_c")
	tag := func(subject string, purpose policies.PurposeName, key, level string) vault.StoredTag {
		return vault.StoredTag{SubjectID: subject, Purpose: purpose, Key: key, Level: level, Inputs: []string{"orders", "visits"},
			ConsentIDs: []string{"c1"}, ComputedAt: at, DEKVersion: 1, Sealed: []byte("s-" + key)}
	}
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(
			tx.PutTags([]vault.TagSet{
				{Subject: "sub_a", Purpose: policies.PurposeMarketing, Tags: []vault.StoredTag{tag("sub_a", policies.PurposeMarketing, "rfm", "high"), tag("sub_a", policies.PurposeMarketing, "churn", "low")}},
				{Subject: "sub_a", Purpose: policies.PurposePersonalization, Tags: []vault.StoredTag{tag("sub_a", policies.PurposePersonalization, "rfm", "mid")}},
				{Subject: "sub_b", Purpose: policies.PurposeMarketing, Tags: []vault.StoredTag{tag("sub_b", policies.PurposeMarketing, "rfm", "low")}},
			}),
			tx.PutTagModel([]byte("model-1"), at),
		)
	})
	tags, err := a.Store.Tags(t.Context(), "sub_a")
	if err != nil || len(tags) != 3 {
		t.Fatalf("tags %+v, %v", tags, err)
	}
	if g := tags[0]; g.Purpose != policies.PurposeMarketing || g.Key != "churn" || g.Level != "low" || !slices.Equal(g.Inputs, []string{"orders", "visits"}) ||
		!slices.Equal(g.ConsentIDs, []string{"c1"}) || !g.ComputedAt.Equal(at) || g.DEKVersion != 1 || string(g.Sealed) != "s-churn" || g.SubjectID != "sub_a" {
		t.Fatalf("first tag %+v", g)
	}
	// A range reads the tags of one purpose and of the keys named, by subject, in key order.
	check := func(what string, purpose policies.PurposeName, got map[string][]vault.StoredTag, err error, want map[string][]string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %v", what, got, want)
		}
		for id, tags := range got {
			var ks []string
			for _, tg := range tags {
				if tg.SubjectID != id || tg.Purpose != purpose || string(tg.Sealed) != "s-"+tg.Key || tg.DEKVersion != 1 {
					t.Fatalf("%s: %+v", what, tg)
				}
				ks = append(ks, tg.Key)
			}
			if !slices.Equal(ks, want[id]) {
				t.Fatalf("%s: %s has %v, want %v", what, id, ks, want[id])
			}
		}
	}
	inRange := func(after, through string, purpose policies.PurposeName, keys []string, want map[string][]string) {
		t.Helper()
		got, err := a.Store.TagRange(t.Context(), after, through, purpose, keys)
		check(fmt.Sprintf("tag range (%s, %s] %s %v", after, through, purpose, keys), purpose, got, err, want)
	}
	// TagsOf reads the same for subjects named, in any order.
	of := func(subjects []string, purpose policies.PurposeName, keys []string, want map[string][]string) {
		t.Helper()
		got, err := a.Store.TagsOf(t.Context(), subjects, purpose, keys)
		check(fmt.Sprintf("tags of %v %s %v", subjects, purpose, keys), purpose, got, err, want)
	}
	of([]string{"sub_b", "sub_a", "sub_z"}, policies.PurposeMarketing, []string{"rfm", "churn"}, map[string][]string{"sub_a": {"churn", "rfm"}, "sub_b": {"rfm"}})
	of([]string{"sub_b"}, policies.PurposeMarketing, []string{"rfm", "churn"}, map[string][]string{"sub_b": {"rfm"}})
	of([]string{"sub_a", "sub_b"}, policies.PurposePersonalization, []string{"rfm"}, map[string][]string{"sub_a": {"rfm"}})
	of([]string{"sub_a"}, policies.PurposeMarketing, nil, map[string][]string{})
	of(nil, policies.PurposeMarketing, []string{"rfm"}, map[string][]string{})
	inRange("", "sub_c", policies.PurposeMarketing, []string{"rfm", "churn"}, map[string][]string{"sub_a": {"churn", "rfm"}, "sub_b": {"rfm"}})
	inRange("", "sub_c", policies.PurposeMarketing, []string{"churn", "ltv"}, map[string][]string{"sub_a": {"churn"}})
	inRange("sub_a", "sub_c", policies.PurposeMarketing, []string{"rfm", "churn"}, map[string][]string{"sub_b": {"rfm"}})
	inRange("", "sub_a", policies.PurposePersonalization, []string{"rfm"}, map[string][]string{"sub_a": {"rfm"}})
	inRange("", "sub_c", policies.PurposeMarketing, nil, map[string][]string{})
	// PutTags replaces only the purpose's tags; DeleteTag removes a key under every purpose.
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(tx.PutTags([]vault.TagSet{{Subject: "sub_a", Purpose: policies.PurposeMarketing, Tags: []vault.StoredTag{tag("sub_a", policies.PurposeMarketing, "ltv", "high")}}}),
			tx.DeleteTag("sub_a", "rfm"))
	})
	if tags, _ = a.Store.Tags(t.Context(), "sub_a"); len(tags) != 1 || tags[0].Key != "ltv" {
		t.Fatalf("after replace and delete: %+v", tags)
	}
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(tx.DeleteTags("sub_b", policies.PurposePersonalization), tx.DeleteTags("sub_a", ""))
	})
	if tags, _ = a.Store.Tags(t.Context(), "sub_a"); len(tags) != 0 {
		t.Fatalf("DeleteTags of every purpose left %+v", tags)
	}
	if tags, _ = a.Store.Tags(t.Context(), "sub_b"); len(tags) != 1 {
		t.Fatalf("DeleteTags of another purpose removed %+v", tags)
	}
	model, fitted, ok, err := a.Store.TagModel(t.Context())
	if err != nil || !ok || string(model) != "model-1" || !fitted.Equal(at) {
		t.Fatalf("model %q %v %v %v", model, fitted, ok, err)
	}
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(tx.PutTagModel([]byte("model-2"), at.Add(time.Hour)),
			tx.PutDEK(vault.DEK{Subject: "sub_a", Class: vault.ClassGeneral, Version: 2, KEKVersion: 3, Wrapped: []byte("w2")}))
	})
	if model, _, _, _ := a.Store.TagModel(t.Context()); string(model) != "model-2" {
		t.Fatalf("model after a refit: %q", model)
	}
	deks, err := a.Store.CurrentDEKs(t.Context(), []string{"sub_a", "sub_b", "sub_none"}, vault.ClassGeneral)
	if err != nil || len(deks) != 2 || deks["sub_a"].Version != 2 || deks["sub_a"].KEKVersion != 3 || deks["sub_b"].Version != 1 || deks["sub_a"].Subject != "sub_a" {
		t.Fatalf("current DEKs %+v, %v", deks, err)
	}

	t.Run("PutTags", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b", "sub_c")
		mk := func(subject string, purpose policies.PurposeName, keys ...string) vault.TagSet {
			set := vault.TagSet{Subject: subject, Purpose: purpose}
			for _, k := range keys {
				set.Tags = append(set.Tags, tag(subject, purpose, k, "x"))
			}
			return set
		}
		commit(t, a, func(tx vault.Tx) error {
			return tx.PutTags([]vault.TagSet{mk("sub_a", policies.PurposeMarketing, "k1", "k2"), mk("sub_a", policies.PurposePersonalization, "p1"),
				mk("sub_b", policies.PurposeMarketing, "k1"), mk("sub_c", policies.PurposeMarketing, "k3")})
		})
		// In one batch: a set replaces the purpose's tags, a set without tags deletes them, a later set of
		// the same subject and purpose wins, and the other purposes' tags stay.
		commit(t, a, func(tx vault.Tx) error {
			return tx.PutTags([]vault.TagSet{mk("sub_a", policies.PurposeMarketing, "k9"), mk("sub_b", policies.PurposeMarketing),
				mk("sub_c", policies.PurposeMarketing, "k4", "k5"), mk("sub_c", policies.PurposeMarketing, "k6"), mk("sub_b", policies.PurposePersonalization, "p2"),
				mk("sub_a", policies.PurposeMarketing, "k7", "k8")})
		})
		want := map[string][]string{"sub_a": {"marketing/k7", "marketing/k8", "personalization/p1"}, "sub_b": {"personalization/p2"}, "sub_c": {"marketing/k6"}}
		for id, keys := range want {
			tags, err := a.Store.Tags(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range tags {
				got = append(got, string(g.Purpose)+"/"+g.Key)
			}
			if !slices.Equal(got, keys) {
				t.Fatalf("%s: tags %v, want %v", id, got, keys)
			}
		}
		// An empty batch does nothing.
		commit(t, a, func(tx vault.Tx) error { return tx.PutTags(nil) })
	})

	t.Run("TagSubjects", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b", "sub_c")
		grant := func(id, purpose string, at time.Time) consent.Event {
			return consent.Event{ID: id, Action: consent.ActionGrant, Purpose: policies.PurposeName(purpose), At: at, RecordedBy: "t"}
		}
		commit(t, a, func(tx vault.Tx) error {
			return errors.Join(
				tx.AppendConsent("sub_a", grant("c2", "marketing", at.Add(time.Hour))),
				tx.AppendConsent("sub_a", grant("c1", "marketing", at)),
				tx.AppendConsent("sub_a", grant("c3", "personalization", at.Add(time.Hour))),
				tx.AppendConsent("sub_b", grant("c4", "marketing", at)),
				tx.PutDEK(vault.DEK{Subject: "sub_a", Class: vault.ClassGeneral, Version: 2, KEKVersion: 1, Wrapped: []byte("w2")}),
				tx.PutDEK(vault.DEK{Subject: "sub_a", Class: vault.ClassTransactions, Version: 5, KEKVersion: 1, Wrapped: []byte("t5")}),
			)
		})
		commit(t, a, func(tx vault.Tx) error {
			_, err1 := tx.SetObjection("sub_a", "tag:interest.top_brands", true, at)
			_, err2 := tx.SetObjection("sub_a", vault.ObjectionPersonalizedMarketing, true, at)
			_, err3 := tx.Erase("sub_c", at, nil, time.Time{})
			return errors.Join(err1, err2, err3)
		})
		var got map[string]vault.TagSubject
		var one map[string][]consent.Event
		commit(t, a, func(tx vault.Tx) error {
			var err error
			if got, err = tx.TagSubjects([]string{"sub_a", "sub_b", "sub_c", "sub_none"}, vault.ClassGeneral); err != nil {
				return err
			}
			one = map[string][]consent.Event{}
			for _, id := range []string{"sub_a", "sub_b"} {
				if one[id], err = tx.ConsentEvents(id); err != nil {
					return err
				}
			}
			return nil
		})
		if len(got) != 2 {
			t.Fatalf("TagSubjects answered for %d subjects, want the 2 active ones: %+v", len(got), got)
		}
		for _, id := range []string{"sub_a", "sub_b"} {
			var ids, want []string
			for _, e := range got[id].ConsentEvents {
				ids = append(ids, e.ID)
			}
			for _, e := range one[id] {
				want = append(want, e.ID)
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("%s: consent history %v, want %v (ConsentEvents)", id, ids, want)
			}
		}
		if sa := got["sub_a"]; sa.DEK.Version != 2 || string(sa.DEK.Wrapped) != "w2" || sa.DEK.Subject != "sub_a" || sa.DEK.Class != vault.ClassGeneral ||
			!slices.Equal(sa.Objections, []string{vault.ObjectionPersonalizedMarketing, "tag:interest.top_brands"}) {
			t.Fatalf("sub_a: %+v", sa)
		}
		if sb := got["sub_b"]; sb.DEK.Version != 1 || len(sb.Objections) != 0 || len(sb.ConsentEvents) != 1 {
			t.Fatalf("sub_b: %+v", sb)
		}
		commit(t, a, func(tx vault.Tx) error {
			got, err := tx.TagSubjects(nil, vault.ClassGeneral)
			if err != nil || len(got) != 0 {
				return fmt.Errorf("no subjects: %v %v", got, err)
			}
			return nil
		})
	})

	t.Run("DirtySubjects", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b", "sub_c")
		if ids, err := a.Store.DirtySubjects(t.Context(), 10); err != nil || len(ids) != 0 {
			t.Fatalf("dirty before any mark: %v %v", ids, err)
		}
		first := commit(t, a, func(tx vault.Tx) error { return errors.Join(tx.MarkStale("sub_b"), tx.MarkStale("sub_a")) })
		commit(t, a, func(tx vault.Tx) error { return tx.MarkStale("sub_c") })
		ids, err := a.Store.DirtySubjects(t.Context(), 10)
		if err != nil || !slices.Equal(ids, []string{"sub_a", "sub_b", "sub_c"}) {
			t.Fatalf("dirty %v, %v; want oldest mark first", ids, err)
		}
		if ids, _ := a.Store.DirtySubjects(t.Context(), 1); len(ids) != 1 {
			t.Fatalf("limit ignored: %v", ids)
		}
		// A tag run that saw everything up to first's entry clears sub_a; a mark made after the run started
		// (sub_b, marked again at a later sequence number) stays pending.
		later := commit(t, a, func(tx vault.Tx) error { return tx.MarkStale("sub_b") })
		commit(t, a, func(tx vault.Tx) error {
			return errors.Join(tx.ClearDirty("sub_a", first+1), tx.ClearDirty("sub_b", first+1), tx.ClearDirty("sub_c", first))
		})
		if ids, _ := a.Store.DirtySubjects(t.Context(), 10); !slices.Equal(ids, []string{"sub_c", "sub_b"}) {
			t.Fatalf("after clearing up to %d: %v, want [sub_c sub_b]", first+1, ids)
		}
		commit(t, a, func(tx vault.Tx) error { return tx.ClearDirty("sub_b", later+1) })
		// A change marked in the same transaction as a clearing of everything is cleared with it.
		commit(t, a, func(tx vault.Tx) error {
			return errors.Join(tx.MarkStale("sub_c"), tx.ClearDirty("sub_c", math.MaxInt64))
		})
		if ids, _ := a.Store.DirtySubjects(t.Context(), 10); len(ids) != 0 {
			t.Fatalf("still dirty: %v", ids)
		}
		// A failed change's marks are not kept.
		a.Store.Commit(t.Context(), func(tx vault.Tx) error { tx.MarkStale("sub_a"); return errors.New("boom") }, entry("x"))
		if ids, _ := a.Store.DirtySubjects(t.Context(), 10); len(ids) != 0 {
			t.Fatalf("a failed change marked %v", ids)
		}
	})
}

// RunEventOrder tests that EventStore.Events streams every event of the subject exactly once, in (ts, id)
// order, whatever order they were stored in: instants of 1 to 9 events straddle the adapters' page
// boundaries, and one instant holds more events than two pages.
func RunEventOrder(t *testing.T, open Open) {
	a := open(t)
	create(t, a, "sub_a", "sub_b")
	rng := rand.New(rand.NewPCG(21, 7))
	var stored []vault.StoredEvent
	add := func(subject string, ts time.Time) {
		id := fmt.Sprintf("ev_%08x_%d", rng.Uint32(), len(stored)) // ids in no relation to the storage order
		stored = append(stored, vault.StoredEvent{ID: id, SubjectID: subject, Type: "page_view", Category: "behavior", Source: "web",
			Class: vault.ClassGeneral, Purpose: policies.PurposeAnalytics, TS: ts, DEKVersion: 1, Attrs: []byte("a-" + id)})
	}
	instant, left := 0, 1
	for i := range 4200 {
		if left == 0 { // instants of 1 to 9 events in turn
			instant++
			left = 1 + instant%9
		}
		left--
		ts := at.Add(time.Duration(instant) * time.Second)
		switch {
		case i >= 1500 && i < 3700:
			ts = at.Add(time.Hour) // one instant of 2,200 events
		case i >= 3700:
			ts = at.Add(time.Hour + time.Duration(i%5)*time.Microsecond)
		}
		add("sub_a", ts)
		if i%10 == 0 {
			add("sub_b", ts) // another subject's events in between
		}
	}
	rng.Shuffle(len(stored), func(i, j int) { stored[i], stored[j] = stored[j], stored[i] })
	for b := 0; b < len(stored); b += 500 { // stored in several batches, in shuffled order
		batch := stored[b:min(b+500, len(stored))]
		commit(t, a, func(tx vault.Tx) error { _, err := tx.PutEvents(batch); return err })
	}
	for _, subject := range []string{"sub_a", "sub_b"} {
		var want []string
		for _, e := range stored {
			if e.SubjectID == subject {
				want = append(want, e.ID)
			}
		}
		byID := map[string]vault.StoredEvent{}
		for _, e := range stored {
			byID[e.ID] = e
		}
		slices.SortFunc(want, func(x, y string) int {
			if c := byID[x].TS.Compare(byID[y].TS); c != 0 {
				return c
			}
			return strings.Compare(x, y)
		})
		var got []string
		err := a.Store.Events(t.Context(), subject, func(e vault.StoredEvent) error {
			w := byID[e.ID]
			if e.SubjectID != subject || !e.TS.Equal(w.TS) || string(e.Attrs) != string(w.Attrs) || e.Type != w.Type || e.Class != w.Class {
				t.Fatalf("event %s read as %+v, stored as %+v", e.ID, e, w)
			}
			got = append(got, e.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			first := 0
			for first < min(len(got), len(want)) && got[first] == want[first] {
				first++
			}
			t.Fatalf("%s: %d events read, %d stored; the order differs from (ts, id) from position %d", subject, len(got), len(want), first)
		}
	}
}
