package audit

import (
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Tree is a log writer's in-memory state: the frontier, and the right edge of the log in tiles — the
// hashes of the partial hash tile at each level and the entries of the partial entry bundle. With it,
// integrating a batch yields every tile and bundle it completed, and Edge the partial ones, ready to
// persist; nothing is read back. A Tree is used by one goroutine.
type Tree struct {
	Frontier Frontier
	edge     [][]tlog.Hash // by tile level: hashes of the partial tile (tree level 8·L), in order
	bundle   [][]byte      // entries of the partial entry bundle
	// upper makes only the hash tiles above level 0 (VerifyLog's workers check level 0 and the entry
	// bundles themselves, chunk by chunk).
	upper bool
}

// TileData is one hash tile or entry bundle (Tile.L == -1, as tlog names data tiles) to persist.
type TileData struct {
	Tile tlog.Tile
	Data []byte
}

// Path is the tile's C2SP tlog-tiles path: tile/<L>/<N>[.p/<W>] for hash tiles, tile/entries/<N>[.p/<W>]
// for entry bundles (tlog's own paths, tile/8/…, are the Go checksum database's).
func (t TileData) Path() string { return C2SPPath(t.Tile) }

// C2SPPath maps a tlog tile of height TileHeight to its C2SP tlog-tiles path.
func C2SPPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if rest, ok := strings.CutPrefix(p, "data/"); ok {
		return "tile/entries/" + rest
	}
	return "tile/" + p
}

// TreeIntegration is what appending a batch to a Tree yields.
type TreeIntegration struct {
	OldSize, NewSize int64
	// Tiles are the hash tiles and entry bundles the batch completed (width 256); the partial tiles of
	// the right edge are Edge's.
	Tiles []TileData
}

// Integrate appends canonical entries to the tree, in place, and returns the tiles they completed.
func (t *Tree) Integrate(entries [][]byte) TreeIntegration {
	leaves := make([]tlog.Hash, len(entries))
	for i, e := range entries {
		leaves[i] = LeafHash(e)
	}
	return t.IntegrateHashed(entries, leaves)
}

// IntegrateHashed is Integrate for a caller that has already computed each entry's leaf hash (its chain
// hash: LeafHash), so that no entry is hashed twice.
func (t *Tree) IntegrateHashed(entries [][]byte, leaves []tlog.Hash) TreeIntegration {
	out := TreeIntegration{OldSize: t.Frontier.Size()}
	for i, e := range entries {
		n := t.Frontier.Size()
		base := tlog.StoredHashCount(n)
		for k, h := range t.Frontier.Append(leaves[i]) {
			level, idx := tlog.SplitStoredHashIndex(base + int64(k))
			if level%TileHeight != 0 || t.upper && level == 0 {
				continue
			}
			tl := level / TileHeight
			for len(t.edge) <= tl {
				t.edge = append(t.edge, nil)
			}
			t.edge[tl] = append(t.edge[tl], h)
			if len(t.edge[tl]) == 1<<TileHeight {
				out.Tiles = append(out.Tiles, hashTile(tl, idx>>TileHeight, t.edge[tl]))
				t.edge[tl] = t.edge[tl][:0]
			}
		}
		if t.upper {
			continue
		}
		t.bundle = append(t.bundle, e)
		if len(t.bundle) == 1<<TileHeight {
			out.Tiles = append(out.Tiles, entryBundle(n>>TileHeight, t.bundle))
			t.bundle = t.bundle[:0]
		}
	}
	out.NewSize = t.Frontier.Size()
	return out
}

// Edge returns the partial tiles of the right edge at their current widths: the partial hash tile at each
// level and the partial entry bundle (none where the tree ends on a tile boundary).
func (t *Tree) Edge() []TileData {
	size := t.Frontier.Size()
	var out []TileData
	for tl, hashes := range t.edge {
		if len(hashes) > 0 {
			out = append(out, hashTile(tl, (size>>(TileHeight*tl))>>TileHeight, hashes))
		}
	}
	if len(t.bundle) > 0 {
		out = append(out, entryBundle(size>>TileHeight, t.bundle))
	}
	return out
}

func hashTile(level int, index int64, hashes []tlog.Hash) TileData {
	data := make([]byte, 0, len(hashes)*tlog.HashSize)
	for _, h := range hashes {
		data = append(data, h[:]...)
	}
	return TileData{Tile: tlog.Tile{H: TileHeight, L: level, N: index, W: len(hashes)}, Data: data}
}

// entryBundle encodes entries as C2SP tlog-tiles does: each a big-endian uint16 length, then the bytes.
func entryBundle(index int64, entries [][]byte) TileData {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	data := make([]byte, 0, n)
	for _, e := range entries {
		data = append(data, byte(len(e)>>8), byte(len(e)))
		data = append(data, e...)
	}
	return TileData{Tile: tlog.Tile{H: TileHeight, L: -1, N: index, W: len(entries)}, Data: data}
}
