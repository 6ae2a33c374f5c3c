package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// For a reader that goes through a whole database once (vaultd migrate), the readers' settings are wrong:
// they map up to 1 GiB of the file (dsn), and every page a scan touches stays resident in the process
// until the map is gone — a migrate of the 100,000-subject shop peaked at 1.29 GB RSS with a Go heap
// below 100 MB. The scanning opens below leave the file unmapped and read through SQLite's own page
// cache, kept small: what they hold is bounded by the rows in flight, not by the database's size.

// scanDSN is a reader's DSN (dsn) read-only, with the memory map off and an 8 MiB page cache.
func scanDSN(path string) string {
	return withQuery(unmappedDSN(path), func(q url.Values) { q.Set("mode", "ro") })
}

// unmappedDSN is a reader's DSN (dsn) with the memory map off and an 8 MiB page cache. The readers' own
// mmap_size is taken out rather than overridden: the driver runs the _pragma list sorted, so a later
// mmap_size(0) would run first.
func unmappedDSN(path string) string {
	return withQuery(dsn(path, false), func(q url.Values) {
		pragmas := slices.DeleteFunc(q["_pragma"], func(p string) bool {
			return strings.HasPrefix(p, "mmap_size") || strings.HasPrefix(p, "cache_size")
		})
		q["_pragma"] = append(pragmas, "mmap_size(0)", "cache_size(-8192)")
	})
}

// withQuery returns dsn with its query changed by edit.
func withQuery(dsn string, edit func(url.Values)) string {
	i := strings.LastIndexByte(dsn, '?')
	q, err := url.ParseQuery(dsn[i+1:])
	if err != nil {
		panic(err) // dsn's own encoding
	}
	edit(q)
	return dsn[:i+1] + q.Encode()
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
	return openReadOnlyTrail(logDir, func() (*sql.DB, error) { return OpenScan(path) })
}
