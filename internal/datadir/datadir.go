// Package datadir owns the layout of a vault's data directory and the exclusive lock that keeps two
// processes from writing to it at once (so no command can fork the audit trail behind a running server).
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// File names inside a data directory.
const (
	DatabaseFile = "vault.db"
	KEKFile      = "kek.json"
	JWTKeyFile   = "jwt-signing-key.pem"
	LockFile     = "vault.lock"
	AuditKeyFile = "audit-checkpoint.key"
	// AuditLogDir holds the audit log: segments, tiles and checkpoints (internal/seglog).
	AuditLogDir = "audit"
	// ErasureLedgerFile is the erasure ledger's default place (internal/erasures). It is never part of a
	// backup; keep it on another volume (--erasure-ledger) so it outlives the loss of this directory.
	ErasureLedgerFile = "erasures.ledger"
)

// ErrLocked means another process (usually a running `vaultd serve`) holds the directory.
var ErrLocked = errors.New("data directory is in use by another vaultd process")

// ErrNoVault means a directory holds no vault (no database file), so a command that works on an existing
// vault refuses it rather than creating one (a mistyped --data-dir).
var ErrNoVault = errors.New("no vault in the data directory")

// Dir is an opened, locked data directory.
type Dir struct {
	Path    string
	Created bool // the directory did not exist or was empty
	lock    *os.File
	dirLock *os.File // the directory itself, locked too
}

// OpenExisting is Open for a directory that must already hold a vault: it refuses, creating nothing, when
// path has no database file.
func OpenExisting(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, DatabaseFile)); err != nil {
		reason := "it has no " + DatabaseFile
		if !errors.Is(err, os.ErrNotExist) {
			reason = err.Error()
		} else if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
			reason = "it does not exist"
		}
		return nil, fmt.Errorf("%w: %s (%s); check --data-dir: only serve, demo and import create a vault", ErrNoVault, abs, reason)
	}
	return Open(abs)
}

// Open creates path (0700) if needed and takes an exclusive, non-blocking lock on it. The lock is released
// by Close or when the process exits (even by kill -9).
func Open(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	created := false
	if _, err := os.Stat(filepath.Join(abs, DatabaseFile)); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// The lock is taken on the directory itself and on the lock file: the file shows who holds the dir,
	// and deleting it as "stale" — a common reflex — must not let a second process in (two writers broke
	// the audit chain for good).
	var held []*os.File
	release := func() {
		for _, f := range held {
			f.Close()
		}
	}
	for _, open := range []func() (*os.File, error){
		func() (*os.File, error) { return os.Open(abs) },
		func() (*os.File, error) {
			return os.OpenFile(filepath.Join(abs, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
		},
	} {
		f, err := open()
		if err != nil {
			release()
			return nil, fmt.Errorf("open lock: %w", err)
		}
		held = append(held, f)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w (%s): stop the server or send this request to it over HTTP", ErrLocked, abs)
			}
			return nil, fmt.Errorf("lock data dir: %w", err)
		}
	}
	return &Dir{Path: abs, Created: created, lock: held[1], dirLock: held[0]}, nil
}

// File returns the path of a file inside the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

// Close releases the lock.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	err := errors.Join(d.lock.Close(), d.dirLock.Close())
	d.lock, d.dirLock = nil, nil
	return err
}

// FreeBytes is the space an unprivileged process can still write on the volume that holds path.
func FreeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// SyncDir fsyncs a directory, so that a file created, renamed or linked in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
