package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	return &Store{db: db, log: log, timeout: opts.CommitTimeout}, nil
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
	return s.run(ctx, nil, change, func(err error) []audit.Entry { return []audit.Entry{entry(err)} })
}

// CommitMany implements vault.Sequencer.
func (s *Store) CommitMany(ctx context.Context, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	if entries == nil {
		return 0, errors.New("postgres: CommitMany needs audit entries")
	}
	return s.run(ctx, nil, change, entries)
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
	return s.run(ctx, &guard, change, func(err error) []audit.Entry { return []audit.Entry{entry(err)} })
}

// run commits change (in a savepoint: a failed change keeps nothing) with the generation bump of the
// subjects it touched and its entries, in one transaction. Without a guard the change runs before the
// head row is locked, so that only numbering and COMMIT hold it; with one it runs after the ordering check,
// under the head lock — so a ReleaseWith change that waits for a row a Commit holds while that Commit
// waits for the head is a deadlock, which PostgreSQL breaks by failing one of them (ErrUnavailable).
// Grants' read counts, the only such changes today, lock no row a Commit holds for long.
func (s *Store) run(ctx context.Context, guard *vault.Guard, change func(vault.Tx) error, entries func(error) []audit.Entry) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return 0, unavailable(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit: nothing to do
	t := &txn{ctx: ctx, tx: tx, touched: map[string]struct{}{}, stale: map[string]struct{}{}}
	var changeErr error
	apply := func() error {
		if change == nil {
			return nil
		}
		var err error
		if changeErr, err = t.apply(change); err != nil {
			return err
		}
		return t.bump()
	}
	var admit Admit
	if guard != nil {
		admit = current(*guard)
	} else if err := apply(); err != nil {
		return 0, unavailable(err)
	}
	a, err := s.log.AppendTx(ctx, tx, admit, func() ([]audit.Entry, error) {
		if guard != nil {
			if err := apply(); err != nil {
				return nil, err
			}
		}
		return entries(changeErr), nil
	})
	if errors.Is(err, audit.ErrRefused) {
		return 0, vault.ErrSuperseded
	}
	if err != nil {
		return 0, unavailable(err)
	}
	if err := t.markDirty(a.First); err != nil {
		return 0, unavailable(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, unavailable(err)
	}
	s.log.Committed(a)
	return a.First, changeErr
}

// apply runs change in a savepoint, rolled back if it fails or panics; the error returned is the
// transaction's own failure.
func (t *txn) apply(change func(vault.Tx) error) (changeErr, err error) {
	sp, err := t.tx.Begin(t.ctx)
	if err != nil {
		return nil, err
	}
	changeErr = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("change panicked: %v", r)
			}
		}()
		return change(t)
	}()
	if changeErr != nil {
		clear(t.touched)
		clear(t.stale)
		return changeErr, sp.Rollback(t.ctx)
	}
	return nil, sp.Commit(t.ctx)
}

// bump advances the generation of every subject the change touched (in id order, so that two changes
// lock the rows in the same order).
func (t *txn) bump() error {
	if len(t.touched) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.touched))
	for id := range t.touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	_, err := t.tx.Exec(t.ctx, `UPDATE subjects SET generation = generation + 1 WHERE subject_id = ANY($1)`, ids)
	return err
}

// markDirty records the subjects the change marked stale as needing their tags recomputed, as of its first
// entry's sequence number.
func (t *txn) markDirty(seq int64) error {
	if len(t.stale) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.stale))
	for id := range t.stale {
		ids = append(ids, id)
	}
	_, err := t.tx.Exec(t.ctx, `INSERT INTO tag_dirty (subject_id, marked_seq) SELECT unnest($1::text[]), $2
		ON CONFLICT (subject_id) DO UPDATE SET marked_seq = excluded.marked_seq`, ids, seq)
	return err
}
