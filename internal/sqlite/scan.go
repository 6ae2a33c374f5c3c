package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/profilevault/profilevault/internal/seglog"
)

// For a reader that goes through a whole database once (vaultd migrate), the readers' settings are wrong:
// they map up to 1 GiB of the file (dsn), and every page a scan touches stays resident in the process
// until the map is gone — a migrate of the 100,000-subject shop peaked at 1.29 GB RSS with a Go heap
// below 100 MB. The scanning opens below leave the file unmapped and read through SQLite's own page
// cache, kept small: what they hold is bounded by the rows in flight, not by the database's size.

// scanDSN is a reader's DSN (dsn) read-only, with the memory map off and an 8 MiB page cache. The readers'
// own mmap_size is taken out rather than overridden: the driver runs the _pragma list sorted, so a later
// mmap_size(0) would run first.
func scanDSN(path string) string {
	base := dsn(path, false)
	i := strings.LastIndexByte(base, '?')
	q, err := url.ParseQuery(base[i+1:])
	if err != nil {
		panic(err) // dsn's own encoding
	}
	pragmas := slices.DeleteFunc(q["_pragma"], func(p string) bool {
		return strings.HasPrefix(p, "mmap_size") || strings.HasPrefix(p, "cache_size")
	})
	q["_pragma"] = append(pragmas, "mmap_size(0)", "cache_size(-8192)")
	q.Set("mode", "ro")
	return base[:i+1] + q.Encode()
}

// OpenScan opens the database at path read-only for one pass over its tables.
func OpenScan(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s", path)
	}
	return sql.Open("sqlite", scanDSN(path))
}

// OpenScanTrail opens the audit trail of the database at path and of the log in logDir, read-only, for one
// pass over it (verification, then the entries in order) — OpenTrail with the scanning settings.
func OpenScanTrail(path, logDir string) (*Trail, error) {
	if _, err := os.Stat(logDir); err != nil {
		return nil, fmt.Errorf("open audit trail: no log at %s", logDir)
	}
	db, err := OpenScan(path)
	if err != nil {
		return nil, err
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'audit_index'`).Scan(&n); err != nil || n == 0 {
		db.Close()
		if err == nil {
			err = errors.New("no audit index in this database")
		}
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	l, err := seglog.Open(logDir, seglog.Options{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return newTrail(db, l), nil
}
