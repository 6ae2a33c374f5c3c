package audit

import (
	"bytes"
	"crypto"
	_ "crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// hashStore is tlog's reference layout in memory: every stored hash at its index.
type hashStore []tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(s)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

// Integrating batches of every shape gives tlog's own stored hashes and tree head, the same root as
// transparency-dev/merkle's compact range, inclusion and consistency proofs that tlog and
// transparency-dev/merkle both accept, and hash tiles tlog reads back.
func TestIntegrateMatchesTlogAndTransparencyDev(t *testing.T) {
	hasher := rfc6962.New(crypto.SHA256)
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	var ref hashStore // built with tlog.StoredHashes, entry by entry
	var stored hashStore
	f := NewFrontier(0, nil)
	var roots []tlog.Hash
	sizes := []int{1, 2, 3, 7, 1, 256, 1, 255, 300, 5}
	n := 0
	for b, size := range sizes {
		var batch [][]byte
		for range size {
			e := []byte(fmt.Sprintf(`{"seq":%d,"action":"subject.read"}`, n))
			batch = append(batch, e)
			hs, err := tlog.StoredHashes(int64(n), e, ref)
			if err != nil {
				t.Fatal(err)
			}
			ref = append(ref, hs...)
			if err := cr.Append(hasher.HashLeaf(e), nil); err != nil {
				t.Fatal(err)
			}
			n++
		}
		in := Integrate(f, batch)
		if in.OldSize != f.Size() || in.NewSize != int64(n) || f.Size() == in.NewSize && size > 0 {
			t.Fatalf("batch %d: sizes %d→%d, frontier left at %d", b, in.OldSize, in.NewSize, f.Size())
		}
		if int64(len(stored)) != tlog.StoredHashCount(in.OldSize) {
			t.Fatalf("batch %d: hashes start at %d, want %d", b, len(stored), tlog.StoredHashCount(in.OldSize))
		}
		stored = append(stored, in.Hashes...)
		if len(stored) != len(ref) {
			t.Fatalf("batch %d: %d stored hashes, tlog stores %d", b, len(stored), len(ref))
		}
		for i := range ref {
			if stored[i] != ref[i] {
				t.Fatalf("batch %d: stored hash %d differs from tlog's", b, i)
			}
		}
		want, err := tlog.TreeHash(int64(n), ref)
		if err != nil {
			t.Fatal(err)
		}
		other, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if in.Root != want || !bytes.Equal(other, in.Root[:]) {
			t.Fatalf("batch %d: root differs from tlog's or transparency-dev's", b)
		}
		tiles, data, err := Tiles(in.OldSize, in.NewSize, stored)
		if err != nil || len(tiles) == 0 {
			t.Fatalf("batch %d: tiles %v %v", b, tiles, err)
		}
		for i, tile := range tiles {
			if err := checkTile(tile, data[i], ref); err != nil {
				t.Fatalf("batch %d: %v", b, err)
			}
		}
		roots = append(roots, in.Root)
		f = in.Frontier
	}
	// Proofs from the stored hashes verify with both libraries.
	size := int64(n)
	root := roots[len(roots)-1]
	for _, i := range []int64{0, 1, 255, 256, 511, size - 1} {
		p, err := tlog.ProveRecord(size, i, stored)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, size, root, i, stored[tlog.StoredHashIndex(0, i)]); err != nil {
			t.Fatalf("tlog rejects the inclusion proof of %d: %v", i, err)
		}
		if err := proof.VerifyInclusion(hasher, uint64(i), uint64(size), stored[tlog.StoredHashIndex(0, i)][:], bytesOf(p), root[:]); err != nil {
			t.Fatalf("transparency-dev rejects the inclusion proof of %d: %v", i, err)
		}
	}
	old := int64(sizes[0] + sizes[1] + sizes[2])
	oldRoot := roots[2]
	p, err := tlog.ProveTree(size, old, stored)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
		t.Fatalf("tlog rejects the consistency proof: %v", err)
	}
	if err := proof.VerifyConsistency(hasher, uint64(old), uint64(size), bytesOf(p), oldRoot[:], root[:]); err != nil {
		t.Fatalf("transparency-dev rejects the consistency proof: %v", err)
	}
}

// checkTile checks a tile's data against tlog's reference hashes.
func checkTile(tile tlog.Tile, data []byte, r tlog.HashReader) error {
	if len(data) != tile.W*tlog.HashSize {
		return fmt.Errorf("tile %s: %d bytes", tile.Path(), len(data))
	}
	want, err := tlog.ReadTileData(tile, r)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, data) {
		return fmt.Errorf("tile %s differs", tile.Path())
	}
	return nil
}

func bytesOf(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

// A Tree integrating batches of every shape yields, batch by batch, the tiles it completed and (Edge) the
// partial ones, exactly as tlog reads them from its own reference hashes, and the entry bundles of the
// entries, at C2SP paths; after the last batch the tiles written so far are every tile a tree of that size
// has (tlog.NewTiles from 0).
func TestTreeEmitsTlogTilesAndBundles(t *testing.T) {
	var ref hashStore
	var all [][]byte
	written := map[string][]byte{}
	var tree Tree
	n := 0
	for b, size := range []int{1, 255, 1, 256, 3, 600, 70000 - 1116, 1} {
		var batch [][]byte
		for range size {
			e := []byte(fmt.Sprintf(`{"seq":%d}`, n))
			hs, err := tlog.StoredHashes(int64(n), e, ref)
			if err != nil {
				t.Fatal(err)
			}
			ref = append(ref, hs...)
			batch, all = append(batch, e), append(all, e)
			n++
		}
		in := tree.Integrate(batch)
		if want, _ := tlog.TreeHash(int64(n), ref); tree.Frontier.Root() != want || in.NewSize != int64(n) {
			t.Fatalf("batch %d: root or size differs from tlog's", b)
		}
		for _, td := range append(in.Tiles, tree.Edge()...) {
			var want []byte
			if td.Tile.L == -1 {
				want = bundleOf(all[td.Tile.N<<TileHeight : td.Tile.N<<TileHeight+int64(td.Tile.W)])
			} else {
				var err error
				if want, err = tlog.ReadTileData(td.Tile, ref); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(td.Data, want) {
				t.Fatalf("batch %d: %s differs from tlog's", b, td.Path())
			}
			written[td.Path()] = td.Data
		}
		for _, td := range in.Tiles {
			if td.Tile.W != 1<<TileHeight {
				t.Fatalf("batch %d: Integrate returned the partial tile %s", b, td.Path())
			}
		}
	}
	for _, tile := range tlog.NewTiles(TileHeight, 0, int64(n)) {
		if _, ok := written[C2SPPath(tile)]; !ok {
			t.Errorf("tile %s of the final tree was never written", C2SPPath(tile))
		}
		data := tile
		data.L = -1
		if tile.L == 0 {
			if _, ok := written[C2SPPath(data)]; !ok {
				t.Errorf("entry bundle %s was never written", C2SPPath(data))
			}
		}
	}
	if got := C2SPPath(tlog.Tile{H: 8, L: 1, N: 1234067, W: 5}); got != "tile/1/x001/x234/067.p/5" {
		t.Errorf("C2SP path %q", got)
	}
	if got := C2SPPath(tlog.Tile{H: 8, L: -1, N: 3, W: 256}); got != "tile/entries/003" {
		t.Errorf("C2SP bundle path %q", got)
	}
}

func bundleOf(entries [][]byte) []byte {
	var out []byte
	for _, e := range entries {
		out = append(out, byte(len(e)>>8), byte(len(e)))
		out = append(out, e...)
	}
	return out
}
