package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// RunRequests tests vault.RequestStore with vault.RequestTx.
func RunRequests(t *testing.T, open Open) {
	a := open(t)
	row := func(id, subject, state string, created time.Time) vault.RequestRow {
		return vault.RequestRow{ID: id, SubjectID: subject, Type: "access", State: state, CreatedAt: created, DueAt: created.Add(15 * 24 * time.Hour),
			UpdatedAt: created, Note: "n", Relationship: "spouse", ReasonSealed: []byte("r"), EvidenceSealed: []byte("e")}
	}
	commit(t, a, func(tx vault.Tx) error {
		if _, err := tx.Request("req_1"); !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("unknown request: %v", err)
		}
		return errors.Join(tx.PutRequest(row("req_1", "sub_a", vault.RequestReceived, at)), tx.PutRequest(row("req_2", "sub_a", vault.RequestVerified, at.Add(time.Hour))),
			tx.PutRequest(row("req_3", "sub_b", vault.RequestReceived, at.Add(2*time.Hour))))
	})
	commit(t, a, func(tx vault.Tx) error {
		r, err := tx.Request("req_1")
		if err != nil {
			return err
		}
		r.State, r.UpdatedAt = vault.RequestCompleted, at.Add(3*time.Hour)
		return tx.PutRequest(r) // replaces
	})
	all, err := a.Requests.Requests(t.Context(), vault.RequestFilter{})
	if err != nil || len(all) != 3 || all[0].ID != "req_3" || all[2].ID != "req_1" {
		t.Fatalf("all requests, newest first: %+v, %v", all, err)
	}
	r := all[2]
	if r.State != vault.RequestCompleted || !r.UpdatedAt.Equal(at.Add(3*time.Hour)) || !r.DueAt.Equal(at.Add(15*24*time.Hour)) || r.Note != "n" ||
		r.Relationship != "spouse" || string(r.ReasonSealed) != "r" || string(r.EvidenceSealed) != "e" || r.Type != "access" || r.SubjectID != "sub_a" {
		t.Fatalf("stored request %+v", r)
	}
	for _, c := range []struct {
		f    vault.RequestFilter
		want []string
	}{
		{vault.RequestFilter{SubjectID: "sub_a"}, []string{"req_2", "req_1"}},
		{vault.RequestFilter{State: vault.RequestReceived}, []string{"req_3"}},
		{vault.RequestFilter{ID: "req_2"}, []string{"req_2"}},
		{vault.RequestFilter{Limit: 1}, []string{"req_3"}},
		{vault.RequestFilter{SubjectID: "sub_b", State: vault.RequestVerified}, nil},
	} {
		rows, err := a.Requests.Requests(t.Context(), c.f)
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("Requests(%+v) = %v, %v; want %v", c.f, ids, err, c.want)
		}
	}
}

// RunIdentity tests vault.IdentityStore with vault.IdentityTx.
func RunIdentity(t *testing.T, open Open) {
	a := open(t)
	create(t, a, "sub_a", "sub_b")
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(
			tx.AddExternalID("sub_a", []byte("x1")),
			tx.AddExternalID("sub_a", []byte("x2")), // several per subject
			tx.AddExternalID("sub_a", []byte("x2")), // idempotent
			tx.PutMerge(vault.MergeRow{ID: "m1", SubjectID: "sub_a", Source: "pos", MatchedOn: "email", FieldsAdded: []string{"phone", "city"},
				CreatedAt: at, ExternalToken: []byte("x2")}),
			tx.PutMerge(vault.MergeRow{ID: "m2", SubjectID: "sub_b", Source: "pos", MatchedOn: "external_id", CreatedAt: at.Add(time.Hour)}),
			tx.PutReview(vault.ReviewRow{ID: "r1", SubjectA: "sub_a", SubjectB: "sub_b", Reason: "shared phone", State: vault.ReviewOpen, CreatedAt: at}),
			tx.PutReview(vault.ReviewRow{ID: "r2", SubjectA: "sub_b", SubjectB: "sub_a", Reason: "shared phone", State: vault.ReviewOpen, CreatedAt: at.Add(time.Hour)}),
			tx.PutImportReport("rep1", "line one\nline two", at),
			tx.PutImportReport("rep2", "only", at.Add(time.Hour)),
		)
	})
	if ids, err := a.Store.LookupIndex(t.Context(), "_external_id", []byte("x2")); err != nil || !slices.Equal(ids, []string{"sub_a"}) {
		t.Fatalf("external id lookup %v %v", ids, err)
	}
	commit(t, a, func(tx vault.Tx) error {
		m, err := tx.Merge("m1")
		if err != nil || m.SubjectID != "sub_a" {
			return fmt.Errorf("merge in the transaction %+v, %v", m, err)
		}
		if _, err := tx.Merge("m9"); !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("unknown merge: %v", err)
		}
		was, err := tx.DecideReview("r1", "distinct", at.Add(2*time.Hour))
		if err != nil || was != vault.ReviewOpen {
			return fmt.Errorf("decide an open review: %q %v", was, err)
		}
		if was, err = tx.DecideReview("r1", "same_person", at.Add(3*time.Hour)); err != nil || was != "distinct" {
			return fmt.Errorf("decide a closed review again: %q %v", was, err)
		}
		if was, err = tx.DecideReview("r9", "distinct", at); err != nil || was != "" {
			return fmt.Errorf("decide an unknown review: %q %v", was, err)
		}
		return errors.Join(tx.RevertMerge("m1", "sub_c", at.Add(time.Hour)), tx.RemoveExternalID("sub_a", []byte("x2")))
	})
	if ids, _ := a.Store.LookupIndex(t.Context(), "_external_id", []byte("x2")); len(ids) != 0 {
		t.Fatalf("a removed external id is still found: %v", ids)
	}
	if ids, _ := a.Store.LookupIndex(t.Context(), "_external_id", []byte("x1")); len(ids) != 1 {
		t.Fatal("removing one external id removed another")
	}
	merges, err := a.Identity.Merges(t.Context(), "", 10)
	if err != nil || len(merges) != 2 || merges[0].ID != "m2" {
		t.Fatalf("merges, newest first: %+v %v", merges, err)
	}
	m, err := a.Identity.Merge(t.Context(), "m1")
	if err != nil || m.RevertedAt == nil || !m.RevertedAt.Equal(at.Add(time.Hour)) || m.RestoredSubjectID != "sub_c" || !slices.Equal(m.FieldsAdded, []string{"phone", "city"}) ||
		string(m.ExternalToken) != "x2" || m.Source != "pos" || m.MatchedOn != "email" || !m.CreatedAt.Equal(at) {
		t.Fatalf("merge %+v %v", m, err)
	}
	if m, _ := a.Identity.Merge(t.Context(), "m2"); m.RevertedAt != nil || len(m.FieldsAdded) != 0 {
		t.Fatalf("unreverted merge %+v", m)
	}
	if _, err := a.Identity.Merge(t.Context(), "m9"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown merge: %v", err)
	}
	open_, err := a.Identity.Reviews(t.Context(), vault.ReviewOpen, "", 10)
	if err != nil || len(open_) != 1 || open_[0].ID != "r2" || open_[0].DecidedAt != nil {
		t.Fatalf("open reviews %+v %v", open_, err)
	}
	all, _ := a.Identity.Reviews(t.Context(), "", "", 10)
	if len(all) != 2 || all[0].ID != "r1" || all[0].State != "distinct" || all[0].DecidedAt == nil || !all[0].DecidedAt.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("all reviews, oldest first %+v", all)
	}
	reps, err := a.Identity.ImportReports(t.Context(), 10)
	if err != nil || len(reps) != 2 || reps[0].ID != "rep2" || !slices.Equal(reps[1].Lines, []string{"line one", "line two"}) || !reps[1].CreatedAt.Equal(at) {
		t.Fatalf("reports %+v %v", reps, err)
	}
	// Pages: after a row, in the list's order, ties of one instant by id, a state filter with a cursor, and
	// ErrNotFound for a cursor naming no row.
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(
			tx.PutMerge(vault.MergeRow{ID: "m3", SubjectID: "sub_a", Source: "app", MatchedOn: "phone", CreatedAt: at.Add(time.Hour)}),
			tx.PutReview(vault.ReviewRow{ID: "r3", SubjectA: "sub_a", SubjectB: "sub_b", Reason: "similar name", State: vault.ReviewOpen, CreatedAt: at.Add(time.Hour)}),
		)
	})
	mergeIDs := func(after string, n int) []string {
		rows, err := a.Identity.Merges(t.Context(), after, n)
		if err != nil {
			t.Fatalf("Merges(%q, %d): %v", after, n, err)
		}
		var ids []string
		for _, m := range rows {
			ids = append(ids, m.ID)
		}
		return ids
	}
	reviewIDs := func(state, after string, n int) []string {
		rows, err := a.Identity.Reviews(t.Context(), state, after, n)
		if err != nil {
			t.Fatalf("Reviews(%q, %q, %d): %v", state, after, n, err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return ids
	}
	for _, c := range []struct {
		got, want []string
	}{
		{mergeIDs("", 1), []string{"m3"}}, {mergeIDs("m3", 1), []string{"m2"}}, {mergeIDs("m2", 10), []string{"m1"}}, {mergeIDs("m1", 10), nil},
		{reviewIDs("", "", 1), []string{"r1"}}, {reviewIDs("", "r1", 1), []string{"r2"}}, {reviewIDs("", "r2", 10), []string{"r3"}},
		{reviewIDs(vault.ReviewOpen, "r1", 10), []string{"r2", "r3"}}, {reviewIDs(vault.ReviewOpen, "r2", 10), []string{"r3"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("page %v, want %v", c.got, c.want)
		}
	}
	if _, err := a.Identity.Merges(t.Context(), "m9", 10); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("merges after an unknown merge: %v", err)
	}
	if _, err := a.Identity.Reviews(t.Context(), vault.ReviewOpen, "r9", 10); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("reviews after an unknown review: %v", err)
	}
}

// RunKeys tests vault.KeyStore with vault.KeyTx: streaming DEKs, rewrapping guarded by the old version,
// retired KEK versions refused, rotations.
func RunKeys(t *testing.T, open Open) {
	a := open(t)
	var ids []string
	for i := range 1100 { // more than a page
		ids = append(ids, fmt.Sprintf("sub_%04d", i))
	}
	commit(t, a, func(tx vault.Tx) error {
		for i, id := range ids {
			if err := tx.CreateSubject(id, "", nil, at); err != nil {
				return err
			}
			if err := tx.PutDEK(vault.DEK{Subject: id, Class: vault.ClassGeneral, Version: 1, KEKVersion: uint32(1 + i%2), Wrapped: []byte("w")}); err != nil {
				return err
			}
		}
		return nil
	})
	n := 0
	if err := a.Keys.DEKs(t.Context(), func(vault.DEK) error { n++; return nil }); err != nil || n != 1100 {
		t.Fatalf("DEKs streamed %d, %v", n, err)
	}
	if c, err := a.Keys.CountDEKsBelow(t.Context(), 2); err != nil || c != 550 {
		t.Fatalf("below 2: %d, %v", c, err)
	}
	var below []vault.DEK
	pages := 0
	if err := a.Keys.DEKsBelow(t.Context(), 2, 100, func(p []vault.DEK) error { pages++; below = append(below, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(below) != 550 || pages < 6 || slices.ContainsFunc(below, func(d vault.DEK) bool { return d.KEKVersion >= 2 }) {
		t.Fatalf("DEKsBelow: %d in %d pages", len(below), pages)
	}
	d := below[0]
	commit(t, a, func(tx vault.Tx) error {
		usage, err := tx.KEKUsage()
		if err != nil || usage[1] != 550 || usage[2] != 550 {
			return fmt.Errorf("usage %v %v", usage, err)
		}
		moved := d
		moved.KEKVersion, moved.Wrapped = 3, []byte("w3")
		if ok, err := tx.RewrapDEK(moved, 1); err != nil || !ok {
			return fmt.Errorf("rewrap: %v %v", ok, err)
		}
		if ok, err := tx.RewrapDEK(moved, 1); err != nil || ok { // no longer under 1
			return fmt.Errorf("rewrap from a version it is not under: %v %v", ok, err)
		}
		if err := tx.RetireKEK(1, at); err != nil {
			return err
		}
		return tx.RetireKEK(1, at) // again: nothing changes
	})
	if got, _ := a.Store.CurrentDEKs(t.Context(), []string{d.Subject}, vault.ClassGeneral); got[d.Subject].KEKVersion != 3 || string(got[d.Subject].Wrapped) != "w3" {
		t.Fatalf("rewrapped DEK reads %+v", got[d.Subject])
	}
	// A DEK wrapped under a retired version is refused.
	if _, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error {
		return tx.PutDEK(vault.DEK{Subject: ids[0], Class: vault.ClassTransactions, Version: 1, KEKVersion: 1, Wrapped: []byte("old")})
	}, entry("subject.update")); err == nil {
		t.Fatal("a DEK under a retired KEK version was stored")
	}
	// Rotations.
	if _, err := a.Keys.LatestRotation(t.Context()); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("latest rotation of none: %v", err)
	}
	rot := vault.Rotation{ID: "rot_1", KEKVersion: 3, State: "running", Holder: "node-a", LeaseUntil: at.Add(time.Minute), StartedAt: at, UpdatedAt: at, Total: 550}
	commit(t, a, func(tx vault.Tx) error {
		if _, err := tx.LatestRotation(); !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("latest rotation in the transaction: %v", err)
		}
		return errors.Join(tx.PutRotation(rot), tx.PutRotation(vault.Rotation{ID: "rot_0", KEKVersion: 2, State: "done", StartedAt: at.Add(-time.Hour),
			UpdatedAt: at, FinishedAt: at, Retired: []uint32{1}}))
	})
	rot.Rewrapped, rot.Retired, rot.State, rot.FinishedAt, rot.Error = 550, []uint32{1, 2}, "failed", at.Add(time.Hour), "stable message"
	commit(t, a, func(tx vault.Tx) error {
		if r, err := tx.LatestRotation(); err != nil || r.ID != "rot_1" {
			return fmt.Errorf("latest rotation in the transaction: %+v %v", r, err)
		}
		return tx.PutRotation(rot) // replaces
	})
	got, err := a.Keys.Rotation(t.Context(), "rot_1")
	if err != nil || got.Rewrapped != 550 || !slices.Equal(got.Retired, []uint32{1, 2}) || got.State != "failed" || !got.FinishedAt.Equal(at.Add(time.Hour)) ||
		got.Error != "stable message" || got.Holder != "node-a" || !got.LeaseUntil.Equal(at.Add(time.Minute)) || got.Total != 550 || got.KEKVersion != 3 {
		t.Fatalf("rotation %+v %v", got, err)
	}
	if latest, err := a.Keys.LatestRotation(t.Context()); err != nil || latest.ID != "rot_1" {
		t.Fatalf("latest rotation %+v %v", latest, err)
	}
	if r0, _ := a.Keys.Rotation(t.Context(), "rot_0"); !slices.Equal(r0.Retired, []uint32{1}) {
		t.Fatalf("rotation 0 %+v", r0)
	}
	if _, err := a.Keys.Rotation(t.Context(), "rot_9"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown rotation: %v", err)
	}
}

// RunAccess tests vault.AccessStore with vault.AccessTx.
func RunAccess(t *testing.T, open Open) {
	a := open(t)
	exp := at.Add(time.Hour)
	row := vault.AccessRequestRow{ID: "ar_1", State: "pending", RequestedBy: "ana", RequesterRoles: []policies.Role{policies.RoleAnalyst}, Team: "growth",
		Purpose: policies.PurposeMarketing, Categories: []string{"contact"}, Fields: []string{"phone"}, Subjects: []string{"sub_a"}, ReasonCategory: "incident",
		JustificationSealed: []byte("j"), Duration: 2 * time.Hour, MaxReads: 3, Approvers: []policies.Role{policies.RoleComplianceOfficer}, CreatedAt: at}
	commit(t, a, func(tx vault.Tx) error {
		if _, err := tx.AccessRequest("ar_1"); !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("unknown request: %v", err)
		}
		later := row
		later.ID, later.RequestedBy, later.CreatedAt = "ar_2", "bo", at.Add(time.Minute)
		return errors.Join(tx.PutAccessRequest(row), tx.PutAccessRequest(later))
	})
	commit(t, a, func(tx vault.Tx) error {
		r, err := tx.AccessRequest("ar_1")
		if err != nil {
			return err
		}
		r.State, r.GrantID, r.DecidedBy, r.DecidedAt, r.ExpiresAt, r.Reads = "approved", "gr_1", "dora", &at, &exp, 1
		return tx.PutAccessRequest(r)
	})
	got, err := a.Access.AccessRequests(t.Context(), vault.AccessFilter{GrantID: "gr_1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("by grant: %+v %v", got, err)
	}
	g := got[0]
	if g.State != "approved" || g.Reads != 1 || g.DecidedAt == nil || !g.DecidedAt.Equal(at) || g.ExpiresAt == nil || !g.ExpiresAt.Equal(exp) ||
		g.Duration != 2*time.Hour || !slices.Equal(g.RequesterRoles, []policies.Role{policies.RoleAnalyst}) || string(g.JustificationSealed) != "j" ||
		g.Team != "growth" || g.Purpose != policies.PurposeMarketing || !slices.Equal(g.Subjects, []string{"sub_a"}) || !g.CreatedAt.Equal(at) || g.EndedAt != nil {
		t.Fatalf("stored request %+v", g)
	}
	for _, c := range []struct {
		f    vault.AccessFilter
		want []string
	}{
		{vault.AccessFilter{}, []string{"ar_2", "ar_1"}},
		{vault.AccessFilter{State: "pending"}, []string{"ar_2"}},
		{vault.AccessFilter{RequestedBy: "ana"}, []string{"ar_1"}},
		{vault.AccessFilter{ID: "ar_2"}, []string{"ar_2"}},
		{vault.AccessFilter{Limit: 1}, []string{"ar_2"}},
		{vault.AccessFilter{After: "ar_2"}, []string{"ar_1"}},
		{vault.AccessFilter{After: "ar_1"}, nil},
		{vault.AccessFilter{After: "ar_2", State: "pending"}, nil},
	} {
		rows, err := a.Access.AccessRequests(t.Context(), c.f)
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("AccessRequests(%+v) = %v, %v; want %v", c.f, ids, err, c.want)
		}
	}
	if _, err := a.Access.AccessRequests(t.Context(), vault.AccessFilter{After: "ar_9"}); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("after an unknown request: %v", err)
	}
}

// RunAudiences tests vault.AudienceStore with vault.AudienceTx.
func RunAudiences(t *testing.T, open Open) {
	a := open(t)
	row := vault.AudienceRow{ID: "aud_1", Name: "n", Rule: "rfm=high", Channel: "sms", Purpose: policies.PurposeMarketing, Holdout: 0.1, Size: 3, HoldoutSize: 1,
		Excluded: map[string]int{"no_consent": 2}, Unmatched: 4, CreatedBy: "ana", CreatedAt: at}
	// More members than an adapter may insert at once, handed over in no particular order.
	const many = 2500
	var members []vault.AudienceMember
	for k := range many {
		i := k * 1013 % many
		members = append(members, vault.AudienceMember{SubjectID: fmt.Sprintf("sub_%04d", i), Ref: fmt.Sprintf("ref_%04d", i), Holdout: i%10 == 0})
	}
	yes, no, value, three := true, false, 12.5, 3.0
	commit(t, a, func(tx vault.Tx) error {
		later := row
		later.ID, later.CreatedAt = "aud_2", at.Add(time.Hour)
		return errors.Join(tx.PutAudience(row, members), tx.PutAudience(later, nil),
			tx.PutOutcomes("aud_1", []vault.OutcomeUpdate{{Ref: "ref_0000", Converted: &yes, OrderValue: &value, Retained30: &yes}, {Ref: "ref_0001", Retained60: &no}}))
	})
	commit(t, a, func(tx vault.Tx) error {
		// What an update says replaces what was stored; what it does not say is kept.
		return tx.PutOutcomes("aud_1", []vault.OutcomeUpdate{{Ref: "ref_0001", Converted: &yes, OrderValue: &three}, {Ref: "ref_0000", Retained90: &no}})
	})
	got, err := a.Audiences.Audience(t.Context(), "aud_1")
	if err != nil || got.Name != "n" || got.Excluded["no_consent"] != 2 || got.Unmatched != 4 || got.Holdout != 0.1 || got.Size != 3 || got.HoldoutSize != 1 || !got.CreatedAt.Equal(at) ||
		got.Purpose != policies.PurposeMarketing || got.Rule != "rfm=high" || got.Channel != "sms" || got.CreatedBy != "ana" {
		t.Fatalf("audience %+v %v", got, err)
	}
	if _, err := a.Audiences.Audience(t.Context(), "aud_9"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown audience: %v", err)
	}
	if list, err := a.Audiences.Audiences(t.Context(), 10); err != nil || len(list) != 2 || list[0].ID != "aud_2" {
		t.Fatalf("audiences, newest first: %+v %v", list, err)
	}
	page, err := a.Audiences.AudienceMembers(t.Context(), "aud_1", "ref_0009", 5)
	if err != nil || len(page) != 5 || page[0].Ref != "ref_0010" || !page[0].Holdout || page[0].SubjectID != "sub_0010" || page[1].Holdout {
		t.Fatalf("members after ref_0009: %+v %v", page, err)
	}
	for after, n := "", 0; ; {
		page, err := a.Audiences.AudienceMembers(t.Context(), "aud_1", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if n != many {
				t.Fatalf("%d members read in pages, %d stored", n, many)
			}
			break
		}
		for _, m := range page {
			if want := fmt.Sprintf("ref_%04d", n); m.Ref != want || m.SubjectID != "sub_"+want[4:] {
				t.Fatalf("member %d in ref order: %+v, want %s", n, m, want)
			}
			n++
		}
		after = page[len(page)-1].Ref
	}
	refs, err := a.Audiences.MemberRefs(t.Context(), "aud_1", []string{"ref_0001", "ref_9999", "ref_2499", "ref_0000"})
	if err != nil || len(refs) != 3 || refs["ref_0001"].SubjectID != "sub_0001" || refs["ref_0001"].Holdout || refs["ref_2499"].SubjectID != "sub_2499" ||
		refs["ref_0000"].Ref != "ref_0000" || !refs["ref_0000"].Holdout {
		t.Fatalf("member refs %v %v", refs, err)
	}
	outs, err := a.Audiences.Outcomes(t.Context(), "aud_1")
	if err != nil || len(outs) != 2 || !outs[0].Holdout || !outs[0].Converted || outs[0].OrderValue != 12.5 || outs[0].Retained30 == nil || !*outs[0].Retained30 ||
		outs[0].Retained60 != nil || outs[0].Retained90 == nil || *outs[0].Retained90 ||
		outs[1].Holdout || outs[1].OrderValue != 3 || !outs[1].Converted || outs[1].Retained60 == nil || *outs[1].Retained60 || outs[1].Retained30 != nil {
		t.Fatalf("outcomes %+v %v", outs, err)
	}
	// An outcome for someone who is not a member is refused.
	if _, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error {
		return tx.PutOutcomes("aud_1", []vault.OutcomeUpdate{{Ref: "ref_9999", Converted: &yes}})
	}, entry("audience.outcomes")); err == nil {
		t.Fatal("an outcome of a non-member was stored")
	}
}

// RunRevocations tests vault.RevocationStore with vault.RevocationTx.
func RunRevocations(t *testing.T, open Open) {
	a := open(t)
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(tx.PutRevocation(vault.Revocation{TokenID: "jti-1", At: at, By: "admin"}),
			tx.PutRevocation(vault.Revocation{Subject: "ana", Before: at.Add(-time.Hour), At: at.Add(time.Second), By: "admin"}))
	})
	got, err := a.Revocations.Revocations(t.Context())
	if err != nil || len(got) != 2 || got[0].TokenID != "jti-1" || !got[0].Before.IsZero() || !got[0].At.Equal(at) || got[0].By != "admin" ||
		got[1].Subject != "ana" || !got[1].Before.Equal(at.Add(-time.Hour)) || got[1].TokenID != "" {
		t.Fatalf("revocations in order: %+v %v", got, err)
	}
}

// RunPolicies tests vault.PolicyStore with vault.PolicyTx.
func RunPolicies(t *testing.T, open Open) {
	a := open(t)
	commit(t, a, func(tx vault.Tx) error {
		return errors.Join(tx.PutPolicyInForce("h1", []byte("files-1"), at), tx.PutPolicyInForce("h2", []byte("files-2"), at.Add(time.Hour)),
			tx.PutPolicyInForce("h1", []byte("files-1"), at.Add(2*time.Hour))) // back to an earlier version
	})
	hist, err := a.Policies.PolicyHistory(t.Context())
	if err != nil || len(hist) != 3 || hist[0].Hash != "h1" || hist[1].Hash != "h2" || hist[2].Hash != "h1" || !hist[2].Since.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("history %+v %v", hist, err)
	}
	if b, err := a.Policies.PolicyFiles(t.Context(), "h2"); err != nil || string(b) != "files-2" {
		t.Fatalf("files %q %v", b, err)
	}
	if _, err := a.Policies.PolicyFiles(t.Context(), "h9"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
}

// RunIncidents tests vault.IncidentStore with vault.IncidentTx: incidents are recorded open with the
// subjects in their scope, and notified once.
func RunIncidents(t *testing.T, open Open) {
	a := open(t)
	inc := vault.Incident{ID: "inc_1", Title: "misused account", State: vault.IncidentOpen, CreatedAt: at, DiscoveredAt: at, Since: at.Add(-time.Hour),
		Until: at, Actor: "ana", Affected: 2, Categories: []string{"contact", "identity"}, Notice: "what happened", Regulator: "pending"}
	commit(t, a, func(tx vault.Tx) error {
		later := inc
		later.ID, later.CreatedAt, later.Categories, later.Actor = "inc_2", at.Add(time.Hour), nil, ""
		return errors.Join(tx.PutIncident(inc), tx.PutIncident(later), tx.AddIncidentSubject("inc_1", "sub_a"), tx.AddIncidentSubject("inc_1", "sub_b"),
			tx.AddIncidentSubject("inc_1", "sub_a"), tx.AddIncidentSubject("inc_2", "sub_a"))
	})
	got, err := a.Incidents.Incident(t.Context(), "inc_1")
	if err != nil || got.State != vault.IncidentOpen || got.Title != inc.Title || got.AffectedSubjects != 2 || got.NoticesQueued != 0 ||
		!got.NotifiedAt.IsZero() || !slices.Equal(got.Categories, inc.Categories) || got.Notice != inc.Notice || !got.Since.Equal(inc.Since) ||
		got.Actor != "ana" || got.Affected != 2 || got.Regulator != "pending" {
		t.Fatalf("open incident %+v %v", got, err)
	}
	if of, _ := a.Incidents.IncidentsOf(t.Context(), "sub_a"); len(of) != 0 {
		t.Fatalf("a subject sees an incident before it is notified: %+v", of)
	}
	var queued int
	commit(t, a, func(tx vault.Tx) error {
		var err error
		queued, err = tx.NotifyIncident("inc_1", at.Add(2*time.Hour))
		return err
	})
	if queued != 2 {
		t.Fatalf("notify queued %d notices, want 2", queued)
	}
	if _, err := a.Store.Commit(t.Context(), func(tx vault.Tx) error {
		_, err := tx.NotifyIncident("inc_1", at.Add(3*time.Hour))
		return err
	}, entry("incident.notify")); !errors.Is(err, vault.ErrIncidentNotOpen) {
		t.Fatalf("notified twice: %v", err)
	}
	got, err = a.Incidents.Incident(t.Context(), "inc_1")
	if err != nil || got.State != vault.IncidentNotified || got.NoticesQueued != 2 || got.Regulator != "queued" || !got.NotifiedAt.Equal(at.Add(2*time.Hour)) {
		t.Fatalf("notified incident %+v %v", got, err)
	}
	if _, err := a.Incidents.Incident(t.Context(), "inc_9"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown incident: %v", err)
	}
	all, err := a.Incidents.Incidents(t.Context())
	if err != nil || len(all) != 2 || all[0].ID != "inc_2" || all[0].Actor != "" || len(all[0].Categories) != 0 || all[1].ID != "inc_1" {
		t.Fatalf("every incident, newest first: %+v %v", all, err)
	}
	of, err := a.Incidents.IncidentsOf(t.Context(), "sub_a")
	if err != nil || len(of) != 1 || of[0].ID != "inc_1" {
		t.Fatalf("incidents sub_a was notified of: %+v %v", of, err)
	}
	if of, _ := a.Incidents.IncidentsOf(t.Context(), "sub_c"); len(of) != 0 {
		t.Fatalf("incidents of a subject never notified: %+v", of)
	}
}
