// Package seglog is the audit log's embedded storage: canonical entries appended to segment files by one
// writer with group commit — an entry is acknowledged only once it is on disk — and, beside them, the log's
// hash tiles, entry bundles and signed checkpoints in the C2SP tlog-tiles layout, so that any tlog-tiles
// client can read and verify the log from the files alone.
//
// Two goroutines append. The writer numbers and chains each group, writes it with one write and hands it
// to the syncer, then integrates it into the tree while the syncer runs the fdatasync: the next group forms
// and is written while the previous one syncs, and one fdatasync covers every group written meanwhile. The
// syncer answers the groups, in log order, once they are on disk. A failed fdatasync stops the log for
// good (ErrSyncFailed): which written pages reached the disk is then unknown, so nothing more is appended
// until the log is reopened and recovery finds where it ends.
//
// The tree math is audit.Tree's; this package persists what it is given and recovers after a crash: a torn
// last frame (the process died mid-write) is cut off at startup, and tiles a crash left unwritten are
// rewritten from the segments.
//
// The writer keeps the last segment's blocks allocated ahead of its end: zeros, written with the groups and
// synced by their fdatasync, about zeroAhead bytes past the last frame (PostgreSQL zero-fills its WAL segments
// for the same reason). A group then overwrites allocated blocks and its fdatasync has no file size or
// extent to journal, only the data to flush — on ext4 here, about half the latency of a sync that grows the
// file. A segment therefore ends at its last frame or at a zero length header followed by nothing but zeros.
//
// The segments are the source of truth; tiles and checkpoints are derived from them and written at
// checkpoint time (at most CheckpointInterval after an entry, and on Close).
//
// Layout under the directory:
//
//	segments/<first seq, 20 digits>.log   frames: uint32 BE length, canonical entry, uint32 BE CRC-32C
//	tile/<L>/<N>[.p/<W>]                   hash tiles (C2SP tlog-tiles)
//	tile/entries/<N>[.p/<W>]               entry bundles
//	checkpoint                             the newest signed checkpoint note
//	checkpoints                            every signed checkpoint, framed like the segments
package seglog

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/datadir"
)

// MaxEntry is the largest canonical entry the log takes: entry bundles store lengths as uint16.
const MaxEntry = 1<<16 - 1

const frameOverhead = 8

var (
	// ErrClosed is returned by appends after Close.
	ErrClosed = errors.New("seglog: log closed")
	// ErrRefused is returned for an entry whose admit check declined it in the sequencing step.
	ErrRefused = audit.ErrRefused
	// ErrTooLarge is returned for an entry longer than MaxEntry.
	ErrTooLarge = errors.New("seglog: entry too large")
	// ErrCorrupt is returned by Open when a segment other than the last is damaged.
	ErrCorrupt = errors.New("seglog: log corrupted")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a Log.
type Options struct {
	// SegmentSize is the size past which a new segment file is started (default 64 MiB).
	SegmentSize int64
	// Signer signs checkpoints; without one the log writes no tiles or checkpoints.
	Signer *audit.Signer
	// CheckpointInterval is how long an entry may stay uncovered by a checkpoint (default 1 s).
	CheckpointInterval time.Duration
	// MaxBatch bounds a group commit (default 4096 entries).
	MaxBatch int
	// ReadOnly opens the log for reading and verification only: nothing is written or cut off, and a log
	// shorter than its checkpoints opens (so that Verify can say where it ends).
	ReadOnly bool
}

// Stats are counters of the writer, for benchmarks and metrics.
type Stats struct {
	// Groups counts the rounds of the syncer (each one fdatasync per segment it touched, answering every
	// group written since the last); Writes the groups written.
	Entries, Groups, Syncs int64
	Writes                 int64
	SyncTime               time.Duration
}

// Log is an open audit log. Append is safe for concurrent use; one goroutine writes.
type Log struct {
	dir  string
	opts Options
	reqs chan *request
	quit chan struct{}
	done chan struct{}
	shut atomic.Bool

	mu   sync.RWMutex // guards segs and size for readers
	segs []*segment
	size int64

	head string // the chain hash of entry size

	// Writer goroutine state: wsize and whead are size and head counting the groups written but not yet
	// synced.
	tree     audit.Tree
	wsize    int64
	whead    string
	full     []audit.TileData         // tiles completed since the last checkpoint, written with the next one
	cpSize   int64                    // size the newest checkpoint covers, or the one being written (writer's view)
	frozen   []audit.StoredCheckpoint // a read-only log's checkpoints, as they were when it was opened
	cpAt     time.Time                // when the writer last handed a checkpoint to the checkpointer
	cps      chan checkpointJob
	cpDone   chan struct{}
	cpFile   *os.File
	checkErr atomic.Pointer[error]

	// The syncer's: written groups in log order, closed by the writer when it stops; syncDone is closed
	// once the last is synced and answered. synced is the size synced so far, and syncNote is signalled
	// after each sync (maybeCheckpoint waits for the syncer to catch up). failed is set by a failed
	// fdatasync, for good.
	jobs     chan *job
	syncDone chan struct{}
	synced   atomic.Int64
	unsynced atomic.Int64 // requests written and not answered yet
	syncNote chan struct{}
	failed   atomic.Pointer[error]

	entries, groups, syncs, writes atomic.Int64
	syncNanos                      atomic.Int64
	// inflight counts appends between their call and their answer; lastSync is the last fdatasync's
	// duration. The writer waits for appends still on their way (see gather).
	inflight atomic.Int64
	lastSync atomic.Int64
}

type segment struct {
	first   int64
	f       *os.File
	offsets []int64 // offset of each synced frame
	end     int64   // the end of the last synced frame
	wend    int64   // the writer's: the end of the last frame written
	zeroed  int64   // the writer's: bytes [wend, zeroed) are zeros written (see zeroAhead)
}

// zeroAhead is how far past its last frame the writer keeps the last segment zero-filled. The zeros go out
// with the group that comes within half of it of their end, so one group in about zeroAhead/2 bytes of
// entries flushes them and journals the file's new size.
const zeroAhead = 1 << 20

// zeroBlock is the source of the zero fill (never written: it stays the kernel's shared zero page).
var zeroBlock [zeroAhead]byte

type request struct {
	body  []byte // audit.Entry.Body: the canonical entry without the seq and prev_hash the writer assigns
	admit func() bool
	// canons, when set, replaces body: canonical entries an outside sequencer numbered and chained
	// (AppendBatch), the first numbered first.
	canons [][]byte
	first  int64
	done   chan result
}

type result struct {
	seq int64
	err error
}

// Open opens (creating if needed) the log in dir, cutting off a torn last frame and rewriting tiles a
// crash left unwritten.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	for _, d := range []string{dir, filepath.Join(dir, "segments"), filepath.Join(dir, "tile")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	l := &Log{dir: dir, opts: opts, reqs: make(chan *request, 1024), quit: make(chan struct{}), done: make(chan struct{}),
		head: audit.GenesisHash}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	if l.cpSize > l.size && !opts.ReadOnly { // recover read the newest checkpoint's size
		l.closeFiles()
		return nil, fmt.Errorf("%w: a checkpoint covers %d entries but only %d are stored (truncated)", ErrCorrupt, l.cpSize, l.size)
	}
	if l.cpSize == 0 && l.size > 0 && opts.Signer != nil {
		// Signing now would vouch for entries no checkpoint ever covered: a log rewritten after its
		// checkpoints were deleted. (A writer that died before its first checkpoint — within a second of
		// the first entry — leaves the same; restore the data dir from a backup then.)
		l.closeFiles()
		return nil, fmt.Errorf("%w: the log holds %d entries but no signed checkpoint (audit/checkpoints is missing or empty): refusing to sign over entries nothing vouches for; restore audit/checkpoints or the data dir from a backup", ErrCorrupt, l.size)
	}
	if l.size > l.cpSize && opts.Signer != nil {
		// The same for the entries past the newest checkpoint when they span longer than a crash leaves
		// uncovered: later checkpoints were deleted (a rewritten history's signature), and signing now would
		// vouch for the rewrite.
		span, err := l.uncoveredSpan()
		if err == nil && span > audit.MaxUncoveredSpan {
			err = fmt.Errorf("%w: entries %d to %d are covered by no signed checkpoint and span %s, where the writer signs one within seconds of any entry: refusing to sign over entries nothing vouches for; restore audit/checkpoints or the data dir from a backup, and check the log against a witness (vaultd audit witness)",
				ErrCorrupt, l.cpSize+1, l.size, span.Round(time.Second))
		}
		if err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	if opts.ReadOnly {
		l.shut.Store(true)
		close(l.done)
		return l, nil
	}
	if opts.Signer != nil {
		var err error
		if l.cpFile, err = os.OpenFile(filepath.Join(dir, "checkpoints"), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600); err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	if opts.Signer != nil {
		l.cps, l.cpDone = make(chan checkpointJob, 1), make(chan struct{})
		go l.checkpointer()
	}
	for _, seg := range l.segs {
		seg.wend = seg.end
	}
	l.wsize, l.whead = l.size, l.head
	l.synced.Store(l.size)
	l.jobs, l.syncDone, l.syncNote = make(chan *job, 1024), make(chan struct{}), make(chan struct{}, 1)
	go l.sync()
	go l.write()
	return l, nil
}

// recover scans every segment, cuts a torn tail off the last, and rebuilds the tree and the chain head.
func (l *Log) recover() error {
	names, err := filepath.Glob(filepath.Join(l.dir, "segments", "*.log"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Entries a signed checkpoint covers were acknowledged (a checkpoint covers durable entries only): a
	// torn frame among them is damage, never a crash's torn tail, and nothing of the log is cut.
	cps, err := l.Checkpoints()
	if err != nil {
		return err
	}
	if n := len(cps); n > 0 {
		l.cpSize = cps[n-1].Size
	}
	if l.opts.ReadOnly {
		// A read-only view beside a running writer answers with the checkpoints read before the segments:
		// each covers entries durable when it was signed, so all of them are in the segments read after.
		l.frozen = cps
	}
	covered := l.cpSize
	// The writer needs the tree (a read-only log never writes, and Verify recomputes it itself).
	var chunk [][]byte
	var leaves []tlog.Hash
	integrate := func() error {
		in := l.tree.IntegrateHashed(chunk, leaves)
		chunk, leaves = chunk[:0], leaves[:0]
		return l.writeMissingTiles(in.Tiles)
	}
	for i, name := range names {
		first, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(name), ".log"), 10, 64)
		if err != nil || first != l.size+1 {
			return fmt.Errorf("%w: segment %s does not follow entry %d", ErrCorrupt, filepath.Base(name), l.size)
		}
		f, err := os.OpenFile(name, os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		seg := &segment{first: first, f: f}
		l.segs = append(l.segs, seg)
		last := i == len(names)-1
		err = scanFrames(f, func(off int64, payload []byte) error {
			seg.offsets = append(seg.offsets, off)
			seg.end = off + frameOverhead + int64(len(payload))
			l.size++
			leaf := audit.LeafHash(payload)
			l.head = audit.HexHash(leaf)
			if l.opts.ReadOnly {
				return nil
			}
			chunk, leaves = append(chunk, slices.Clone(payload)), append(leaves, leaf)
			if len(chunk) == 4096 {
				return integrate()
			}
			return nil
		})
		// A torn last frame means the process died mid-write: it was never acknowledged, and cutTail cuts it
		// off. A torn frame anywhere else is damage.
		var torn *tornError
		switch {
		case errors.As(err, &torn) && !last:
			return fmt.Errorf("%w: segment %s is damaged at offset %d (entry %d)", ErrCorrupt, filepath.Base(name), torn.off, l.size+1)
		case torn != nil && l.size < covered && !l.opts.ReadOnly:
			return fmt.Errorf("%w: segment %s is damaged at offset %d (entry %d), which a signed checkpoint of %d entries covers: nothing was cut; restore the segment from a backup",
				ErrCorrupt, filepath.Base(name), torn.off, l.size+1, covered)
		case err != nil && torn == nil:
			return err
		}
		if last && !l.opts.ReadOnly {
			if err := seg.cutTail(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		if err := integrate(); err != nil {
			return err
		}
	}
	if l.opts.ReadOnly {
		return nil
	}
	return l.writeMissingTiles(l.tree.Edge())
}

// cutTail makes the last segment end cleanly at its last good frame: what follows it must be zeros (the
// writer's zero fill); anything else — a frame torn by a crash mid-write, never acknowledged, or the frames
// of a group whose write reached the disk only in part — is cut off and synced before the writer appends.
func (seg *segment) cutTail() error {
	fi, err := seg.f.Stat()
	if err != nil {
		return err
	}
	zeros, err := allZero(io.NewSectionReader(seg.f, seg.end, fi.Size()-seg.end))
	if err != nil {
		return err
	}
	if zeros {
		seg.zeroed = fi.Size()
		return nil
	}
	// What is cut is kept beside the segment first (never read as part of the log): if it was damage
	// rather than a crash's torn write, nothing is lost.
	if err := seg.keepTail(seg.end, fi.Size()); err != nil {
		return err
	}
	if err := seg.f.Truncate(seg.end); err != nil {
		return err
	}
	seg.zeroed = seg.end
	return datasync(seg.f)
}

// keepTail copies bytes [from, to) of the segment to SEGMENT.tail-FROM beside it (not a *.log name, so
// never read as the log), synced, before they are cut.
func (seg *segment) keepTail(from, to int64) error {
	path := seg.f.Name() + ".tail-" + strconv.FormatInt(from, 10)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(seg.f, from, to-from)); err != nil {
		out.Close()
		return err
	}
	return errors.Join(datasync(out), out.Close())
}

// allZero reports whether r holds nothing but zero bytes.
func allZero(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// tornError marks a frame that is cut short or fails its checksum.
type tornError struct{ off int64 }

func (e *tornError) Error() string { return fmt.Sprintf("torn frame at offset %d", e.off) }

// scanFrames reads frames from the start of f up to the end of the file or a zero length header (where the
// zero fill begins).
func scanFrames(f *os.File, fn func(off int64, payload []byte) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [4]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &tornError{off}
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			return nil // the zero fill: no entry is empty
		}
		if n > MaxEntry {
			return &tornError{off}
		}
		buf = slices.Grow(buf[:0], int(n)+4)[:n+4]
		if _, err := io.ReadFull(r, buf); err != nil {
			return &tornError{off}
		}
		payload := buf[:n]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(buf[n:]) {
			return &tornError{off}
		}
		if err := fn(off, payload); err != nil {
			return err
		}
		off += frameOverhead + int64(n)
	}
}

// Append sequences e — its Seq and PrevHash are set here — and returns its sequence number once it is on
// disk. admit, if not nil, is called in the sequencing step, in log order, just before the entry is given
// its number (the place for an ordering check); if it returns false nothing is appended and Append returns
// ErrRefused.
func (l *Log) Append(ctx context.Context, e audit.Entry, admit func() bool) (int64, error) {
	if l.shut.Load() {
		return 0, ErrClosed
	}
	if err := l.failure(); err != nil {
		return 0, err
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if l.shut.Load() { // checked again once counted: the closing writer waits only for appends it sees
		return 0, ErrClosed
	}
	// The body is encoded here, concurrently; the writer only splices in the two members it assigns.
	body, err := e.Body()
	if err != nil {
		return 0, err
	}
	if len(body) > MaxEntry-200 {
		return 0, ErrTooLarge
	}
	r := newRequest()
	r.body, r.admit = body, admit
	res := l.submit(ctx, r)
	return res.seq, res.err
}

// requests recycles requests and their answer channels (one of each per append otherwise).
var requests = sync.Pool{New: func() any { return &request{done: make(chan result, 1)} }}

func newRequest() *request { return requests.Get().(*request) }

// submit queues r for the writer and returns its outcome. Once queued the entry may be written, so it
// waits for the outcome even if ctx ends: an entry on disk is never reported as not written. A request
// queued as the log closes is refused by the writer (see write).
func (l *Log) submit(ctx context.Context, r *request) result {
	select {
	case l.reqs <- r: // the usual case: room in the queue
	default:
		select {
		case l.reqs <- r:
		case <-l.quit:
			return result{err: ErrClosed}
		case <-ctx.Done():
			return result{err: ctx.Err()}
		}
	}
	res := <-r.done
	*r = request{done: r.done}
	requests.Put(r)
	return res
}

// ErrOutOfOrder is returned by AppendBatch for entries that do not continue the log: the first is not
// numbered Size()+1, or an entry is not numbered and chained after the one before it.
var ErrOutOfOrder = audit.ErrOutOfOrder

// Log is the embedded driver of the audit log's storage.
var _ audit.LogStorage = (*Log)(nil)

// AppendBatch appends canonical entries that an outside sequencer numbered and chained (audit.Assemble),
// first being the first one's number, and returns once all of them are on disk. The entries join the
// group being written; a batch that does not continue the log exactly is refused whole (ErrOutOfOrder).
// This is the log's storage interface for a store that orders entries itself: append a batch durably.
func (l *Log) AppendBatch(ctx context.Context, first int64, canons [][]byte) error {
	if l.shut.Load() {
		return ErrClosed
	}
	if err := l.failure(); err != nil {
		return err
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if l.shut.Load() { // as in Append
		return ErrClosed
	}
	if len(canons) == 0 {
		return nil
	}
	for _, c := range canons {
		if len(c) > MaxEntry {
			return ErrTooLarge
		}
	}
	r := newRequest()
	r.canons, r.first = canons, first
	return l.submit(ctx, r).err
}

// Head returns the number of durable entries and the chain hash of the last (audit.GenesisHash for an
// empty log): where an outside sequencer continues.
func (l *Log) Head() (int64, string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size, l.head
}

// write is the writer goroutine. It numbers and chains each request as it comes (stage), waits briefly for
// the appends still on their way (gather), writes the group with one write, hands it to the syncer and
// integrates it into the tree while the syncer's fdatasync runs: the next group forms and is written
// while the previous one syncs. It also takes the checkpoints (maybeCheckpoint).
func (l *Log) write() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.CheckpointInterval / 2)
	defer tick.Stop()
	g := &group{}
	for {
		select {
		case r := <-l.reqs:
			g.reset(l)
			l.stage(g, r)
			l.gather(g)
			l.flush(g)
			l.maybeCheckpoint(false)
		case <-tick.C:
			l.maybeCheckpoint(false)
		case <-l.quit:
			// Appends that passed their shut check may still queue a request: refuse each until none is in
			// flight (the syncer answers those written).
			for l.inflight.Load() > l.unsynced.Load() || len(l.reqs) > 0 {
				select {
				case r := <-l.reqs:
					r.done <- result{err: ErrClosed}
				case <-time.After(50 * time.Microsecond):
				}
			}
			close(l.jobs)
			<-l.syncDone // every group written is synced and answered
			l.maybeCheckpoint(true)
			return
		}
	}
}

// group is the group the writer is forming: its frames, entries and leaf hashes, and the job that carries
// its requests to the syncer.
type group struct {
	reqs   int // requests taken, answered or not
	seq    int64
	head   string
	frames []byte // reused: the kernel has a copy once written
	canons [][]byte
	leaves []tlog.Hash
	job    *job
}

func (g *group) reset(l *Log) {
	g.reqs, g.seq, g.head = 0, l.wsize, l.whead
	g.frames, g.canons, g.leaves = g.frames[:0], g.canons[:0], g.leaves[:0]
	g.job = &job{}
}

// job is one written group on its way to the syncer: the requests to answer once it is on disk, and what
// readers may see then.
type job struct {
	reqs    []*request
	results []result
	seg     *segment
	offsets []int64 // of the group's frames in seg
	end     int64   // seg's end after the group
	size    int64   // the log's size after the group
	head    string  // the chain hash of its last entry
}

// stage numbers and chains r's entries after the group's last and frames them; a request refused here
// (its admit check declined, or a batch that does not continue the log) is answered at once.
func (l *Log) stage(g *group, r *request) {
	g.reqs++
	if err := l.failure(); err != nil {
		r.done <- result{err: err}
		return
	}
	j := g.job
	if r.canons != nil {
		next, hashed, ok := audit.Continues(g.seq, g.head, r.first, r.canons, g.leaves)
		if !ok {
			r.done <- result{err: ErrOutOfOrder}
			return
		}
		for _, canon := range r.canons {
			g.frames = appendFrame(g.frames, canon)
		}
		g.canons, g.leaves = append(g.canons, r.canons...), hashed
		g.seq, g.head = g.seq+int64(len(r.canons)), next
		j.reqs, j.results = append(j.reqs, r), append(j.results, result{seq: r.first})
		return
	}
	if r.admit != nil && !r.admit() {
		r.done <- result{err: ErrRefused}
		return
	}
	canon := audit.Assemble(g.seq+1, r.body, g.head)
	g.frames = appendFrame(g.frames, canon)
	leaf := audit.LeafHash(canon)
	g.canons, g.leaves = append(g.canons, canon), append(g.leaves, leaf)
	g.seq, g.head = g.seq+1, audit.HexHash(leaf)
	j.reqs, j.results = append(j.reqs, r), append(j.results, result{seq: g.seq})
}

// gather stages what is queued and then waits, briefly, for appends that are already on their way
// (encoding their entry) to join the group: without it, writers answered at the end of one fdatasync come
// back one by one, and each would cost a write of its own, or the group would be cut early and concurrent
// writers split into two cohorts that each wait a whole cycle. The wait ends when every append in flight
// is in this group or in one written before, and is bounded by the last fdatasync (at most 1 ms), so a
// lone writer never waits.
func (l *Log) gather(g *group) {
	awaitInFlight(l.reqs, l.lingerBound(), func() bool {
		return g.reqs < l.opts.MaxBatch && int64(g.reqs)+l.unsynced.Load() < l.inflight.Load()
	}, func(r *request) { l.stage(g, r) })
}

// lingerBound is how long the writer and the syncer wait for appends in flight: the last fdatasync's
// duration, at most 1 ms (nothing before the first).
func (l *Log) lingerBound() time.Duration {
	return min(time.Duration(l.lastSync.Load()), time.Millisecond)
}

// awaitInFlight hands take what ch holds while more says appends in flight are missing: what is queued
// at once, then what arrives within bound. It stops early if ch is closed.
func awaitInFlight[T any](ch <-chan T, bound time.Duration, more func() bool, take func(T)) {
	var timeout <-chan time.Time
	for more() {
		select {
		case v, ok := <-ch:
			if !ok {
				return
			}
			take(v)
			continue
		default:
		}
		if timeout == nil {
			if bound <= 0 {
				return
			}
			timer := time.NewTimer(bound)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case v, ok := <-ch:
			if !ok {
				return
			}
			take(v)
		case <-timeout:
			return
		}
	}
}

// flush writes the group with one write, hands it to the syncer and integrates it into the tree.
func (l *Log) flush(g *group) {
	if len(g.canons) == 0 {
		return
	}
	j := g.job
	seg, err := l.writeFrames(g.frames)
	if err != nil {
		err = fmt.Errorf("seglog: append: %w", err)
		for _, r := range j.reqs {
			r.done <- result{err: err}
		}
		return
	}
	j.seg, j.end, j.size, j.head = seg, seg.wend, g.seq, g.head
	j.offsets = make([]int64, len(g.canons))
	off := seg.wend - int64(len(g.frames))
	for i, c := range g.canons {
		j.offsets[i] = off
		off += frameOverhead + int64(len(c))
	}
	l.wsize, l.whead = g.seq, g.head
	l.unsynced.Add(int64(len(j.reqs)))
	l.jobs <- j
	// The tree is the writer's: it is brought up to date while the group syncs. Tiles are written at the
	// next checkpoint, which covers only synced entries (maybeCheckpoint), and recovery recomputes them.
	l.full = append(l.full, l.tree.IntegrateHashed(g.canons, g.leaves).Tiles...)
}

// sync is the syncer goroutine: it takes every group written since its last fdatasync, waiting briefly
// for appends still on their way (see linger), syncs them with one fdatasync per segment, makes them
// visible to readers and answers their requests, in log order.
func (l *Log) sync() {
	defer close(l.syncDone)
	var jobs []*job
	for j := range l.jobs {
		jobs = l.linger(append(jobs[:0], j))
		l.syncJobs(jobs)
	}
}

// linger takes the groups written meanwhile and waits, briefly, for the appends still in flight to be
// written too, so that one fdatasync covers them all. Without it, the writers answered at the end of one
// fdatasync come back while the next one (of the group written meanwhile) runs, and concurrent writers
// split into two cohorts that alternate, each with half the fdatasyncs. The wait ends when every append in
// flight is in a group taken, and is bounded by the last fdatasync (at most 1 ms), so a lone writer never
// waits.
func (l *Log) linger(jobs []*job) []*job {
	reqs := 0
	for _, j := range jobs {
		reqs += len(j.reqs)
	}
	awaitInFlight(l.jobs, l.lingerBound(), func() bool {
		return reqs < l.opts.MaxBatch && int64(reqs) < l.inflight.Load()
	}, func(j *job) { jobs, reqs = append(jobs, j), reqs+len(j.reqs) })
	return jobs
}

// syncJobs syncs the segments the groups were written to, oldest first, then publishes the groups to
// readers and answers them. A failed fdatasync fails the log (see failure).
func (l *Log) syncJobs(jobs []*job) {
	err := l.failure()
	for i := 0; i < len(jobs) && err == nil; i++ {
		if i+1 < len(jobs) && jobs[i+1].seg == jobs[i].seg {
			continue // the segment's last group in the set syncs the earlier ones with it
		}
		start := time.Now()
		if serr := datasync(jobs[i].seg.f); serr != nil {
			err = fmt.Errorf("%w: %v", ErrSyncFailed, serr)
			l.failed.Store(&err)
			break
		}
		took := time.Since(start)
		l.syncNanos.Add(int64(took))
		l.lastSync.Store(int64(took))
		l.syncs.Add(1)
	}
	if err == nil {
		l.mu.Lock()
		before := l.size
		for _, j := range jobs {
			j.seg.offsets = append(j.seg.offsets, j.offsets...)
			j.seg.end = j.end
			l.size, l.head = j.size, j.head
		}
		size := l.size
		l.mu.Unlock()
		l.synced.Store(size)
		l.groups.Add(1)
		l.entries.Add(size - before)
	}
	for _, j := range jobs {
		l.unsynced.Add(-int64(len(j.reqs)))
		for i, r := range j.reqs {
			if err != nil {
				r.done <- result{err: err}
			} else {
				r.done <- j.results[i]
			}
		}
	}
	select {
	case l.syncNote <- struct{}{}:
	default:
	}
}

// ErrSyncFailed is returned by every append once an fdatasync has failed: which written pages reached the
// disk is then unknown (the kernel may have dropped them), so the log takes nothing more until it is
// reopened and recovery finds where it ends — as PostgreSQL stops on a failed fsync of its WAL.
var ErrSyncFailed = errors.New("seglog: fdatasync failed; the log takes no more appends until it is reopened")

// failure is the error of the failed fdatasync that stopped the log, or nil.
func (l *Log) failure() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// appendFrame appends the frame of payload to frames: length, payload, CRC-32C.
func appendFrame(frames, payload []byte) []byte {
	frames = binary.BigEndian.AppendUint32(frames, uint32(len(payload)))
	frames = append(frames, payload...)
	return binary.BigEndian.AppendUint32(frames, crc32.Checksum(payload, castagnoli))
}

// writeFrames writes frames at the written end of the last segment, starting a new one when it is full,
// and returns the segment (the syncer syncs it). On failure the segment is cut back so that nothing
// half-written stays past the groups written before.
func (l *Log) writeFrames(frames []byte) (*segment, error) {
	l.mu.RLock()
	var seg *segment
	if n := len(l.segs); n > 0 {
		seg = l.segs[n-1]
	}
	l.mu.RUnlock()
	if seg == nil || (seg.wend > 0 && seg.wend+int64(len(frames)) > l.opts.SegmentSize) {
		var err error
		if seg, err = l.newSegment(l.wsize + 1); err != nil {
			return nil, err
		}
	}
	if err := seg.write(frames, l.opts.SegmentSize); err != nil {
		_ = seg.f.Truncate(seg.wend)
		seg.zeroed = seg.wend
		return nil, err
	}
	seg.wend += int64(len(frames))
	l.writes.Add(1)
	return seg, nil
}

// write writes frames at the segment's end and, when they come within half of zeroAhead of the zero fill's
// end, the next zeros after them (up to limit, the segment size), for the group's fdatasync to flush.
func (seg *segment) write(frames []byte, limit int64) error {
	end := seg.wend + int64(len(frames))
	if _, err := seg.f.WriteAt(frames, seg.wend); err != nil {
		return err
	}
	if seg.zeroed-end >= zeroAhead/2 {
		return nil
	}
	from := max(seg.zeroed, end)
	to := min(from+zeroAhead, max(limit, end))
	if to <= from {
		return nil
	}
	if _, err := seg.f.WriteAt(zeroBlock[:to-from], from); err != nil {
		return err
	}
	seg.zeroed = to
	return nil
}

// newSegment creates the segment file whose first entry is first, and makes its name durable.
func (l *Log) newSegment(first int64) (*segment, error) {
	name := filepath.Join(l.dir, "segments", fmt.Sprintf("%020d.log", first))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := datadir.SyncDir(filepath.Dir(name)); err != nil {
		f.Close()
		return nil, err
	}
	seg := &segment{first: first, f: f}
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	return seg, nil
}

// checkpointJob is what the checkpointer needs to publish a checkpoint: the tiles to write first, and the
// tree size and root to sign.
type checkpointJob struct {
	tiles []audit.TileData
	size  int64
	root  tlog.Hash
}

// maybeCheckpoint hands the tiles completed since the last checkpoint, the right edge and the tree head to
// the checkpointer when entries have waited long enough (final: always, and waits for it). Tiles are
// written off the writer's path, before the checkpoint that needs them is published; if the checkpointer
// is still busy the next tick takes more.
func (l *Log) maybeCheckpoint(final bool) {
	if l.opts.Signer == nil {
		return
	}
	if final {
		defer func() {
			close(l.cps)
			<-l.cpDone
		}()
	}
	if l.wsize == l.cpSize || !final && time.Since(l.cpAt) < l.opts.CheckpointInterval/2 {
		return
	}
	// A checkpoint covers only synced entries, and the tree is at the size written: wait for the syncer
	// to catch up (one fdatasync, at most once per checkpoint).
	for l.synced.Load() < l.wsize {
		if l.failure() != nil {
			return
		}
		<-l.syncNote
	}
	job := checkpointJob{tiles: append(slices.Clone(l.full), l.tree.Edge()...), size: l.wsize, root: l.tree.Frontier.Root()}
	if final {
		l.cps <- job
	} else {
		select {
		case l.cps <- job:
		default:
			return // busy: the tiles stay pending
		}
	}
	l.full = l.full[:0]
	l.cpSize, l.cpAt = job.size, time.Now()
}

// checkpointer writes each job's tiles, then signs and publishes its checkpoint.
func (l *Log) checkpointer() {
	defer close(l.cpDone)
	for job := range l.cps {
		err := l.checkpoint(job)
		if err != nil {
			l.checkErr.Store(&err)
			continue
		}
		l.checkErr.Store(nil)
	}
}

func (l *Log) checkpoint(job checkpointJob) error {
	if err := l.writeTiles(job.tiles); err != nil {
		return err
	}
	signed, err := l.opts.Signer.Sign(job.size, job.root)
	if err != nil {
		return err
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(signed)))
	frame = append(frame, signed...)
	frame = binary.BigEndian.AppendUint32(frame, crc32.Checksum(signed, castagnoli))
	if _, err := l.cpFile.Write(frame); err != nil {
		return err
	}
	if err := datasync(l.cpFile); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.dir, "checkpoint"), signed)
}

// writeTiles writes the tiles not on disk yet. Each width of a tile has its own path (tile/0/001.p/5 is
// never rewritten as tile/0/001.p/6) and its content is fixed by the append-only log, so a tile already
// there is left alone; a tile is published only by the checkpoint signed after it is written. Tiles are
// derived, so not synced: a crash leaves them to be rewritten from the segments (writeMissingTiles).
func (l *Log) writeTiles(tiles []audit.TileData) error {
	made := map[string]bool{}
	for _, t := range tiles {
		path := filepath.Join(l.dir, filepath.FromSlash(t.Path()))
		if dir := filepath.Dir(path); !made[dir] {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			made[dir] = true
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = f.Write(t.Data)
		if err = errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
	return nil
}

// writeMissingTiles writes, at startup, the tiles recovery recomputed that are missing or cut short on
// disk (a crash in the middle of writeTiles), each replaced atomically.
func (l *Log) writeMissingTiles(tiles []audit.TileData) error {
	for _, t := range tiles {
		path := filepath.Join(l.dir, filepath.FromSlash(t.Path()))
		if fi, err := os.Stat(path); err == nil && fi.Size() == int64(len(t.Data)) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path+".tmp", t.Data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return datadir.SyncDir(filepath.Dir(path))
}

// Appended reports, for a log opened read-only beside a running writer, whether entries were appended
// after it was opened: a frame past the last one it read, or a newer segment. A log this process writes is
// never behind itself (false).
func (l *Log) Appended() (bool, error) {
	if !l.opts.ReadOnly {
		return false, nil
	}
	names, err := filepath.Glob(filepath.Join(l.dir, "segments", "*.log"))
	if err != nil {
		return false, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(names) != len(l.segs) {
		return len(names) > len(l.segs), nil
	}
	if len(l.segs) == 0 {
		return false, nil
	}
	last := l.segs[len(l.segs)-1]
	var hdr [4]byte
	n, err := last.f.ReadAt(hdr[:], last.end)
	if n < len(hdr) {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return false, err
	}
	return hdr != [4]byte{}, nil // zeros are the writer's fill, a length is a frame
}

// Size is the number of durable entries.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Stats returns the writer's counters.
func (l *Log) Stats() Stats {
	return Stats{Entries: l.entries.Load(), Groups: l.groups.Load(), Syncs: l.syncs.Load(), Writes: l.writes.Load(), SyncTime: time.Duration(l.syncNanos.Load())}
}

// Entry returns the canonical bytes of entry seq.
func (l *Log) Entry(seq int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if seq < 1 || seq > l.size {
		return nil, audit.ErrNoEntry
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > seq }) - 1
	seg := l.segs[i]
	off := seg.offsets[seq-seg.first]
	var hdr [4]byte
	if _, err := seg.f.ReadAt(hdr[:], off); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := seg.f.ReadAt(buf, off+4); err != nil {
		return nil, err
	}
	return buf, nil
}

// errScanned ends a segment's scan once the entries asked for are read.
var errScanned = errors.New("scanned")

// Scan calls fn with every entry from seq from on, in order, up to the size when it was called, reading
// each segment sequentially through its own file handle. canonical is valid only during the call.
func (l *Log) Scan(from int64, fn func(seq int64, canonical []byte) error) error {
	l.mu.RLock()
	end, segs := l.size, slices.Clone(l.segs)
	l.mu.RUnlock()
	from = max(from, 1)
	for i, seg := range segs {
		last := end
		if i+1 < len(segs) {
			last = segs[i+1].first - 1
		}
		if last < from || seg.first > end {
			continue
		}
		f, err := os.Open(seg.f.Name())
		if err != nil {
			return err
		}
		seq := seg.first
		err = scanFrames(f, func(_ int64, payload []byte) error {
			if seq > last {
				return errScanned
			}
			defer func() { seq++ }()
			if seq < from {
				return nil
			}
			return fn(seq, payload)
		})
		f.Close()
		if errors.Is(err, errScanned) {
			err = nil
		}
		var torn *tornError
		if errors.As(err, &torn) && seq > last {
			err = nil // a frame being written past the size this scan covers
		}
		if err != nil {
			return err
		}
		if seq <= last {
			return fmt.Errorf("%w: segment %s ends at entry %d, want %d", ErrCorrupt, filepath.Base(seg.f.Name()), seq-1, last)
		}
	}
	return nil
}

// ReadTile returns a tile or entry bundle by its C2SP path (tile/0/x001/234.p/5, tile/entries/000).
func (l *Log) ReadTile(path string) ([]byte, error) {
	if strings.Contains(path, "..") || !strings.HasPrefix(path, "tile/") {
		return nil, os.ErrNotExist
	}
	return os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(path)))
}

// Checkpoint returns the newest signed checkpoint note, or audit.ErrNoCheckpoint.
func (l *Log) Checkpoint() ([]byte, error) {
	if l.opts.ReadOnly {
		if len(l.frozen) == 0 {
			return nil, audit.ErrNoCheckpoint
		}
		return slices.Clone(l.frozen[len(l.frozen)-1].Note), nil
	}
	b, err := os.ReadFile(filepath.Join(l.dir, "checkpoint"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, audit.ErrNoCheckpoint
	}
	return b, err
}

// Checkpoints returns every signed checkpoint, oldest first, with the size it covers.
func (l *Log) Checkpoints() ([]audit.StoredCheckpoint, error) {
	if l.opts.ReadOnly && l.frozen != nil {
		return slices.Clone(l.frozen), nil
	}
	f, err := os.Open(filepath.Join(l.dir, "checkpoints"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []audit.StoredCheckpoint
	err = scanFrames(f, func(_ int64, signed []byte) error {
		text := string(signed)
		if i := strings.Index(text, "\n\n"); i >= 0 {
			text = text[:i+1]
		}
		c, err := audit.ParseCheckpoint(text)
		if err != nil {
			return err
		}
		out = append(out, audit.StoredCheckpoint{Size: c.Size, Note: slices.Clone(signed)})
		return nil
	})
	var torn *tornError
	if errors.As(err, &torn) {
		err = nil // a checkpoint torn by a crash was never relied on; the next one supersedes it
	}
	return out, err
}

// Close stops the writer after a final checkpoint covering every entry, and closes the files.
func (l *Log) Close() error {
	if l.opts.ReadOnly {
		return l.closeFiles()
	}
	if l.shut.Swap(true) {
		return nil
	}
	close(l.quit)
	<-l.done
	var err error
	if p := l.checkErr.Load(); p != nil {
		err = *p
	}
	return errors.Join(err, l.closeFiles())
}

func (l *Log) closeFiles() error {
	var errs []error
	for _, s := range l.segs {
		errs = append(errs, s.f.Close())
	}
	if l.cpFile != nil {
		errs = append(errs, l.cpFile.Close())
	}
	return errors.Join(errs...)
}

// uncoveredSpan returns the time the entries past the newest checkpoint span (by their timestamps).
func (l *Log) uncoveredSpan() (time.Duration, error) {
	var span audit.TimeSpan
	err := l.Scan(l.cpSize+1, func(_ int64, canonical []byte) error {
		span.Add(canonical)
		return nil
	})
	return span.Duration(), err
}
