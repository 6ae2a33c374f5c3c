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
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations across nodes ("pvmigrat").
const migrationLock int64 = 0x70766d6967726174

// DB is an open PostgreSQL database with the vault's schema.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to dsn (postgres://…) and brings the schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx's message names the part that does not parse, never the password
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{Pool: pool}, nil
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
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
			return errors.Join(fmt.Errorf("postgres: migration %s: %w", base, err), tx.Rollback(ctx))
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
	}
	return nil
}
