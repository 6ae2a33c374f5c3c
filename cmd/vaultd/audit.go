package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/datadir"
)

// cmdAudit runs `vaultd audit verify|export`. Both only read the database (read-only, no lock), so they
// work beside a running server — or, with --db postgres://…, beside the nodes serving that database (the
// data dir then only supplies the checkpoint verifier key, unless --pubkey pins one); they need file access to the data dir, which is outside the API's access
// model, so an export made here is not recorded in the trail — GET /v1/audit/export is.
func cmdAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "witness" {
		return cmdAuditWitness(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "reindex" {
		fs := flag.NewFlagSet("audit reindex", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dataDir := fs.String("data-dir", envOr(getenv, "VAULT_DATA_DIR", "data"), "data directory (VAULT_DATA_DIR)")
		db := fs.String("db", envOr(getenv, "VAULT_DB", ""), "the trail's store: empty for the data dir's embedded one (VAULT_DB)")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *db != "" {
			// Nothing to rebuild: on PostgreSQL each entry's index row is written in the entry's own
			// transaction, so the index is never behind; verify checks it row by row.
			return exitError{code: 2, msg: "vaultd audit reindex: the review index on PostgreSQL is written with each entry and is never behind; check it with vaultd audit verify --db"}
		}
		n, err := app.ReindexTrail(ctx, *dataDir)
		if err != nil {
			return exitError{code: 2, msg: "vaultd audit reindex: " + err.Error()}
		}
		fmt.Fprintf(stdout, "review index rows corrected: %d\n", n)
		return nil
	}
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		return exitError{code: 2, msg: "usage: vaultd audit verify|export|reindex --data-dir DIR [--db postgres://…], or vaultd audit witness --url URL --state FILE [--pubkey KEY] [--token-file F]"}
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr(getenv, "VAULT_DATA_DIR", "data"), "data directory (VAULT_DATA_DIR)")
	db := fs.String("db", envOr(getenv, "VAULT_DB", ""), "the trail's store: empty for the data dir's embedded one, or postgres://… (VAULT_DB)")
	keyFile := fs.String("audit-key-file", envOr(getenv, "VAULT_AUDIT_KEY_FILE", ""), "checkpoint key file; its .pub verifier key is read (VAULT_AUDIT_KEY_FILE)")
	since := fs.String("since", "", "export: entries at or after this RFC 3339 time")
	until := fs.String("until", "", "export: entries before this RFC 3339 time")
	format := fs.String("format", "ndjson", "export: ndjson or csv")
	pubkey := fs.String("pubkey", getenv("VAULT_AUDIT_PUBKEY"), "verify: the pinned checkpoint verifier key (note format), or a file holding it; without it the host's own .pub is trusted (VAULT_AUDIT_PUBKEY)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// verify and export share one flag set; each refuses the other's flags.
	owner := map[string]string{"since": "export", "until": "export", "format": "export", "pubkey": "verify"}
	for name, of := range owner {
		if set[name] && of != args[0] {
			return exitError{code: 2, msg: fmt.Sprintf("vaultd audit %s: --%s is a flag of audit %s", args[0], name, of)}
		}
	}
	var keyText string
	var pinned bool
	if args[0] == "verify" {
		var err error
		if keyText, pinned, err = pinnedKey(*pubkey, set["pubkey"]); err != nil {
			return exitError{code: 2, msg: "vaultd audit verify: " + err.Error()}
		}
	}
	trail, err := app.OpenTrailOn(ctx, *db, *dataDir)
	if errors.Is(err, audit.ErrLogMissing) && args[0] == "verify" {
		// An emptied or deleted log beside a history is tampering like any other, not a usage error.
		fmt.Fprintf(stdout, "first bad seq: 1\nreason: %v\n", err)
		return exitError{code: 1}
	}
	if err != nil {
		return exitError{code: 2, msg: "vaultd audit: " + err.Error()}
	}
	defer trail.Close()
	if args[0] == "export" {
		return auditExport(ctx, trail, *since, *until, *format, stdout)
	}
	trusted := ""
	if !pinned {
		pub := *keyFile
		if pub == "" {
			pub = filepath.Join(*dataDir, datadir.AuditKeyFile)
		}
		raw, err := os.ReadFile(pub + ".pub")
		if err != nil {
			return exitError{code: 2, msg: "vaultd audit verify: cannot read the checkpoint verifier key: " + err.Error()}
		}
		keyText, trusted = string(raw), pub+".pub"
	}
	v, err := audit.NewVerifier(strings.TrimSpace(keyText))
	if err != nil {
		return exitError{code: 2, msg: "vaultd audit verify: " + err.Error()}
	}
	start := time.Now()
	rep, err := trail.Verify(ctx, v)
	if err != nil {
		return exitError{code: 2, msg: "vaultd audit verify: " + err.Error()}
	}
	if rep.OK && rep.Checkpoints == 0 && rep.Entries > 0 {
		// The vault signs a checkpoint within seconds of any entry and on every clean shutdown: a log none
		// covers could be anything — a history rewritten after its checkpoints were deleted passes every
		// other check.
		rep.OK, rep.FirstBadSeq = false, 1
		rep.Reason = fmt.Sprintf("the log holds %d entries but no signed checkpoint (audit/checkpoints is missing or empty): nothing shows these are the entries that were written", rep.Entries)
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "first bad seq: %d\nreason: %s\n", rep.FirstBadSeq, rep.Reason)
		return exitError{code: 1}
	}
	fmt.Fprintf(stdout, "ok: %d entries checked, %d checkpoints verified in %s\nhead: %s\nindex: %d rows checked against their entries\n",
		rep.Entries, rep.Checkpoints, time.Since(start).Round(time.Millisecond), rep.Head, rep.Indexed)
	if trusted != "" {
		fmt.Fprintf(stdout, "key: trusted the host's own key %s; pin one with --pubkey\n", trusted)
	} else {
		fmt.Fprintln(stdout, "key: pinned (--pubkey)")
	}
	return nil
}

// pinnedKey returns the verifier key --pubkey pins: the key itself, or the contents of the file it names.
// A --pubkey given but empty (an unset shell variable), a file that does not exist or an empty one is an
// error, never a quiet fall-back to the host's own key; pinned is false only when no key was given.
func pinnedKey(pubkey string, given bool) (key string, pinned bool, err error) {
	pubkey = strings.TrimSpace(pubkey)
	switch {
	case pubkey == "" && given:
		return "", false, errors.New("--pubkey is empty (an unset variable?): give the verifier key or a file holding it")
	case pubkey == "":
		return "", false, nil
	}
	if _, err := audit.NewVerifier(pubkey); err == nil {
		return pubkey, true, nil // the key itself, in note format: name+hash+key
	}
	raw, err := os.ReadFile(pubkey)
	switch {
	case err == nil && strings.TrimSpace(string(raw)) == "":
		return "", false, fmt.Errorf("--pubkey file %s is empty", pubkey)
	case err == nil:
		return strings.TrimSpace(string(raw)), true, nil
	case errors.Is(err, os.ErrNotExist):
		return "", false, fmt.Errorf("--pubkey: no such file %s (and not a verifier key: name+hash+key)", pubkey)
	}
	return "", false, fmt.Errorf("--pubkey: %w", err)
}

func auditExport(ctx context.Context, trail app.Trail, sinceS, untilS, format string, stdout io.Writer) error {
	var since, until time.Time
	var err error
	if sinceS != "" {
		if since, err = time.Parse(time.RFC3339, sinceS); err != nil {
			return exitError{code: 2, msg: "vaultd audit export: --since must be an RFC 3339 time"}
		}
	}
	if untilS != "" {
		if until, err = time.Parse(time.RFC3339, untilS); err != nil {
			return exitError{code: 2, msg: "vaultd audit export: --until must be an RFC 3339 time"}
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return exitError{code: 2, msg: "vaultd audit export: --since must be before --until"}
	}
	x, err := audit.NewExportWriter(stdout, format)
	if err != nil {
		return exitError{code: 2, msg: "vaultd audit export: --format must be ndjson or csv"}
	}
	err = trail.Export(ctx, since, until, func(_ int64, canon []byte) error { return x.Write(canon) })
	return errors.Join(err, x.Flush())
}
