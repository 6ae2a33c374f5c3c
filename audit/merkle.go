package audit

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// The audit trail is an RFC 6962 Merkle tree whose leaves are the canonical entries: leaf hash =
// SHA-256(0x00 || canonical bytes), node hash = SHA-256(0x01 || left || right). golang.org/x/mod/sumdb/tlog
// implements exactly that (it is the Go checksum database's log) and its proofs are compatible with
// Certificate Transparency; the stored hashes use tlog's index layout so tlog.ProveRecord and
// tlog.CheckRecord work on them. The tree math is tlog's: this file only keeps the frontier a writer needs
// in memory and says, once, what appending a batch produces (Integrate) — storage drivers persist it.

// TileHeight is the height of the log's hash tiles and entry bundles (C2SP tlog-tiles: 256 per tile).
const TileHeight = 8

// LeafHash is the Merkle leaf hash of an entry's canonical bytes. It is also the entry's chain hash: the
// next entry's prev_hash.
func LeafHash(canonical []byte) tlog.Hash { return tlog.RecordHash(canonical) }

// Frontier is a compact range over the leaves [0, Size): the stored hashes of the perfect subtrees that
// make up the tree, largest first. It is all tlog needs to compute the hashes to store for a new leaf and
// the tree head, so a writer keeps it in memory and reads nothing back.
type Frontier struct {
	n      int64
	hashes []tlog.Hash // at FrontierIndexes(n), in that order
	stored []tlog.Hash // Append's result, reused
}

// NewFrontier rebuilds a frontier of size n from its subtree roots (largest first), as returned by
// FrontierIndexes.
func NewFrontier(n int64, roots []tlog.Hash) Frontier {
	return Frontier{n: n, hashes: append([]tlog.Hash(nil), roots...)}
}

// FrontierIndexes returns the tlog stored-hash indexes of the subtree roots of a tree of size n, largest
// subtree first.
func FrontierIndexes(n int64) []int64 {
	var out []int64
	var start int64
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			out = append(out, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	return out
}

// Size is the number of leaves.
func (f *Frontier) Size() int64 { return f.n }

// Clone returns an independent copy (to roll back a failed batch).
func (f *Frontier) Clone() Frontier {
	return Frontier{n: f.n, hashes: append([]tlog.Hash(nil), f.hashes...)}
}

// ReadHashes implements tlog.HashReader for the frontier's own indexes (all that tlog.StoredHashes and
// tlog.TreeHash read of the existing tree).
func (f *Frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	have := FrontierIndexes(f.n)
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		k := slices.Index(have, idx)
		if k < 0 || k >= len(f.hashes) {
			return nil, fmt.Errorf("audit: stored hash %d is not on the frontier of a tree of size %d", idx, f.n)
		}
		out[i] = f.hashes[k]
	}
	return out, nil
}

// Append adds a leaf and returns the hashes tlog stores for it (tlog.StoredHashesForRecordHash), in storage
// order: the leaf, then every subtree the leaf completes. They belong at stored-hash indexes
// tlog.StoredHashCount(n) onwards, where n is the leaf's index. The slice is the frontier's own, valid
// until the next Append.
//
// The leaf is merged with one frontier subtree per trailing 1 bit of n, smallest first; the largest subtree
// it completes (the last stored hash) replaces them on the frontier. TestIntegrateMatchesTlogAndTransparencyDev
// checks the hashes against tlog's.
func (f *Frontier) Append(leaf tlog.Hash) []tlog.Hash {
	merged := bits.TrailingZeros64(^uint64(f.n))
	stored := append(f.stored[:0], leaf)
	h := leaf
	for k := range merged {
		h = tlog.NodeHash(f.hashes[len(f.hashes)-1-k], h)
		stored = append(stored, h)
	}
	f.hashes = append(f.hashes[:len(f.hashes)-merged], h)
	f.stored = stored
	f.n++
	return stored
}

// Root is the RFC 6962 tree head of the leaves so far (tlog.TreeHash).
func (f *Frontier) Root() tlog.Hash {
	if f.n == 0 {
		return tlog.Hash{}
	}
	h, err := tlog.TreeHash(f.n, f)
	if err != nil {
		panic("audit: frontier inconsistent: " + err.Error())
	}
	return h
}

// Integration is what appending a batch of canonical entries to the tree yields — everything a storage
// driver persists, computed here once (as Tessera's Integrate serves all its drivers).
type Integration struct {
	// OldSize and NewSize are the tree sizes before and after the batch.
	OldSize, NewSize int64
	// Hashes are the new stored hashes, for tlog's stored-hash indexes tlog.StoredHashCount(OldSize)
	// onwards, in order.
	Hashes []tlog.Hash
	// Root is the tree head of NewSize leaves.
	Root tlog.Hash
	// Frontier is the frontier after the batch.
	Frontier Frontier
}

// Integrate appends the canonical entries to the tree whose frontier is f (f itself is not changed).
func Integrate(f Frontier, entries [][]byte) Integration {
	next := f.Clone()
	in := Integration{OldSize: f.Size()}
	for _, e := range entries {
		in.Hashes = append(in.Hashes, next.Append(LeafHash(e))...)
	}
	in.NewSize, in.Root, in.Frontier = next.Size(), next.Root(), next
	return in
}

// Tiles returns the hash tiles of height TileHeight that growing the tree from oldSize to newSize created
// or extended (tlog.NewTiles), with their data read through r (which must hold the new hashes too).
func Tiles(oldSize, newSize int64, r tlog.HashReader) ([]tlog.Tile, [][]byte, error) {
	tiles := tlog.NewTiles(TileHeight, oldSize, newSize)
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		d, err := tlog.ReadTileData(t, r)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: tile %s: %w", t.Path(), err)
		}
		data[i] = d
	}
	return tiles, data, nil
}

// HexHash renders a hash as lowercase hex (the form used in entries and API responses).
func HexHash(h tlog.Hash) string { return hex.EncodeToString(h[:]) }
