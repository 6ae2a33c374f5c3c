package audit

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// What every Store does the same whatever keeps the review index: check the index against the log, check
// an entry against the row that selected it, read the newest checkpoint and the tree's hashes. The stores
// (internal/sqlite, internal/postgres) only read their rows.

// IndexCursor reads stored review index rows in seq order.
type IndexCursor interface {
	// Next returns the next row; ok is false after the last one.
	Next() (seq int64, row IndexRow, ok bool, err error)
	Close() error
}

// IndexSource is a store's review index as VerifyTrail reads it.
type IndexSource interface {
	// IndexRows returns the rows of the entries lo..hi, in seq order.
	IndexRows(ctx context.Context, lo, hi int64) (IndexCursor, error)
	// FirstIndexRowAfter returns the smallest seq of a row after seq, if there is one.
	FirstIndexRowAfter(ctx context.Context, seq int64) (int64, bool, error)
}

// CheckIndexed checks an entry read through its review index row: a row that says something its entry
// does not (ErrIndexTampered) must neither relabel nor hide an entry.
func CheckIndexed(seq int64, canonical []byte, row IndexRow) error {
	ix, err := IndexOfCanonical(canonical)
	if err != nil {
		return fmt.Errorf("decode audit entry %d: %w", seq, err)
	}
	if col := ix.Differs(row); col != "" {
		return fmt.Errorf("%w: review index row %d differs from its entry in %s (run vaultd audit verify)", ErrIndexTampered, seq, col)
	}
	return nil
}

// VerifyTrail checks a trail: the log (chain, checkpoints under v, tiles) and every review index row
// against its entry, together (VerifyLogIndex) — a missing row hides an entry from review, an edited one
// relabels it, a duplicated one or a row past the log invents one; each is tampering, and the first bad seq
// is reported. Rows the index has not reached yet (lag) are not tampering.
func VerifyTrail(ctx context.Context, log LogReader, v note.Verifier, index IndexSource) (Report, error) {
	rep, err := VerifyLogIndex(ctx, log, index, v)
	if err != nil || !rep.OK {
		return rep, err
	}
	past, ok, err := index.FirstIndexRowAfter(ctx, rep.Entries)
	if err != nil {
		return Report{}, err
	}
	if ok {
		// Rows past the entries checked are the index of entries appended since, when the log has them now
		// (a verify beside a running writer): the next verify checks them. Only rows past every entry the
		// log holds are rows without an entry.
		grew := log.Size() >= past
		if a, canTell := log.(interface{ Appended() (bool, error) }); canTell && !grew {
			if grew, err = a.Appended(); err != nil {
				return Report{}, err
			}
		}
		ok = !grew
	}
	if ok {
		rep.OK, rep.FirstBadSeq, rep.Indexed = false, past, 0
		rep.Reason = fmt.Sprintf("review index row %d has no entry in the log", past)
	}
	return rep, nil
}

// LogViews answers the parts of Store that only read the log — checkpoints, leaves, tree hashes — the same
// for every store; a store's trail embeds it over its log.
type LogViews struct{ Log LogReader }

// Checkpoints implements Store: every signed checkpoint, oldest first.
func (v LogViews) Checkpoints(context.Context) ([]StoredCheckpoint, error) {
	return v.Log.Checkpoints()
}

// LatestCheckpoint implements Store.
func (v LogViews) LatestCheckpoint(context.Context) (StoredCheckpoint, error) {
	return LatestCheckpoint(v.Log)
}

// Leaf implements Store: the canonical entry numbered seq.
func (v LogViews) Leaf(_ context.Context, seq int64) ([]byte, error) { return v.Log.Entry(seq) }

// ReadHashes implements tlog.HashReader over the log's hash tiles, for the tree of the newest checkpoint.
func (v LogViews) ReadHashes(indexes []int64) ([]tlog.Hash, error) { return ReadHashes(v.Log, indexes) }

// LatestCheckpoint returns the log's newest signed checkpoint with the size it covers (its signature is
// the verifier's business), or ErrNoCheckpoint.
func LatestCheckpoint(log LogReader) (StoredCheckpoint, error) {
	signed, err := log.Checkpoint()
	if err != nil {
		return StoredCheckpoint{}, err
	}
	c, err := noteCheckpoint(signed)
	if err != nil {
		return StoredCheckpoint{}, err
	}
	return StoredCheckpoint{Size: c.Size, Note: signed}, nil
}

// noteCheckpoint reads the checkpoint a signed note carries, without checking its signature.
func noteCheckpoint(signed []byte) (Checkpoint, error) {
	text := string(signed)
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i+1]
	}
	return ParseCheckpoint(text)
}

// ReadHashes reads tree hashes by tlog stored-hash index from the log's hash tiles, for the tree of its
// newest checkpoint: every hash read is checked against that checkpoint's root (tlog.TileHashReader).
func ReadHashes(log LogReader, indexes []int64) ([]tlog.Hash, error) {
	signed, err := log.Checkpoint()
	if err != nil {
		return nil, err
	}
	c, err := noteCheckpoint(signed)
	if err != nil {
		return nil, err
	}
	return tlog.TileHashReader(tlog.Tree{N: c.Size, Hash: c.Root}, logTiles{log}).ReadHashes(indexes)
}

// logTiles is tlog.TileReader over a log's C2SP tiles.
type logTiles struct{ log LogReader }

func (r logTiles) Height() int { return TileHeight }

func (r logTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		data, err := r.log.ReadTile(C2SPPath(tile))
		if err != nil {
			return nil, fmt.Errorf("read tile %s: %w", C2SPPath(tile), err)
		}
		out[i] = data
	}
	return out, nil
}

func (r logTiles) SaveTiles([]tlog.Tile, [][]byte) {}
