package seglog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
)

// entry is the i-th test entry, stamped now as a writer stamps its entries (a log whose uncovered entries
// span minutes is refused: see Open).
func entry(i int) audit.Entry {
	return audit.Entry{TS: time.Now().UTC(), RequestID: fmt.Sprintf("req-%d", i), Action: "subject.read",
		Decision: audit.Allow, Status: 200, Purpose: "customer_service"}
}

func open(t testing.TB, dir string, s *audit.Signer) *Log {
	t.Helper()
	l, err := Open(dir, Options{Signer: s, SegmentSize: 64 << 10, CheckpointInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendN appends n entries from 16 goroutines and returns the sequence numbers acknowledged.
func appendN(t testing.TB, l *Log, n int) []int64 {
	t.Helper()
	var mu sync.Mutex
	var seqs []int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				seq, err := l.Append(context.Background(), entry(i), nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seqs = append(seqs, seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return seqs
}

func mustVerify(t testing.TB, l *Log, v note.Verifier) audit.Report {
	t.Helper()
	rep, err := l.Verify(v)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("log does not verify: first bad seq %d: %s", rep.FirstBadSeq, rep.Reason)
	}
	return rep
}

// Concurrent appends get every sequence number once, the log survives a restart across several segments,
// verifies, ends with a checkpoint covering every entry, and its tiles and proofs check with tlog's own
// checkers: TileHashReader verifies each tile against the signed root as it reads it.
func TestAppendReopenVerifyAndCheckWithTlog(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	l := open(t, dir, s)
	seqs := appendN(t, l, 3000)
	seen := map[int64]bool{}
	for _, q := range seqs {
		if q < 1 || q > 3000 || seen[q] {
			t.Fatalf("sequence number %d out of range or given twice", q)
		}
		seen[q] = true
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
	if len(segs) < 3 {
		t.Fatalf("%d segments; the test wants several", len(segs))
	}
	l = open(t, dir, s)
	defer l.Close()
	if l.Size() != 3000 {
		t.Fatalf("size after reopen %d", l.Size())
	}
	rep := mustVerify(t, l, s.Verifier())
	cps, _ := l.Checkpoints()
	if rep.Entries != 3000 || len(cps) == 0 || cps[len(cps)-1].Size != 3000 {
		t.Fatalf("report %+v, last checkpoint %v", rep, cps[len(cps)-1].Size)
	}
	// Appending after a restart continues the chain.
	if seq, err := l.Append(context.Background(), entry(9999), nil); err != nil || seq != 3001 {
		t.Fatalf("append after reopen: %d %v", seq, err)
	}
	signed, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	c, err := audit.OpenCheckpoint(signed, s.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: c.Size, Hash: c.Root}
	hr := tlog.TileHashReader(tree, logtest.TileReader{Log: l})
	for _, i := range []int64{0, 1, 255, 256, 2999} {
		p, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			t.Fatalf("prove %d from the tiles: %v", i, err)
		}
		e, err := l.Entry(i + 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(e)); err != nil {
			t.Fatalf("tlog rejects the proof of entry %d: %v", i+1, err)
		}
	}
}

// A frame torn by a crash mid-write (never acknowledged) is cut off at startup and the log goes on; damage
// inside an earlier segment is refused and located.
func TestTornTailIsCutAndEarlierDamageRefused(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	l := open(t, dir, s)
	appendN(t, l, 1000)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
	last := segs[len(segs)-1]
	for name, tail := range map[string][]byte{
		"half a header":   {0, 0},
		"half a frame":    {0, 0, 1, 0, '{', '"'},
		"bad checksum":    append([]byte{0, 0, 0, 2, '{', '}'}, 1, 2, 3, 4),
		"absurd length":   {0xff, 0xff, 0xff, 0xff, 1},
		"zero length run": make([]byte, 64),
	} {
		writeAfterLastFrame(t, last, tail)
		l, err := Open(dir, Options{Signer: s})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.Size() != 1000 {
			t.Fatalf("%s: size %d after recovery", name, l.Size())
		}
		mustVerify(t, l, s.Verifier())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A flipped byte inside the first segment is not a torn tail: the log refuses to open and says where.
	b, _ := os.ReadFile(segs[0])
	b[100] ^= 0x20
	os.WriteFile(segs[0], b, 0o600)
	if _, err := Open(dir, Options{Signer: s}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged first segment opened: %v", err)
	}
}

// TestDamageUnderACheckpointIsNeverCut: a flipped byte in the middle of the last segment, among entries a
// signed checkpoint covers, is damage, not a crash's torn write: the log refuses to open and cuts nothing
// (it used to cut everything after the damaged frame). A torn write past the last checkpoint is cut, and
// the bytes cut are kept beside the segment.
func TestDamageUnderACheckpointIsNeverCut(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	l, err := Open(dir, Options{Signer: s, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 500)
	if err := l.Close(); err != nil { // a final checkpoint covers all 500
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
	if len(segs) != 1 {
		t.Fatalf("%d segments; the test wants the damage in the last", len(segs))
	}
	good, _ := os.ReadFile(segs[0])
	bad := slices.Clone(good)
	bad[lastFrameEnd(t, segs[0])/2] ^= 0x20 // among the frames (the file runs on in zero fill)
	os.WriteFile(segs[0], bad, 0o600)
	if _, err := Open(dir, Options{Signer: s}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nothing was cut") {
		t.Fatalf("damage under a checkpoint: %v", err)
	}
	if after, _ := os.ReadFile(segs[0]); !bytes.Equal(after, bad) {
		t.Fatalf("the damaged segment was changed: %d bytes, was %d", len(after), len(bad))
	}
	// Restored, it opens; a torn write after the last checkpoint is cut and kept.
	os.WriteFile(segs[0], good, 0o600)
	torn := []byte{0, 0, 1, 0, '{', '"', 'x'}
	writeAfterLastFrame(t, segs[0], torn)
	end := lastFrameEnd(t, segs[0])
	l, err = Open(dir, Options{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 500 {
		t.Fatalf("size %d", l.Size())
	}
	l.Close()
	kept, err := os.ReadFile(fmt.Sprintf("%s.tail-%d", segs[0], end))
	if err != nil || !bytes.HasPrefix(kept, torn) {
		t.Fatalf("the cut tail was not kept: %v %q", err, kept)
	}
}

// A log whose checkpoints were removed is refused by a signing writer (it would vouch for entries nothing
// covers: a rewritten history), and still opens read-only, for verify to say so.
func TestALogWithoutItsCheckpointsIsNotSignedOver(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	l := open(t, dir, s)
	appendN(t, l, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"checkpoints", "checkpoint"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir, Options{Signer: s}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no signed checkpoint") {
		t.Fatalf("a writer over a log without checkpoints: %v", err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil || ro.Size() != 20 {
		t.Fatalf("read-only: %v", err)
	}
	ro.Close()
}

// Nor over entries past the newest checkpoint that span longer than a crash leaves uncovered: the newest
// checkpoints were deleted, as a history rewritten after them needs (serve signed the rewrite).
func TestALogWhoseNewestCheckpointsAreGoneIsNotSignedOver(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	l := open(t, dir, s)
	appendN(t, l, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	kept := map[string][]byte{}
	for _, f := range []string{"checkpoints", "checkpoint"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		kept[f] = b
	}
	l = open(t, dir, s)
	for i := range 5 {
		e := entry(i)
		e.TS = e.TS.Add(time.Duration(i) * time.Hour) // a day's entries
		if _, err := l.Append(context.Background(), e, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for f, b := range kept { // the checkpoints of size 10 deleted
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir, Options{Signer: s}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entries 6 to 10 are covered by no signed checkpoint") {
		t.Fatalf("a writer over a log whose newest checkpoints are gone: %v", err)
	}
}

// Verify locates tampering: an edited entry (re-framed with a valid checksum), a deleted entry, two
// swapped entries, a truncated tail behind a checkpoint, an edited tile, a forged checkpoint.
func TestVerifyLocatesTampering(t *testing.T) {
	s := logtest.NewSigner(t)
	build := func(t *testing.T) string {
		dir := t.TempDir()
		l := open(t, dir, s)
		for i := range 600 {
			if _, err := l.Append(context.Background(), entry(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	rewrite := func(t *testing.T, dir string, edit func(entries [][]byte) [][]byte) {
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var entries [][]byte
		l.Scan(1, func(_ int64, c []byte) error { entries = append(entries, slices.Clone(c)); return nil })
		l.Close()
		segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
		for _, s := range segs {
			os.Remove(s)
		}
		var frames []byte
		for _, e := range edit(entries) {
			frames = appendFrame(frames, e)
		}
		os.WriteFile(filepath.Join(dir, "segments", fmt.Sprintf("%020d.log", 1)), frames, 0o600)
	}
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   int64 // first bad seq
		short  bool  // fewer entries than the checkpoint covers: the writer refuses to open
	}{
		{"edited entry", func(t *testing.T, dir string) {
			rewrite(t, dir, func(es [][]byte) [][]byte {
				es[99] = bytes.Replace(es[99], []byte(`"allow"`), []byte(`"deny"`), 1)
				return es
			})
		}, 100, false}, // the edited entry itself: 101 still holds the hash it had
		{"deleted entry", func(t *testing.T, dir string) {
			rewrite(t, dir, func(es [][]byte) [][]byte { return append(es[:199:199], es[200:]...) })
		}, 200, true},
		{"swapped entries", func(t *testing.T, dir string) {
			rewrite(t, dir, func(es [][]byte) [][]byte { es[299], es[300] = es[300], es[299]; return es })
		}, 300, false},
		{"truncated tail", func(t *testing.T, dir string) {
			rewrite(t, dir, func(es [][]byte) [][]byte { return es[:590] })
		}, 591, true},
		{"edited tile", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "tile", "0", "001")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[40] ^= 1
			os.WriteFile(p, b, 0o600)
		}, 258, false}, // the second hash of the tile (byte 40): entry 258
		{"forged checkpoint", func(t *testing.T, dir string) {
			forger := logtest.NewSigner(t)
			l, _ := Open(dir, Options{})
			size := l.Size()
			l.Close()
			signed, _ := forger.Sign(size, tlog.Hash{1})
			f, _ := os.OpenFile(filepath.Join(dir, "checkpoints"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write(appendFrame(nil, signed))
			f.Close()
		}, 600, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := build(t)
			c.tamper(t, dir)
			if _, err := Open(dir, Options{Signer: s}); c.short && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("the writer opened a log shorter than its checkpoint: %v", err)
			}
			l, err := Open(dir, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			rep, err := l.Verify(s.Verifier())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBadSeq != c.want {
				t.Fatalf("report %+v, want first bad seq %d", rep, c.want)
			}
		})
	}
}

// writeAfterLastFrame writes tail into the segment file at path just after its last good frame, where a
// crash mid-write leaves a torn frame, over the writer's zero fill.
func writeAfterLastFrame(t *testing.T, path string, tail []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(tail, lastFrameEnd(t, path)); err != nil {
		t.Fatal(err)
	}
}

// lastFrameEnd returns the offset just past the last good frame of the segment file at path.
func lastFrameEnd(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var end int64
	err = scanFrames(f, func(off int64, payload []byte) error {
		end = off + frameOverhead + int64(len(payload))
		return nil
	})
	var torn *tornError
	if err != nil && !errors.As(err, &torn) {
		t.Fatal(err)
	}
	return end
}

// The writer keeps the last segment zero-filled ahead of its frames, so that a group's fdatasync has no
// file size to journal: the zeros are there after appends, a reopen reads them as the clean end (nothing
// cut, nothing lost, the fill kept), and anything but zeros after the last frame — a group that reached the
// disk only in part: a torn frame, then zeros, then the rest of the group — is cut off at the next start.
func TestZeroFillAhead(t *testing.T) {
	dir, s := t.TempDir(), logtest.NewSigner(t)
	open := func(t *testing.T, dir string, s *audit.Signer) *Log { // segments of the default size
		t.Helper()
		l, err := Open(dir, Options{Signer: s})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(t, dir, s)
	appendN(t, l, 500)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
	last := segs[len(segs)-1]
	end := func() int64 { return lastFrameEnd(t, last) }
	size := func() int64 {
		fi, err := os.Stat(last)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if size()-end() < zeroAhead/2 {
		t.Fatalf("%d bytes of zero fill after the last frame, want at least %d", size()-end(), zeroAhead/2)
	}
	before := size()
	l = open(t, dir, s)
	if l.Size() != 500 || size() != before {
		t.Fatalf("reopen: %d entries, file %d bytes; want 500 and %d", l.Size(), size(), before)
	}
	appendN(t, l, 10)
	mustVerify(t, l, s.Verifier())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn frame, zeros, and a whole frame further on: everything after entry 510 goes.
	at := end()
	writeAfterLastFrame(t, last, []byte{0, 0, 1, 0, '{'})
	f, err := os.OpenFile(last, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(appendFrame(nil, []byte(`{"seq":511}`)), at+4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = open(t, dir, s)
	defer l.Close()
	if l.Size() != 510 || size() < end() || end() != at {
		t.Fatalf("after a torn group: %d entries, data ends at %d (was %d)", l.Size(), end(), at)
	}
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if zero, _ := allZero(bytes.NewReader(b[at:])); !zero {
		t.Fatal("bytes of the torn group are left after the last frame")
	}
	appendN(t, l, 1)
	mustVerify(t, l, s.Verifier())
}

// A failed fdatasync stops the log: the group it was syncing is answered with ErrSyncFailed, and so is
// every append after it, acknowledged or queued, until the log is reopened — which keeps every entry
// acknowledged before the failure and verifies. Without the stop, an append after the failure would be
// acknowledged on top of pages the kernel may have dropped.
func TestAFailedSyncStopsTheLog(t *testing.T) {
	dir := t.TempDir()
	signer := logtest.NewSigner(t)
	l := open(t, dir, signer)
	acked := appendN(t, l, 300)
	failing := errors.New("EIO")
	syncFault.Store(&failing)
	defer syncFault.Store(nil)
	if _, err := l.Append(context.Background(), entry(1000), nil); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("append whose fdatasync fails: %v, want ErrSyncFailed", err)
	}
	syncFault.Store(nil) // the disk is back: the log must still refuse, it cannot know what was lost
	if _, err := l.Append(context.Background(), entry(1001), nil); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("append after a failed fdatasync: %v, want ErrSyncFailed", err)
	}
	if err := l.AppendBatch(context.Background(), l.Size()+1, [][]byte{[]byte("x")}); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("a batch after a failed fdatasync: %v, want ErrSyncFailed", err)
	}
	if got := l.Size(); got != int64(len(acked)) {
		t.Fatalf("readers see %d entries, want the %d acknowledged", got, len(acked))
	}
	l.Close()
	l = open(t, dir, signer)
	defer l.Close()
	if got := l.Size(); got < int64(len(acked)) {
		t.Fatalf("reopened with %d entries: an acknowledged entry is lost (%d acknowledged)", got, len(acked))
	}
	if _, err := l.Append(context.Background(), entry(1002), nil); err != nil {
		t.Fatalf("append after the reopen: %v", err)
	}
	mustVerify(t, l, signer.Verifier())
}
