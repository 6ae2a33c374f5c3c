package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyLog recomputes a stored log from its entries, for any driver: every entry holds its own sequence
// number and is chained to the one before, every signed checkpoint verifies with v and its root is the tree
// of the entries it covers, no checkpoint covers more entries than are stored, and every hash tile and entry
// bundle stored up to the newest checkpoint is the one the entries make. It names the first bad sequence
// number.
//
// The entries are read in chunks that are checked and hashed on every core (verifyChunk); the tree is then
// built from their leaf hashes in order, comparing each tile as it completes, so no entry is hashed twice
// and at most a few chunks are held in memory.
func VerifyLog(l LogReader, v note.Verifier) (Report, error) {
	return verifyLog(context.Background(), l, nil, v)
}

// VerifyLogIndex is VerifyLog that also checks the review index row by row: from the first entry, every
// entry up to the last row has its row and each row says what its entry says. Rows may end before the log
// does (the index's lag; Report.Indexed says how far they reach), but an entry without a row before a later
// row is hidden from review and a row that differs relabels it: both are named like any tampering, at the
// first bad sequence number of the log and index together. Rows past the log's end are the store's to
// look for.
func VerifyLogIndex(ctx context.Context, l LogReader, ix IndexSource, v note.Verifier) (Report, error) {
	return verifyLog(ctx, l, ix, v)
}

func verifyLog(ctx context.Context, l LogReader, ix IndexSource, v note.Verifier) (Report, error) {
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
		if r, ok := roots[c.Size]; ok && !bytes.Equal(r, c.Root[:]) {
			// A log must not sign a checkpoint inconsistent with one it signed before (c2sp.org/tlog-checkpoint):
			// two trees of one size are a fork, whichever is genuine (the later one overwrote the earlier).
			return fail(c.Size, "two signed checkpoints of size %d with different roots: the log was forked", c.Size)
		}
		roots[c.Size] = c.Root[:]
	}
	newest := int64(0)
	if n := len(cps); n > 0 {
		newest = cps[n-1].Size
	}
	b := treeCheck{l: l, roots: roots, newest: newest, prev: GenesisHash, tree: Tree{upper: true}, index: ix != nil}

	// The scan (this goroutine) fills chunks; workers check and hash them; build takes them in order.
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *verifyChunk, workers)
	inOrder := make(chan *verifyChunk, 2*workers)
	free := make(chan *verifyChunk, 3*workers)
	quit := make(chan struct{}) // closed by build on the first failure: the scan stops
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range work {
				if ix != nil {
					c.err = c.readIndex(ctx, ix)
				}
				c.check(ix != nil)
				c.checkBundles(l, newest)
				close(c.done)
			}
		})
	}
	built := make(chan struct{})
	go func() {
		defer close(built)
		for c := range inOrder {
			<-c.done
			if !b.failed() {
				if b.take(c) {
					close(quit)
				}
			}
			select {
			case free <- c:
			default:
			}
		}
	}()
	errStop := errors.New("stop")
	var uncovered TimeSpan // of the entries past the newest checkpoint
	var c *verifyChunk
	send := func() {
		c.done = make(chan struct{})
		inOrder <- c
		work <- c
		c = nil
	}
	err = l.Scan(1, func(seq int64, canonical []byte) error {
		if seq > newest {
			uncovered.Add(canonical) // a bad entry is the chunk check's to name
		}
		if c == nil {
			select {
			case <-quit:
				return errStop
			default:
			}
			select {
			case c = <-free:
				c.reset(seq)
			default:
				c = newVerifyChunk(seq, len(canonical))
			}
		}
		c.add(canonical)
		if len(c.ends) == verifyChunkSize {
			send()
		}
		return nil
	})
	if c != nil && err == nil {
		send()
	}
	close(work)
	close(inOrder)
	wg.Wait()
	<-built
	if b.err != nil {
		return Report{}, b.err
	}
	if b.failed() {
		rep.FirstBadSeq, rep.Reason = b.badSeq, b.reason
		return rep, nil
	}
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, err
	}
	rep.Entries, rep.Head, rep.Indexed = b.size, b.prev, b.indexed
	if n := len(cps); n > 0 && cps[n-1].Size > rep.Entries {
		return fail(rep.Entries+1, "the log ends at %d but a checkpoint covers %d entries (truncated)", rep.Entries, cps[n-1].Size)
	}
	if span := uncovered.Duration(); rep.Entries > newest && span > MaxUncoveredSpan {
		return fail(newest+1, "entries %d to %d are covered by no signed checkpoint and span %s, where the writer signs one within seconds of any entry and on every clean shutdown: later checkpoints were removed, and only a witness's checkpoint can vouch for these entries",
			newest+1, rep.Entries, span.Round(time.Second))
	}
	rep.OK = true
	return rep, nil
}

// MaxUncoveredSpan is the longest time the entries past the newest signed checkpoint may span. The writer
// signs a checkpoint within a second or two of any entry and on every clean shutdown, so only the last
// moments before a crash are ever left uncovered; a longer run means checkpoints were deleted — which a
// history rewritten after them needs (verify with the pinned key said ok, and serve signed the rewrite).
const MaxUncoveredSpan = 30 * time.Second

// TimeSpan is the time a run of entries covers, from the first entry added to the last (by their ts).
type TimeSpan struct{ first, last time.Time }

// Add takes the next canonical entry of the run; one whose ts does not read is left out.
func (s *TimeSpan) Add(canonical []byte) {
	row, err := IndexOfCanonical(canonical)
	if err != nil {
		return
	}
	if s.first.IsZero() {
		s.first = row.TS
	}
	s.last = row.TS
}

// Duration is the time from the first entry added to the last.
func (s TimeSpan) Duration() time.Duration { return s.last.Sub(s.first) }

// verifyChunkSize is the number of entries a verify chunk holds: a multiple of an entry bundle's 256, so no
// bundle spans two chunks and a chunk's memory can be reused once it is built into the tree.
const verifyChunkSize = 4096

// verifyChunk is a run of consecutive entries that a worker checks on its own: each holds its sequence
// number, each after the first is chained to the one before, and each is hashed once (its leaf and chain
// hash). The first entry's chain to the previous chunk is checked in order, by treeCheck.
type verifyChunk struct {
	first   int64
	arena   []byte   // the entries' bytes (Scan reuses its buffer)
	ends    []int    // end offset of each entry in arena
	entries [][]byte // views into arena, made by check
	leaves  []tlog.Hash
	badSeq  int64 // the chunk's first entry that fails its own checks (0: none)
	reason  string
	// The review index rows of the chunk's entries (VerifyLogIndex): the first row's seq and the last of
	// the rows that start at the chunk's first entry without a gap (0: none), or the first bad one.
	rows                      []seqRow
	ixFirst, ixThrough, ixBad int64
	ixReason                  string
	err                       error // reading the index failed
	done                      chan struct{}
}

func newVerifyChunk(first int64, entrySize int) *verifyChunk {
	c := &verifyChunk{arena: make([]byte, 0, verifyChunkSize*(entrySize+64))}
	c.reset(first)
	return c
}

func (c *verifyChunk) reset(first int64) {
	c.first, c.arena, c.ends, c.entries, c.leaves = first, c.arena[:0], c.ends[:0], c.entries[:0], c.leaves[:0]
	c.badSeq, c.reason = 0, ""
	c.rows, c.ixFirst, c.ixThrough, c.ixBad, c.ixReason, c.err = c.rows[:0], 0, 0, 0, "", nil
}

// add copies the next entry into the chunk (entries are sliced out of arena by check, once it no longer
// grows).
func (c *verifyChunk) add(canonical []byte) {
	c.arena = append(c.arena, canonical...)
	c.ends = append(c.ends, len(c.arena))
}

// changedBefore is the reason for entry seq-1 when seq, intact, still holds the hash seq-1 had.
func changedBefore(seq int64) string {
	return fmt.Sprintf("entry %d was changed after it was logged (entry %d holds the hash it had)", seq-1, seq)
}

// entry is the canonical bytes of the chunk's entry i.
func (c *verifyChunk) entry(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.arena[start:c.ends[i]:c.ends[i]]
}

func (c *verifyChunk) check(index bool) {
	if index && len(c.rows) > 0 {
		c.ixFirst = c.rows[0].seq
	}
	var scratch []byte
	start := 0
	for i, end := range c.ends {
		e := c.arena[start:end:end]
		start = end
		c.entries = append(c.entries, e)
		seq := c.first + int64(i)
		if index {
			c.checkRow(i, seq, e) // while the entry is in cache
		}
		if c.badSeq == 0 && !HoldsSeq(e, seq, &scratch) {
			c.badSeq, c.reason = seq, fmt.Sprintf("entry %d does not hold its own sequence number (moved or swapped)", seq)
		}
		if c.badSeq == 0 && i > 0 && !chainedToLeaf(e, c.leaves[i-1]) {
			c.badSeq, c.reason = seq, fmt.Sprintf("entry %d is not chained to entry %d", seq, seq-1)
			if i+1 < len(c.ends) && chainedToLeaf(c.entry(i+1), LeafHash(e)) {
				// This entry is intact — the next still holds its hash — so the one before it was changed
				// after it was logged: this entry holds the hash it had.
				c.badSeq, c.reason = seq-1, changedBefore(seq)
			}
		}
		c.leaves = append(c.leaves, LeafHash(e))
	}
	if index && c.ixBad == 0 && len(c.rows) > len(c.entries) {
		// More rows than entries, all within the chunk: the last entry's row twice.
		r := c.rows[len(c.entries)]
		c.ixBad, c.ixReason = r.seq, fmt.Sprintf("review index row %d is duplicated", r.seq)
	}
}

// checkBundles compares the entry bundles and level-0 hash tiles of the chunk's entries — the whole ones up
// to the newest checkpoint and the partial one that ends it — with the stored ones, up to the chunk's first
// bad entry (a tile that holds it is not blamed before it). Chunks start on a bundle boundary.
func (c *verifyChunk) checkBundles(l LogReader, newest int64) {
	const width = 1 << TileHeight
	last := c.first + int64(len(c.entries)) - 1
	for start := c.first; start <= last; start += width {
		end := min(start+width-1, last, newest)
		if end < start || (c.badSeq != 0 && end >= c.badSeq) || (end-start+1 < width && end != newest) {
			return
		}
		n, i, j := (start-1)/width, start-c.first, end-c.first+1
		w := int(j - i)
		for _, t := range []struct {
			tile tlog.Tile
			diff func([]byte) int // the first entry of the tile that differs, -1 if none
		}{
			{tlog.Tile{H: TileHeight, L: -1, N: n, W: w}, func(b []byte) int { return bundleDiff(b, c.entries[i:j]) }},
			{tlog.Tile{H: TileHeight, L: 0, N: n, W: w}, func(b []byte) int { return tileDiff(b, c.leaves[i:j]) }},
		} {
			path := C2SPPath(t.tile)
			got, err := l.ReadTile(path)
			if err != nil {
				c.badSeq, c.reason = start, fmt.Sprintf("tile %s of the checkpointed tree is missing", path)
				return
			}
			if k := t.diff(got); k >= 0 {
				// Named at the entry where they part: an edit of the last entry is that entry, not its tile's first.
				c.badSeq, c.reason = start+int64(k), fmt.Sprintf("tile %s differs from the entries at entry %d", path, start+int64(k))
				return
			}
		}
	}
}

// bundleDiff returns the index of the first of entries that data, an entry bundle (entryBundle's encoding),
// does not hold as it is, compared in place; len(entries) when data holds more; -1 when it is their bundle.
func bundleDiff(data []byte, entries [][]byte) int {
	for k, e := range entries {
		if len(data) < 2 || int(data[0])<<8|int(data[1]) != len(e) || len(data)-2 < len(e) || !bytes.Equal(data[2:2+len(e)], e) {
			return k
		}
		data = data[2+len(e):]
	}
	if len(data) != 0 {
		return len(entries)
	}
	return -1
}

// tileDiff returns the index of the first of hashes that data, a level-0 hash tile, does not hold; -1 when
// it is their tile.
func tileDiff(data []byte, hashes []tlog.Hash) int {
	for k, h := range hashes {
		if len(data) < (k+1)*tlog.HashSize || !bytes.Equal(data[k*tlog.HashSize:(k+1)*tlog.HashSize], h[:]) {
			return k
		}
	}
	if len(data) != len(hashes)*tlog.HashSize {
		return len(hashes)
	}
	return -1
}

// readIndex reads the index rows of the chunk's entries, which check compares with them.
func (c *verifyChunk) readIndex(ctx context.Context, ix IndexSource) error {
	rows, err := ix.IndexRows(ctx, c.first, c.first+int64(len(c.ends))-1)
	if err != nil {
		return err
	}
	for {
		seq, row, ok, err := rows.Next()
		if err != nil || !ok {
			return errors.Join(err, rows.Close())
		}
		c.rows = append(c.rows, seqRow{seq, row})
	}
}

// seqRow is an index row and the entry it claims to be the row of.
type seqRow struct {
	seq int64
	row IndexRow
}

// checkRow checks the chunk's i-th index row against entry seq, e, as the entries go by: rows must start
// at the chunk's first entry and follow without a gap until they end, each the row of its entry.
func (c *verifyChunk) checkRow(i int, seq int64, e []byte) {
	if c.ixBad != 0 || i >= len(c.rows) {
		return // a bad row found already, or the rows have ended
	}
	r := c.rows[i]
	switch {
	case r.seq < seq: // a second row of an entry already matched (a store whose key is not seq alone)
		c.ixBad, c.ixReason = r.seq, fmt.Sprintf("review index row %d is duplicated", r.seq)
		return
	case r.seq > seq:
		c.ixBad, c.ixReason = seq, fmt.Sprintf("review index row %d is missing: the entry is hidden from review", seq)
		return
	}
	row, err := IndexOfCanonical(e)
	if err != nil {
		c.ixBad, c.ixReason = seq, fmt.Sprintf("entry %d does not decode: %v", seq, err)
		return
	}
	if col := row.Differs(r.row); col != "" {
		c.ixBad, c.ixReason = seq, fmt.Sprintf("review index row %d differs from its entry in %s", seq, col)
		return
	}
	c.ixThrough = seq
}

// chainedToLeaf is ChainedTo for the previous entry's leaf hash, without making its hex string.
func chainedToLeaf(canonical []byte, leaf tlog.Hash) bool {
	var prev [2 * tlog.HashSize]byte
	hex.Encode(prev[:], leaf[:])
	return ChainedTo(canonical, string(prev[:]))
}

// treeCheck builds the tree from checked chunks, in order: it chains each chunk to the last, checks every
// checkpoint's root at its size, and compares each tile and entry bundle up to the newest checkpoint with
// the stored one as the entries complete it.
type treeCheck struct {
	l      LogReader
	roots  map[int64][]byte
	newest int64
	tree   Tree
	// vouched is the size of the last checkpoint whose root the entries gave: the entries up to it are
	// the ones that were signed.
	vouched int64
	size    int64  // entries built into the tree
	prev    string // chain hash of entry size
	badSeq  int64
	reason  string
	err     error // a chunk's index could not be read
	// With the review index (VerifyLogIndex): how far its rows reach without a gap, and whether they have
	// ended (a later row is then an entry hidden from review).
	index   bool
	indexed int64
	ixEnded bool
}

func (b *treeCheck) failed() bool { return b.badSeq != 0 || b.err != nil }

func (b *treeCheck) fail(seq int64, format string, args ...any) {
	b.badSeq, b.reason = seq, fmt.Sprintf(format, args...)
}

// take builds chunk c into the tree and reports whether a failure was found (in c or before it).
func (b *treeCheck) take(c *verifyChunk) bool {
	if c.err != nil {
		b.err = c.err
		return true
	}
	n := len(c.entries)
	if c.badSeq != c.first && n > 0 && !ChainedTo(c.entries[0], b.prev) {
		if n > 1 && chainedToLeaf(c.entries[1], LeafHash(c.entries[0])) { // as within a chunk (check)
			b.fail(c.first-1, "%s", changedBefore(c.first))
			return true
		}
		b.fail(c.first, "entry %d is not chained to entry %d", c.first, c.first-1)
		return true
	}
	if b.index {
		b.takeIndex(c)                           // after the log's own checks of the first entry, which name it first
		if c.badSeq != 0 && c.badSeq < c.first { // an entry of an earlier chunk, hidden from review
			b.fail(c.badSeq, "%s", c.reason)
			return true
		}
	}
	if c.badSeq != 0 {
		n = int(c.badSeq - c.first) // the entries before the bad one still count, and their checkpoints
	}
	from := 0
	for i := range n {
		seq := c.first + int64(i)
		if root, ok := b.roots[seq]; ok {
			if b.integrate(c.entries[from:i+1], c.leaves[from:i+1], true) {
				return true
			}
			from = i + 1
			if r := b.tree.Frontier.Root(); !bytes.Equal(r[:], root) {
				// With the chain rebuilt over a changed entry, only the root shows it: the change is somewhere
				// after the last checkpoint the entries still give, and that is as close as the log can say.
				b.fail(b.vouched+1, "checkpoint at size %d: Merkle root differs from the entries: an entry from %d to %d was changed (its chain rebuilt), or the checkpoint is not this log's",
					seq, b.vouched+1, seq)
				return true
			}
			b.vouched = seq
		}
	}
	if b.integrate(c.entries[from:n], c.leaves[from:n], false) {
		return true
	}
	if n > 0 {
		b.size, b.prev = c.first+int64(n)-1, HexHash(c.leaves[n-1])
	}
	if c.badSeq != 0 {
		b.fail(c.badSeq, "%s", c.reason)
		return true
	}
	return false
}

// takeIndex carries the index check across chunks, in order: a chunk's bad row, or rows in a chunk after
// rows that ended earlier, become the chunk's first bad entry if none comes before.
func (b *treeCheck) takeIndex(c *verifyChunk) {
	seq, reason := c.ixBad, c.ixReason
	if b.ixEnded && c.ixFirst != 0 { // before anything the chunk's own rows show
		seq, reason = b.indexed+1, fmt.Sprintf("review index row %d is missing: the entry is hidden from review", b.indexed+1)
	}
	if seq != 0 && (c.badSeq == 0 || seq < c.badSeq) {
		c.badSeq, c.reason = seq, reason
	}
	if !b.ixEnded {
		if c.ixFirst == c.first {
			b.indexed = c.ixThrough
		}
		b.ixEnded = b.indexed < c.first+int64(len(c.entries))-1
	}
}

// integrate adds entries to the tree and compares the tiles they complete (with the right edge's partial
// ones when edge is set and they end the newest checkpoint's tree); it reports a mismatch.
func (b *treeCheck) integrate(entries [][]byte, leaves []tlog.Hash, edge bool) bool {
	if len(entries) == 0 {
		return false
	}
	in := b.tree.IntegrateHashed(entries, leaves)
	if in.NewSize > b.newest {
		return false // written with the next checkpoint
	}
	tiles := in.Tiles
	if edge && in.NewSize == b.newest {
		tiles = append(tiles, b.tree.Edge()...)
	}
	for _, t := range tiles {
		path := t.Path()
		got, err := b.l.ReadTile(path)
		if err != nil {
			b.fail(firstLeaf(t.Tile), "tile %s of the checkpointed tree is missing", path)
			return true
		}
		if !bytes.Equal(got, t.Data) {
			b.fail(partsAt(t.Tile, got, t.Data), "tile %s differs from the entries", path)
			return true
		}
	}
	return false
}

// partsAt is the sequence number of the first entry under the first hash where a stored hash tile parts
// from the one the entries give (an entry bundle's first entry: its entries are framed, not hashed).
func partsAt(t tlog.Tile, stored, want []byte) int64 {
	if t.L < 0 {
		return firstLeaf(t)
	}
	k := int64(0)
	for k < int64(min(len(stored), len(want)))/tlog.HashSize && bytes.Equal(stored[k*tlog.HashSize:(k+1)*tlog.HashSize], want[k*tlog.HashSize:(k+1)*tlog.HashSize]) {
		k++
	}
	return (t.N<<TileHeight+k)<<(TileHeight*t.L) + 1
}

// firstLeaf is the sequence number of the first entry a tile (or entry bundle, L -1) covers.
func firstLeaf(t tlog.Tile) int64 { return t.N<<(TileHeight*(max(t.L, 0)+1)) + 1 }
