package seglog

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
)

// Verify recomputes the log from its segments: every entry holds its own sequence number and is chained to
// the one before, every signed checkpoint verifies with v and its root is the tree of the entries it
// covers, no checkpoint covers more entries than are stored, and every hash tile and entry bundle on disk
// up to the newest checkpoint is the one the entries make. It names the first bad sequence number.
func (l *Log) Verify(v note.Verifier) (audit.Report, error) {
	cps, err := l.Checkpoints()
	if err != nil {
		return audit.Report{}, err
	}
	rep := audit.Report{Checkpoints: len(cps)}
	fail := func(seq int64, format string, args ...any) (audit.Report, error) {
		rep.FirstBadSeq, rep.Reason = seq, fmt.Sprintf(format, args...)
		return rep, nil
	}
	roots := map[int64][]byte{} // checkpoint size → signed root
	for _, sc := range cps {
		c, err := audit.OpenCheckpoint(sc.Note, v)
		if err != nil {
			return fail(sc.Size, "checkpoint at size %d: %v", sc.Size, err)
		}
		roots[c.Size] = c.Root[:]
	}
	var tree audit.Tree
	var chunk [][]byte
	onDisk := map[string][]byte{} // the newest version of each tile the entries make, by path
	integrate := func(edge bool) {
		tiles := tree.Integrate(chunk).Tiles
		if edge {
			tiles = append(tiles, tree.Edge()...)
		}
		for _, t := range tiles {
			onDisk[t.Path()] = t.Data
		}
		chunk = chunk[:0]
	}
	prev := audit.GenesisHash
	errStop := errors.New("stop")
	var bad audit.Report
	stop := func(seq int64, format string, args ...any) error {
		bad, _ = fail(seq, format, args...)
		return errStop
	}
	err = l.Scan(1, func(seq int64, canonical []byte) error {
		if !bytes.HasPrefix(canonical, []byte(`{"seq":`+strconv.FormatInt(seq, 10)+`,`)) {
			return stop(seq, "entry %d does not hold its own sequence number (moved or swapped)", seq)
		}
		if !bytes.HasSuffix(canonical, []byte(`,"prev_hash":"`+prev+`"}`)) {
			return stop(seq, "entry %d is not chained to entry %d", seq, seq-1)
		}
		prev = audit.HexHash(audit.LeafHash(canonical))
		chunk = append(chunk, slices.Clone(canonical)) // Scan reuses its buffer
		if root, ok := roots[seq]; ok {
			integrate(true)
			if r := tree.Frontier.Root(); !bytes.Equal(r[:], root) {
				return stop(seq, "checkpoint at size %d: Merkle root differs from the entries", seq)
			}
		} else if len(chunk) == 4096 {
			integrate(false)
		}
		rep.Entries, rep.Head = seq, prev
		return nil
	})
	if errors.Is(err, errStop) {
		return bad, nil
	}
	if err != nil {
		return audit.Report{}, err
	}
	if len(chunk) > 0 {
		integrate(false)
	}
	if n := len(cps); n > 0 && cps[n-1].Size > rep.Entries {
		return fail(rep.Entries+1, "the log ends at %d but a checkpoint covers %d entries (truncated)", rep.Entries, cps[n-1].Size)
	}
	// Tiles are written at checkpoint time: every tile and entry bundle of the newest checkpoint's tree
	// must be on disk as the entries make it.
	if n := len(cps); n > 0 {
		for _, t := range tlog.NewTiles(audit.TileHeight, 0, cps[n-1].Size) {
			paths := []string{audit.C2SPPath(t)}
			if t.L == 0 {
				b := t
				b.L = -1
				paths = append(paths, audit.C2SPPath(b))
			}
			for _, path := range paths {
				got, err := l.ReadTile(path)
				if err != nil {
					return fail(firstLeaf(t), "tile %s of the checkpointed tree is missing", path)
				}
				if !bytes.Equal(got, onDisk[path]) {
					return fail(firstLeaf(t), "tile %s differs from the entries", path)
				}
			}
		}
	}
	rep.OK = true
	return rep, nil
}

// firstLeaf is the sequence number of the first entry a tile covers.
func firstLeaf(t tlog.Tile) int64 { return t.N<<(audit.TileHeight*(t.L+1)) + 1 }
