package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
)

// Import moves a whole vault into an empty database (vaultd migrate) in one transaction: the rows of each
// table copied in as they are read, and the audit log appended verbatim — the entries keep their bytes, so
// their chain hashes and the checkpoints signed over them stay valid, and the checkpoints are copied, not
// re-signed. The review index rows are derived from the entries as they go in, like any append. Nothing is
// visible to the database's nodes until Commit; Rollback (or a failure) leaves the database empty.
type Import struct {
	db *DB
	tx pgx.Tx

	verifier note.Verifier
	roots    map[int64]audit.Checkpoint // the source's checkpoints by size, opened under verifier
	cps      []audit.StoredCheckpoint
	nextCP   int // the first of cps past the entries imported so far
	tree     audit.Tree
	size     int64
	head     string
	edges    map[string]bool // partial tiles written at a checkpoint (the same path can recur)
}

// ErrNotEmpty refuses an import into a database that already holds a vault (or anything of one).
var ErrNotEmpty = errors.New("the target database is not empty")

// BeginImport starts an import of a log whose checkpoints are cps (oldest first, each verified under v
// before anything is written). It locks the log's head row for the whole import, so that a node started on
// the database meanwhile appends nothing before the import commits, and refuses a database in which any
// table of the vault has a row (ErrNotEmpty, naming the tables).
func (db *DB) BeginImport(ctx context.Context, v note.Verifier, cps []audit.StoredCheckpoint) (*Import, error) {
	im := &Import{db: db, verifier: v, cps: cps, roots: map[int64]audit.Checkpoint{}, head: audit.GenesisHash, edges: map[string]bool{}}
	for i, sc := range cps {
		if i > 0 && sc.Size <= cps[i-1].Size {
			return nil, fmt.Errorf("checkpoints out of order at size %d", sc.Size)
		}
		c, err := audit.OpenCheckpoint(sc.Note, v)
		if err == nil && c.Size != sc.Size {
			err = fmt.Errorf("the note signs size %d", c.Size)
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoint at size %d: %w", sc.Size, err)
		}
		im.roots[c.Size] = c
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin import: %w", err)
	}
	im.tx = tx
	size, head, err := lockHead(ctx, tx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: audit log head: %w", err), im.Rollback(ctx))
	}
	full, err := nonEmptyTables(ctx, tx)
	if err != nil {
		return nil, errors.Join(err, im.Rollback(ctx))
	}
	if size != 0 || head != audit.GenesisHash {
		full = append(full, "audit_log_head")
	}
	if len(full) > 0 {
		return nil, errors.Join(fmt.Errorf("%w: rows in %v", ErrNotEmpty, full), im.Rollback(ctx))
	}
	return im, nil
}

// nonEmptyTables lists the vault's tables (every ordinary or partitioned table of the schema but the
// migrations' record and the log's fixed head and lease rows) that hold a row.
func nonEmptyTables(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		AND c.relname NOT IN ('schema_migrations', 'audit_log_head', 'audit_log_lease') ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	var full []string
	for _, name := range names {
		var any bool
		// Names come from the catalog, quoted.
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{name}.Sanitize()+")").Scan(&any); err != nil {
			return nil, fmt.Errorf("postgres: count %s: %w", name, err)
		}
		if any {
			full = append(full, name)
		}
	}
	return full, nil
}

// Copy copies rows into table (COPY), columns in the order given.
func (im *Import) Copy(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := im.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		return copyError(table, err)
	}
	return nil
}

// copyError describes a failed COPY without the values it carried: pgx's encoding errors quote the value
// (%#v), and PostgreSQL's messages and details quote the input and the key, and a migrated table can hold
// clear text (a request's note, a review's reason). It keeps the SQLSTATE, the column and the constraint.
func copyError(table string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres: copy into %s: %w", table, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("postgres: copy into %s: SQLSTATE %s (column %q, constraint %q)", table, pe.Code, pe.ColumnName, pe.ConstraintName)
	}
	return fmt.Errorf("postgres: copy into %s: a value does not fit its column (%T)", table, err)
}

// Exec runs a statement in the import's transaction (derived tables).
func (im *Import) Exec(ctx context.Context, sql string) error {
	_, err := im.tx.Exec(ctx, sql)
	return err
}

// Count counts table's rows as the import's transaction sees them.
func (im *Import) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := im.tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
	return n, err
}

// AppendLog appends canonical entries verbatim after those already imported: each must hold its sequence
// number and be chained to the one before (audit.Continues), or nothing more is imported. The entries'
// review index rows are derived as they go in; the hash tiles and entry bundles they complete are written
// beside them; at the size of each of the source's checkpoints the tree's root must be the signed one, and
// the partial tiles of that size are written, so that every checkpoint can be proved from the stored tiles.
func (im *Import) AppendLog(ctx context.Context, canons [][]byte) error {
	for len(canons) > 0 {
		n := len(canons)
		for im.nextCP < len(im.cps) && im.cps[im.nextCP].Size <= im.size {
			im.nextCP++
		}
		if im.nextCP < len(im.cps) && im.cps[im.nextCP].Size-im.size < int64(n) {
			n = int(im.cps[im.nextCP].Size - im.size) // stop at the next checkpoint inside this batch
		}
		if err := im.appendChunk(ctx, canons[:n]); err != nil {
			return err
		}
		canons = canons[n:]
	}
	return nil
}

func (im *Import) appendChunk(ctx context.Context, canons [][]byte) error {
	first := im.size + 1
	next, leaves, ok := audit.Continues(im.size, im.head, first, canons, nil)
	if !ok {
		return fmt.Errorf("%w: the entries from %d are not numbered and chained after entry %d", audit.ErrOutOfOrder, first, im.size)
	}
	if err := writeEntries(ctx, im.tx, first, canons); err != nil {
		return fmt.Errorf("postgres: import audit entries: %w", err)
	}
	tiles := im.tree.IntegrateHashed(canons, leaves).Tiles
	im.size, im.head = im.size+int64(len(canons)), next
	if c, ok := im.roots[im.size]; ok {
		if im.tree.Frontier.Root() != c.Root {
			return fmt.Errorf("the checkpoint at size %d does not sign the tree of the entries", im.size)
		}
		for _, t := range im.tree.Edge() {
			if !im.edges[t.Path()] {
				im.edges[t.Path()] = true
				tiles = append(tiles, t)
			}
		}
	}
	if len(tiles) == 0 {
		return nil
	}
	trows := make([][]any, len(tiles))
	for i, t := range tiles {
		trows[i] = []any{t.Path(), t.Data}
	}
	return im.Copy(ctx, "audit_log_tiles", []string{"path", "data"}, trows)
}

// Size is the number of entries imported so far and the chain hash of the last.
func (im *Import) Size() (int64, string) { return im.size, im.head }

// Finish writes the checkpoints (verbatim) and moves the log's head past the imported entries; every
// checkpoint must cover no more entries than were imported. Commit follows.
func (im *Import) Finish(ctx context.Context) error {
	rows := make([][]any, 0, len(im.cps))
	for _, sc := range im.cps {
		if sc.Size > im.size {
			return fmt.Errorf("a checkpoint covers %d entries but only %d were imported", sc.Size, im.size)
		}
		rows = append(rows, []any{sc.Size, sc.Note})
	}
	if err := im.Copy(ctx, "audit_log_checkpoints", []string{"size", "note"}, rows); err != nil {
		return err
	}
	if _, err := im.tx.Exec(ctx, "UPDATE audit_log_head SET size = $1, head = $2", im.size, im.head); err != nil {
		return fmt.Errorf("postgres: audit log head: %w", err)
	}
	return nil
}

// Commit commits the import.
func (im *Import) Commit(ctx context.Context) error {
	if err := im.tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit import: %w", err)
	}
	return nil
}

// Rollback abandons the import: the database is left as it was.
func (im *Import) Rollback(ctx context.Context) error {
	err := im.tx.Rollback(ctx)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
