package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
)

// Snapshot writes a consistent copy of the database at path to dst, which must not exist yet, while
// other connections — this process's store or a running server's — go on writing: VACUUM INTO reads
// the whole database inside one read transaction of the WAL, so the copy is the database as of one
// commit. The copy is compacted and has no WAL of its own.
func Snapshot(ctx context.Context, path, dst string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("snapshot database: %w", err)
	}
	return os.Chmod(dst, 0o600)
}
