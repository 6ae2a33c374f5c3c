package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// Index flushing: the review index rows of logged entries are written by the indexer once this many are
// queued, this long after the oldest, or at once when a query waits for them.
const (
	indexFlushRows  = 32768
	indexFlushAfter = time.Second
)

// indexer feeds the review index (audit_index) with the rows of the entries the writer has logged, off the
// writer's path: on its own write connection, a transaction per flush of at most indexFlushRows rows. The
// index is derived: rows lost to a crash are rebuilt from the log at the next start (catchUpIndex).
type indexer struct {
	db       *sql.DB
	stmts    inserts
	progress *indexProgress
	log      *slog.Logger

	mu     sync.Mutex
	queue  []any // flattened audit_index rows, in seq order
	last   int64 // seq of the last queued row
	oldest time.Time
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func newIndexer(ctx context.Context, path string, progress *indexProgress, log *slog.Logger) (*indexer, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	stmts, err := prepareInserts(ctx, db, insertIndex)
	if err != nil {
		db.Close()
		return nil, err
	}
	x := &indexer{db: db, stmts: stmts, progress: progress, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go x.run()
	return x, nil
}

// add queues the index rows of entries up to seq last (the writer, after they are durable in the log).
func (x *indexer) add(rows []any, last int64) {
	if len(rows) == 0 {
		return
	}
	x.mu.Lock()
	if len(x.queue) == 0 {
		x.oldest = time.Now()
	}
	x.queue = append(x.queue, rows...)
	x.last = last
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// run flushes when rows are due or a query waits for them, until stop; then it flushes what is left.
func (x *indexer) run() {
	defer close(x.done)
	tick := time.NewTicker(indexFlushAfter / 4)
	defer tick.Stop()
	for {
		urgent := false
		select {
		case <-x.stop:
			x.flush()
			return
		case <-x.progress.flush:
			urgent = true
		case <-x.wake:
		case <-tick.C:
		}
		x.mu.Lock()
		due := len(x.queue) > 0 && (urgent || x.progress.wanted() > x.progress.Through() ||
			len(x.queue) >= indexFlushRows*indexWidth || time.Since(x.oldest) >= indexFlushAfter)
		x.mu.Unlock()
		if due {
			x.flush()
		}
	}
}

// indexWidth is the number of values of one flattened audit_index row.
const indexWidth = 8

// flush writes everything queued, in transactions of at most indexFlushRows rows; on failure the rows
// stay queued and the next flush retries them.
func (x *indexer) flush() {
	x.mu.Lock()
	rows, last := x.queue, x.last
	x.queue, x.oldest = nil, time.Time{}
	x.mu.Unlock()
	width := indexWidth
	for len(rows) > 0 {
		n := min(len(rows), indexFlushRows*width)
		if err := x.insert(rows[:n]); err != nil {
			x.log.Error("audit review index: flush failed; the rows stay queued", "rows", len(rows)/width, "err", err)
			x.mu.Lock()
			x.queue = append(rows, x.queue...)
			x.oldest = time.Now()
			x.mu.Unlock()
			return
		}
		through := rows[n-width].(int64)
		if n == len(rows) {
			through = last
		}
		x.progress.advance(through)
		rows = rows[n:]
	}
}

func (x *indexer) insert(rows []any) error {
	ctx := context.Background()
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := x.stmts.insertRows(ctx, tx, insertIndex, rows); err != nil {
		return err
	}
	return tx.Commit()
}

// close stops the indexer after a last flush and closes its connection (once).
func (x *indexer) close() error {
	var err error
	x.closed.Do(func() {
		close(x.stop)
		<-x.done
		x.stmts.close()
		err = x.db.Close()
	})
	return err
}
