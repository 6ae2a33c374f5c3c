package seglog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
)

// chain numbers and chains n entries after an entry seq with chain hash head, as an outside sequencer does.
func chain(seq int64, head string, from, n int) ([][]byte, string) {
	var out [][]byte
	for i := range n {
		e := entry(from + i)
		e.Seq, e.PrevHash = seq+int64(i)+1, head
		c, err := e.Canonical()
		if err != nil {
			panic(err)
		}
		out = append(out, c)
		head = audit.HexHash(audit.LeafHash(c))
	}
	return out, head
}

// A store that orders entries itself appends numbered, chained batches; a batch that does not continue the
// log is refused whole, and the log stays verifiable, Append and AppendBatch interleaved.
func TestAppendBatchContinuesTheLog(t *testing.T) {
	s := logtest.NewSigner(t)
	dir := t.TempDir()
	l := open(t, dir, s)
	ctx := context.Background()
	size, head := l.Head()
	if size != 0 || head != audit.GenesisHash {
		t.Fatalf("empty log head %d %s", size, head)
	}
	batch, _ := chain(0, head, 0, 10)
	if err := l.AppendBatch(ctx, 1, batch); err != nil {
		t.Fatal(err)
	}
	if seq, err := l.Append(ctx, entry(10), nil); err != nil || seq != 11 {
		t.Fatalf("append after a batch: %d %v", seq, err)
	}
	size, head = l.Head()
	for _, bad := range []struct {
		name  string
		first int64
		prev  string
	}{{"gap", size + 2, head}, {"overlap", size, head}, {"wrong chain", size + 1, audit.GenesisHash}} {
		b, _ := chain(bad.first-1, bad.prev, 100, 3)
		if err := l.AppendBatch(ctx, bad.first, b); !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
	if n, _ := l.Head(); n != 11 {
		t.Fatalf("a refused batch changed the log: %d entries", n)
	}
	more, _ := chain(size, head, 11, 500)
	if err := l.AppendBatch(ctx, size+1, more); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir, s)
	defer l.Close()
	if rep := mustVerify(t, l, s.Verifier()); rep.Entries != 511 {
		t.Fatalf("verified %d entries", rep.Entries)
	}
}

// A trail kept elsewhere moves into a new log with its checkpoints, which must sign the entries' tree; an
// import that fails leaves no log behind.
func TestImport(t *testing.T) {
	s := logtest.NewSigner(t)
	entries, _ := chain(0, audit.GenesisHash, 0, 1000)
	var front audit.Frontier
	var cps []audit.StoredCheckpoint
	for i, c := range entries {
		front.Append(audit.LeafHash(c))
		if n := int64(i + 1); n == 300 || n == 1000 {
			signed, err := s.Sign(n, front.Root())
			if err != nil {
				t.Fatal(err)
			}
			cps = append(cps, audit.StoredCheckpoint{Size: n, Note: signed})
		}
	}
	feed := func(list [][]byte) func(func([]byte) error) error {
		return func(yield func([]byte) error) error {
			for _, c := range list {
				if err := yield(c); err != nil {
					return err
				}
			}
			return nil
		}
	}
	dir := filepath.Join(t.TempDir(), "log")
	// A checkpoint over other entries, or entries out of order, import nothing.
	if _, err := Import(dir, feed(entries), []audit.StoredCheckpoint{{Size: 300, Note: cps[1].Note}}); err == nil {
		t.Fatal("a checkpoint of another size imported")
	}
	other, err := s.Sign(300, audit.LeafHash([]byte("another tree")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(dir, feed(entries), []audit.StoredCheckpoint{{Size: 300, Note: other}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a checkpoint of another tree: %v", err)
	}
	swapped := append([][]byte{entries[1], entries[0]}, entries[2:]...)
	if _, err := Import(dir, feed(swapped), cps); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("swapped entries: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed import left %s: %v", dir, err)
	}
	n, err := Import(dir, feed(entries), cps)
	if err != nil || n != 1000 {
		t.Fatalf("import: %d %v", n, err)
	}
	if _, err := Import(dir, feed(entries), cps); err == nil {
		t.Fatal("imported twice")
	}
	l := open(t, dir, s)
	defer l.Close()
	rep := mustVerify(t, l, s.Verifier())
	if rep.Entries != 1000 || rep.Checkpoints != 2 {
		t.Fatalf("imported log: %+v", rep)
	}
	got, err := l.Checkpoint()
	if err != nil || string(got) != string(cps[1].Note) {
		t.Fatalf("latest checkpoint: %v", err)
	}
}
