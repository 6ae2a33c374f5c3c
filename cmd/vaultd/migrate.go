package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/datadir"
)

// cmdMigrate runs `vaultd migrate --from sqlite:DIR --to postgres://…`: the data dir's vault moves into an
// empty PostgreSQL database (app.Migrate), with a progress bar on stderr when it is a terminal and a summary
// on stdout. The source is only read; its lock is held throughout.
func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the source: sqlite:DIR, a data dir of the embedded store")
	to := fs.String("to", envOr(getenv, "VAULT_DB", ""), "the target: postgres://… of an empty database (VAULT_DB)")
	kekFile := fs.String("kek-file", envOr(getenv, "VAULT_KEK_FILE", ""), "key ring file; default DIR/kek.json (VAULT_KEK_FILE)")
	auditKey := fs.String("audit-key-file", envOr(getenv, "VAULT_AUDIT_KEY_FILE", ""), "checkpoint key file; default DIR/audit-checkpoint.key (VAULT_AUDIT_KEY_FILE)")
	batch := fs.Int("batch", 5000, "rows read and copied at a time")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || dir == "" || !(strings.HasPrefix(*to, "postgres://") || strings.HasPrefix(*to, "postgresql://")) {
		return exitError{code: 2, msg: "usage: vaultd migrate --from sqlite:DIR --to postgres://…"}
	}
	opts := app.MigrateOptions{DataDir: dir, DB: *to, KEKFile: *kekFile, AuditKeyFile: *auditKey, Batch: *batch}
	if isTerminal(stderr) {
		opts.Progress = func(done, total int64) { progressBar(stderr, "migrate", int(done), int(total)) }
	}
	sum, err := app.Migrate(ctx, opts)
	if opts.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w; the source data dir was only read and is unchanged", err)
	}
	fmt.Fprintf(stdout, "%-24s %-24s %12s %12s\n", "source", "target", "source rows", "target rows")
	for _, t := range sum.Tables {
		fmt.Fprintf(stdout, "%-24s %-24s %12d %12d\n", t.Source, t.Target, t.SourceRows, t.TargetRows)
	}
	fmt.Fprintf(stdout, "audit: %d entries and %d checkpoints copied verbatim; head %s\n", sum.Entries, sum.Checkpoints, sum.Head)
	fmt.Fprintf(stdout, "verify (target): ok, %d entries, %d checkpoints, %d index rows checked against their entries\n",
		sum.Verify.Entries, sum.Verify.Checkpoints, sum.Verify.Indexed)
	fmt.Fprintf(stdout, "duration: %s\n", sum.Duration.Round(1e6))
	fmt.Fprintf(stdout, "keys: not in the database. Every node serving it needs %s, %s (and its .pub) and %s from %s — serve this data dir with --db, or copy them into each node's data dir (the ring and the checkpoint key may instead be shared files, --kek-file and --audit-key-file; the JWT signing key is always the data dir's); keep the erasure ledger (%s) too.\n",
		datadir.KEKFile, datadir.AuditKeyFile, datadir.JWTKeyFile, dir, datadir.ErasureLedgerFile)
	return nil
}
