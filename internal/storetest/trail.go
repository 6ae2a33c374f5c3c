package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// RunTrail tests the trail's review reads (audit.Store) over what the sequencer appended: every filter of
// Query selects exactly the entries a scan of the log selects, newest first, paged by Before; Export
// streams a time range oldest first; Verify checks every index row and finds the trail whole.
func RunTrail(t *testing.T, open Open) {
	a := open(t)
	if a.Trail == nil {
		t.Fatal("the adapter has no trail")
	}
	ctx := t.Context()
	base := time.Date(2026, 1, 30, 23, 59, 59, 999_999_123, time.UTC) // nanoseconds, across a month's end
	var all []audit.Entry
	for i := range 40 {
		e := audit.Entry{TS: base.Add(time.Duration(i) * 37 * time.Millisecond), Action: []string{"subject.read", "subject.update", "consent.grant"}[i%3],
			SubjectRef: fmt.Sprintf("ps_%d", i%4), Actor: audit.Actor{Sub: fmt.Sprintf("staff_%d", i%5)}, Purpose: []string{string(policies.PurposeCustomerService), string(policies.PurposeMarketing)}[i%2],
			Decision: []audit.Decision{audit.Allow, audit.Deny}[i%3/2], Status: 200}
		if i%7 == 0 {
			e.GrantID = "grt_1"
		}
		if i%6 == 5 {
			e.Actor = audit.Actor{Pseudonym: "ps_self"}
		}
		seq, err := a.Store.Commit(ctx, nil, func(error) audit.Entry { return e })
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = seq
		all = append(all, e)
	}
	seqs := func(es []audit.Entry) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	want := func(f audit.Filter) []int64 {
		out := []int64{}
		for _, e := range slices.Backward(all) {
			ix := audit.IndexOf(e)
			if (f.SubjectRef == "" || ix.SubjectRef == f.SubjectRef) && (f.Actor == "" || ix.Actor == f.Actor) &&
				(f.Purpose == "" || ix.Purpose == f.Purpose) && (f.Action == "" || ix.Action == f.Action) &&
				(f.Decision == "" || ix.Decision == f.Decision) && (f.GrantID == "" || ix.GrantID == f.GrantID) &&
				(f.Since.IsZero() || !ix.TS.Before(f.Since)) && (f.Until.IsZero() || ix.TS.Before(f.Until)) &&
				(f.Before == 0 || e.Seq < f.Before) && len(out) < f.Limit {
				out = append(out, e.Seq)
			}
		}
		return out
	}
	for _, f := range []audit.Filter{
		{Limit: 100},
		{Limit: 5},
		{SubjectRef: "ps_2", Limit: 100},
		{Actor: "staff_3", Limit: 100},
		{Actor: "ps_self", Limit: 100},
		{Purpose: string(policies.PurposeMarketing), Action: "subject.read", Limit: 100},
		{Decision: audit.Deny, Limit: 100},
		{GrantID: "grt_1", Limit: 100},
		{Since: all[10].TS, Until: all[20].TS, Limit: 100},
		{Since: all[10].TS.Add(time.Nanosecond), Limit: 100}, // the nanoseconds count
		{Before: 30, SubjectRef: "ps_1", Limit: 3},
		{MinSeq: all[len(all)-1].Seq, Limit: 1},
	} {
		got, err := a.Trail.Query(ctx, f)
		if err != nil {
			t.Fatalf("query %+v: %v", f, err)
		}
		if w := want(f); !slices.Equal(seqs(got), w) {
			t.Errorf("query %+v = %v, want %v", f, seqs(got), w)
		}
		for _, e := range got {
			if !e.TS.Equal(all[e.Seq-1].TS) || e.Action != all[e.Seq-1].Action {
				t.Errorf("query returned entry %d as %+v", e.Seq, e)
			}
		}
	}
	var exported []int64
	if err := a.Trail.Export(ctx, all[3].TS, all[33].TS, func(seq int64, canon []byte) error {
		var e audit.Entry
		if err := json.Unmarshal(canon, &e); err != nil || e.Seq != seq {
			return fmt.Errorf("entry %d: %v", seq, err)
		}
		exported = append(exported, seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(exported, seqs(all[3:33])) {
		t.Errorf("export = %v, want %v", exported, seqs(all[3:33]))
	}
	if leaf, err := a.Trail.Leaf(ctx, 7); err != nil || !json.Valid(leaf) {
		t.Errorf("leaf 7: %v", err)
	}
	skey, vkey, err := audit.GenerateSignerKey("storetest.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(skey, vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Trail.Verify(ctx, signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != int64(len(all)) || rep.Indexed != int64(len(all)) {
		t.Fatalf("verify: %+v", rep)
	}
}
