package audit

import (
	"context"
	"errors"
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

// VerifyTrail checks a trail: the log (chain, checkpoints under v, tiles; log.Verify) and, at the same time
// on another core, every review index row against its entry — a missing row hides an entry from review, an
// edited one relabels it, a duplicated one or a row past the log invents one; each is tampering. The first
// bad seq of either is reported. Rows the index has not reached yet (lag) are not tampering.
func VerifyTrail(ctx context.Context, log LogStorage, v note.Verifier, index IndexSource) (Report, error) {
	type logResult struct {
		rep Report
		err error
	}
	logDone := make(chan logResult, 1)
	go func() {
		rep, err := log.Verify(v)
		logDone <- logResult{rep, err}
	}()
	ix, ixErr := verifyIndex(ctx, log, index)
	lr := <-logDone
	if err := errors.Join(lr.err, ixErr); err != nil {
		return Report{}, err
	}
	rep := lr.rep
	if ix.badSeq != 0 && (rep.OK || ix.badSeq < rep.FirstBadSeq) {
		rep.OK, rep.FirstBadSeq, rep.Reason = false, ix.badSeq, ix.reason
	}
	if rep.OK {
		rep.Indexed = ix.indexed
	}
	return rep, nil
}

// indexCheck is what a check of index rows found: the first row's seq, how far the rows reach without a
// gap, or the first bad one.
type indexCheck struct {
	first, indexed int64
	badSeq         int64
	reason         string
}

// verifyIndex checks the index rows up to the log's size when it starts, in two halves at once (each a
// merge of its rows with a sequential pass over its part of the log); a row past the log's size when it
// ends has no entry.
func verifyIndex(ctx context.Context, log LogReader, index IndexSource) (indexCheck, error) {
	size := log.Size()
	mid := size / 2
	type half struct {
		c   indexCheck
		err error
	}
	second := make(chan half, 1)
	go func() {
		c, err := verifyIndexRange(ctx, log, index, mid+1, size)
		second <- half{c, err}
	}()
	out, err := verifyIndexRange(ctx, log, index, 1, mid)
	h := <-second
	if err := errors.Join(err, h.err); err != nil {
		return indexCheck{}, err
	}
	switch {
	case out.badSeq != 0:
	case out.indexed < mid && h.c.first != 0:
		// The first half's rows end early while the second half has rows: the rows between are missing
		// (before anything the second half found).
		out.badSeq, out.reason = out.indexed+1, fmt.Sprintf("review index row %d is missing: the entry is hidden from review", out.indexed+1)
	case h.c.badSeq != 0:
		out = h.c
	case out.indexed == mid && h.c.first != 0:
		out.indexed = h.c.indexed
	}
	if out.badSeq != 0 {
		return out, nil
	}
	past, ok, err := index.FirstIndexRowAfter(ctx, log.Size())
	if err != nil {
		return indexCheck{}, err
	}
	if ok {
		out.badSeq, out.reason = past, fmt.Sprintf("review index row %d has no entry in the log", past)
	}
	return out, nil
}

// verifyIndexRange merges the index rows of entries lo..hi with one sequential pass over that part of the
// log: from lo, every entry up to the last row must have exactly one row, and each row must say what its
// entry says.
func verifyIndexRange(ctx context.Context, log LogReader, index IndexSource, lo, hi int64) (indexCheck, error) {
	out := indexCheck{indexed: lo - 1}
	if lo > hi {
		return out, nil
	}
	rows, err := index.IndexRows(ctx, lo, hi)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	var (
		rowSeq int64
		stored IndexRow
		more   bool
	)
	nextRow := func() (err error) {
		rowSeq, stored, more, err = rows.Next()
		return err
	}
	if err := nextRow(); err != nil {
		return out, err
	}
	if more {
		out.first = rowSeq
	}
	stop := errors.New("stop")
	bad := func(seq int64, format string, args ...any) error {
		out.badSeq, out.reason = seq, fmt.Sprintf(format, args...)
		return stop
	}
	err = log.Scan(lo, func(seq int64, canon []byte) error {
		switch {
		case !more || seq > hi:
			return stop // the rows end here: what follows is lag (or the other half's)
		case rowSeq > seq:
			return bad(seq, "review index row %d is missing: the entry is hidden from review", seq)
		case rowSeq < seq:
			return bad(rowSeq, "review index row %d is duplicated", rowSeq)
		}
		ix, err := IndexOfCanonical(canon)
		if err != nil {
			return bad(seq, "entry %d does not decode: %v", seq, err)
		}
		if col := ix.Differs(stored); col != "" {
			return bad(seq, "review index row %d differs from its entry in %s", seq, col)
		}
		out.indexed = seq
		if err := nextRow(); err != nil {
			return err
		}
		if more && rowSeq == seq {
			return bad(seq, "review index row %d is duplicated", seq)
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, stop) {
		return out, err
	}
	return out, nil
}

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
