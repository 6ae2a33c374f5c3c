package audit

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyLog recomputes a stored log from its entries, for any driver: every entry holds its own sequence number and is chained to
// the one before, every signed checkpoint verifies with v and its root is the tree of the entries it
// covers, no checkpoint covers more entries than are stored, and every hash tile and entry bundle stored
// up to the newest checkpoint is the one the entries make. It names the first bad sequence number.
func VerifyLog(l LogReader, v note.Verifier) (Report, error) {
	cps, err := l.Checkpoints()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Checkpoints: len(cps)}
	fail := func(seq int64, format string, args ...any) (Report, error) {
		rep.FirstBadSeq, rep.Reason = seq, fmt.Sprintf(format, args...)
		return rep, nil
	}
	roots := map[int64][]byte{} // checkpoint size → signed root
	for _, sc := range cps {
		c, err := OpenCheckpoint(sc.Note, v)
		if err != nil {
			return fail(sc.Size, "checkpoint at size %d: %v", sc.Size, err)
		}
		roots[c.Size] = c.Root[:]
	}
	// Tiles are written at checkpoint time: every tile and entry bundle of the newest checkpoint's tree
	// must be on disk as the entries make it. Each is compared as the entries complete it.
	newest := int64(0)
	if n := len(cps); n > 0 {
		newest = cps[n-1].Size
	}
	var (
		tree   Tree
		chunk  [][]byte
		leaves []tlog.Hash
		bad    Report
	)
	errStop := errors.New("stop")
	stop := func(seq int64, format string, args ...any) error {
		bad, _ = fail(seq, format, args...)
		return errStop
	}
	integrate := func(edge bool) error {
		in := tree.IntegrateHashed(chunk, leaves)
		chunk, leaves = chunk[:0], leaves[:0]
		if in.NewSize > newest {
			return nil // written with the next checkpoint
		}
		tiles := in.Tiles
		if edge && in.NewSize == newest {
			tiles = append(tiles, tree.Edge()...)
		}
		for _, t := range tiles {
			path := t.Path()
			got, err := l.ReadTile(path)
			if err != nil {
				return stop(firstLeaf(t.Tile), "tile %s of the checkpointed tree is missing", path)
			}
			if !bytes.Equal(got, t.Data) {
				return stop(firstLeaf(t.Tile), "tile %s differs from the entries", path)
			}
		}
		return nil
	}
	prev := GenesisHash
	var scratch, arena []byte
	err = l.Scan(1, func(seq int64, canonical []byte) error {
		if !HoldsSeq(canonical, seq, &scratch) {
			return stop(seq, "entry %d does not hold its own sequence number (moved or swapped)", seq)
		}
		if !ChainedTo(canonical, prev) {
			return stop(seq, "entry %d is not chained to entry %d", seq, seq-1)
		}
		leaf := LeafHash(canonical) // the chain hash and the tree's leaf: hashed once
		prev = HexHash(leaf)
		// Scan reuses its buffer: the chunk's entries are copied into one arena per chunk.
		if len(chunk) == 0 {
			arena = make([]byte, 0, 4096*(len(canonical)+64))
		}
		start := len(arena)
		arena = append(arena, canonical...)
		chunk = append(chunk, arena[start:len(arena):len(arena)])
		leaves = append(leaves, leaf)
		if root, ok := roots[seq]; ok {
			if err := integrate(true); err != nil {
				return err
			}
			if r := tree.Frontier.Root(); !bytes.Equal(r[:], root) {
				return stop(seq, "checkpoint at size %d: Merkle root differs from the entries", seq)
			}
		} else if len(chunk) == 4096 {
			if err := integrate(false); err != nil {
				return err
			}
		}
		rep.Entries, rep.Head = seq, prev
		return nil
	})
	if errors.Is(err, errStop) {
		return bad, nil
	}
	if err != nil {
		return Report{}, err
	}
	if n := len(cps); n > 0 && cps[n-1].Size > rep.Entries {
		return fail(rep.Entries+1, "the log ends at %d but a checkpoint covers %d entries (truncated)", rep.Entries, cps[n-1].Size)
	}
	rep.OK = true
	return rep, nil
}

// firstLeaf is the sequence number of the first entry a tile (or entry bundle, L -1) covers.
func firstLeaf(t tlog.Tile) int64 { return t.N<<(TileHeight*(max(t.L, 0)+1)) + 1 }
