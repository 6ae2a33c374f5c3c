package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
)

// Log is the audit log kept in the database (audit.LogStorage). An append is one transaction that locks
// the head row, checks that the batch continues the log (audit.Continues), inserts the entries and moves
// the head; it is acknowledged once PostgreSQL has committed it. Any node appends.
//
// The integrator — a goroutine of every Log opened with a Signer — reads what was appended and integrates
// it into its tree (audit.Tree). The node holding the integrator's lease (a row renewed every tick, taken
// over once it has expired) also writes the completed hash tiles and entry bundles, the right edge and a
// signed checkpoint in one transaction, at most CheckpointInterval after an entry and on Close. The lease
// saves work, not safety: tiles and checkpoints are derived, the same entries give the same bytes (Ed25519
// signatures are deterministic), so two nodes that both believed they held it would write nothing
// different.
type Log struct {
	db   *DB
	opts LogOptions

	mu   sync.Mutex // guards size and head: this process's view of the head row
	size int64
	head string

	reqs     chan *appendReq // to the appender: unbuffered, so a request is taken or Close wins
	appended chan struct{}   // closed when the appender has stopped

	// Integrator state (its goroutine only, and Close after it stopped).
	holding bool // this node held the lease at its last renewal
	tree    audit.Tree
	pending []audit.TileData // completed since the last checkpoint
	cpSize  int64
	cpAt    time.Time
	partsAt time.Time // when the lease holder last made the review index partitions ahead
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	errMu   sync.Mutex
	lastErr error
}

// LogOptions tune a Log.
type LogOptions struct {
	// Signer signs checkpoints; without one the Log only appends and reads (no integrator).
	Signer *audit.Signer
	// CheckpointInterval is how long an entry may stay uncovered by a checkpoint (default 1 s).
	CheckpointInterval time.Duration
	// Node names this process in the integrator's lease (default: random).
	Node string
	// LeaseTTL is how long the lease lasts unless renewed (default 5 s): how long the log can go without a
	// checkpoint after its holder dies.
	LeaseTTL time.Duration
}

var _ audit.LogStorage = (*Log)(nil)

// OpenLog opens the audit log in db: it reads the head and, with a Signer, rebuilds the tree from the
// stored entries and starts the integrator.
func (db *DB) OpenLog(ctx context.Context, opts LogOptions) (*Log, error) {
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 5 * time.Second
	}
	if opts.Node == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.Node = hex.EncodeToString(b[:])
	}
	l := &Log{db: db, opts: opts, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		reqs: make(chan *appendReq), appended: make(chan struct{})}
	if err := l.refreshHead(ctx); err != nil {
		return nil, err
	}
	if err := db.requireLog(ctx, l.size); err != nil {
		return nil, err
	}
	if opts.Signer == nil {
		close(l.done)
		go l.appender()
		return l, nil
	}
	if err := db.Pool.QueryRow(ctx, "SELECT coalesce(max(size), 0) FROM audit_log_checkpoints").Scan(&l.cpSize); err != nil {
		return nil, fmt.Errorf("postgres: audit log checkpoints: %w", err)
	}
	if err := l.renewLease(ctx); err != nil {
		return nil, err
	}
	if err := l.integrate(ctx); err != nil {
		return nil, err
	}
	// Open made the partitions. The first entries are checkpointed as soon as the integrator wakes for them
	// (cpAt zero), not half an interval later: a node that starts, writes and is verified at once — or is
	// backed up, or stops — had left them covered by nothing.
	l.partsAt = time.Now()
	go l.appender()
	go l.integrator()
	return l, nil
}

// requireLog refuses an empty log (head size 0) beside entries, checkpoints, review index rows or
// subjects: as the embedded store refuses a data dir whose log segments are gone, a node never starts a
// new trail — and an offline verify never calls "ok" a trail of no entries — over a database with a history.
func (db *DB) requireLog(ctx context.Context, size int64) error {
	if size > 0 {
		return nil
	}
	var used bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log_entries) OR EXISTS (SELECT 1 FROM audit_log_checkpoints)
		OR EXISTS (SELECT 1 FROM audit_index) OR EXISTS (SELECT 1 FROM subjects)`).Scan(&used)
	if err != nil {
		return fmt.Errorf("postgres: audit log: %w", err)
	}
	if used {
		return fmt.Errorf("%w: the database holds a history (subjects, review index rows or log rows) but its audit log head is empty; restore the database from a backup — a new trail would reuse the sequence numbers of the one removed", audit.ErrLogMissing)
	}
	return nil
}

// refreshHead reads the head row. The log only grows, so a read that an append of this node has already
// overtaken changes nothing.
func (l *Log) refreshHead(ctx context.Context) error {
	var size int64
	var head string
	if err := l.db.Pool.QueryRow(ctx, "SELECT size, head FROM audit_log_head").Scan(&size, &head); err != nil {
		return fmt.Errorf("postgres: audit log head: %w", err)
	}
	l.advance(size, head)
	return nil
}

// advance moves this node's view of the head forward to (size, head), never back: the log only grows, and a
// head read or committed earlier may arrive after a later one.
func (l *Log) advance(size int64, head string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > l.size || l.head == "" {
		l.size, l.head = size, head
	}
}

// AppendBatch implements audit.LogAppender.
func (l *Log) AppendBatch(ctx context.Context, first int64, canons [][]byte) error {
	if len(canons) == 0 {
		return nil
	}
	var newSize int64
	var newHead string
	err := pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
		size, head, err := lockHead(ctx, tx)
		if err != nil {
			return err
		}
		next, _, ok := audit.Continues(size, head, first, canons, nil)
		if !ok {
			return audit.ErrOutOfOrder
		}
		if err := writeEntries(ctx, tx, first, canons); err != nil {
			return err
		}
		newSize, newHead = size+int64(len(canons)), next
		_, err = tx.Exec(ctx, "UPDATE audit_log_head SET size = $1, head = $2", newSize, newHead)
		return err
	})
	if errors.Is(err, audit.ErrOutOfOrder) {
		// Another appender moved the head: take its view, so the caller's next Head is right.
		return errors.Join(err, l.refreshHead(ctx))
	}
	if err != nil {
		return fmt.Errorf("postgres: append to the audit log: %w", err)
	}
	l.Committed(TxAppend{Size: newSize, Head: newHead})
	return nil
}

// Head implements audit.LogAppender: this process's view of the head row, current after its own appends.
func (l *Log) Head() (int64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size, l.head
}

// Size implements audit.LogReader.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Entry implements audit.LogReader.
func (l *Log) Entry(seq int64) ([]byte, error) {
	var c []byte
	err := l.db.Pool.QueryRow(context.Background(), "SELECT canonical FROM audit_log_entries WHERE seq = $1", seq).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, audit.ErrNoEntry
	}
	return c, err
}

// scanPage is how many entries Scan reads per query.
const scanPage = 8192

// Scan implements audit.LogReader: entries from seq from up to the size when it was called, a page per
// query, in order.
func (l *Log) Scan(from int64, fn func(seq int64, canonical []byte) error) error {
	return l.scanTo(from, l.Size(), fn)
}

// scanTo is Scan up to entry end.
func (l *Log) scanTo(from, end int64, fn func(seq int64, canonical []byte) error) error {
	for next := max(from, 1); next <= end; {
		rows, err := l.db.Pool.Query(context.Background(),
			"SELECT seq, canonical FROM audit_log_entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3", next, end, scanPage)
		if err != nil {
			return err
		}
		var seq int64
		var c []byte
		start := next
		_, err = pgx.ForEachRow(rows, []any{&seq, &c}, func() error {
			if seq != next {
				return fmt.Errorf("postgres: audit log entry %d is missing", next)
			}
			next++
			return fn(seq, c)
		})
		if err != nil {
			return err
		}
		if next == start {
			return fmt.Errorf("postgres: audit log entry %d is missing", next)
		}
	}
	return nil
}

// ReadTile implements audit.LogReader.
func (l *Log) ReadTile(path string) ([]byte, error) {
	var b []byte
	err := l.db.Pool.QueryRow(context.Background(), "SELECT data FROM audit_log_tiles WHERE path = $1", path).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: tile %s: %w", path, fs.ErrNotExist)
	}
	return b, err
}

// Checkpoint implements audit.LogReader.
func (l *Log) Checkpoint() ([]byte, error) {
	var b []byte
	err := l.db.Pool.QueryRow(context.Background(), "SELECT note FROM audit_log_checkpoints ORDER BY size DESC LIMIT 1").Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, audit.ErrNoCheckpoint
	}
	return b, err
}

// Note returns the sealed free text stored beside entry seq (audit.Entry.Note), or nil.
func (l *Log) Note(ctx context.Context, seq int64) ([]byte, error) {
	var b []byte
	err := l.db.Pool.QueryRow(ctx, "SELECT sealed FROM audit_log_notes WHERE seq = $1", seq).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return b, err
}

// Checkpoints implements audit.LogReader.
func (l *Log) Checkpoints() ([]audit.StoredCheckpoint, error) {
	rows, err := l.db.Pool.Query(context.Background(), "SELECT size, note FROM audit_log_checkpoints ORDER BY size")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.StoredCheckpoint, error) {
		var c audit.StoredCheckpoint
		return c, r.Scan(&c.Size, &c.Note)
	})
}

// Verify implements audit.LogStorage (audit.VerifyLog).
func (l *Log) Verify(v note.Verifier) (audit.Report, error) { return audit.VerifyLog(l, v) }

// Close stops the integrator after a last integration and checkpoint; the DB stays open.
func (l *Log) Close() error {
	select {
	case <-l.quit:
		return nil
	default:
	}
	close(l.quit)
	<-l.appended
	<-l.done
	if l.opts.Signer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := errors.Join(l.err(), l.renewLease(ctx), l.integrate(ctx), l.checkpoint(ctx))
	if l.holding { // hand the lease on at once rather than at its expiry
		_, rerr := l.db.Pool.Exec(ctx, "UPDATE audit_log_lease SET expires_at = '-infinity' WHERE holder = $1", l.opts.Node)
		err = errors.Join(err, rerr)
	}
	return err
}

// renewLease takes the integrator's lease if it is free or expired, or renews it if this node holds it.
func (l *Log) renewLease(ctx context.Context) error {
	tag, err := l.db.Pool.Exec(ctx, `UPDATE audit_log_lease SET holder = $1, expires_at = now() + $2 * interval '1 millisecond'
		WHERE holder = $1 OR expires_at < now()`, l.opts.Node, l.opts.LeaseTTL.Milliseconds())
	if err != nil {
		l.holding = false
		return fmt.Errorf("postgres: audit log lease: %w", err)
	}
	if now := tag.RowsAffected() == 1; now && !l.holding {
		// Taking over: what the last holder checkpointed is written; start from there.
		if err := l.db.Pool.QueryRow(ctx, "SELECT coalesce(max(size), 0) FROM audit_log_checkpoints").Scan(&l.cpSize); err != nil {
			return fmt.Errorf("postgres: audit log checkpoints: %w", err)
		}
		l.holding = true
	} else {
		l.holding = now
	}
	return nil
}

// integrator integrates appended entries when woken and writes a checkpoint when one is due.
func (l *Log) integrator() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.CheckpointInterval / 2)
	defer tick.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-l.wake:
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := l.renewLease(ctx)
		if err == nil {
			err = l.integrate(ctx)
		}
		if err == nil && time.Since(l.cpAt) >= l.opts.CheckpointInterval/2 {
			err = l.checkpoint(ctx)
		}
		if err == nil && l.holding && time.Since(l.partsAt) >= time.Hour {
			if err = l.db.EnsurePartitions(ctx, time.Now()); err == nil {
				l.partsAt = time.Now()
			}
		}
		cancel()
		l.errMu.Lock()
		l.lastErr = err
		l.errMu.Unlock()
	}
}

func (l *Log) err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.lastErr
}

// integrate reads the entries past the tree and integrates them, keeping the tiles they completed.
func (l *Log) integrate(ctx context.Context) error {
	if err := l.refreshHead(ctx); err != nil {
		return err
	}
	var chunk [][]byte
	flush := func() {
		l.pending = append(l.pending, l.tree.Integrate(chunk).Tiles...)
		chunk = chunk[:0]
	}
	err := l.Scan(l.tree.Frontier.Size()+1, func(_ int64, c []byte) error {
		chunk = append(chunk, c) // pgx gives each row its own slice
		if len(chunk) == 4096 {
			flush()
		}
		return ctx.Err()
	})
	if len(chunk) > 0 {
		flush()
	}
	return err
}

// checkpoint writes the tiles completed since the last checkpoint, the right edge and a checkpoint signed
// over the tree, in one transaction, if the tree grew and this node holds the lease. A node without it
// keeps only the tiles the holder has not checkpointed yet, so that it can take over.
func (l *Log) checkpoint(ctx context.Context) error {
	size := l.tree.Frontier.Size()
	if !l.holding {
		var cp int64
		if err := l.db.Pool.QueryRow(ctx, "SELECT coalesce(max(size), 0) FROM audit_log_checkpoints").Scan(&cp); err != nil {
			return fmt.Errorf("postgres: audit log checkpoints: %w", err)
		}
		l.pending = slices.DeleteFunc(l.pending, func(t audit.TileData) bool { return lastLeaf(t.Tile) <= cp })
		l.cpSize = cp
		return nil
	}
	if size <= l.cpSize {
		return nil
	}
	signed, err := l.opts.Signer.Sign(size, l.tree.Frontier.Root())
	if err != nil {
		return err
	}
	tiles := append(l.pending, l.tree.Edge()...)
	err = pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, t := range tiles {
			b.Queue("INSERT INTO audit_log_tiles (path, data) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING", t.Path(), t.Data)
		}
		b.Queue("INSERT INTO audit_log_checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING", size, signed)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: audit log checkpoint: %w", err)
	}
	l.pending, l.cpSize, l.cpAt = nil, size, time.Now()
	return nil
}

// lastLeaf is the number of entries up to the last one a tile (or entry bundle, L -1) covers.
func lastLeaf(t tlog.Tile) int64 {
	return (t.N<<audit.TileHeight + int64(t.W)) << (audit.TileHeight * max(t.L, 0))
}

// appendReq is one Append waiting for its group.
type appendReq struct {
	body  []byte // audit.Entry.Body: numbered and chained in the appending transaction
	note  []byte // audit.Entry.Note, kept beside the entry in the same transaction
	admit Admit
	done  chan appendResult
}

// Admit is an ordering check run inside the appending transaction, after the head row is locked and just
// before the entry is numbered: every append from any node before it has committed, and anything it reads
// in tx was committed before the entry's place in the log. It returns false to refuse the entry.
type Admit func(ctx context.Context, tx pgx.Tx) (bool, error)

type appendResult struct {
	seq int64
	err error
}

// maxGroup bounds the entries one appending transaction takes.
const maxGroup = 1024

// Append numbers and chains e in the appending transaction — after whatever any node appended before, under
// the head row's lock — and returns its sequence number once PostgreSQL has committed it. Appends running at
// once on this node share one transaction (group commit). admit, if not nil, is called inside it, in log
// order, just before the entry is numbered (the place for an ordering check); if it returns false nothing is
// appended and Append returns audit.ErrRefused.
func (l *Log) Append(ctx context.Context, e audit.Entry, admit func() bool) (int64, error) {
	var check Admit
	if admit != nil {
		check = func(context.Context, pgx.Tx) (bool, error) { return admit(), nil }
	}
	return l.AppendChecked(ctx, e, check)
}

// AppendChecked is Append with an ordering check that reads the database in the appending transaction
// (Admit): an error from it fails the entry alone.
func (l *Log) AppendChecked(ctx context.Context, e audit.Entry, admit Admit) (int64, error) {
	body, err := e.Body()
	if err != nil {
		return 0, err
	}
	r := &appendReq{body: body, note: e.Note, admit: admit, done: make(chan appendResult, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return 0, errClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Taken: wait for the outcome even if ctx ends, so that a committed entry is never reported as not written.
	res := <-r.done
	return res.seq, res.err
}

// appender takes the Appends waiting at once as one group, until Close.
func (l *Log) appender() {
	defer close(l.appended)
	for {
		select {
		case r := <-l.reqs:
			l.commitGroup(gather(r, l.reqs, maxGroup))
		case <-l.quit:
			return
		}
	}
}

// commitGroup appends a group in one transaction: lock the head row, admit, number and chain each entry,
// copy them in, move the head, commit; then answer each.
func (l *Log) commitGroup(group []*appendReq) {
	results := make([]appendResult, len(group))
	var newSize int64
	var newHead string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, l.db.Pool, func(tx pgx.Tx) error {
		seq, head, err := lockHead(ctx, tx)
		if err != nil {
			return err
		}
		var c chained
		c.seq, c.head = seq, head
		for i, r := range group {
			results[i] = appendResult{}
			if r.admit != nil {
				ok, err := r.admit(ctx, tx)
				if err != nil {
					results[i].err = fmt.Errorf("postgres: ordering check: %w", err)
					continue
				}
				if !ok {
					results[i].err = audit.ErrRefused
					continue
				}
			}
			results[i].seq = c.add(r.body, r.note)
		}
		if len(c.rows) == 0 {
			return nil
		}
		newSize, newHead = c.seq, c.head
		p := newPipeline(ctx, tx)
		if err := c.write(&p); err != nil {
			return err
		}
		return p.flush()
	})
	if err != nil {
		for i := range results {
			if results[i].err == nil {
				results[i] = appendResult{err: fmt.Errorf("postgres: append to the audit log: %w", err)}
			}
		}
	} else if newSize > 0 {
		l.Committed(TxAppend{Size: newSize, Head: newHead})
	}
	for i, r := range group {
		r.done <- results[i]
	}
}

// lockHead locks the log's head row in tx and returns it: an append on any node waits here until the one
// before it has committed, so every node's entries form one sequence.
func lockHead(ctx context.Context, tx pgx.Tx) (size int64, head string, err error) {
	err = tx.QueryRow(ctx, "SELECT size, head FROM audit_log_head FOR UPDATE").Scan(&size, &head)
	return size, head, err
}

// chained numbers and chains entry bodies after a locked head, and writes them.
type chained struct {
	seq   int64
	head  string
	rows  [][]any
	notes [][]any
	index [][]any
	err   error // an entry whose index row could not be derived: nothing is written
}

// add numbers and chains body after the entries before it, with its sealed note if any, and returns its
// sequence number.
func (c *chained) add(body, sealedNote []byte) int64 {
	canon := audit.Assemble(c.seq+1, body, c.head)
	c.seq, c.head = c.seq+1, audit.ChainHash(canon)
	c.rows = append(c.rows, []any{c.seq, canon})
	if row, err := indexRow(c.seq, canon); err != nil {
		c.err = errors.Join(c.err, err)
	} else {
		c.index = append(c.index, row)
	}
	if len(sealedNote) > 0 {
		c.notes = append(c.notes, []any{c.seq, sealedNote})
	}
	return c.seq
}

// addEntries numbers, chains and adds es (audit.Entry.Body, with their notes) after the entries before them.
func (c *chained) addEntries(es []audit.Entry) error {
	for _, e := range es {
		body, err := e.Body()
		if err != nil {
			return fmt.Errorf("encode audit entry: %w", err)
		}
		c.add(body, e.Note)
	}
	return nil
}

// entriesInline is the most entries an append writes with pipelined INSERTs; larger appends (an audience
// build's entry per candidate, an import) go in by COPY.
const entriesInline = 2048

// write queues the entries, their review index rows and their notes and the head row's move (the row is
// locked by lockHead in the same transaction) on p: they are sent with p's next statement (COMMIT, or a
// flush). Above entriesInline entries they are copied in at once.
func (c *chained) write(p *pipeline) error {
	if c.err != nil {
		return c.err
	}
	if len(c.rows) > entriesInline {
		if err := p.copyFrom("audit_log_entries", []string{"seq", "canonical"}, c.rows); err != nil {
			return err
		}
		if err := p.copyFrom("audit_index", indexColumns, c.index); err != nil {
			return err
		}
		if len(c.notes) > 0 {
			if err := p.copyFrom("audit_log_notes", []string{"seq", "sealed"}, c.notes); err != nil {
				return err
			}
		}
	} else {
		queueRows(p, `INSERT INTO audit_log_entries (seq, canonical) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, c.rows)
		queueRows(p, `INSERT INTO audit_index (seq, ts, ts_ns, action, subject_ref, actor, purpose, decision, grant_id)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`, c.index)
		if len(c.notes) > 0 {
			queueRows(p, `INSERT INTO audit_log_notes (seq, sealed) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, c.notes)
		}
	}
	p.queue("UPDATE audit_log_head SET size = $1, head = $2", c.seq, c.head)
	return nil
}

// queueRows queues q with one array argument per column of rows (an INSERT … SELECT FROM unnest).
func queueRows(p *pipeline, q string, rows [][]any) {
	if len(rows) == 0 {
		return
	}
	cols := make([]any, len(rows[0]))
	for j := range cols {
		switch rows[0][j].(type) {
		case int64:
			cols[j] = column[int64](rows, j)
		case []byte:
			cols[j] = column[[]byte](rows, j)
		case time.Time:
			cols[j] = column[time.Time](rows, j)
		case int16:
			cols[j] = column[int16](rows, j)
		case string:
			cols[j] = column[string](rows, j)
		default:
			panic(fmt.Sprintf("postgres: queueRows: column %d of type %T", j, rows[0][j]))
		}
	}
	p.queue(q, cols...)
}

func column[T any](rows [][]any, j int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[j].(T)
	}
	return out
}

// indexColumns are the review index's columns, in the order of indexRow.
var indexColumns = []string{"seq", "ts", "ts_ns", "action", "subject_ref", "actor", "purpose", "decision", "grant_id"}

// indexRow is the review index row of entry seq (audit.IndexOfCanonical), as audit_index keeps it.
func indexRow(seq int64, canon []byte) ([]any, error) {
	ix, err := audit.IndexOfCanonical(canon)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit entry %d does not decode: %w", seq, err)
	}
	us, ns := splitTime(ix.TS)
	return []any{seq, us, ns, ix.Action, ix.SubjectRef, ix.Actor, ix.Purpose, string(ix.Decision), ix.GrantID}, nil
}

// splitTime splits t into the microsecond PostgreSQL keeps (timestamptz) and the nanoseconds below it.
func splitTime(t time.Time) (time.Time, int16) {
	us := t.Truncate(time.Microsecond)
	return us, int16(t.Sub(us))
}

// writeEntries copies canonical entries, numbered from first, and their review index rows in.
func writeEntries(ctx context.Context, tx pgx.Tx, first int64, canons [][]byte) error {
	rows, index := make([][]any, len(canons)), make([][]any, len(canons))
	for i, c := range canons {
		var err error
		rows[i] = []any{first + int64(i), c}
		if index[i], err = indexRow(first+int64(i), c); err != nil {
			return err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log_entries"}, []string{"seq", "canonical"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_index"}, indexColumns, pgx.CopyFromRows(index))
	return err
}

// TxAppend is what AppendTx appended in a caller's transaction; report it with Committed once that
// transaction has committed.
type TxAppend struct {
	First, Size int64
	Head        string
}

// AppendTx appends entries inside the caller's transaction tx, so that a change and its entries commit
// together or not at all: it locks the head row (held until tx ends: appends from every node are ordered
// by their commits), runs admit if not nil (the ordering check: false appends nothing and returns
// audit.ErrRefused), then calls entries — which may still change data in tx, after the ordering check —
// and numbers, chains and writes what it returns. The entries are durable once tx commits.
func (l *Log) AppendTx(ctx context.Context, tx pgx.Tx, admit Admit, entries func() ([]audit.Entry, error)) (TxAppend, error) {
	size, head, err := lockHead(ctx, tx)
	if err != nil {
		return TxAppend{}, fmt.Errorf("postgres: audit log head: %w", err)
	}
	if admit != nil {
		ok, err := admit(ctx, tx)
		if err != nil {
			return TxAppend{}, fmt.Errorf("postgres: ordering check: %w", err)
		}
		if !ok {
			return TxAppend{}, audit.ErrRefused
		}
	}
	es, err := entries()
	if err != nil {
		return TxAppend{}, err
	}
	if len(es) == 0 {
		return TxAppend{}, errors.New("postgres: no audit entry to append")
	}
	c := chained{seq: size, head: head, rows: make([][]any, 0, len(es))}
	if err := c.addEntries(es); err != nil {
		return TxAppend{}, err
	}
	p := newPipeline(ctx, tx)
	if err := c.write(&p); err != nil {
		return TxAppend{}, fmt.Errorf("postgres: append to the audit log: %w", err)
	}
	if err := p.flush(); err != nil {
		return TxAppend{}, fmt.Errorf("postgres: append to the audit log: %w", err)
	}
	return TxAppend{First: size + 1, Size: c.seq, Head: c.head}, nil
}

// Committed reports that the transaction of an AppendTx (or of the Log's own appends) committed: this
// node's view of the head moves and the integrator is woken.
func (l *Log) Committed(a TxAppend) {
	l.advance(a.Size, a.Head)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}
