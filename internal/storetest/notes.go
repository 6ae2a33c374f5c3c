package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// Notes reads the sealed free text kept beside entries (audit.Entry.Note, which the entry itself omits).
type Notes interface {
	// Note returns the sealed note stored beside entry seq, or nil if it has none.
	Note(ctx context.Context, seq int64) ([]byte, error)
}

// RunNotes tests that an entry's sealed note is kept beside it by every path that appends — a change's
// entries, a read's entry, a release — and read back by its sequence number; an entry without one has none.
func RunNotes(t *testing.T, open Open) {
	a := open(t)
	if a.Notes == nil {
		t.Fatal("the adapter reads no notes")
	}
	ctx := t.Context()
	noted := func(action string, note string) func(error) audit.Entry {
		return func(err error) audit.Entry {
			e := entry(action)(err)
			if note != "" {
				e.Note = []byte(note)
			}
			return e
		}
	}
	want := map[int64]string{}
	seq, err := a.Store.Commit(ctx, func(tx vault.Tx) error { return createSubject(tx, "sub_n") }, noted("subject.create", "sealed-change"))
	if err != nil {
		t.Fatal(err)
	}
	want[seq] = "sealed-change"
	seq, err = a.Store.Commit(ctx, func(vault.Tx) error { return errors.New("refused") }, noted("subject.update", "sealed-failed-change"))
	if err == nil {
		t.Fatal("a failing change committed")
	}
	want[seq] = "sealed-failed-change"
	first, err := a.Store.CommitMany(ctx, func(tx vault.Tx) error { return tx.Touch("sub_n", at) }, func(err error) []audit.Entry {
		return []audit.Entry{noted("subject.update", "")(err), noted("subject.update", "sealed-second-of-many")(err)}
	})
	if err != nil {
		t.Fatal(err)
	}
	want[first], want[first+1] = "", "sealed-second-of-many"
	if seq, err = a.Store.Commit(ctx, nil, noted("subject.read", "sealed-read")); err != nil {
		t.Fatal(err)
	}
	want[seq] = "sealed-read"
	if seq, err = a.Store.Release(ctx, a.Store.Guard("sub_n"), noted("subject.read", "sealed-release")(nil)); err != nil {
		t.Fatal(err)
	}
	want[seq] = "sealed-release"
	if seq, err = a.Store.Commit(ctx, nil, noted("subject.read", "")); err != nil {
		t.Fatal(err)
	}
	want[seq] = ""
	for seq, w := range want {
		got, err := a.Notes.Note(ctx, seq)
		if err != nil {
			t.Fatalf("note of entry %d: %v", seq, err)
		}
		if !bytes.Equal(got, []byte(w)) && !(w == "" && got == nil) {
			t.Errorf("note of entry %d = %q, want %q", seq, got, w)
		}
		if e := logged(t, a, seq); e.Note != nil || bytes.Contains(mustEntry(t, a, seq), []byte("sealed-")) {
			t.Errorf("entry %d carries its note in the log", seq)
		}
	}
}

func mustEntry(t testing.TB, a Adapter, seq int64) []byte {
	t.Helper()
	canon, err := a.Log.Entry(seq)
	if err != nil {
		t.Fatal(err)
	}
	return canon
}
