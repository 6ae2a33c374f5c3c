package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/vault"
)

const eventsUsage = `usage: vaultd events reseal --data-dir DIR [--db postgres://…]
  reseal    seal the attributes of events stored as JSON (before the binary encoding) again in the binary
            encoding, a batch of subjects at a time, with a progress bar; safe to interrupt and to run again`

// cmdEvents runs `vaultd events …`.
func cmdEvents(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reseal" {
		fmt.Fprintln(stderr, eventsUsage)
		return exitError{code: 2}
	}
	fs := flag.NewFlagSet("events reseal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	batch := fs.Int("batch", 0, "subjects per batch (default 500)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	cfg.BulkWrites = true
	cfg.Existing = true // a mistyped --data-dir must not become a new, empty vault
	cfg.Offline = true  // records no policy in force: the servers' is the processing record
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	total, err := a.CountActiveSubjects(ctx)
	if err != nil {
		return err
	}
	opts := vault.ResealOptions{BatchSize: *batch}
	if draw := terminalProgress(stderr, "reseal"); draw != nil {
		opts.Progress = func(done int) { draw(done, total) }
		defer fmt.Fprintln(stderr)
	}
	start := time.Now()
	res, err := a.Vault.Ingestion().ResealEvents(ctx, app.SystemAccess("cli-events-reseal"), opts)
	if err != nil {
		return fmt.Errorf("%w (what was resealed stays; run vaultd events reseal again to finish)", err)
	}
	fmt.Fprintf(stdout, "subjects: %d\nevents: %d\nresealed: %d\nalready binary: %d\nnot opened: %d\naudit seq: %d\nduration: %s\n",
		res.Subjects, res.Events, res.Resealed, res.Current, res.Unopened, res.AuditSeq, time.Since(start).Round(time.Millisecond))
	if res.Unopened > 0 {
		return exitError{code: 1, msg: "vaultd: some events could not be opened here (a key this node lacks — see vaultd keys check — or a category shredded and waiting for its purge); they are left as they were"}
	}
	return nil
}
