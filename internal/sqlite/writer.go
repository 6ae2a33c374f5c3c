package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// op is one unit of work for the writer: an optional change and the audit entry that records it.
type op struct {
	change func(vault.Tx) error
	entry  func(error) audit.Entry
	// entries, when set, replaces entry with several entries for the one change (CommitMany).
	entries func(error) []audit.Entry
	// body is the entry pre-encoded by the caller when there is no change to wait for (reads), so the
	// single writer only splices in seq and prev_hash.
	body []byte
	pre  audit.Entry
	// row is body's review index row, made by the caller too (its seq is the writer's to fill in).
	row []any
	// guard, when set, makes the op a release: dropped (vault.ErrSuperseded) if its subject changed since.
	guard     *vault.Guard
	abandoned atomic.Bool
	done      chan result
}

type result struct {
	seq       int64
	changeErr error
	err       error
}

// Commit implements vault.Store.
func (s *Store) Commit(ctx context.Context, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	if entry == nil {
		return 0, errors.New("sqlite: Commit needs an audit entry")
	}
	o := &op{change: change, entry: entry, done: make(chan result, 1)}
	if change == nil {
		o.pre = entry(nil)
		body, err := o.pre.Body()
		if err != nil {
			return 0, fmt.Errorf("encode audit entry: %w", err)
		}
		o.body, o.row = body, indexArgs(0, audit.IndexOf(o.pre))
	}
	return s.enqueue(ctx, o)
}

// enqueue hands o to the writer and waits for its result, failing closed after the commit timeout.
func (s *Store) enqueue(ctx context.Context, o *op) (int64, error) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case s.ops <- o:
	case <-timer.C:
		s.metrics.Abandoned.Add(1)
		s.healthy.Store(false)
		return 0, vault.ErrUnavailable
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.stop:
		return 0, vault.ErrUnavailable
	}
	select {
	case r := <-o.done:
		if r.err != nil {
			return 0, r.err
		}
		return r.seq, r.changeErr
	case <-timer.C:
		o.abandoned.Store(true)
		s.metrics.Abandoned.Add(1)
		s.healthy.Store(false)
		return 0, vault.ErrUnavailable
	case <-ctx.Done():
		o.abandoned.Store(true)
		return 0, ctx.Err()
	}
}

// CommitMany implements vault.Store.
func (s *Store) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	if entries == nil {
		return 0, errors.New("sqlite: CommitMany needs audit entries")
	}
	return s.enqueue(ctx, &op{change: change, entries: entries, done: make(chan result, 1)})
}

// Guard implements vault.Store.
func (s *Store) Guard(subject string) vault.Guard { return s.gens.Guard(subject) }

// Release implements vault.Store: the entry is appended only if, where the writer orders it, guard's
// subject has not changed since (vault.Generations.Stale).
func (s *Store) Release(ctx context.Context, guard vault.Guard, e audit.Entry) (int64, error) {
	body, err := e.Body()
	if err != nil {
		return 0, fmt.Errorf("encode audit entry: %w", err)
	}
	return s.enqueue(ctx, &op{pre: e, body: body, row: indexArgs(0, audit.IndexOf(e)), guard: &guard, done: make(chan result, 1)})
}

// ReleaseWith implements vault.Sequencer: a guarded release whose change (a grant's read count) commits
// with its entry.
func (s *Store) ReleaseWith(ctx context.Context, guard vault.Guard, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	if change == nil || entry == nil {
		return 0, errors.New("sqlite: ReleaseWith needs a change and an audit entry")
	}
	return s.enqueue(ctx, &op{change: change, entry: entry, guard: &guard, done: make(chan result, 1)})
}

// writer is the single goroutine that owns the write connection and numbers the trail's entries.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*op, 0, s.maxBatch)
	for {
		select {
		case o := <-s.ops:
			batch = append(batch[:0], o)
		case <-s.stop:
			// Commit whatever is still queued, then stop.
			batch = batch[:0]
			for len(s.ops) > 0 {
				batch = append(batch, <-s.ops)
			}
			s.commitBatch(batch)
			return
		}
	drain:
		for len(batch) < s.maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commitBatch(s.linger(batch))
	}
}

// linger waits, briefly, for ops that are already on their way to join the group: without it, callers
// answered at the end of one group come back one by one just after the next group was cut, and concurrent
// callers split into cohorts that each wait a whole append to the log (measured: 64 callers made groups of
// 22). The wait ends when every op in flight has joined, and is bounded by half the last group's append
// (at most 1 ms), so a lone caller never waits.
func (s *Store) linger(batch []*op) []*op {
	if int64(len(batch)) >= s.inflight.Load() {
		return batch
	}
	wait := min(time.Duration(s.lastAppend.Load()), time.Millisecond)
	if wait <= 0 {
		return batch
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(batch) < s.maxBatch && int64(len(batch)) < s.inflight.Load() {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// commitBatch numbers and chains the entries of every op of the batch and appends them to the audit log,
// and answers the ops only once their entries are durable. Ops with a change run in savepoints of one
// transaction first; their entries are write-ahead intents (audit.Entry.Intent): durable in the log before
// the transaction, which records the intent's id, commits. A batch of reads never touches the database;
// the index rows of every logged entry go to the indexer.
func (s *Store) commitBatch(batch []*op) {
	if s.broken {
		for _, o := range batch {
			o.done <- result{err: fmt.Errorf("%w: an uncommitted change could not be cancelled in the audit log; restart to recover", vault.ErrUnavailable)}
		}
		return
	}
	results := make([]result, len(batch))
	seq, head := s.headSeq, s.headHash
	erased := false
	touched, rewrapped := map[string]struct{}{}, map[string]struct{}{}
	var (
		canons  [][]byte
		rows    []any // this batch's audit_index rows, flattened
		notes   []any
		intents []audit.Entry // entries whose changes this transaction commits
		logged  bool          // the batch's entries are durable in the log
	)
	start := time.Now()
	needTx := false
	for _, o := range batch {
		needTx = needTx || o.change != nil
	}
	err := func() error {
		ctx := context.Background()
		var tx *sql.Tx
		var t *txn
		// ensureTx begins the group's transaction, for a change or a sealed note.
		ensureTx := func() error {
			if tx != nil {
				return nil
			}
			var err error
			if tx, err = s.write.BeginTx(ctx, nil); err != nil {
				return err
			}
			t = &txn{ctx: ctx, tx: tx, touched: touched, rewrapped: rewrapped, store: s}
			needTx = true
			return nil
		}
		defer func() {
			if tx != nil {
				tx.Rollback() // after a COMMIT: sql.ErrTxDone, nothing done
			}
		}()
		if needTx {
			if err := ensureTx(); err != nil {
				return err
			}
		}
		// appendEntry queues entry e (seq and prev_hash set, canon its canonical bytes, row its index row
		// if made already) and moves the head. A sealed note goes in the transaction, committed before the
		// entry is acknowledged.
		appendEntry := func(e audit.Entry, canon []byte, row []any) error {
			if len(e.Note) > 0 {
				if err := ensureTx(); err != nil {
					return err
				}
				notes = append(notes, e.Seq, e.Note)
			}
			canons = append(canons, canon)
			if row != nil {
				row[0] = e.Seq
				rows = append(rows, row...)
			} else {
				rows = append(rows, indexArgs(e.Seq, audit.IndexOf(e))...)
			}
			seq, head = e.Seq, audit.HexHash(audit.LeafHash(canon))
			return nil
		}
		intent := int64(0) // the batch's intent id: the seq of its first intent entry
		for i, o := range batch {
			if o.abandoned.Load() {
				results[i].err = vault.ErrUnavailable
				continue
			}
			// The ordering step: a release whose subject a change ordered before it (in this batch, or
			// committed since its guard was taken) is dropped, unappended, to be decided again.
			if o.guard != nil && s.gens.Stale(*o.guard, func(id string) bool { _, ok := touched[id]; return ok }) {
				results[i].err = vault.ErrSuperseded
				continue
			}
			var changeErr error
			if o.change != nil {
				if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
					return err
				}
				t.staleUndo = t.staleUndo[:0]
				changeErr = vault.RunChange(o.change, t)
				if changeErr != nil {
					t.undoStale() // a failed change marks nothing
					if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
						return err
					}
				}
				if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
					return err
				}
			}
			first := seq + 1
			if o.body != nil {
				e := o.pre
				e.Seq, e.PrevHash = seq+1, head
				if err := appendEntry(e, audit.Assemble(e.Seq, o.body, head), o.row); err != nil {
					return err
				}
			} else {
				var entries []audit.Entry
				if o.entries != nil {
					if entries = o.entries(changeErr); len(entries) == 0 {
						return errors.New("an operation returned no audit entry")
					}
				} else {
					entries = []audit.Entry{o.entry(changeErr)}
				}
				kept := o.change != nil && changeErr == nil // its entries are intents until the transaction commits
				if kept && intent == 0 {
					intent = seq + 1
				}
				opIntent := int64(0)
				if kept {
					opIntent = intent
				}
				bodies, err := encodeBodies(entries, opIntent)
				if err != nil {
					return fmt.Errorf("encode audit entry: %w", err)
				}
				canons, rows = slices.Grow(canons, len(entries)), slices.Grow(rows, len(entries)*insertWidths[insertIndex])
				for i, e := range entries {
					e.Seq, e.PrevHash = seq+1, head
					if kept {
						e.Intent = intent
						intents = append(intents, e)
					}
					if err := appendEntry(e, audit.Assemble(e.Seq, bodies[i], head), nil); err != nil {
						return err
					}
				}
			}
			results[i] = result{seq: first, changeErr: changeErr}
		}
		if t != nil {
			if err := t.markDirty(s.headSeq + 1); err != nil {
				return fmt.Errorf("mark changed subjects: %w", err)
			}
		}
		// Write-ahead: every entry is durable in the log before the database commits anything.
		if len(canons) > 0 {
			logStart := time.Now()
			err := s.auditLog.AppendBatch(ctx, s.headSeq+1, canons)
			took := time.Since(logStart)
			s.metrics.LogSyncNanos.Add(int64(took))
			s.lastAppend.Store(int64(took))
			if err != nil {
				return fmt.Errorf("append to the audit log: %w", err)
			}
			logged = true
			s.headSeq, s.headHash = seq, head
		}
		if tx == nil {
			return nil
		}
		if intent != 0 {
			failpoint("after-intent") // the intents are durable, their changes not committed
		}
		if intent != 0 {
			if err := t.exec(`INSERT INTO audit_intents (id) VALUES (?)`, intent); err != nil {
				return fmt.Errorf("record intent: %w", err)
			}
		}
		if _, err := s.insertStmts.insertRows(ctx, tx, insertNotes, notes); err != nil {
			return fmt.Errorf("store audit notes: %w", err)
		}
		erased = t.erased
		syncStart := time.Now()
		defer func() { s.metrics.SyncNanos.Add(int64(time.Since(syncStart))) }()
		return tx.Commit()
	}()
	s.metrics.CommitNanos.Add(int64(time.Since(start)))
	if len(s.toPrepare) > 0 {
		s.preparePending()
	}
	// Drop every touched record from the cache before anyone learns of the commit (or its failure).
	s.records.invalidate(touched)
	s.records.invalidate(rewrapped)
	// Only now may a new guard be taken for a changed subject: its record is fresh from here on.
	s.gens.Advance(touched)
	if len(batch) > 0 {
		s.metrics.Batches.Add(1)
		s.metrics.Ops.Add(int64(len(batch)))
	}
	if logged {
		s.indexer.add(rows, seq) // the entries are in the log, whatever the transaction did
	}
	if err != nil && logged && len(intents) > 0 {
		// The intents are durable but their changes did not commit: cancel them now (recovery would).
		s.cancelIntents(intents)
	}
	if err != nil {
		s.metrics.Failures.Add(1)
		s.healthy.Store(false)
		s.log.Error("audit group commit failed; requests in the group fail closed", "ops", len(batch), "err", err)
		for _, o := range batch {
			o.done <- result{err: fmt.Errorf("%w: %v", vault.ErrUnavailable, err)}
		}
		return
	}
	s.healthy.Store(true)
	if erased {
		select {
		case s.checkpoints <- struct{}{}:
		default:
		}
	}
	for i, o := range batch {
		o.done <- results[i]
	}
}

// encodeBodies encodes the canonical bodies of entries (audit.Entry.Body: all but seq and prev_hash), each
// with intent when it is not zero. A large group — an audience build's entry per candidate — is encoded on
// one goroutine per core; the writer then only splices in each seq and prev_hash (audit.Assemble).
func encodeBodies(entries []audit.Entry, intent int64) ([][]byte, error) {
	out := make([][]byte, len(entries))
	encode := func(part []audit.Entry, bodies [][]byte) error {
		for i, e := range part {
			if intent != 0 {
				e.Intent = intent
			}
			b, err := e.Body()
			if err != nil {
				return err
			}
			bodies[i] = b
		}
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	if len(entries) < 1024 || workers == 1 {
		return out, encode(entries, out)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	size := (len(entries) + workers - 1) / workers
	for w := range workers {
		lo, hi := min(w*size, len(entries)), min((w+1)*size, len(entries))
		wg.Go(func() { errs[w] = encode(entries[lo:hi], out[lo:hi]) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// cancelIntents appends an aborted entry for each intent whose change failed to commit. If even that
// fails, the writer refuses everything from now on: only a restart's recovery can cancel them.
func (s *Store) cancelIntents(intents []audit.Entry) {
	aborted := make([]audit.Entry, len(intents))
	for i, e := range intents {
		aborted[i] = audit.Aborted(e, time.Now())
	}
	canons, head, err := s.chain(aborted)
	if err == nil {
		err = s.auditLog.AppendBatch(context.Background(), s.headSeq+1, canons)
	}
	if err != nil {
		s.broken = true
		s.log.Error("an uncommitted change could not be cancelled in the audit log; refusing everything until a restart recovers", "err", err)
		return
	}
	first := s.headSeq + 1
	s.headSeq, s.headHash = s.headSeq+int64(len(canons)), head
	var rows []any
	for i, e := range aborted {
		rows = append(rows, indexArgs(first+int64(i), audit.IndexOf(e))...)
	}
	s.indexer.add(rows, s.headSeq)
}

// Multi-row inserts, by table: prepared at open for a few fixed row counts (modernc parses unprepared SQL on
// every call, and nothing can be prepared on a write connection while a transaction holds it).
const (
	insertIndex = `INSERT INTO audit_index (seq, ts, action, subject_ref, actor, purpose, decision, grant_id) VALUES `
	insertNotes = `INSERT INTO audit_note (seq, sealed) VALUES `
	// Events are idempotent by id: a row whose id exists is skipped.
	insertEvents = `INSERT OR IGNORE INTO events (id, subject_id, type, category, ts, source, class, dek_version, attrs, purpose) VALUES `
	insertTags   = `INSERT INTO tags (subject_id, purpose, key, level, inputs, consent_ids, computed_at, dek_version, sealed) VALUES `
	// An audience's members (PutAudience).
	insertMembers = `INSERT INTO audience_members (audience_id, ref, subject_id, holdout) VALUES `
	// New subjects' rows (InsertSubjects).
	insertSubjects = `INSERT INTO subjects (id, state, source, ref_salt, created_at, updated_at) VALUES `
	insertDEKs     = `INSERT INTO deks (subject_id, class, version, kek_version, wrapped, created_at) VALUES `
	insertFields   = `INSERT INTO fields (subject_id, name, class, dek_version, value, updated_at) VALUES `
	insertTokens   = `INSERT OR IGNORE INTO blind_index (field, token, subject_id) VALUES `
)

var (
	insertWidths = map[string]int{insertIndex: 8, insertNotes: 2, insertEvents: 10, insertTags: 9, insertMembers: 4,
		insertSubjects: 6, insertDEKs: 6, insertFields: 6, insertTokens: 3}
	insertSizes = []int{64, 16, 4, 1} // descending
)

// inserts holds the prepared multi-row inserts of one write connection, by table prefix and row count.
type inserts map[string]*sql.Stmt

// prepareInserts prepares every (table, row count) statement of the given tables on db.
func prepareInserts(ctx context.Context, db *sql.DB, prefixes ...string) (inserts, error) {
	out := inserts{}
	for _, prefix := range prefixes {
		width := insertWidths[prefix]
		row := "(?" + strings.Repeat(",?", width-1) + ")"
		for _, n := range insertSizes {
			st, err := db.PrepareContext(ctx, prefix+row+strings.Repeat(","+row, n-1))
			if err != nil {
				out.close()
				return nil, err
			}
			out[prefix+strconv.Itoa(n)] = st
		}
	}
	return out, nil
}

func (in inserts) close() {
	for _, st := range in {
		st.Close()
	}
}

// insertRows inserts rows (flattened in args) with the prepared statements, largest first, and returns how
// many rows were inserted.
func (in inserts) insertRows(ctx context.Context, tx *sql.Tx, prefix string, args []any) (int64, error) {
	width := insertWidths[prefix]
	var inserted int64
	for len(args) > 0 {
		rows := len(args) / width
		n := insertSizes[len(insertSizes)-1]
		for _, size := range insertSizes {
			if size <= rows {
				n = size
				break
			}
		}
		r, err := tx.StmtContext(ctx, in[prefix+strconv.Itoa(n)]).ExecContext(ctx, args[:n*width]...)
		if err != nil {
			return inserted, err
		}
		affected, err := r.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += affected
		args = args[n*width:]
	}
	return inserted, nil
}

// txn implements vault.Tx on the writer's transaction.
type txn struct {
	ctx     context.Context
	tx      *sql.Tx
	store   *Store
	erased  bool
	touched map[string]struct{} // subjects whose cached records must be dropped after commit
	stale   map[string]struct{} // subjects whose tag inputs changed (vault.TagTx.MarkStale)
	// staleUndo records the current change's edits of stale, undone if the change fails.
	staleUndo []staleMark
	// rewrapped holds subjects whose DEKs were only rewrapped: their cached records are dropped too, but
	// their tags stay current.
	rewrapped map[string]struct{}
}

// markDirty records the subjects whose tag inputs the batch's changes marked stale as needing their tags
// recomputed, at the batch's first audit sequence number.
func (t *txn) markDirty(seq int64) error {
	for id := range t.stale {
		if err := t.exec(`INSERT OR REPLACE INTO tag_dirty (subject_id, marked_seq) VALUES (?, ?)`, id, seq); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) touch(subject string) { t.touched[subject] = struct{}{} }

var _ vault.Tx = (*txn)(nil)

// stmt returns the write connection's prepared statement for q bound to this transaction, or nil the first
// time q is seen: the transaction holds the only write connection, so q is queued and prepared after the
// commit (preparePending), and runs unprepared this once. Preparing costs more than running most of them.
func (t *txn) stmt(q string) *sql.Stmt {
	st, ok := t.store.writeStmts[q]
	if !ok {
		t.store.toPrepare[q] = struct{}{}
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}

func (t *txn) exec(q string, args ...any) error {
	_, err := t.execResult(q, args...)
	return err
}

func (t *txn) execResult(q string, args ...any) (sql.Result, error) {
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

func (t *txn) queryRow(q string, args ...any) *sql.Row {
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

// preparePending prepares the statements transactions queued (see txn.stmt); it runs in the writer between
// transactions. A statement that fails to prepare keeps running unprepared.
func (s *Store) preparePending() {
	for q := range s.toPrepare {
		delete(s.toPrepare, q)
		if st, err := s.write.PrepareContext(context.Background(), q); err == nil {
			s.writeStmts[q] = st
		}
	}
}

func (t *txn) CreateSubject(id, source string, refSalt []byte, at time.Time) error {
	t.touch(id)
	ts := formatTime(at)
	return t.exec(`INSERT INTO subjects (id, state, source, ref_salt, created_at, updated_at) VALUES (?, 'active', ?, ?, ?, ?)`, id, source, refSalt, ts, ts)
}

// InsertSubjects implements vault.ImportTx: the subjects, their DEKs, fields and index tokens by the
// prepared multi-row inserts, table by table.
func (t *txn) InsertSubjects(subjects []vault.SubjectRows) error {
	var subj, deks, fields, tokens []any
	type token struct {
		x  vault.IndexToken
		id string
	}
	var index []token
	dekAt := formatTime(time.Now())
	for _, s := range subjects {
		t.touch(s.ID)
		at := formatTime(s.At)
		subj = append(subj, s.ID, vault.StateActive, s.Source, s.RefSalt, at, at)
		deks = append(deks, s.ID, s.DEK.Class, s.DEK.Version, s.DEK.KEKVersion, s.DEK.Wrapped, dekAt)
		for _, f := range s.Fields {
			fields = append(fields, s.ID, f.Name, f.Class, f.DEKVersion, f.Value, formatTime(f.UpdatedAt))
		}
		for _, x := range s.Index {
			index = append(index, token{x, s.ID})
		}
	}
	// In the index's key order: random tokens inserted in order descend the B-tree along neighbouring
	// pages instead of all over it.
	slices.SortFunc(index, func(a, b token) int {
		if c := strings.Compare(a.x.Field, b.x.Field); c != 0 {
			return c
		}
		if c := bytes.Compare(a.x.Token, b.x.Token); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, x := range index {
		tokens = append(tokens, x.x.Field, x.x.Token, x.id)
	}
	for _, table := range []struct {
		prefix string
		args   []any
	}{{insertSubjects, subj}, {insertDEKs, deks}, {insertFields, fields}, {insertTokens, tokens}} {
		if _, err := t.store.insertStmts.insertRows(t.ctx, t.tx, table.prefix, table.args); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) SubjectState(id string) (string, error) {
	var st string
	err := t.queryRow(`SELECT state FROM subjects WHERE id = ?`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", vault.ErrNotFound
	}
	return st, err
}

func (t *txn) DEK(subject, class string) (vault.DEK, error) {
	d := vault.DEK{Subject: subject, Class: class}
	err := t.queryRow(`SELECT version, kek_version, wrapped FROM deks WHERE subject_id = ? AND class = ? ORDER BY version DESC LIMIT 1`,
		subject, class).Scan(&d.Version, &d.KEKVersion, &d.Wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.DEK{}, vault.ErrNotFound
	}
	return d, err
}

func (t *txn) PutDEK(d vault.DEK) error {
	t.touch(d.Subject)
	return t.exec(`INSERT OR REPLACE INTO deks (subject_id, class, version, kek_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.Subject, d.Class, d.Version, d.KEKVersion, d.Wrapped, formatTime(time.Now()))
}

func (t *txn) RewrapDEK(d vault.DEK, from uint32) (bool, error) {
	// The cached record holds the old wrapping: drop it, but do not mark the subject's tags stale.
	t.rewrapped[d.Subject] = struct{}{}
	r, err := t.execResult(`UPDATE deks SET kek_version = ?, wrapped = ? WHERE subject_id = ? AND class = ? AND version = ? AND kek_version = ?`,
		d.KEKVersion, d.Wrapped, d.Subject, d.Class, d.Version, from)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (t *txn) PutField(subject string, f vault.SealedField) error {
	t.touch(subject)
	return t.exec(`INSERT OR REPLACE INTO fields (subject_id, name, class, dek_version, value, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		subject, f.Name, f.Class, f.DEKVersion, f.Value, formatTime(f.UpdatedAt))
}

func (t *txn) DeleteField(subject, name string) error {
	t.touch(subject)
	return t.exec(`DELETE FROM fields WHERE subject_id = ? AND name = ?`, subject, name)
}

func (t *txn) SetIndex(field, subject string, token []byte) error {
	if token == nil {
		return t.SetIndexTokens(field, subject, nil)
	}
	return t.SetIndexTokens(field, subject, [][]byte{token})
}

// SetIndexTokens implements vault.Tx.
func (t *txn) SetIndexTokens(field, subject string, tokens [][]byte) error {
	if err := t.exec(`DELETE FROM blind_index WHERE subject_id = ? AND field = ?`, subject, field); err != nil {
		return err
	}
	for _, tok := range tokens {
		if err := t.exec(`INSERT OR IGNORE INTO blind_index (field, token, subject_id) VALUES (?, ?, ?)`, field, tok, subject); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) Touch(subject string, at time.Time) error {
	t.touch(subject)
	return t.exec(`UPDATE subjects SET updated_at = ? WHERE id = ?`, formatTime(at), subject)
}

// SetObjection implements vault.Tx.
func (t *txn) SetObjection(subject, kind string, on bool, at time.Time) (bool, error) {
	t.touch(subject)
	var r sql.Result
	var err error
	if on {
		r, err = t.execResult(`INSERT OR IGNORE INTO objections (subject_id, kind, created_at) VALUES (?, ?, ?)`, subject, kind, formatTime(at))
	} else {
		r, err = t.execResult(`DELETE FROM objections WHERE subject_id = ? AND kind = ?`, subject, kind)
	}
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

// Objections implements vault.Tx: the kinds of the subject's standing objections.
func (t *txn) Objections(subject string) ([]string, error) {
	return scanIDs(t.query(`SELECT kind FROM objections WHERE subject_id = ? ORDER BY kind`, subject))
}

// ConsentEvents reads a subject's consent history inside the transaction.
func (t *txn) ConsentEvents(subject string) ([]consent.Event, error) {
	rows, err := t.query(`SELECT data FROM consent_events WHERE subject_id = ? ORDER BY at`, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []consent.Event
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var e consent.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AppendConsent adds one event to a subject's consent history.
func (t *txn) AppendConsent(subject string, e consent.Event) error {
	t.touch(subject)
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return t.exec(`INSERT INTO consent_events (id, subject_id, purpose, action, at, data) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, subject, e.Purpose, e.Action, formatTime(e.At), data)
}

// Erase destroys the keys first, then the ciphertexts, index entries and events (secure_delete overwrites the
// freed pages), and leaves a tombstone so the id is never reused and reads answer 404. Classes in keep (a
// legal hold) keep their key and events until holdUntil. It returns the classes whose keys were destroyed.
func (t *txn) Erase(subject string, at time.Time, keep []string, holdUntil time.Time) ([]string, error) {
	t.touch(subject)
	rows, err := t.query(`SELECT DISTINCT class FROM deks WHERE subject_id = ? ORDER BY class`, subject)
	if err != nil {
		return nil, err
	}
	var classes []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		if !slices.Contains(keep, c) {
			classes = append(classes, c)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, c := range classes {
		if err := t.exec(`DELETE FROM deks WHERE subject_id = ? AND class = ?`, subject, c); err != nil {
			return nil, err
		}
	}
	for _, q := range []string{
		`DELETE FROM fields WHERE subject_id = ?`,
		// The source-record tokens stay (keyed hashes of source and external id): an import of an erased
		// person's source record is refused, not created again (vault.ProfileStore.ErasedHolders).
		`DELETE FROM blind_index WHERE subject_id = ? AND field <> '_external_id'`,
		`DELETE FROM objections WHERE subject_id = ?`,
		`DELETE FROM subject_activity WHERE subject_id = ?`,
	} {
		if err := t.exec(q, subject); err != nil {
			return nil, err
		}
	}
	ts := formatTime(at)
	var hold, shredded any // NULL without a hold: the salt goes too
	if len(keep) > 0 {
		hold, shredded = formatTime(holdUntil), strings.Join(classes, ",")
	}
	if err := t.exec(`UPDATE subjects SET state = 'erased', source = '', ref_salt = CASE WHEN ?1 IS NULL THEN NULL ELSE ref_salt END,
		shredded = ?2, updated_at = ?3, erased_at = coalesce(erased_at, ?3), hold_until = ?1 WHERE id = ?4`,
		hold, shredded, ts, subject); err != nil {
		return nil, err
	}
	t.erased = true
	return classes, nil
}

// PurgeEvents deletes up to limit events of the subject in classes whose keys are gone; it reports how many.
func (t *txn) PurgeEvents(subject string, classes []string, limit int) (int, error) {
	total := 0
	for _, c := range classes {
		r, err := t.execResult(`DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE subject_id = ? AND class = ? LIMIT ?)`, subject, c, limit-total)
		if err != nil {
			return total, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if total >= limit {
			break
		}
	}
	return total, nil
}

// LatestEvent returns the time of the subject's newest event of a category.
func (t *txn) LatestEvent(subject, category string) (time.Time, bool, error) {
	var ts sql.NullString
	if err := t.queryRow(`SELECT max(ts) FROM events WHERE subject_id = ? AND category = ?`, subject, category).Scan(&ts); err != nil {
		return time.Time{}, false, err
	}
	if !ts.Valid {
		return time.Time{}, false, nil
	}
	return parseTime(ts.String), true, nil
}

// Hold implements vault.ErasureTx.
func (t *txn) Hold(subject string) (vault.HeldErasure, bool, error) {
	var u, e, shredded sql.NullString
	var salt []byte
	err := t.queryRow(`SELECT hold_until, erased_at, shredded, ref_salt FROM subjects WHERE id = ?`, subject).Scan(&u, &e, &shredded, &salt)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.HeldErasure{}, false, vault.ErrNotFound
	}
	if err != nil || !u.Valid {
		return vault.HeldErasure{}, false, err
	}
	h := vault.HeldErasure{Until: parseTime(u.String), ErasedAt: parseTime(e.String), RefSalt: salt}
	if shredded.String != "" {
		h.Shredded = strings.Split(shredded.String, ",")
	}
	return h, true, nil
}

// PutRequest implements vault.Tx.
func (t *txn) PutRequest(r vault.RequestRow) error {
	return t.exec(`INSERT OR REPLACE INTO dsr_requests (id, subject_id, type, state, created_at, due_at, updated_at, reason, note, relationship, evidence)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.SubjectID, r.Type, r.State, formatTime(r.CreatedAt), formatTime(r.DueAt),
		formatTime(r.UpdatedAt), r.ReasonSealed, r.Note, r.Relationship, r.EvidenceSealed)
}

// Request implements vault.Tx.
func (t *txn) Request(id string) (vault.RequestRow, error) {
	rows, err := t.query(requestColumns+` WHERE id = ?`, id)
	if err != nil {
		return vault.RequestRow{}, err
	}
	out, err := scanRequests(rows)
	if err != nil {
		return vault.RequestRow{}, err
	}
	if len(out) == 0 {
		return vault.RequestRow{}, vault.ErrNotFound
	}
	return out[0], nil
}

// PutEvents implements vault.Tx: idempotent by event id, with multi-row inserts.
func (t *txn) PutEvents(events []vault.StoredEvent) (int, error) {
	args := make([]any, 0, len(events)*insertWidths[insertEvents])
	for _, e := range events {
		args = append(args, e.ID, e.SubjectID, e.Type, e.Category, formatTime(e.TS), e.Source, e.Class, e.DEKVersion, e.Attrs, e.Purpose)
	}
	n, err := t.store.insertStmts.insertRows(t.ctx, t.tx, insertEvents, args)
	if err != nil {
		return int(n), err
	}
	// The newest event of each type per subject is part of the subject's record (retention clocks).
	latest := map[[2]string]time.Time{}
	for _, e := range events {
		k := [2]string{e.SubjectID, e.Type}
		if at, ok := latest[k]; !ok || e.TS.After(at) {
			latest[k] = e.TS
		}
	}
	for k, at := range latest {
		if err := t.exec(`INSERT INTO subject_activity (subject_id, type, last_at) VALUES (?, ?, ?)
			ON CONFLICT (subject_id, type) DO UPDATE SET last_at = max(last_at, excluded.last_at)`, k[0], k[1], formatTime(at)); err != nil {
			return int(n), err
		}
		t.touch(k[0])
	}
	return int(n), nil
}

// ResealEvents implements vault.EventTx.
func (t *txn) ResealEvents(events []vault.ResealedEvent) (int, error) {
	n := 0
	for _, e := range events {
		r, err := t.execResult(`UPDATE events SET attrs = ? WHERE id = ? AND subject_id = ? AND attrs = ?`, e.New, e.ID, e.SubjectID, e.Old)
		if err != nil {
			return n, err
		}
		k, err := r.RowsAffected()
		if err != nil {
			return n, err
		}
		n += int(k)
	}
	return n, nil
}

// DeleteEventsCollectedUnder implements vault.Tx.
func (t *txn) DeleteEventsCollectedUnder(subject string, purpose policies.PurposeName) (int, error) {
	r, err := t.execResult(`DELETE FROM events WHERE subject_id = ? AND purpose = ?`, subject, purpose)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// DeleteEventsOfCategory implements vault.Tx.
func (t *txn) DeleteEventsOfCategory(subject, category string) (int, error) {
	r, err := t.execResult(`DELETE FROM events WHERE subject_id = ? AND category = ?`, subject, category)
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	for _, typ := range policies.EventTypes() {
		if c, _ := policies.EventCategory(typ); c == category {
			if err := t.exec(`DELETE FROM subject_activity WHERE subject_id = ? AND type = ?`, subject, typ); err != nil {
				return 0, err
			}
		}
	}
	t.touch(subject)
	return int(n), nil
}

// AddExternalID implements vault.Tx: the blind index allows several external ids per subject (field
// "_external_id" keyed by token), so it inserts rather than replaces.
func (t *txn) AddExternalID(subject string, token []byte) error {
	t.touch(subject)
	return t.exec(`INSERT OR IGNORE INTO blind_index (field, token, subject_id) VALUES ('_external_id', ?, ?)`, token, subject)
}

// PutMerge implements vault.Tx.
func (t *txn) PutMerge(m vault.MergeRow) error {
	return t.exec(`INSERT INTO merges (id, subject_id, source, matched_on, fields_added, created_at, external_token) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.SubjectID, m.Source, m.MatchedOn, strings.Join(m.FieldsAdded, ","), formatTime(m.CreatedAt), m.ExternalToken)
}

// PutReview implements vault.Tx.
func (t *txn) PutReview(r vault.ReviewRow) error {
	return t.exec(`INSERT INTO merge_reviews (id, subject_a, subject_b, reason, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.SubjectA, r.SubjectB, r.Reason, formatTime(r.CreatedAt))
}

// PutImportReport implements vault.Tx.
func (t *txn) PutImportReport(id, report string, at time.Time) error {
	return t.exec(`INSERT INTO import_reports (id, created_at, report) VALUES (?, ?, ?)`, id, formatTime(at), report)
}
