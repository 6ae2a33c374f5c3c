package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/vault"
)

// pragmas reads a connection's mmap_size and cache_size.
func pragmas(db *sql.DB) (mmap, cache int64, err error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if err := conn.QueryRowContext(context.Background(), `PRAGMA mmap_size`).Scan(&mmap); err != nil {
		return 0, 0, err
	}
	return mmap, cache, conn.QueryRowContext(context.Background(), `PRAGMA cache_size`).Scan(&cache)
}

// A scanning connection (vaultd migrate's) maps nothing of the file and keeps a small page cache, where a
// reader's maps up to 1 GiB; it is read-only.
func TestScanConnectionsMapNothing(t *testing.T) {
	s := openTest(t, Options{})
	path := s.path
	for name, open := range map[string]func() (int64, int64, error){
		"scan": func() (mmap, cache int64, err error) {
			db, err := OpenScan(path)
			if err != nil {
				return 0, 0, err
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE scratch (x)`); err == nil {
				t.Error("a scanning connection wrote")
			}
			return pragmas(db)
		},
		"scan trail": func() (mmap, cache int64, err error) {
			tr, err := OpenScanTrail(path, filepath.Join(filepath.Dir(path), "audit"))
			if err != nil {
				return 0, 0, err
			}
			defer tr.Close()
			return pragmas(tr.db)
		},
	} {
		mmap, cache, err := open()
		if err != nil || mmap != 0 || cache != -8192 {
			t.Errorf("%s: mmap_size %d, cache_size %d (%v), want 0 and -8192", name, mmap, cache, err)
		}
	}
	// The readers' setting, which the scan leaves out: the test would pass for nothing without it.
	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if mmap, _, err := pragmas(db); err != nil || mmap == 0 {
		t.Fatalf("a reader's mmap_size: %d %v", mmap, err)
	}
}

// A store opened with ScanReads (vaultd tags compute) reads through readers that map nothing of the file
// and keep a small page cache; they still read what the writer committed, and still write nothing.
func TestScanReadsStoreMapsNothing(t *testing.T) {
	s := openTest(t, Options{ScanReads: true})
	mmap, cache, err := pragmas(s.read)
	if err != nil || mmap != 0 || cache != -8192 {
		t.Fatalf("a reader of a ScanReads store: mmap_size %d, cache_size %d (%v), want 0 and -8192", mmap, cache, err)
	}
	if _, err := s.read.Exec(`CREATE TABLE scratch (x)`); err == nil {
		t.Error("a reader wrote")
	}
	if _, err := s.Commit(t.Context(), func(tx vault.Tx) error { return tx.CreateSubject("sub_a", "crm", []byte("salt"), time.Now()) },
		func(error) audit.Entry {
			return audit.Entry{TS: time.Now().UTC(), Action: "test", Decision: audit.Allow, Status: 200}
		}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.SubjectIDs(t.Context(), "", 10); err != nil || len(ids) != 1 {
		t.Fatalf("the subject committed: %v %v", ids, err)
	}
	// Without ScanReads, the readers map the file: the test would pass for nothing without it.
	if mmap, _, err := pragmas(openTest(t, Options{}).read); err != nil || mmap == 0 {
		t.Fatalf("a reader's mmap_size: %d %v", mmap, err)
	}
}
