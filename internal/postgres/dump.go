package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// A backup of a vault kept in PostgreSQL is a pg_dump of the vault's schema (custom format) taken in one
// snapshot: the rows of every store and the audit log with its tiles and checkpoints, which are written in
// the same transactions as the rows, so the dump holds every change with its entries and no entry without
// its change. The snapshot is exported by a transaction of our own, which also reads what the dump will
// hold — the log's head, the newest checkpoint, every table's row count, the nodes' key fingerprints — so
// that a restore can check the restored database against it (CheckRestored).

// DumpInfo is what a dump holds, read in the snapshot it was taken in.
type DumpInfo struct {
	Schema        string            `json:"schema"`
	ServerVersion string            `json:"server_version"`
	DumpVersion   string            `json:"pg_dump_version"`
	LogSize       int64             `json:"log_size"`
	LogHead       string            `json:"log_head"`
	Checkpoint    int64             `json:"checkpoint_size"`
	Tables        map[string]int64  `json:"tables"`
	Keys          map[string]string `json:"key_fingerprints"`
}

// Dump writes a dump of the vault's schema in dsn's database to dst (pg_dump --format=custom, in one
// exported snapshot) and returns what it holds. It runs beside serving nodes: the snapshot blocks no
// writer.
func Dump(ctx context.Context, dsn, dst string) (DumpInfo, error) {
	bin, err := Tool("pg_dump")
	if err != nil {
		return DumpInfo{}, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return DumpInfo{}, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return DumpInfo{}, fmt.Errorf("postgres: begin the snapshot: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return DumpInfo{}, fmt.Errorf("postgres: export the snapshot: %w", err)
	}
	info, err := readInfo(ctx, tx)
	if err != nil {
		return DumpInfo{}, err
	}
	if info.DumpVersion, err = toolVersion(ctx, bin); err != nil {
		return DumpInfo{}, err
	}
	target, env, err := libpq(dsn)
	if err != nil {
		return DumpInfo{}, err
	}
	// The transaction stays open until pg_dump is done: pg_dump takes its snapshot from it.
	if err := run(ctx, env, bin, "--format=custom", "--no-owner", "--no-privileges", "--schema="+info.Schema,
		"--snapshot="+snapshot, "--file="+dst, "--dbname="+target); err != nil {
		return DumpInfo{}, err
	}
	return info, nil
}

// readInfo reads what the database holds now (in a snapshot when q is one's transaction).
func readInfo(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (DumpInfo, error) {
	info := DumpInfo{Tables: map[string]int64{}, Keys: map[string]string{}}
	if err := q.QueryRow(ctx, "SELECT current_schema(), current_setting('server_version')").Scan(&info.Schema, &info.ServerVersion); err != nil {
		return info, fmt.Errorf("postgres: schema: %w", err)
	}
	if err := q.QueryRow(ctx, "SELECT size, head, (SELECT coalesce(max(size), 0) FROM audit_log_checkpoints) FROM audit_log_head").
		Scan(&info.LogSize, &info.LogHead, &info.Checkpoint); err != nil {
		return info, fmt.Errorf("postgres: audit log head (is this a vault's database?): %w", err)
	}
	names, err := texts(q.Query(ctx, vaultTables))
	if err != nil {
		return info, fmt.Errorf("postgres: list tables: %w", err)
	}
	for _, name := range names {
		var n int64
		// Names come from the catalog, quoted.
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
			return info, fmt.Errorf("postgres: count %s: %w", name, err)
		}
		info.Tables[name] = n
	}
	rows, err := q.Query(ctx, "SELECT name, fingerprint FROM node_keys")
	if err != nil {
		return info, fmt.Errorf("postgres: node keys: %w", err)
	}
	var name, fp string
	if _, err := pgx.ForEachRow(rows, []any{&name, &fp}, func() error { info.Keys[name] = fp; return nil }); err != nil {
		return info, fmt.Errorf("postgres: node keys: %w", err)
	}
	return info, nil
}

// vaultTables lists the ordinary and partitioned tables of the current schema (partitions are counted
// with their parent).
const vaultTables = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`

// ErrTargetNotEmpty refuses to restore into a database whose schema already holds a table.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// RestoreDump restores a dump written by Dump into dsn's database, whose current schema must be the dump's
// and hold no table: pg_restore in one transaction (a failure leaves the database as it was), then ANALYZE.
func RestoreDump(ctx context.Context, dsn, src string, info DumpInfo) error {
	bin, err := Tool("pg_restore")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var schema string
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT current_schema() IS NOT NULL, coalesce(current_schema(), '')").Scan(&exists, &schema); err != nil {
		return fmt.Errorf("postgres: schema: %w", err)
	}
	if exists && schema != info.Schema {
		return fmt.Errorf("postgres: the backup is of schema %q, the target's current schema is %q", info.Schema, schema)
	}
	if exists {
		tables, err := texts(conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY c.relname LIMIT 5`))
		if err != nil {
			return fmt.Errorf("postgres: list tables: %w", err)
		}
		if len(tables) > 0 {
			return fmt.Errorf("%w: schema %q holds %s: restore into a new, empty database", ErrTargetNotEmpty, schema, strings.Join(tables, ", "))
		}
	}
	target, env, err := libpq(dsn)
	if err != nil {
		return err
	}
	args := []string{"--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname=" + target}
	if exists {
		// The schema is there (empty): restore everything but its creation.
		var toc bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "--list", src)
		cmd.Stdout, cmd.Env = &toc, env
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pg_restore --list: %w", err)
		}
		createSchema := regexp.MustCompile(`^\d+; \d+ \d+ SCHEMA - ` + regexp.QuoteMeta(info.Schema) + ` `)
		var keep []string
		for _, line := range strings.Split(toc.String(), "\n") {
			if !createSchema.MatchString(line) {
				keep = append(keep, line)
			}
		}
		list := src + ".list"
		if err := os.WriteFile(list, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
			return err
		}
		defer os.Remove(list)
		args = append(args, "--use-list="+list)
	}
	if err := run(ctx, env, bin, append(args, src)...); err != nil {
		return err
	}
	// The integrator's lease came with the dump, held by a node of the source database for up to its TTL: the
	// restored database's first node could not take it, so it signed no checkpoint (and a backup taken
	// before the source's first one restored as a log no checkpoint covers).
	if _, err := conn.Exec(ctx, "UPDATE audit_log_lease SET holder = '', expires_at = '-infinity'"); err != nil {
		return fmt.Errorf("postgres: release the restored log's lease: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("postgres: analyze the restored database: %w", err)
	}
	return nil
}

// CheckRestored compares dsn's database with the DumpInfo of the dump restored into it: the log's head and
// newest checkpoint, every table's row count and the key fingerprints must be the same.
func CheckRestored(ctx context.Context, dsn string, want DumpInfo) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.Background())
	got, err := readInfo(ctx, conn)
	if err != nil {
		return err
	}
	var differ []string
	if got.LogSize != want.LogSize || got.LogHead != want.LogHead {
		differ = append(differ, fmt.Sprintf("audit log: %d entries ending at %s, the backup holds %d ending at %s", got.LogSize, got.LogHead, want.LogSize, want.LogHead))
	}
	if got.Checkpoint != want.Checkpoint {
		differ = append(differ, fmt.Sprintf("newest checkpoint: size %d, the backup's %d", got.Checkpoint, want.Checkpoint))
	}
	for _, name := range slices.Sorted(mapsKeys(want.Tables, got.Tables)) {
		if got.Tables[name] != want.Tables[name] {
			differ = append(differ, fmt.Sprintf("%s: %d rows, the backup holds %d", name, got.Tables[name], want.Tables[name]))
		}
	}
	for _, name := range slices.Sorted(mapsKeys(want.Keys, got.Keys)) {
		if got.Keys[name] != want.Keys[name] {
			differ = append(differ, "key fingerprint "+name)
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("postgres: the restored database is not the backup's: %s", strings.Join(differ, "; "))
	}
	return nil
}

func mapsKeys[V any](a, b map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range a {
			if !yield(k) {
				return
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok && !yield(k) {
				return
			}
		}
	}
}

// Tool finds a PostgreSQL client program: $VAULT_PG_BINDIR/name, else name on PATH, else the newest
// /usr/lib/postgresql/*/bin/name (Debian's layout, where pg_dump of each installed version lives).
func Tool(name string) (string, error) {
	if dir := os.Getenv("VAULT_PG_BINDIR"); dir != "" {
		return filepath.Join(dir, name), nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(a) - majorOf(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if p := filepath.Join(dirs[i], name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (install the PostgreSQL client, or set VAULT_PG_BINDIR)", name)
}

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func toolVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", filepath.Base(bin), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// run runs a PostgreSQL client program; its error names the program and ends with what it printed.
func run(ctx context.Context, env []string, bin string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stderr = env, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(bin), err, msg)
	}
	return nil
}

// libpq turns a postgres:// DSN into what the PostgreSQL programs take: the URL without its password and
// without pgx's own parameters (libpq refuses parameters it does not know), and an environment carrying
// the password (PGPASSWORD), so that it never shows in a process list. The password may be the URL's or
// its password parameter's (the parameter wins, as in libpq). A key's passphrase (sslpassword) has no
// variable of its own: such a DSN is refused rather than put on the command line.
func libpq(dsn string) (string, []string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("postgres: the DSN is not a postgres:// URL") // never the DSN: it may hold a password
	}
	q := u.Query()
	if q.Has("sslpassword") {
		return "", nil, errors.New("postgres: the DSN's sslpassword would show on the command line of pg_dump and pg_restore: name a service (service=…, PGSERVICEFILE) that holds it instead")
	}
	env := os.Environ()
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	if q.Has("password") {
		env = append(env, "PGPASSWORD="+q.Get("password"))
	}
	for k := range q {
		if !libpqParams[k] {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), env, nil
}

// libpqParams are the connection parameters libpq knows (a DSN's others are pgx's).
var libpqParams = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`host hostaddr port dbname user passfile channel_binding connect_timeout client_encoding options
		application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
		replication gssencmode sslmode requiressl sslcompression sslcert sslkey sslcertmode sslrootcert sslcrl sslcrldir
		sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service
		target_session_attrs load_balance_hosts`) {
		libpqParams[k] = true
	}
}
