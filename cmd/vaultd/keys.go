package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/vault"
)

const keysUsage = `usage: vaultd keys <rotate|check|purge> --data-dir DIR
  rotate                      new KEK version, rewrap every DEK, retire the versions nothing uses
                              (resumes an interrupted rotation instead, if there is one)
  check                       unwrap every stored DEK; count them per KEK version (exit 1 if any fails)
  purge --retired-before T    destroy the key material of versions retired before T (RFC 3339, or a
                              duration such as 720h meaning that long ago), after re-checking that no DEK uses them`

func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keysUsage)
		return exitError{code: 2}
	}
	switch args[0] {
	case "rotate":
		return cmdKeysRotate(ctx, args[1:], getenv, stdout, stderr)
	case "check":
		return cmdKeysCheck(ctx, args[1:], getenv, stdout, stderr)
	case "purge":
		return cmdKeysPurge(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintln(stderr, keysUsage)
	return exitError{code: 2}
}

// openKeys parses the common flags of a keys subcommand and opens the data dir (taking its lock, so it
// refuses while a server runs).
func openKeys(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*app.App, error) {
	fs := flag.NewFlagSet("keys "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return nil, err
	}
	cfg.Existing = true // a mistyped --data-dir must not become a new, empty vault
	cfg.Offline = true  // records no policy in force: the servers' is the processing record
	return app.Open(ctx, cfg)
}

// cmdKeysRotate rotates the KEK offline (use POST /v1/keys/rotate while a server runs).
func cmdKeysRotate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, err := openKeys(ctx, "rotate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.RequireKeys(); err != nil {
		return err
	}
	job, err := a.Vault.Keys().StartRotation(ctx, app.SystemAccess("cli-keys-rotate"))
	if err != nil {
		return err
	}
	if job.Resumed() {
		fmt.Fprintf(stderr, "vaultd: resuming the interrupted rotation %s to KEK version %d\n", job.ID(), job.NewVersion())
	}
	progress := terminalProgress(stderr, "rewrap")
	start := time.Now()
	res, err := job.Run(ctx, vault.RunOptions{Progress: progress})
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("%w (the rotation is resumable: run vaultd keys rotate again)", err)
	}
	fmt.Fprintf(stdout, "rotation: %s\nnew KEK version: %d\nresumed: %t\nDEKs rewrapped: %d\nKEK versions retired: %v\naudit seq: %d\nduration: %s\n",
		res.JobID, res.NewVersion, res.Resumed, res.Rewrapped, res.Retired, res.AuditSeq, time.Since(start).Round(time.Millisecond))
	if len(res.Kept) > 0 {
		fmt.Fprintf(stdout, "KEK versions kept (still in use): %v\n", res.Kept)
	}
	return nil
}

// cmdKeysCheck unwraps every stored DEK and prints the count per KEK version; exit 1 if any fails.
func cmdKeysCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, err := openKeys(ctx, "check", args, getenv, stderr, nil)
	var ex exitError
	if errors.As(err, &ex) {
		return err // -h (exit 0) or a bad flag (exit 2), already explained by the flag set
	}
	if err != nil {
		return exitError{code: 2, msg: "vaultd: " + err.Error()}
	}
	defer a.Close()
	rep, ok := a.Vault.Keys().LastKeyReport()
	if !ok {
		return exitError{code: 2, msg: "vaultd: the key check did not run"}
	}
	fmt.Fprintf(stdout, "ring: %s\n", a.KeyRingPath())
	fmt.Fprintln(stdout, "KEK versions:")
	for _, k := range rep.KEKs {
		state := "live"
		switch {
		case k.Active:
			state = "active"
		case k.PurgedAt != nil:
			state = "purged " + k.PurgedAt.Format(time.RFC3339)
		case k.RetiredAt != nil:
			state = "retired " + k.RetiredAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "  %d\t%s\tcreated %s\n", k.Version, state, k.CreatedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(stdout, "DEKs by KEK version:")
	for _, u := range rep.ByVersion {
		fmt.Fprintf(stdout, "  %d\t%d DEKs\t%d missing\t%d corrupt\n", u.Version, u.DEKs, u.Missing, u.Corrupt)
	}
	fmt.Fprintf(stdout, "DEKs: %d\nsubjects: %d\nmissing: %d\ncorrupt: %d\naffected subjects: %d\n",
		rep.DEKs, rep.Subjects, rep.Missing, rep.Corrupt, rep.Affected)
	if !rep.OK() {
		return exitError{code: 1, msg: "vaultd: " + rep.Problem()}
	}
	return nil
}

// cmdKeysPurge destroys the key material of KEK versions retired before --retired-before.
func cmdKeysPurge(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var before string
	a, err := openKeys(ctx, "purge", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&before, "retired-before", "", "purge versions retired before this time (RFC 3339, or a duration ago such as 720h)")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := parseBefore(before, time.Now())
	if err != nil {
		return exitError{code: 2, msg: "vaultd: --retired-before: " + err.Error()}
	}
	res, err := a.Vault.Keys().PurgeKeys(ctx, app.SystemAccess("cli-keys-purge"), t)
	if err != nil {
		if vault.ErrorCode(err) == vault.CodeConflict {
			return exitError{code: 1, msg: "vaultd: " + vault.ErrorMessage(err)}
		}
		return err
	}
	fmt.Fprintf(stdout, "KEK versions purged: %v\naudit seq: %d\n", res.Purged, res.AuditSeq)
	return nil
}

// parseBefore reads an RFC 3339 time, or a duration meaning that long before now.
func parseBefore(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("required")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a non-negative duration")
	}
	return now.Add(-d), nil
}
