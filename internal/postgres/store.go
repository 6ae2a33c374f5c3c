package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// Store implements the vault's storers (vault.Store, its Tx, and the domains' read storers) on PostgreSQL,
// with the audit trail in the same database (Log).
//
// The sequencer needs none of the write-ahead intents and recovery of the embedded store: a change, the
// generation bump of every subject it touched and its audit entries are one PostgreSQL transaction
// (Log.AppendTx), so they commit together or not at all, and an entry is never durable without its change
// or the reverse. Any node may commit: the log's head row lock orders every node's appends by commit, and
// a release's ordering check reads the subject's generation after taking that lock, so a change committed
// on another node supersedes it as surely as one committed here. Reads go to the database every time (no
// record cache): a withdrawal committed on one node binds every node's next read.
//
// The same holds for keys. A read fetches the subject's state and its wrapped DEKs in one statement (one
// snapshot), and a node's DEK cache (keys.FieldCipher) serves only a caller presenting the very wrapped DEK
// it was unwrapped from — so a node uses a cached DEK only after its read has found that DEK still in the
// database. An erasure (which deletes the DEKs) or a rewrap acknowledged on one node binds every node's
// next read, whatever their caches hold; a record cache here would break that, and the two-node erasure
// test in internal/app fails with one.
type Store struct {
	db      *DB
	log     *Log
	timeout time.Duration

	ops     chan *op // to the committer: unbuffered, so a change is taken or refused
	quit    chan struct{}
	stopped chan struct{}
	// groups, changes and roundTrips count the committed groups, their changes and the round trips they
	// made (GroupStats).
	groups, changes, roundTrips atomic.Int64
}

// StoreOptions tune a Store.
type StoreOptions struct {
	// CommitTimeout bounds how long a change or an entry may take to commit before the caller gets
	// vault.ErrUnavailable (default 5 s).
	CommitTimeout time.Duration
}

var (
	_ vault.Store           = (*Store)(nil)
	_ vault.IdentityStore   = (*Store)(nil)
	_ vault.RequestStore    = (*Store)(nil)
	_ vault.AccessStore     = (*Store)(nil)
	_ vault.AudienceStore   = (*Store)(nil)
	_ vault.RevocationStore = (*Store)(nil)
	_ vault.KeyStore        = (*Store)(nil)
	_ vault.PolicyStore     = (*Store)(nil)
	_ vault.IncidentStore   = (*Store)(nil)
)

// NewStore returns the storers on db, appending to log (a Log of the same db).
func (db *DB) NewStore(log *Log, opts StoreOptions) (*Store, error) {
	if log == nil || log.db != db {
		return nil, errors.New("postgres: a store needs the audit log of its own database")
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 5 * time.Second
	}
	s := &Store{db: db, log: log, timeout: opts.CommitTimeout, ops: make(chan *op), quit: make(chan struct{}), stopped: make(chan struct{})}
	go s.committer()
	return s, nil
}

// GroupStats reports how many group transactions of changes committed, how many changes they held and
// how many round trips to the database they made, since the store was opened (benchmarks and tests).
func (s *Store) GroupStats() (groups, changes, roundTrips int64) {
	return s.groups.Load(), s.changes.Load(), s.roundTrips.Load()
}

// stopCommitter stops taking changes once the group being committed, if any, is done.
func (s *Store) stopCommitter() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
}

// Log returns the audit log the store appends to.
func (s *Store) Log() *Log { return s.log }

// Note returns the sealed free text stored beside entry seq (audit.Entry.Note), or nil.
func (s *Store) Note(ctx context.Context, seq int64) ([]byte, error) { return s.log.Note(ctx, seq) }

// Ready reports whether the database answers.
func (s *Store) Ready(ctx context.Context) error { return s.db.Pool.Ping(ctx) }

// unavailable wraps a failure to commit: the caller fails closed.
func unavailable(err error) error {
	if errors.Is(err, vault.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
}

// Commit implements vault.Sequencer.
func (s *Store) Commit(ctx context.Context, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	if entry == nil {
		return 0, errors.New("postgres: Commit needs an audit entry")
	}
	if change == nil { // a read: its entry joins the log's group commit
		seq, err := s.log.Append(ctx, entry(nil), nil)
		if err != nil {
			return 0, unavailable(err)
		}
		return seq, nil
	}
	return s.enqueue(ctx, &op{change: change, entries: func(err error) []audit.Entry { return []audit.Entry{entry(err)} }})
}

// CommitMany implements vault.Sequencer.
func (s *Store) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	if entries == nil {
		return 0, errors.New("postgres: CommitMany needs audit entries")
	}
	return s.enqueue(ctx, &op{change: change, entries: entries})
}

// guardTimeout bounds the read of a subject's generation in Guard.
const guardTimeout = 2 * time.Second

// staleGeneration is the generation of a guard whose read failed: no subject has it, so the release is
// superseded and decided again rather than released unordered.
const staleGeneration = math.MaxUint64

// Guard implements vault.Sequencer: the subject's generation as committed (0 before it exists).
func (s *Store) Guard(subject string) vault.Guard {
	ctx, cancel := context.WithTimeout(context.Background(), guardTimeout)
	defer cancel()
	g, err := generation(ctx, s.db.Pool, subject)
	if err != nil {
		return vault.Guard{Subject: subject, Generation: staleGeneration}
	}
	return vault.Guard{Subject: subject, Generation: g}
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func generation(ctx context.Context, q querier, subject string) (uint64, error) {
	var g int64
	err := q.QueryRow(ctx, "SELECT coalesce((SELECT generation FROM subjects WHERE subject_id = $1), 0)", subject).Scan(&g)
	return uint64(g), err
}

// current is the ordering check of a release decided under guard: run under the log's head lock, it sees
// every change committed before the release's place in the log.
func current(guard vault.Guard) Admit {
	return func(ctx context.Context, tx pgx.Tx) (bool, error) {
		g, err := generation(ctx, tx, guard.Subject)
		return err == nil && g == guard.Generation, err
	}
}

// Release implements vault.Sequencer: the entry joins the log's group commit, admitted only if the
// subject's generation is still guard's where the entry is numbered.
func (s *Store) Release(ctx context.Context, guard vault.Guard, e audit.Entry) (int64, error) {
	seq, err := s.log.AppendChecked(ctx, e, current(guard))
	if errors.Is(err, audit.ErrRefused) {
		return 0, vault.ErrSuperseded
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return seq, nil
}

// ReleaseWith implements vault.Sequencer: the ordering check, the change and the entry in one transaction.
func (s *Store) ReleaseWith(ctx context.Context, guard vault.Guard, change func(vault.Tx) error, entry func(error) audit.Entry) (int64, error) {
	if change == nil || entry == nil {
		return 0, errors.New("postgres: ReleaseWith needs a change and an audit entry")
	}
	return s.runGuarded(ctx, guard, change, func(err error) []audit.Entry { return []audit.Entry{entry(err)} })
}

// runGuarded commits a guarded release's change with its entry in one transaction: the head row locked, the
// ordering check, the change (in a savepoint: a failed change keeps nothing), the generation bump of the
// subjects it touched and the entry. The change runs under the head lock, after the ordering check — so a
// ReleaseWith change that waits for a row a group of changes holds while that group waits for the head
// is a deadlock, which PostgreSQL breaks by failing one of them (ErrUnavailable). Grants' read counts, the
// only such changes today, lock no row a change holds for long.
func (s *Store) runGuarded(ctx context.Context, guard vault.Guard, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return 0, unavailable(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit: nothing to do
	t := newTxn(ctx, tx)
	var changeErr error
	a, err := s.log.AppendTx(ctx, tx, current(guard), func() ([]audit.Entry, error) {
		t.apply(0, change)
		if err := t.flush(); err != nil {
			return nil, err
		}
		if t.broken != nil {
			return nil, t.broken
		}
		changeErr = t.outcome(0)
		t.settleEdits(1, func(int) bool { return changeErr == nil })
		t.bump()
		return entries(changeErr), t.flush()
	})
	if errors.Is(err, audit.ErrRefused) {
		return 0, vault.ErrSuperseded
	}
	if err != nil {
		return 0, unavailable(err)
	}
	t.markDirty(a.First)
	if err := t.flush(); err != nil {
		return 0, unavailable(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, unavailable(err)
	}
	s.log.Committed(a)
	return a.First, changeErr
}

// apply runs change as owner's, in a savepoint, and returns its failure as far as its function saw it: its
// own error (a statement's it read the outcome of included). It does not wait for the statements the
// change only queued: pipelined, they are sent with the next read or at the end, and if one of them fails
// the change is failed then (t.failed[owner]; see pipeline) — kept reports the outcome once everything is
// sent. A change whose function fails is rolled back at once; if that cannot be done, the transaction is
// broken (t.broken) and fails as a whole.
func (t *txn) apply(owner int, change func(vault.Tx) error) error {
	if change == nil {
		return nil
	}
	t.owner = owner
	defer func() { t.owner = noOwner }()
	t.queue("SAVEPOINT change")
	if err := vault.RunChange(change, t); err != nil {
		// What it queued runs (and may fail: the error is this one's, or an earlier change's, handled),
		// then the rollback.
		_ = t.flush()
		if rerr := t.rollbackChange(); rerr != nil {
			t.broken = rerr
		}
		t.failed[owner] = err
		return err
	}
	t.queue("RELEASE SAVEPOINT change")
	return nil
}

// outcome is owner's failure once everything it queued has been sent (nil if it kept what it did).
func (t *txn) outcome(owner int) error { return t.failed[owner] }

// bump queues the generation bump of every subject the changes touched (in id order, so that two
// transactions lock the rows in the same order).
func (t *txn) bump() {
	if len(t.touched) == 0 {
		return
	}
	t.queue(`UPDATE subjects SET generation = generation + 1 WHERE subject_id = ANY($1)`, slices.Sorted(maps.Keys(t.touched)))
}

// markDirty queues the marks of the subjects the changes marked stale as needing their tags recomputed, as
// of the first entry's sequence number (the entries of one transaction are consecutive: no other entry can
// fall between them, so a tag run's release is either before all of them or after all of them).
func (t *txn) markDirty(seq int64) {
	if len(t.stale) == 0 {
		return
	}
	t.queue(`INSERT INTO tag_dirty (subject_id, marked_seq) SELECT unnest($1::text[]), $2
		ON CONFLICT (subject_id) DO UPDATE SET marked_seq = excluded.marked_seq`, slices.Sorted(maps.Keys(t.stale)), seq)
}
