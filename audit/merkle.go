package audit

import (
	"encoding/hex"

	"golang.org/x/mod/sumdb/tlog"
)

// The audit trail is an RFC 6962 Merkle tree whose leaves are the canonical entries: leaf hash =
// SHA-256(0x00 || canonical bytes), node hash = SHA-256(0x01 || left || right). golang.org/x/mod/sumdb/tlog
// implements exactly that (it is the Go checksum database's log) and its proofs are compatible with
// Certificate Transparency; the stored hashes use tlog's index layout so tlog.ProveRecord and
// tlog.CheckRecord work on them.

// LeafHash is the Merkle leaf hash of an entry's canonical bytes. It is also the entry's chain hash: the
// next entry's prev_hash.
func LeafHash(canonical []byte) tlog.Hash { return tlog.RecordHash(canonical) }

// Frontier is a compact range over the leaves [0, Size): the roots of the perfect subtrees that make up the
// tree, largest first. It computes the tree root and the hashes to store for each new leaf in O(log n)
// memory, without reading anything back.
type Frontier struct {
	n      int64
	hashes []tlog.Hash
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

// Append adds a leaf and returns the hashes tlog stores for it, in storage order: the leaf, then every
// subtree the leaf completes. They belong at stored-hash indexes tlog.StoredHashCount(n) onwards, where n
// is the leaf's index.
func (f *Frontier) Append(leaf tlog.Hash) []tlog.Hash {
	stored := []tlog.Hash{leaf}
	f.hashes = append(f.hashes, leaf)
	for m := f.n; m&1 == 1; m >>= 1 {
		l := len(f.hashes)
		h := tlog.NodeHash(f.hashes[l-2], f.hashes[l-1])
		f.hashes[l-2] = h
		f.hashes = f.hashes[:l-1]
		stored = append(stored, h)
	}
	f.n++
	return stored
}

// Root is the RFC 6962 tree head of the leaves so far.
func (f *Frontier) Root() tlog.Hash {
	if len(f.hashes) == 0 {
		return tlog.Hash{}
	}
	h := f.hashes[len(f.hashes)-1]
	for i := len(f.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.hashes[i], h)
	}
	return h
}

// HexHash renders a hash as lowercase hex (the form used in entries and API responses).
func HexHash(h tlog.Hash) string { return hex.EncodeToString(h[:]) }
