// Package postgres keeps the vault in PostgreSQL (github.com/jackc/pgx/v5), for operators who outgrow one
// machine: several vaultd nodes on one database. It holds the adapters only — what is stored and how —
// never the rules: the audit log's tree math and verification are package audit's, the decisions package
// vault's. It holds the audit log's storage driver (Log, an audit.LogStorage that runs the same conformance
// suite as the embedded segment files) and the vault's storers (Store: the sequencer, the subject records
// and every domain's storer), which pass the storers' conformance suite (internal/storetest) like the
// embedded adapter. A change and its audit entries commit in one PostgreSQL transaction.
//
// Migrations are embedded and run at Open under a PostgreSQL advisory lock, so nodes starting together
// migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/profilevault/profilevault/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations across nodes ("pvmigrat").
const migrationLock int64 = 0x70766d6967726174

// DB is an open PostgreSQL database with the vault's schema.
type DB struct {
	Pool *Pool
}

// Pool is the connection pool. Its Query, QueryRow and Exec mark a failure to reach the database (down,
// restarting, out of reach, the connection lost) as vault.ErrUnavailable, so that the request which met it
// is answered 503 unavailable — nothing was released, and a retry or another node may serve it — and not
// 500 internal, as reads were while commits already said 503.
type Pool struct{ *pgxpool.Pool }

// Query is pgxpool.Pool.Query, its error marked by unreachable.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := p.Pool.Query(ctx, sql, args...)
	return rows, unreachable(err)
}

// QueryRow is pgxpool.Pool.QueryRow, its Scan's error marked by unreachable.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{p.Pool.QueryRow(ctx, sql, args...)}
}

// Exec is pgxpool.Pool.Exec, its error marked by unreachable.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, unreachable(err)
}

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error { return unreachable(r.Row.Scan(dest...)) }

// unreachable wraps err with vault.ErrUnavailable when it says the database could not be reached or the
// connection was lost: a connection that could not be made, a timeout, a network error or an early end of
// the stream, or a server error of class 08 (connection exception) or 57 (operator intervention: shutting
// down, terminating connections).
func unreachable(err error) error {
	if err == nil || errors.Is(err, vault.ErrUnavailable) {
		return err
	}
	var connect *pgconn.ConnectError
	var pg *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &connect), pgconn.Timeout(err), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "57")):
		return fmt.Errorf("%w: %w", vault.ErrUnavailable, err)
	}
	return err
}

// Open connects to dsn (postgres://…) and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) { return OpenPool(ctx, dsn, 0) }

// OpenPool is Open with a pool of at least minConns connections, unless dsn sets pool_max_conns (pgx's
// default is the larger of 4 and the cores). A bulk command whose many workers each read before they
// change (vaultd import) waits for connections with fewer.
func OpenPool(ctx context.Context, dsn string, minConns int32) (*DB, error) {
	return openPool(ctx, dsn, minConns, false)
}

// ErrNoVault is a database without the vault's schema where one must exist (an offline command's).
var ErrNoVault = errors.New("postgres: no vault in this database")

// OpenExisting is Open for a database that must hold a vault already: an offline reader (vaultd audit
// verify, export) given the wrong database gets ErrNoVault rather than an empty vault's schema created there
// and an empty trail called intact.
func OpenExisting(ctx context.Context, dsn string) (*DB, error) { return openPool(ctx, dsn, 0, true) }

func openPool(ctx context.Context, dsn string, minConns int32, existing bool) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx's message names the part that does not parse, never the password
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, minConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if existing {
		var has bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&has); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: connect: %w", err)
		}
		if !has {
			pool.Close()
			return nil, ErrNoVault
		}
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{Pool: &Pool{pool}}, nil
}

// Close closes the connection pool.
func (db *DB) Close() { db.Pool.Close() }

// migrate applies the embedded migrations not yet recorded, each in its own transaction, holding the
// advisory lock throughout.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // the session ends with the connection anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: no version number", base)
		}
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", v).Scan(&done); err != nil {
			return fmt.Errorf("postgres: migrations: %w", err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return errors.Join(fmt.Errorf("postgres: migration %s: %w", base, err), tx.Rollback(ctx))
		}
		if then := afterMigration[v]; then != nil {
			if err := then(ctx, tx); err != nil {
				return errors.Join(fmt.Errorf("postgres: migration %s: %w", base, err), tx.Rollback(ctx))
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
			return errors.Join(fmt.Errorf("postgres: migration %s: %w", base, err), tx.Rollback(ctx))
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
	}
	return ensureIndexPartitions(ctx, conn, time.Now())
}

// afterMigration are steps in Go that complete a migration, in its transaction.
var afterMigration = map[int]func(ctx context.Context, tx pgx.Tx) error{
	5: backfillIndex,
}

// backfillIndex derives the review index rows of the entries appended before the index existed.
func backfillIndex(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, "SELECT seq, canonical FROM audit_log_entries ORDER BY seq")
	if err != nil {
		return err
	}
	var index [][]any
	var seq int64
	var canon []byte
	_, err = pgx.ForEachRow(rows, []any{&seq, &canon}, func() error {
		row, err := indexRow(seq, canon)
		index = append(index, row)
		return err
	})
	if err != nil || len(index) == 0 {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_index"}, indexColumns, pgx.CopyFromRows(index))
	return err
}

// partitionsAhead is how many months after the current one have their review index partition made ahead.
const partitionsAhead = 2

// ensureIndexPartitions creates the review index partitions (audit_index_yYYYYmMM, UTC months) of the month
// of now and the partitionsAhead after it that do not exist yet. A month whose rows already went to the
// default partition (an entry stamped ahead of the clock) keeps them there: its partition is not made.
func ensureIndexPartitions(ctx context.Context, conn *pgxpool.Conn, now time.Time) error {
	now = now.UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for range partitionsAhead + 1 {
		next := month.AddDate(0, 1, 0)
		name := fmt.Sprintf("audit_index_y%04dm%02d", month.Year(), int(month.Month()))
		var exists, stray bool
		err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM audit_index_default WHERE ts >= $2 AND ts < $3)`,
			name, month, next).Scan(&exists, &stray)
		if err != nil {
			return fmt.Errorf("postgres: review index partitions: %w", err)
		}
		if !exists && !stray {
			// Names and bounds come from the calendar, never from input.
			if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF audit_index FOR VALUES FROM ('%s') TO ('%s')`,
				name, month.Format(time.RFC3339), next.Format(time.RFC3339))); err != nil {
				return fmt.Errorf("postgres: review index partition %s: %w", name, err)
			}
		}
		month = next
	}
	return nil
}

// EnsurePartitions creates the review index partitions of the current month and the next ones ahead that
// are missing, under the migration lock (Open does it; the audit log's lease holder does it hourly).
func (db *DB) EnsurePartitions(ctx context.Context, now time.Time) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // the session ends with the connection anyway
	return ensureIndexPartitions(ctx, conn, now)
}
