package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/backup"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/erasures"
	"github.com/profilevault/profilevault/internal/postgres"
	"github.com/profilevault/profilevault/internal/sqlite"
	"github.com/profilevault/profilevault/vault"
)

// Backup writes an encrypted, consistent snapshot of cfg's data directory to w (internal/backup). It
// takes no lock: it runs beside a serving vaultd. The database copy is staged in the data directory's
// parent, so it never leaves the file system the data lives on. For a vault kept in PostgreSQL (cfg.DB)
// the archive holds a dump of the database taken in one snapshot (postgres.Dump) and the key files of the
// data dir (or of --kek-file, --audit-key-file), which every node of the database shares.
func Backup(ctx context.Context, cfg Config, recipients []age.Recipient, w io.Writer) (backup.Manifest, error) {
	cfg = cfg.Defaults()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return backup.Manifest{}, err
	}
	if postgresDSN(cfg.DB) {
		src := backup.PostgresSources{
			Dump: func(ctx context.Context, dst string) (json.RawMessage, error) {
				info, err := postgres.Dump(ctx, cfg.DB, dst)
				if err != nil {
					return nil, err
				}
				return json.Marshal(info)
			},
			KEKRing:  orDefault(cfg.KEKFile, filepath.Join(dir, datadir.KEKFile)),
			JWTKey:   filepath.Join(dir, datadir.JWTKeyFile),
			AuditKey: orDefault(cfg.AuditKeyFile, filepath.Join(dir, datadir.AuditKeyFile)),
		}
		return backup.WritePostgres(ctx, src, dir, recipients, w)
	}
	db := filepath.Join(dir, datadir.DatabaseFile)
	src := backup.Sources{
		SnapshotDB:  func(ctx context.Context, dst string) error { return sqlite.Snapshot(ctx, db, dst) },
		KEKRing:     orDefault(cfg.KEKFile, filepath.Join(dir, datadir.KEKFile)),
		JWTKey:      filepath.Join(dir, datadir.JWTKeyFile),
		AuditKey:    orDefault(cfg.AuditKeyFile, filepath.Join(dir, datadir.AuditKeyFile)),
		AuditLogDir: filepath.Join(dir, datadir.AuditLogDir),
	}
	if _, err := os.Stat(db); err != nil {
		return backup.Manifest{}, fmt.Errorf("no database at %s", db)
	}
	// The unencrypted copy is staged inside the data dir (0700, the database's own volume), where a start
	// or the next backup removes what a killed backup left (backup.CleanStaging).
	return backup.Write(ctx, src, dir, recipients, w)
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// RestoreOptions says where a restore finds the erasures recorded since the backup.
type RestoreOptions struct {
	// Ledgers are the erasure ledgers to apply: the one the vault wrote to (another volume, ideally) — on
	// PostgreSQL, every node's, since each node records the erasures it made in its own.
	Ledgers []string
	// WithoutLedger restores without applying any erasure: everyone erased after the backup comes back.
	// Only for a vault that never erased anyone, or on a lawyer's word.
	WithoutLedger bool
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Manifest backup.Manifest
	Reapply  vault.ReapplyResult
	// LedgerCopied is how many ledger records were copied into the restored directory's own ledger.
	LedgerCopied int
	Verify       audit.Report
}

// ErrNoLedger refuses a restore that names no erasure ledger.
var ErrNoLedger = errors.New("restore needs the erasure ledger (--erasure-ledger FILE), or --without-ledger to bring back everyone erased after the backup")

// ErrArchiveKind refuses to restore an archive of one store into the other.
var ErrArchiveKind = errors.New("the backup is of another store")

// Restore writes the backup from r into cfg.DataDir (which must not exist or be empty), starts the vault
// on it once — which records changes the backup's log holds but its database does not as aborted —,
// erases again every person the ledger names, and verifies the trail. The restored directory keeps its
// key files inside it, whatever cfg.KEKFile and cfg.AuditKeyFile say.
//
// A backup of a vault kept in PostgreSQL is restored into cfg.DB, a database whose schema holds no table:
// the key files into cfg.DataDir, the dump by pg_restore in one transaction (postgres.RestoreDump); the
// restored database must then hold what the backup's manifest says its snapshot held (the log's head and
// newest checkpoint, every table's row count, the key fingerprints) before the vault starts on it, the
// ledger's erasures are applied again and the trail is verified, as for SQLite.
func Restore(ctx context.Context, cfg Config, r io.Reader, identities []age.Identity, opts RestoreOptions) (rep RestoreReport, err error) {
	if len(opts.Ledgers) == 0 && !opts.WithoutLedger {
		return RestoreReport{}, ErrNoLedger
	}
	for _, l := range opts.Ledgers {
		// A missing or damaged ledger refuses the restore before anything is written.
		if _, err := erasures.ReadFile(l); err != nil {
			return rep, err
		}
	}
	if rep.Manifest, err = backup.Restore(r, identities, cfg.DataDir); err != nil {
		return rep, err
	}
	onPG := rep.Manifest.Format == backup.FormatPostgres
	if !onPG {
		// Whatever fails from here on — the restored vault does not start, a DEK does not unwrap, the trail
		// does not verify — leaves nothing behind, so the same target can be used again.
		defer func() {
			if err != nil {
				cleanRestored(cfg.DataDir)
			}
		}()
	}
	if onPG != postgresDSN(cfg.DB) {
		cleanRestored(cfg.DataDir)
		if onPG {
			return rep, fmt.Errorf("%w: it holds a PostgreSQL dump: restore it with --db postgres://… naming an empty database", ErrArchiveKind)
		}
		return rep, fmt.Errorf("%w: it holds a SQLite data dir: restore it without --db, then move it with vaultd migrate", ErrArchiveKind)
	}
	if onPG {
		var info postgres.DumpInfo
		dump := backup.DumpFile(cfg.DataDir)
		err := json.Unmarshal(rep.Manifest.Postgres, &info)
		if err == nil {
			err = postgres.RestoreDump(ctx, cfg.DB, dump, info)
		}
		if err != nil {
			cleanRestored(cfg.DataDir) // nothing was restored: the database is as it was
			return rep, fmt.Errorf("restore the database: %w", err)
		}
		// The data is in the database now: no copy of it stays in the data dir.
		if err := os.Remove(dump); err != nil {
			return rep, err
		}
		if err := postgres.CheckRestored(ctx, cfg.DB, info); err != nil {
			return rep, fmt.Errorf("restore the database: %w", err)
		}
	}
	cfg.KEKFile, cfg.AuditKeyFile = "", ""
	own := orDefault(cfg.ErasureLedger, filepath.Join(cfg.DataDir, datadir.ErasureLedgerFile))
	for _, l := range opts.Ledgers { // the union, each person once
		if sameFile(l, own) {
			continue
		}
		n, err := erasures.Copy(l, own)
		if err != nil {
			return rep, err
		}
		rep.LedgerCopied += n
	}
	a, err := Open(ctx, cfg)
	if err != nil {
		return rep, fmt.Errorf("start the restored vault: %w", err)
	}
	if err := a.RequireKeys(); err != nil { // every DEK in the backup unwraps under its ring
		a.Close()
		return rep, fmt.Errorf("the restored vault: %w", err)
	}
	if len(opts.Ledgers) > 0 {
		records, err := erasures.ReadFile(own)
		if err != nil {
			a.Close()
			return rep, err
		}
		refs := make([]string, len(records))
		for i, rec := range records {
			refs[i] = rec.SubjectRef
		}
		if rep.Reapply, err = a.Vault.Profiles().ReapplyErasures(ctx, SystemAccess("restore"), refs); err != nil {
			a.Close()
			return rep, fmt.Errorf("apply the ledger's erasures: %w", err)
		}
	}
	verifier := a.Auditor.Verifier()
	if err := a.Close(); err != nil {
		return rep, err
	}
	trail, err := OpenTrailOn(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return rep, err
	}
	defer trail.Close()
	if rep.Verify, err = trail.Verify(ctx, verifier); err != nil {
		return rep, fmt.Errorf("verify the restored trail: %w", err)
	}
	if !rep.Verify.OK {
		return rep, fmt.Errorf("the restored trail does not verify: first bad seq %d: %s", rep.Verify.FirstBadSeq, rep.Verify.Reason)
	}
	return rep, nil
}

// cleanRestored removes what backup.Restore wrote into dir (the directory stays).
func cleanRestored(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
