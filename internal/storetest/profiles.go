package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// RunProfiles tests vault.ProfileStore with vault.ProfileTx and vault.ErasureTx: records, the blind index,
// paging, erasure and legal holds.
func RunProfiles(t *testing.T, open Open) {
	t.Run("SubjectsReadsWhatSubjectReads", func(t *testing.T) {
		a := open(t)
		ids := []string{"sub_a", "sub_b", "sub_c", "sub_d"}
		for i, id := range ids {
			commit(t, a, func(tx vault.Tx) error {
				return errors.Join(
					tx.CreateSubject(id, "crm", []byte("salt-"+id), at),
					tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 1, KEKVersion: 1, Wrapped: []byte("w1")}),
					tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 2, KEKVersion: 1, Wrapped: []byte("w2")}),
					tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("n-" + id), UpdatedAt: at}),
					tx.PutField(id, vault.SealedField{Name: "phone", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("p-" + id), UpdatedAt: at}),
					tx.AppendConsent(id, consent.Event{ID: "c1-" + id, Action: consent.ActionGrant, Purpose: policies.PurposeMarketing, At: at, RecordedBy: "st"}),
					tx.AppendConsent(id, consent.Event{ID: "c2-" + id, Action: consent.ActionWithdraw, Purpose: policies.PurposeMarketing, Withdraws: "c1-" + id,
						Channels: []string{"sms"}, At: at.Add(time.Duration(i) * time.Hour), RecordedBy: "st"}),
					func() error { _, err := tx.SetObjection(id, "personalized_marketing", i%2 == 0, at); return err }(),
					func() error {
						_, err := tx.PutEvents([]vault.StoredEvent{{ID: "e-" + id, SubjectID: id, Type: "order", Category: "transactions", TS: at,
							Class: vault.ClassTransactions, DEKVersion: 1, Attrs: []byte("x")}})
						return err
					}(),
				)
			})
		}
		commit(t, a, func(tx vault.Tx) error { _, err := tx.Erase("sub_c", at, nil, time.Time{}); return err })
		check := func(stage string) {
			t.Helper()
			got, err := a.Store.Subjects(t.Context(), append(slices.Clone(ids), "sub_unknown"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got["sub_unknown"]; ok || len(got) != len(ids) {
				t.Fatalf("%s: %d records for %d subjects and an unknown id", stage, len(got), len(ids))
			}
			for _, id := range ids {
				one, err := a.Store.Subject(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got[id], one) {
					t.Fatalf("%s: %s read in a batch\n%+v\nalone\n%+v", stage, id, got[id], one)
				}
			}
			// With fields named, each record is Subject's with only those fields (none of an empty list).
			for _, fields := range [][]string{{"phone", "birth_date"}, {}} {
				some, err := a.Store.Subjects(t.Context(), ids, fields)
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range ids {
					one, _ := a.Store.Subject(t.Context(), id)
					one.Fields = maps.Clone(one.Fields)
					maps.DeleteFunc(one.Fields, func(name string, _ vault.SealedField) bool { return !slices.Contains(fields, name) })
					if !reflect.DeepEqual(some[id], one) {
						t.Fatalf("%s: %s read with fields %v\n%+v\nwant\n%+v", stage, id, fields, some[id], one)
					}
				}
			}
			r := got["sub_a"]
			if got["sub_c"].State != vault.StateErased || len(r.Consents) != 1 || r.DEKs[vault.ClassGeneral].Version != 2 ||
				len(got["sub_b"].Activity) != 1 || len(r.Objections) != 1 || string(r.RefSalt) != "salt-sub_a" || r.Source != "crm" ||
				!r.CreatedAt.Equal(at) || string(r.Fields["phone"].Value) != "p-sub_a" || !r.Activity["order"].Equal(at) {
				t.Fatalf("%s: the records lack parts: %+v", stage, got)
			}
			if c := r.Consents[0]; c.ChannelsWithdrawn["sms"].IsZero() || c.WithdrawnAt != nil {
				t.Fatalf("%s: consent derived as %+v", stage, c)
			}
		}
		check("cold")
		check("again") // from a cache, if the adapter keeps one
		// A range holds the active subjects in it, in id order, each as Subject reads it but for Activity
		// and the fields not named.
		inRange := func(after, through string, fields []string, want ...string) {
			t.Helper()
			got, err := a.Store.SubjectRange(t.Context(), after, through, fields)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("range (%s, %s]: %d records, want %v", after, through, len(got), want)
			}
			for i, id := range want {
				one, err := a.Store.Subject(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				one.Activity = nil
				one.Fields = maps.Clone(one.Fields)
				maps.DeleteFunc(one.Fields, func(name string, _ vault.SealedField) bool { return !slices.Contains(fields, name) })
				if !reflect.DeepEqual(got[i], one) {
					t.Fatalf("range (%s, %s] record %d\n%+v\nwant %s as Subject reads it, fields %v\n%+v", after, through, i, got[i], id, fields, one)
				}
			}
		}
		inRange("", "sub_d", []string{"phone", "birth_date"}, "sub_a", "sub_b", "sub_d") // sub_c is erased
		inRange("sub_a", "sub_c", []string{"name", "phone"}, "sub_b")
		inRange("", "sub_z", nil, "sub_a", "sub_b", "sub_d")
		inRange("sub_d", "sub_d", []string{"phone"})
		inRange("sub_d", "sub_z", []string{"phone"})
		commit(t, a, func(tx vault.Tx) error {
			return tx.PutField("sub_a", vault.SealedField{Name: "phone", Class: vault.ClassGeneral, DEKVersion: 2, Value: []byte("new"), UpdatedAt: at})
		})
		got, err := a.Store.Subjects(t.Context(), []string{"sub_a"}, nil)
		if err != nil || string(got["sub_a"].Fields["phone"].Value) != "new" {
			t.Fatalf("after an update: %q, %v", got["sub_a"].Fields["phone"].Value, err)
		}
		// A page large enough to be read in parts is read whole.
		var many []string
		commit(t, a, func(tx vault.Tx) error {
			for i := range 1200 {
				id := fmt.Sprintf("sub_m%04d", i)
				many = append(many, id)
				if err := errors.Join(tx.CreateSubject(id, "", nil, at),
					tx.PutField(id, vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte(id), UpdatedAt: at})); err != nil {
					return err
				}
			}
			return nil
		})
		if got, err = a.Store.Subjects(t.Context(), append(many, ids...), nil); err != nil || len(got) != len(many)+len(ids) {
			t.Fatalf("a page of %d: %d records, %v", len(many)+len(ids), len(got), err)
		}
		for _, id := range many {
			if got[id].ID != id || string(got[id].Fields["name"].Value) != id {
				t.Fatalf("%s read as %+v", id, got[id])
			}
		}
		all, err := a.Store.SubjectRange(t.Context(), "", "sub_z", []string{"name"})
		if err != nil || len(all) != len(many)+3 || all[0].ID != "sub_a" || all[4].ID != many[1] || string(all[len(all)-1].Fields["name"].Value) != many[len(many)-1] {
			t.Fatalf("the range of every subject: %d records, %v", len(all), err)
		}
	})

	t.Run("SubjectTx", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a")
		commit(t, a, func(tx vault.Tx) error {
			if st, err := tx.SubjectState("sub_a"); err != nil || st != vault.StateActive {
				return fmt.Errorf("state %q, %v", st, err)
			}
			if _, err := tx.SubjectState("sub_none"); !errors.Is(err, vault.ErrNotFound) {
				return fmt.Errorf("state of an unknown subject: %v", err)
			}
			if _, err := tx.DEK("sub_a", vault.ClassTransactions); !errors.Is(err, vault.ErrNotFound) {
				return fmt.Errorf("DEK of a missing class: %v", err)
			}
			if err := tx.PutDEK(vault.DEK{Subject: "sub_a", Class: vault.ClassGeneral, Version: 2, KEKVersion: 1, Wrapped: []byte("w2")}); err != nil {
				return err
			}
			if d, err := tx.DEK("sub_a", vault.ClassGeneral); err != nil || d.Version != 2 || string(d.Wrapped) != "w2" {
				return fmt.Errorf("current DEK %+v, %v", d, err)
			}
			if err := tx.DeleteField("sub_a", "name"); err != nil {
				return err
			}
			if err := tx.DeleteField("sub_a", "absent"); err != nil {
				return err
			}
			return tx.Touch("sub_a", at.Add(time.Hour))
		})
		rec, err := a.Store.Subject(t.Context(), "sub_a")
		if err != nil || len(rec.Fields) != 0 || !rec.UpdatedAt.Equal(at.Add(time.Hour)) || rec.DEKs[vault.ClassGeneral].Version != 2 {
			t.Fatalf("after the changes: %+v %v", rec, err)
		}
		if _, err := a.Store.Subject(t.Context(), "sub_none"); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("unknown subject: %v", err)
		}
		// A duplicate id is refused.
		if _, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error { return tx.CreateSubject("sub_a", "", nil, at) }, entry("subject.create")); err == nil {
			t.Fatal("a subject was created twice")
		}
	})

	t.Run("BlindIndex", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b", "sub_c")
		commit(t, a, func(tx vault.Tx) error {
			return errors.Join(
				tx.SetIndex("phone", "sub_a", []byte("t1")),
				tx.SetIndex("phone", "sub_b", []byte("t1")),
				tx.SetIndex("phone", "sub_c", []byte("t1")),
				tx.SetIndexTokens("email", "sub_a", [][]byte{[]byte("e1"), []byte("e2")}),
			)
		})
		lookup := func(field, token string, want ...string) {
			t.Helper()
			got, err := a.Store.LookupIndex(t.Context(), field, []byte(token))
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("lookup %s=%s: %v, %v; want %v", field, token, got, err, want)
			}
		}
		lookup("phone", "t1", "sub_a", "sub_b", "sub_c")
		lookup("email", "e2", "sub_a")
		lookup("phone", "e1")
		commit(t, a, func(tx vault.Tx) error {
			_, err := tx.Erase("sub_c", at, nil, time.Time{})
			return errors.Join(err,
				tx.SetIndex("phone", "sub_b", nil),                          // removed
				tx.SetIndex("phone", "sub_a", []byte("t2")),                 // replaced
				tx.SetIndexTokens("email", "sub_a", [][]byte{[]byte("e3")}), // replaced
			)
		})
		lookup("phone", "t1")
		lookup("phone", "t2", "sub_a")
		lookup("email", "e1")
		lookup("email", "e3", "sub_a")
	})

	// InsertSubjects stores new subjects as CreateSubject, PutDEK, PutField and SetIndexTokens store them
	// one call at a time: the same records, the same lookups; an id that exists is an error and the change
	// keeps nothing.
	t.Run("InsertSubjects", func(t *testing.T) {
		a := open(t)
		rows := func(id string) vault.SubjectRows {
			return vault.SubjectRows{ID: id, Source: "pos", RefSalt: []byte("salt-" + id), At: at,
				DEK: vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 1, KEKVersion: 2, Wrapped: []byte("w-" + id)},
				Fields: []vault.SealedField{
					{Name: "_external_id", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("x-" + id), UpdatedAt: at},
					{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("n-" + id), UpdatedAt: at},
					{Name: "phone", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("p-" + id), UpdatedAt: at},
				},
				Index: []vault.IndexToken{{Field: "_external_id", Token: []byte("x-" + id)}, {Field: "phone", Token: []byte("p-" + id)},
					{Field: "_name_key", Token: []byte("k1-" + id)}, {Field: "_name_key", Token: []byte("k2-" + id)}},
			}
		}
		// One subject a call at a time, and 70 (past the largest multi-row statement) in one go.
		one := rows("sub_one")
		commit(t, a, func(tx vault.Tx) error {
			err := errors.Join(tx.CreateSubject(one.ID, one.Source, one.RefSalt, one.At), tx.PutDEK(one.DEK))
			for _, f := range one.Fields {
				err = errors.Join(err, tx.PutField(one.ID, f))
			}
			return errors.Join(err, tx.SetIndex("_external_id", one.ID, []byte("x-sub_one")), tx.SetIndex("phone", one.ID, []byte("p-sub_one")),
				tx.SetIndexTokens("_name_key", one.ID, [][]byte{[]byte("k1-sub_one"), []byte("k2-sub_one")}))
		})
		var batch []vault.SubjectRows
		for i := range 70 {
			batch = append(batch, rows(fmt.Sprintf("sub_%02d", i)))
		}
		commit(t, a, func(tx vault.Tx) error { return tx.InsertSubjects(batch) })
		want, err := a.Store.Subject(t.Context(), "sub_one")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range append(batch, one) {
			got, err := a.Store.Subject(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			same := func(x vault.SubjectRecord) string {
				x.ID, x.RefSalt = "", nil
				d := x.DEKs[vault.ClassGeneral]
				d.Subject, d.Wrapped = "", nil
				fields := map[string]string{}
				for n, f := range x.Fields {
					fields[n] = fmt.Sprintf("%s/%d/%s", f.Class, f.DEKVersion, f.UpdatedAt)
				}
				return fmt.Sprintf("%s %s %s %s %d %+v %v", x.State, x.Source, x.CreatedAt, x.UpdatedAt, len(x.DEKs), d, fields)
			}
			if same(got) != same(want) || string(got.RefSalt) != "salt-"+r.ID || string(got.DEKs[vault.ClassGeneral].Wrapped) != "w-"+r.ID ||
				string(got.Fields["phone"].Value) != "p-"+r.ID {
				t.Fatalf("%s: %s\nas created one call at a time: %s", r.ID, same(got), same(want))
			}
			for _, x := range r.Index {
				if ids, err := a.Store.LookupIndex(t.Context(), x.Field, x.Token); err != nil || !slices.Equal(ids, []string{r.ID}) {
					t.Fatalf("%s: lookup %s: %v, %v", r.ID, x.Field, ids, err)
				}
			}
		}
		_, err = a.Store.Commit(t.Context(), func(tx vault.Tx) error {
			return tx.InsertSubjects([]vault.SubjectRows{rows("sub_new"), rows("sub_05")})
		}, entry("test.change"))
		if err == nil {
			t.Fatal("inserting an existing subject succeeded")
		}
		if _, err := a.Store.Subject(t.Context(), "sub_new"); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("the failed change kept a subject: %v", err)
		}
	})

	// LookupIndexTokens answers, for many tokens at once, what LookupIndex answers for each: ids in order,
	// only active subjects, only the field asked, no entry for a token nobody holds — past the size of one
	// statement's chunk too.
	t.Run("BlindIndexTokens", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b", "sub_c", "sub_d")
		commit(t, a, func(tx vault.Tx) error {
			return errors.Join(
				tx.SetIndex("phone", "sub_c", []byte("t1")),
				tx.SetIndex("phone", "sub_a", []byte("t1")),
				tx.SetIndex("phone", "sub_b", []byte("t700")),
				tx.SetIndex("phone", "sub_d", []byte("t1199")),
				tx.SetIndex("email", "sub_d", []byte("t2")),
				tx.SetIndexTokens("_name_key", "sub_b", [][]byte{[]byte("t1"), []byte("t3")}),
			)
		})
		commit(t, a, func(tx vault.Tx) error {
			_, err := tx.Erase("sub_d", at, nil, time.Time{})
			return err
		})
		var tokens [][]byte
		for i := range 1200 {
			tokens = append(tokens, []byte(fmt.Sprintf("t%d", i)))
		}
		tokens = append(tokens, []byte("t1")) // asked twice
		got, err := a.Store.LookupIndexTokens(t.Context(), "phone", tokens)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{"t1": {"sub_a", "sub_c"}, "t700": {"sub_b"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("phone tokens: %v; want %v", got, want)
		}
		for _, tok := range tokens {
			one, err := a.Store.LookupIndex(t.Context(), "phone", tok)
			if err != nil || !slices.Equal(one, got[string(tok)]) {
				t.Fatalf("token %s: LookupIndex %v, %v; LookupIndexTokens %v", tok, one, err, got[string(tok)])
			}
		}
		if got, err := a.Store.LookupIndexTokens(t.Context(), "_name_key", [][]byte{[]byte("t3")}); err != nil || fmt.Sprint(got) != "map[t3:[sub_b]]" {
			t.Fatalf("name key tokens: %v, %v", got, err)
		}
		if got, err := a.Store.LookupIndexTokens(t.Context(), "email", nil); err != nil || len(got) != 0 {
			t.Fatalf("no tokens: %v, %v", got, err)
		}
	})

	t.Run("SubjectIDsAndHolds", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_1", "sub_2", "sub_3", "sub_4", "sub_5")
		commit(t, a, func(tx vault.Tx) error {
			_, err1 := tx.Erase("sub_2", at, nil, time.Time{})
			_, err2 := tx.Erase("sub_4", at, []string{vault.ClassTransactions}, at.Add(48*time.Hour))
			return errors.Join(err1, err2)
		})
		page, err := a.Store.SubjectIDs(t.Context(), "", 2)
		if err != nil || !slices.Equal(page, []string{"sub_1", "sub_3"}) {
			t.Fatalf("first page: %v, %v", page, err)
		}
		if page, err = a.Store.SubjectIDs(t.Context(), "sub_3", 10); err != nil || !slices.Equal(page, []string{"sub_5"}) {
			t.Fatalf("next page: %v, %v", page, err)
		}
		if ids, err := a.Store.ExpiredHolds(t.Context(), at.Add(24*time.Hour)); err != nil || len(ids) != 0 {
			t.Fatalf("holds expired early: %v, %v", ids, err)
		}
		if ids, err := a.Store.ExpiredHolds(t.Context(), at.Add(49*time.Hour)); err != nil || !slices.Equal(ids, []string{"sub_4"}) {
			t.Fatalf("expired holds: %v, %v", ids, err)
		}
		commit(t, a, func(tx vault.Tx) error {
			// The hold keeps what a repeated erasure answers with: the classes destroyed and the salt.
			h, ok, err := tx.Hold("sub_4")
			if err != nil || !ok || !h.Until.Equal(at.Add(48*time.Hour)) || !h.ErasedAt.Equal(at) ||
				!slices.Equal(h.Shredded, []string{vault.ClassGeneral}) || string(h.RefSalt) != "salt-sub_4" {
				return fmt.Errorf("hold %+v %v %v", h, ok, err)
			}
			if _, ok, err := tx.Hold("sub_2"); ok || err != nil {
				return fmt.Errorf("a hold without one: %v %v", ok, err)
			}
			if _, _, err := tx.Hold("sub_none"); !errors.Is(err, vault.ErrNotFound) {
				return fmt.Errorf("hold of an unknown subject: %v", err)
			}
			return nil
		})
		// When the hold ends (the retention job erases again, keeping nothing) the salt goes with the rest.
		commit(t, a, func(tx vault.Tx) error {
			_, err := tx.Erase("sub_4", at.Add(49*time.Hour), nil, time.Time{})
			return err
		})
		commit(t, a, func(tx vault.Tx) error {
			if h, ok, err := tx.Hold("sub_4"); ok || err != nil || len(h.RefSalt) != 0 {
				return fmt.Errorf("after the hold: %+v %v %v", h, ok, err)
			}
			return nil
		})
		for _, id := range []string{"sub_2", "sub_4"} {
			if rec, err := a.Store.Subject(t.Context(), id); err == nil && len(rec.RefSalt) != 0 {
				t.Fatalf("%s keeps its reference salt after erasure", id)
			}
		}
	})

	t.Run("EraseDestroysKeysAndFields", func(t *testing.T) {
		a := open(t)
		create(t, a, "sub_a", "sub_b")
		events := func(id string) []vault.StoredEvent {
			return []vault.StoredEvent{
				{ID: "o-" + id, SubjectID: id, Type: "order", Category: "transactions", TS: at, Class: vault.ClassTransactions, DEKVersion: 1, Attrs: []byte("o")},
				{ID: "v1-" + id, SubjectID: id, Type: "page_view", Category: "behavior", TS: at, Class: vault.ClassGeneral, DEKVersion: 1, Attrs: []byte("v")},
				{ID: "v2-" + id, SubjectID: id, Type: "page_view", Category: "behavior", TS: at.Add(time.Second), Class: vault.ClassGeneral, DEKVersion: 1, Attrs: []byte("v")},
			}
		}
		commit(t, a, func(tx vault.Tx) error {
			for _, id := range []string{"sub_a", "sub_b"} {
				if err := tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassTransactions, Version: 1, KEKVersion: 1, Wrapped: []byte("t")}); err != nil {
					return err
				}
				if _, err := tx.PutEvents(events(id)); err != nil {
					return err
				}
				if _, err := tx.SetObjection(id, "automated_marketing", true, at); err != nil {
					return err
				}
				if err := tx.SetIndex("phone", id, []byte("p-"+id)); err != nil {
					return err
				}
			}
			return nil
		})
		var destroyed []string
		commit(t, a, func(tx vault.Tx) error {
			var err error
			destroyed, err = tx.Erase("sub_a", at, []string{vault.ClassTransactions}, at.Add(time.Hour))
			return err
		})
		if !slices.Equal(destroyed, []string{vault.ClassGeneral}) {
			t.Fatalf("destroyed classes %v", destroyed)
		}
		rec, err := a.Store.Subject(t.Context(), "sub_a")
		// Under the hold the reference salt stays with the held data (a repeat's receipt names the same
		// reference); SubjectIDsAndHolds checks it goes when the hold ends, and that no hold keeps none.
		if err != nil || rec.State != vault.StateErased || len(rec.Fields) != 0 || len(rec.Objections) != 0 || len(rec.Activity) != 0 || string(rec.RefSalt) != "salt-sub_a" {
			t.Fatalf("erased record keeps data: %+v %v", rec, err)
		}
		if _, ok := rec.DEKs[vault.ClassGeneral]; ok {
			t.Fatal("the general DEK survived the erasure")
		}
		if d, ok := rec.DEKs[vault.ClassTransactions]; !ok || d.Version != 1 {
			t.Fatalf("the held class lost its key: %+v", rec.DEKs)
		}
		if ids, _ := a.Store.LookupIndex(t.Context(), "phone", []byte("p-sub_a")); len(ids) != 0 {
			t.Fatal("an erased subject is still found by its phone")
		}
		// The events of the destroyed class are purged in pages; the held class's stay.
		var purged []int
		for range 3 {
			commit(t, a, func(tx vault.Tx) error {
				n, err := tx.PurgeEvents("sub_a", destroyed, 1)
				purged = append(purged, n)
				return err
			})
		}
		if !slices.Equal(purged, []int{1, 1, 0}) {
			t.Fatalf("purged %v, want [1 1 0]", purged)
		}
		var left []string
		if err := a.Store.Events(t.Context(), "sub_a", func(e vault.StoredEvent) error { left = append(left, e.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(left, []string{"o-sub_a"}) {
			t.Fatalf("events left after the purge: %v", left)
		}
		// The other subject is untouched.
		if rec, err := a.Store.Subject(t.Context(), "sub_b"); err != nil || len(rec.Fields) != 1 || len(rec.DEKs) != 2 || len(rec.Objections) != 1 {
			t.Fatalf("another subject changed: %+v %v", rec, err)
		}
		// Erasing everything leaves no key at all.
		commit(t, a, func(tx vault.Tx) error {
			cs, err := tx.Erase("sub_b", at, nil, time.Time{})
			if !slices.Equal(cs, []string{vault.ClassGeneral, vault.ClassTransactions}) {
				return fmt.Errorf("destroyed %v", cs)
			}
			return err
		})
		if rec, _ := a.Store.Subject(t.Context(), "sub_b"); len(rec.DEKs) != 0 {
			t.Fatalf("keys survived a full erasure: %+v", rec.DEKs)
		}
	})
}
