package audit

import (
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Tree is a log writer's in-memory state: the frontier, and the right edge of the log in tiles — the
// hashes of the partial hash tile at each level and the entries of the partial entry bundle. With it,
// integrating a batch yields every tile and bundle the batch created or extended, ready to persist, and
// reads nothing back.
type Tree struct {
	Frontier Frontier
	edge     [][]tlog.Hash // by tile level: hashes of the partial tile (tree level 8·L), in order
	bundle   [][]byte      // entries of the partial entry bundle
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
	Integration
	// Tiles are the hash tiles and entry bundles the batch created or extended, each at its new width;
	// a tile that became full is written once as full (width 256).
	Tiles []TileData
}

// Integrate appends canonical entries to the tree and returns the new tree (t is not changed) with what to
// persist.
func (t Tree) Integrate(entries [][]byte) (Tree, TreeIntegration) {
	next := Tree{Frontier: t.Frontier.Clone(), bundle: append([][]byte(nil), t.bundle...)}
	for _, e := range t.edge {
		next.edge = append(next.edge, append([]tlog.Hash(nil), e...))
	}
	out := TreeIntegration{Integration: Integration{OldSize: t.Frontier.Size()}}
	changed := map[int]bool{} // tile levels touched, -1 for the entry bundle
	for _, e := range entries {
		n := next.Frontier.Size()
		base := tlog.StoredHashCount(n)
		stored := next.Frontier.Append(LeafHash(e))
		out.Hashes = append(out.Hashes, stored...)
		for k, h := range stored {
			level, idx := tlog.SplitStoredHashIndex(base + int64(k))
			if level%TileHeight != 0 {
				continue
			}
			tl := level / TileHeight
			for len(next.edge) <= tl {
				next.edge = append(next.edge, nil)
			}
			next.edge[tl] = append(next.edge[tl], h)
			changed[tl] = true
			if len(next.edge[tl]) == 1<<TileHeight {
				out.Tiles = append(out.Tiles, hashTile(tl, idx>>TileHeight, next.edge[tl]))
				next.edge[tl] = nil
				delete(changed, tl)
			}
		}
		next.bundle = append(next.bundle, e)
		changed[-1] = true
		if len(next.bundle) == 1<<TileHeight {
			out.Tiles = append(out.Tiles, entryBundle(n>>TileHeight, next.bundle))
			next.bundle = nil
			delete(changed, -1)
		}
	}
	size := next.Frontier.Size()
	for tl := range next.edge {
		if changed[tl] && len(next.edge[tl]) > 0 {
			index := (size >> (TileHeight * tl)) >> TileHeight
			out.Tiles = append(out.Tiles, hashTile(tl, index, next.edge[tl]))
		}
	}
	if changed[-1] && len(next.bundle) > 0 {
		out.Tiles = append(out.Tiles, entryBundle(size>>TileHeight, next.bundle))
	}
	out.NewSize, out.Root, out.Frontier = size, next.Frontier.Root(), next.Frontier
	return next, out
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
	var data []byte
	for _, e := range entries {
		data = append(data, byte(len(e)>>8), byte(len(e)))
		data = append(data, e...)
	}
	return TileData{Tile: tlog.Tile{H: TileHeight, L: -1, N: index, W: len(entries)}, Data: data}
}
