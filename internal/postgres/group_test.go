package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// group commits changes as one group (what the committer does with the changes waiting at once) and
// returns their outcomes in order.
func group(s *Store, changes ...func(vault.Tx) error) []opResult {
	ops := make([]*op, len(changes))
	for i, c := range changes {
		ops[i] = &op{change: c, entries: func(err error) []audit.Entry { return []audit.Entry{readEntry(fmt.Sprint("change.", i))(err)} },
			done: make(chan opResult, 1)}
	}
	s.commitGroup(ops)
	out := make([]opResult, len(ops))
	for i, o := range ops {
		out[i] = <-o.done
	}
	return out
}

func entryAt(t *testing.T, s *Store, seq int64) audit.Entry {
	t.Helper()
	canon, err := s.Log().Entry(seq)
	if err != nil {
		t.Fatalf("entry %d: %v", seq, err)
	}
	var e audit.Entry
	if err := json.Unmarshal(canon, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// A group's changes keep what they did one by one: a change that fails — at a statement it only queued
// (found when a later change reads), at one found at the group's end, or by its own error — keeps nothing
// and its entry records the failure, while the changes before and after it keep theirs and see the earlier
// ones' writes.
func TestGroupIsolatesFailedChanges(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Now().UTC()
	create := func(ids ...string) func(vault.Tx) error {
		return func(tx vault.Tx) error {
			for _, id := range ids {
				if err := tx.CreateSubject(id, "", nil, at); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if _, err := s.Commit(ctx, create("sub_dup"), readEntry("setup")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var stateOfB string
	res := group(s,
		create("sub_dup"), // 0: a duplicate key, found when change 2 reads
		create("sub_b"),   // 1: sent again after change 0 failed
		func(tx vault.Tx) error { // 2: reads what change 1 wrote
			st, err := tx.SubjectState("sub_b")
			stateOfB = st
			if err != nil {
				return err
			}
			_, err = tx.SetObjection("sub_b", "personalized_marketing", true, at)
			return err
		},
		func(tx vault.Tx) error { // 3: its own error after a write
			if err := tx.PutField("sub_b", vault.SealedField{Name: "name", Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte("x"), UpdatedAt: at}); err != nil {
				return err
			}
			return boom
		},
		create("sub_e", "sub_dup"), // 4: fails at the group's end, its first subject with it
		create("sub_f"),            // 5: sent again after change 4 failed
	)
	var pgErr *pgconn.PgError
	for i, want := range []string{"23505", "", "", "boom", "23505", ""} {
		r := res[i]
		if r.err != nil {
			t.Fatalf("change %d: the group failed: %v", i, r.err)
		}
		switch {
		case want == "" && r.changeErr != nil:
			t.Errorf("change %d failed: %v", i, r.changeErr)
		case want == "boom" && !errors.Is(r.changeErr, boom):
			t.Errorf("change %d = %v, want its own error", i, r.changeErr)
		case want == "23505" && (!errors.As(r.changeErr, &pgErr) || pgErr.Code != want):
			t.Errorf("change %d = %v, want a unique violation", i, r.changeErr)
		}
		if i > 0 && r.seq != res[i-1].seq+1 {
			t.Errorf("change %d numbered %d after %d", i, r.seq, res[i-1].seq)
		}
		e := entryAt(t, s, r.seq)
		if e.Action != fmt.Sprint("change.", i) || (e.Decision == audit.Deny) != (want != "") {
			t.Errorf("change %d: entry %d is %s %s", i, r.seq, e.Action, e.Decision)
		}
	}
	if stateOfB != vault.StateActive {
		t.Errorf("change 2 read sub_b as %q", stateOfB)
	}
	for id, want := range map[string]bool{"sub_b": true, "sub_e": false, "sub_f": true} {
		_, err := s.Subject(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("%s stored: %v, want %v (%v)", id, got, want, err)
		}
	}
	rec, err := s.Subject(ctx, "sub_b")
	if err != nil || len(rec.Fields) != 0 || rec.Objections == nil {
		t.Errorf("sub_b: fields %v (want none: change 3 failed), objections %v (want change 2's): %v", rec.Fields, rec.Objections, err)
	}
	// Only the changes that kept what they did advance generations: sub_b by changes 1 and 2 (one bump a group).
	if g := s.Guard("sub_b").Generation; g != 2 {
		t.Errorf("sub_b's generation %d, want 2", g)
	}
	if n := s.Log().Size(); n != 7 {
		t.Errorf("the log holds %d entries, want 7", n)
	}
}

// Changes that only write cost no round trip of their own: a group of them is BEGIN with the head row,
// their statements, and the entries with COMMIT.
func TestGroupPipelinesWriteOnlyChanges(t *testing.T) {
	s := openStore(t)
	at := time.Now().UTC()
	changes := make([]func(vault.Tx) error, 50)
	for i := range changes {
		changes[i] = func(tx vault.Tx) error {
			id := fmt.Sprintf("sub_%02d", i)
			if err := tx.CreateSubject(id, "", nil, at); err != nil {
				return err
			}
			for _, f := range []string{"name", "phone", "email"} {
				if err := tx.PutField(id, vault.SealedField{Name: f, Class: vault.ClassGeneral, DEKVersion: 1, Value: []byte(f), UpdatedAt: at}); err != nil {
					return err
				}
			}
			return tx.SetIndex("phone", id, []byte{byte(i)})
		}
	}
	_, _, before := s.GroupStats()
	for i, r := range group(s, changes...) {
		if r.err != nil || r.changeErr != nil {
			t.Fatalf("change %d: %v %v", i, r.err, r.changeErr)
		}
	}
	groups, _, trips := s.GroupStats()
	if trips-before > 3 || groups != 1 {
		t.Errorf("50 write-only changes: %d round trips in %d groups, want at most 3 in 1", trips-before, groups)
	}
	recs, err := s.Subjects(t.Context(), []string{"sub_00", "sub_49"}, nil)
	if err != nil || len(recs) != 2 || len(recs["sub_49"].Fields) != 3 {
		t.Fatalf("what the group wrote: %+v %v", recs, err)
	}
	if ids, err := s.LookupIndex(t.Context(), "phone", []byte{49}); err != nil || len(ids) != 1 || ids[0] != "sub_49" {
		t.Fatalf("index: %v %v", ids, err)
	}
}
