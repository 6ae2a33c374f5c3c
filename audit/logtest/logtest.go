// Package logtest is the conformance suite of the audit log's storage (audit.LogStorage): the same tests
// for every driver — the embedded segment files of internal/seglog today, a database driver tomorrow — so
// that what the trail promises (durable, gap-free, chained appends; entries, tiles and checkpoints that
// off-the-shelf tlog code verifies; nothing lost across a reopen) does not depend on where it is kept.
package logtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Driver opens a log storage. New returns an opener for a fresh, empty log signed by s: each call of the
// opener opens that same log again, as a restarted process would (the previous one closed first).
type Driver struct {
	Name string
	New  func(t *testing.T, s *audit.Signer) (open func() audit.LogStorage)
}

// Run runs every check against d.
func Run(t *testing.T, d Driver) {
	t.Run(d.Name+"/EmptyLog", func(t *testing.T) { emptyLog(t, d) })
	t.Run(d.Name+"/AppendsReadBack", func(t *testing.T) { appendsReadBack(t, d) })
	t.Run(d.Name+"/RefusesWhatDoesNotContinue", func(t *testing.T) { refusesWhatDoesNotContinue(t, d) })
	t.Run(d.Name+"/TilesAndCheckpointsVerifyWithTlog", func(t *testing.T) { tilesAndCheckpoints(t, d) })
}

// NewSigner is a fresh checkpoint signer for a test log.
func NewSigner(t testing.TB) *audit.Signer {
	t.Helper()
	sk, vk, err := audit.GenerateSignerKey("profile-vault.test/logtest")
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewSigner(sk, vk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Chain numbers and chains n entries after the entry numbered seq whose chain hash is head, as the
// vault's sequencer does; it returns them and the new head.
func Chain(seq int64, head string, n int) ([][]byte, string) {
	out := make([][]byte, 0, n)
	for i := range n {
		q := seq + int64(i) + 1
		e := audit.Entry{Seq: q, PrevHash: head, TS: time.Unix(1_700_000_000+q, 0).UTC(), RequestID: fmt.Sprintf("req-%d", q),
			Action: "subject.read", Decision: audit.Allow, Status: 200, Purpose: string(policies.PurposeCustomerService)}
		c, err := e.Canonical()
		if err != nil {
			panic(err)
		}
		out = append(out, c)
		head = audit.ChainHash(c)
	}
	return out, head
}

func closeLog(t *testing.T, l audit.LogStorage) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func emptyLog(t *testing.T, d Driver) {
	l := d.New(t, NewSigner(t))()
	defer closeLog(t, l)
	if size, head := l.Head(); size != 0 || head != audit.GenesisHash || l.Size() != 0 {
		t.Fatalf("empty log: head (%d, %s), size %d", size, head, l.Size())
	}
	if _, err := l.Entry(1); err == nil {
		t.Error("entry 1 of an empty log was found")
	}
	if err := l.Scan(1, func(int64, []byte) error { return errors.New("an entry in an empty log") }); err != nil {
		t.Error(err)
	}
}

// appendsReadBack appends batches of several sizes (crossing tile boundaries), reads every entry back by
// number and by scan, and after a reopen finds the same head and continues it.
func appendsReadBack(t *testing.T, d Driver) {
	open := d.New(t, NewSigner(t))
	l := open()
	ctx := context.Background()
	var all [][]byte
	head := audit.GenesisHash
	for _, n := range []int{1, 10, 255, 334, 1} {
		batch, next := Chain(int64(len(all)), head, n)
		if err := l.AppendBatch(ctx, int64(len(all))+1, batch); err != nil {
			t.Fatalf("append %d after %d: %v", n, len(all), err)
		}
		all, head = append(all, batch...), next
		if size, h := l.Head(); size != int64(len(all)) || h != head {
			t.Fatalf("head after %d entries: (%d, %s), want (%d, %s)", len(all), size, h, len(all), head)
		}
	}
	check := func(l audit.LogStorage) {
		t.Helper()
		if l.Size() != int64(len(all)) {
			t.Fatalf("size %d, want %d", l.Size(), len(all))
		}
		for _, seq := range []int64{1, 2, 11, 256, 257, int64(len(all))} {
			got, err := l.Entry(seq)
			if err != nil || !bytes.Equal(got, all[seq-1]) {
				t.Fatalf("entry %d: %v, bytes equal %v", seq, err, bytes.Equal(got, all[seq-1]))
			}
		}
		next := int64(200)
		if err := l.Scan(200, func(seq int64, c []byte) error {
			if seq != next || !bytes.Equal(c, all[seq-1]) {
				return fmt.Errorf("scan gave entry %d (want %d), bytes equal %v", seq, next, bytes.Equal(c, all[seq-1]))
			}
			next++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if next != int64(len(all))+1 {
			t.Fatalf("scan from 200 ended before entry %d", next)
		}
	}
	check(l)
	closeLog(t, l)
	l = open()
	defer closeLog(t, l)
	check(l)
	if size, h := l.Head(); size != int64(len(all)) || h != head {
		t.Fatalf("head after reopen: (%d, %s), want (%d, %s)", size, h, len(all), head)
	}
	batch, _ := Chain(int64(len(all)), head, 3)
	if err := l.AppendBatch(ctx, int64(len(all))+1, batch); err != nil {
		t.Fatalf("append after reopen: %v", err)
	}
}

// refusesWhatDoesNotContinue: a gap, an overlap, a wrong chain hash or a wrong number inside the batch are
// refused whole with audit.ErrOutOfOrder and change nothing.
func refusesWhatDoesNotContinue(t *testing.T, d Driver) {
	l := d.New(t, NewSigner(t))()
	defer closeLog(t, l)
	ctx := context.Background()
	first, head := Chain(0, audit.GenesisHash, 5)
	if err := l.AppendBatch(ctx, 1, first); err != nil {
		t.Fatal(err)
	}
	gap, _ := Chain(6, head, 2)
	overlap, _ := Chain(4, head, 2)
	wrongChain, _ := Chain(5, audit.GenesisHash, 2)
	good, _ := Chain(5, head, 3)
	renumbered := [][]byte{good[0], good[2]} // the second is numbered 8, not 7
	for _, c := range []struct {
		name  string
		first int64
		batch [][]byte
	}{{"gap", 7, gap}, {"overlap", 5, overlap}, {"wrong chain", 6, wrongChain}, {"numbered out of order", 6, renumbered}} {
		if err := l.AppendBatch(ctx, c.first, c.batch); !errors.Is(err, audit.ErrOutOfOrder) {
			t.Errorf("%s: %v, want audit.ErrOutOfOrder", c.name, err)
		}
		if size, h := l.Head(); size != 5 || h != head {
			t.Fatalf("%s changed the log: head (%d, %s)", c.name, size, h)
		}
	}
	if err := l.AppendBatch(ctx, 6, good); err != nil {
		t.Fatalf("the batch that continues the log: %v", err)
	}
}

// tilesAndCheckpoints: after a close the newest checkpoint covers every entry, is signed by the log's key,
// and its root is the RFC 6962 root of the entries computed here independently; tlog proves entries from
// the stored tiles; entry bundles hold the entries; Verify passes.
func tilesAndCheckpoints(t *testing.T, d Driver) {
	s := NewSigner(t)
	open := d.New(t, s)
	l := open()
	const n = 700
	batch, _ := Chain(0, audit.GenesisHash, n)
	if err := l.AppendBatch(context.Background(), 1, batch); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	l = open()
	defer closeLog(t, l)

	signed, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(signed, s.Verifier())
	if err != nil {
		t.Fatalf("the newest checkpoint does not open under the log's key: %v", err)
	}
	hashes := make(memHashes, 0, 2*n)
	for i, c := range batch {
		stored, err := tlog.StoredHashes(int64(i), c, hashes)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, stored...)
	}
	root, err := tlog.TreeHash(n, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n || cp.Root != root {
		t.Fatalf("checkpoint (%d, %x), want (%d, %x)", cp.Size, cp.Root, n, root)
	}
	cps, err := l.Checkpoints()
	if err != nil || len(cps) == 0 || cps[len(cps)-1].Size != n {
		t.Fatalf("checkpoints: %v, %d kept", err, len(cps))
	}
	tree := tlog.Tree{N: n, Hash: root}
	hr := tlog.TileHashReader(tree, TileReader{l})
	for _, i := range []int64{0, 1, 255, 256, 511, 512, n - 1} {
		p, err := tlog.ProveRecord(n, i, hr)
		if err != nil {
			t.Fatalf("prove entry %d from the tiles: %v", i+1, err)
		}
		if err := tlog.CheckRecord(p, n, root, i, tlog.RecordHash(batch[i])); err != nil {
			t.Fatalf("tlog rejects the proof of entry %d: %v", i+1, err)
		}
	}
	bundle, err := l.ReadTile(audit.C2SPPath(tlog.Tile{H: audit.TileHeight, L: -1, N: 0, W: 256}))
	if err != nil {
		t.Fatalf("first entry bundle: %v", err)
	}
	for _, c := range batch[:3] {
		if !bytes.Contains(bundle, c) {
			t.Fatal("the first entry bundle lacks one of its entries")
		}
	}
	rep, err := l.Verify(s.Verifier())
	if err != nil || !rep.OK || rep.Entries != n {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// memHashes is an in-memory tlog.HashReader over stored hashes in tlog's storage order.
type memHashes []tlog.Hash

func (h memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(h)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = h[x]
	}
	return out, nil
}

// TileReader serves a log's hash tiles to tlog (tlog.TileHashReader) by their C2SP paths.
type TileReader struct{ Log audit.LogReader }

// Height implements tlog.TileReader.
func (r TileReader) Height() int { return audit.TileHeight }

// ReadTiles implements tlog.TileReader.
func (r TileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := r.Log.ReadTile(audit.C2SPPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles implements tlog.TileReader (nothing to save: the tiles are the log's).
func (TileReader) SaveTiles([]tlog.Tile, [][]byte) {}
