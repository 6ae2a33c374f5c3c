package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/profilevault/profilevault/vault"
)

// A transaction's statements are pipelined: those whose outcome nobody reads (inserts, updates, deletes
// whose row count is ignored) are queued and sent with the next statement whose outcome is read — a
// query, a count, a COPY — or at the end, in one round trip. Order is kept: every queued statement runs
// before the read that sends it, so a read sees the writes queued before it.
//
// In a group of changes (Store.groupTx) each queued statement belongs to the change that queued it (its
// owner), and each change runs between SAVEPOINT and RELEASE. A change that only writes does not wait for
// its statements: they go with the next change's first read, or with the group's end. When a statement
// fails, the change that queued it fails, with that error, as it would have at the statement itself:
//
//   - if it is the change running now, the read that sent the statement returns the error to it;
//   - if it is an earlier change (its function has returned), that change is marked failed (failed), the
//     transaction is rolled back to its savepoint, and the statements queued after its own — the later
//     changes', the read's — are sent again. They were derived from what those changes' functions did,
//     not from any outcome (a change's function waits for its own reads only), so they are the same
//     statements: nothing runs twice, and the failed change kept nothing.
//
// PostgreSQL skips the rest of a pipeline after an error, so nothing after a failed statement ran.

// conn is what the statements run on: a transaction (pgx.Tx) or a connection holding one begun by a
// queued BEGIN (*pgxpool.Conn).
type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
}

// noOwner owns the statements of the transaction itself (BEGIN, the head, the entries, COMMIT).
const noOwner = -1

// item is one queued statement.
type item struct {
	sql   string
	args  []any
	owner int
}

// pipeline queues statements on a conn.
type pipeline struct {
	ctx     context.Context
	c       conn
	pending []item
	merges  []*merge // rows of multi-row statements still open, oldest first
	// owner is the change whose statements are queued now (noOwner outside changes).
	owner int
	// failed holds the changes that failed at a statement after their function returned, by owner.
	failed map[int]error
	sent   int // round trips made (statistics for tests and benchmarks)
}

func newPipeline(ctx context.Context, c conn) pipeline {
	return pipeline{ctx: ctx, c: c, owner: noOwner, failed: map[int]error{}}
}

// merge gathers the rows of consecutive writes of one kind into one statement: a subject's fields, its
// blind index tokens — a dozen single-row statements a new subject otherwise — become one each.
type merge struct {
	kind  *mergeKind
	owner int
	keys  map[string]bool
	rows  [][]any
}

// mergeKind is a kind of mergeable write: emit queues the statements that write rows (whose keys are
// distinct). Writes of different kinds must commute (they touch different tables): their statements may
// be queued in another order than the calls were made. Any other statement queued, and every send,
// queues the open merges first, so that nothing else is reordered; merges never span two changes.
type mergeKind struct {
	emit func(p *pipeline, rows [][]any)
}

// add adds a row of kind, keyed by key: it joins the open merge of its kind unless that already holds key
// (a second write of one key must follow the first: that merge is queued first).
func (p *pipeline) add(kind *mergeKind, key string, row ...any) {
	var m *merge
	for i, o := range p.merges {
		if o.kind == kind {
			if o.keys[key] || o.owner != p.owner {
				p.merges = append(p.merges[:i], p.merges[i+1:]...)
				p.emit(o)
			} else {
				m = o
			}
			break
		}
	}
	if m == nil {
		m = &merge{kind: kind, owner: p.owner, keys: map[string]bool{}}
		p.merges = append(p.merges, m)
	}
	m.keys[key] = true
	m.rows = append(m.rows, row)
}

// emit queues a merge's statements, as its owner's.
func (p *pipeline) emit(m *merge) {
	owner := p.owner
	p.owner = m.owner
	m.kind.emit(p, m.rows)
	p.owner = owner
}

// settle queues the open merges, oldest first.
func (p *pipeline) settle() {
	merges := p.merges
	p.merges = nil
	for _, m := range merges {
		p.emit(m)
	}
}

// queue adds a statement whose outcome is not read; it runs at the next send.
func (p *pipeline) queue(q string, args ...any) {
	p.settle()
	p.pending = append(p.pending, item{sql: q, args: args, owner: p.owner})
}

// idle reports whether nothing is queued.
func (p *pipeline) idle() bool {
	p.settle()
	return len(p.pending) == 0
}

// send sends the queued statements, with last (if not empty) after them, and returns the results with
// every queued statement's already read: the caller reads last's result and closes br. err is the error
// of a statement of the current owner (br is then closed); a statement of an earlier change that fails
// fails that change only (see the package comment), and the rest is sent again.
func (p *pipeline) send(last string, args ...any) (br pgx.BatchResults, err error) {
	p.settle()
	items := p.pending
	p.pending = nil
	if last != "" {
		items = append(items, item{sql: last, args: args, owner: p.owner})
	}
	for {
		b := &pgx.Batch{}
		for _, it := range items {
			b.Queue(it.sql, it.args...)
		}
		n := len(items)
		if last != "" {
			n--
		}
		p.sent++
		br = p.c.SendBatch(p.ctx, b)
		failedAt := -1
		for i := range n {
			if _, err = br.Exec(); err != nil {
				failedAt = i
				break
			}
		}
		if failedAt < 0 {
			return br, nil
		}
		err = retiredKEK(err)
		_ = br.Close() // the same error again
		owner := items[failedAt].owner
		var prep pgx.ErrPreprocessingBatch
		if owner == p.owner || owner == noOwner || errors.As(err, &prep) {
			return nil, err
		}
		// An earlier change's statement: that change failed; roll it back and send what followed it.
		p.failed[owner] = err
		if rerr := p.rollbackChange(); rerr != nil {
			return nil, fmt.Errorf("roll back a failed change: %w (after: %w)", rerr, err)
		}
		rest := failedAt + 1
		for rest < len(items) && items[rest].owner == owner {
			rest++
		}
		items = items[rest:]
		if len(items) == 0 {
			return nil, nil // nothing followed it: no last either
		}
	}
}

// retiredKEKMessage is the refusal of the deks table's trigger (migration 0003) when a DEK is written under
// a KEK version another node retired: this node's ring is behind.
const retiredKEKMessage = "DEK wrapped under a retired KEK version"

// retiredKEK marks that refusal as vault.ErrKEKMissing, so that the change is answered 503 unavailable
// until this node has the ring file in force (as reads of DEKs under a version it lacks are), not 500.
func retiredKEK(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Message == retiredKEKMessage {
		return fmt.Errorf("%w: %w", vault.ErrKEKMissing, err)
	}
	return err
}

// rollbackChange rolls the transaction back to the savepoint of the change that failed, at once and by the
// simple protocol (no arguments): the transaction is aborted, where nothing can be prepared, and pgx has
// dropped the failed batch's statements from its cache, to be deallocated once the transaction is usable
// again, before they are prepared anew.
func (p *pipeline) rollbackChange() error {
	p.sent++
	_, err := p.c.Exec(p.ctx, "ROLLBACK TO SAVEPOINT change; RELEASE SAVEPOINT change")
	return err
}

// flush sends the queued statements, if any, and returns the error of the current owner's.
func (p *pipeline) flush() error {
	if p.idle() {
		return nil
	}
	br, err := p.send("")
	if err != nil || br == nil {
		return err
	}
	return br.Close()
}

// execTag runs q after the queued statements and returns its command tag (a statement whose row count is read).
func (p *pipeline) execTag(q string, args ...any) (pgconn.CommandTag, error) {
	if p.idle() {
		p.sent++
		return p.c.Exec(p.ctx, q, args...)
	}
	br, err := p.send(q, args...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// query runs q after the queued statements.
func (p *pipeline) query(q string, args ...any) (pgx.Rows, error) {
	if p.idle() {
		p.sent++
		return p.c.Query(p.ctx, q, args...)
	}
	br, err := p.send(q, args...)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close() // the same error again
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// queryRow runs q after the queued statements.
func (p *pipeline) queryRow(q string, args ...any) pgx.Row {
	if p.idle() {
		p.sent++
		return p.c.QueryRow(p.ctx, q, args...)
	}
	br, err := p.send(q, args...)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// copyFrom copies rows in after the queued statements (COPY cannot be pipelined: they are sent first).
func (p *pipeline) copyFrom(table string, columns []string, rows [][]any) error {
	if err := p.flush(); err != nil {
		return err
	}
	p.sent += 2
	_, err := p.c.CopyFrom(p.ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

// batchRows are the rows of a batch's last statement: closing them closes the batch.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is the row of a batch's last statement: scanning it closes the batch.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row whose statement was never run: a queued statement before it failed.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
