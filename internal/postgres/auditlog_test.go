package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/audit/logtest"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/postgres/pgtest"
)

func pgtestDatabase(t testing.TB) string { return pgtest.NewDatabase(t) }

func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtestDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestLogConformance runs the log storage's conformance suite — the one the segment files pass — against
// the audit log in PostgreSQL.
func TestLogConformance(t *testing.T) {
	logtest.Run(t, logtest.Driver{Name: "postgres", New: func(t *testing.T, s *audit.Signer) func() audit.LogStorage {
		db := openDB(t)
		return func() audit.LogStorage {
			l, err := db.OpenLog(context.Background(), postgres.LogOptions{Signer: s, CheckpointInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}})
}

// appendThree opens db's log with opts, appends three chained entries and closes it.
func appendThree(t *testing.T, db *postgres.DB, opts postgres.LogOptions) {
	t.Helper()
	l, err := db.OpenLog(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	batch, _ := logtest.Chain(0, audit.GenesisHash, 3)
	if err := l.AppendBatch(context.Background(), 1, batch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLogIsAppendOnly: the database itself refuses to change or delete an entry or a checkpoint.
func TestLogIsAppendOnly(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	appendThree(t, db, postgres.LogOptions{Signer: logtest.NewSigner(t)})
	for _, sql := range []string{
		"UPDATE audit_log_entries SET canonical = 'x' WHERE seq = 2",
		"DELETE FROM audit_log_entries WHERE seq = 3",
		"UPDATE audit_log_checkpoints SET note = 'x'",
		"DELETE FROM audit_log_checkpoints",
		// Not a row DELETE: it emptied the log.
		"TRUNCATE audit_index, audit_log_checkpoints, audit_log_entries, audit_log_notes, audit_log_tiles",
		"TRUNCATE audit_log_entries CASCADE",
		"TRUNCATE audit_log_checkpoints",
	} {
		if _, err := db.Pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only refusal", sql, err)
		}
	}
}

// A log emptied beside a history — by someone who can switch the triggers off — is never opened as a new
// trail (a node started one at sequence number 1 and signed it) nor read as an intact one (verify said
// "ok: 0 entries"); and an offline reader pointed at a database without a vault creates nothing there.
func TestAnEmptiedLogIsNotANewOne(t *testing.T) {
	dsn := pgtestDatabase(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	appendThree(t, db, postgres.LogOptions{})
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE audit_log_entries DISABLE TRIGGER USER; ALTER TABLE audit_log_checkpoints DISABLE TRIGGER USER;
		TRUNCATE audit_index, audit_log_checkpoints, audit_log_entries, audit_log_notes, audit_log_tiles; UPDATE audit_log_head SET size = 0, head = '`+audit.GenesisHash+`'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO subjects (subject_id, state, created_at, updated_at) VALUES ('sub_x', 'active', now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.OpenLog(ctx, postgres.LogOptions{Signer: logtest.NewSigner(t)}); !errors.Is(err, audit.ErrLogMissing) {
		t.Fatalf("a node opening the emptied log: %v", err)
	}
	if _, err := postgres.OpenTrail(ctx, dsn); !errors.Is(err, audit.ErrLogMissing) {
		t.Fatalf("an offline reader of the emptied log: %v", err)
	}
	empty := pgtestDatabase(t)
	if _, err := postgres.OpenTrail(ctx, empty); !errors.Is(err, postgres.ErrNoVault) {
		t.Fatalf("an offline reader of a database without a vault: %v", err)
	}
	conn, err := pgx.Connect(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var created bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&created); err != nil || created {
		t.Fatalf("the refused reader created the vault's schema: %v %v", created, err)
	}
}

// TestMigrationsRunOnceFromConcurrentNodes opens the same database from several nodes at once: the
// advisory lock lets one migrate, and every one opens.
func TestMigrationsRunOnceFromConcurrentNodes(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	db := openDB(t)
	_ = db
}

// TestNodesAppendToOneSequence: two nodes' Logs on one database append concurrently, each numbering and
// chaining batches after the head it last saw. The head row's lock and the continuity check let exactly one
// of two racing batches in; the other is refused whole (audit.ErrOutOfOrder), its node takes the new head
// and retries. Every batch lands once, and the result is one sequence, one tree and one checkpoint series
// that verifies.
func TestNodesAppendToOneSequence(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	s := logtest.NewSigner(t)
	integrating, err := db.OpenLog(ctx, postgres.LogOptions{Signer: s, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.OpenLog(ctx, postgres.LogOptions{}) // a node that only appends
	if err != nil {
		t.Fatal(err)
	}
	const batches, per = 40, 7
	refused := make(chan int, 2)
	errs := make(chan error, 2)
	for _, l := range []*postgres.Log{integrating, other} {
		go func() {
			n := 0
			for range batches {
				for {
					size, head := l.Head()
					batch, _ := logtest.Chain(size, head, per)
					err := l.AppendBatch(ctx, size+1, batch)
					if errors.Is(err, audit.ErrOutOfOrder) {
						n++
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
			refused <- n
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("batches refused and retried: %d, %d", <-refused, <-refused)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := integrating.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(ctx, postgres.LogOptions{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Verify(s.Verifier())
	if err != nil || !rep.OK || rep.Entries != 2*batches*per {
		t.Fatalf("verify: %+v %v; want %d entries", rep, err, 2*batches*per)
	}
	signed, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := audit.OpenCheckpoint(signed, s.Verifier()); err != nil || c.Size != 2*batches*per {
		t.Fatalf("newest checkpoint: %+v %v", c, err)
	}
}

// TestIntegratorLeaseMovesWhenItsHolderDies: two nodes integrate one log; only the lease holder writes
// checkpoints. The holder dies under load (no last checkpoint, the lease left to expire); the other node
// takes the lease over within its TTL and goes on writing checkpoints from where the dead one stopped, and
// the log — one sequence, one tree, one checkpoint series — verifies.
func TestIntegratorLeaseMovesWhenItsHolderDies(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	s := logtest.NewSigner(t)
	opts := func(node string) postgres.LogOptions {
		return postgres.LogOptions{Signer: s, CheckpointInterval: 20 * time.Millisecond, LeaseTTL: 300 * time.Millisecond, Node: node}
	}
	a, err := db.OpenLog(ctx, opts("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.OpenLog(ctx, opts("b"))
	if err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		var h string
		if err := db.Pool.QueryRow(ctx, "SELECT holder FROM audit_log_lease").Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	newest := func() int64 {
		var n int64
		if err := db.Pool.QueryRow(ctx, "SELECT coalesce(max(size), 0) FROM audit_log_checkpoints").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	appendSome := func(l *postgres.Log, n int) {
		for range n {
			for {
				size, head := l.Head()
				batch, _ := logtest.Chain(size, head, 5)
				err := l.AppendBatch(ctx, size+1, batch)
				if errors.Is(err, audit.ErrOutOfOrder) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	if h := holder(); h != "a" {
		t.Fatalf("the first node to open holds no lease: holder %q", h)
	}
	appendSome(b, 40) // appends come from the node without the lease; the holder checkpoints them
	waitFor(t, func() bool { return newest() == b.Size() }, "the holder to checkpoint the other node's appends")
	a.Crash()
	died := time.Now()
	appendSome(b, 40)
	waitFor(t, func() bool { return holder() == "b" }, "the lease to move to the living node")
	if took := time.Since(died); took > 5*time.Second {
		t.Errorf("the lease moved %v after its holder died (TTL 300ms)", took)
	}
	waitFor(t, func() bool { return newest() == b.Size() }, "the new holder to checkpoint every entry")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(ctx, postgres.LogOptions{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep, err := l.Verify(s.Verifier()); err != nil || !rep.OK || rep.Entries != 400 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAppendsNumberedInTheTransaction: two nodes append entries from many goroutines with Append, which
// numbers and chains them inside the appending transaction: nothing is refused for racing, every
// acknowledged entry is at its number with its own request id, an entry its admit check declines is not in
// the log, and the log verifies.
func TestAppendsNumberedInTheTransaction(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	s := logtest.NewSigner(t)
	a, err := db.OpenLog(ctx, postgres.LogOptions{Signer: s, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.OpenLog(ctx, postgres.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type ack struct {
		seq int64
		id  string
	}
	const writers, each = 16, 25
	acks := make(chan ack, 2*writers*each)
	errs := make(chan error, 2*writers)
	var refused atomic.Int64
	for n, l := range []*postgres.Log{a, b} {
		for w := range writers {
			go func() {
				for i := range each {
					id := fmt.Sprintf("node%d-w%d-%d", n, w, i)
					decline := i%7 == 3
					seq, err := l.Append(ctx, audit.Entry{TS: time.Now().UTC(), RequestID: id, Action: "subject.read",
						Decision: audit.Allow, Status: 200}, func() bool { return !decline })
					switch {
					case decline && errors.Is(err, audit.ErrRefused):
						refused.Add(1)
					case err != nil:
						errs <- fmt.Errorf("%s: %w", id, err)
						return
					default:
						acks <- ack{seq, id}
					}
				}
				errs <- nil
			}()
		}
	}
	for range 2 * writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(acks)
	seen := map[int64]bool{}
	for k := range acks {
		if seen[k.seq] {
			t.Fatalf("sequence number %d acknowledged twice", k.seq)
		}
		seen[k.seq] = true
		c, err := a.Entry(k.seq)
		if err != nil || !strings.Contains(string(c), `"request_id":"`+k.id+`"`) {
			t.Fatalf("entry %d does not hold %s: %v", k.seq, k.id, err)
		}
	}
	want := int64(2*writers*each) - refused.Load()
	if int64(len(seen)) != want || refused.Load() != 2*writers*4 {
		t.Fatalf("%d acknowledged, %d refused; want %d and %d", len(seen), refused.Load(), want, 2*writers*4)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := db.OpenLog(ctx, postgres.LogOptions{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if rep, err := l.Verify(s.Verifier()); err != nil || !rep.OK || rep.Entries != want {
		t.Fatalf("verify: %+v %v; want %d entries", rep, err, want)
	}
}
