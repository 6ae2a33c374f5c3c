package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/backup"
)

// cmdBackup writes an encrypted backup of a data dir; `backup keygen` creates the key pair for it. It
// takes no lock, so it runs beside a serving vaultd.
func cmdBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keygen" {
		return cmdBackupKeygen(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	out := fs.String("out", "", "file to write the backup to (required; written beside, then renamed)")
	var recipients rolesFlag
	fs.Var(&recipients, "recipient", "age recipient (age1…) the backup is encrypted to; repeat for several (VAULT_BACKUP_RECIPIENTS, comma-separated)")
	recipientsFile := fs.String("recipients-file", envOr(getenv, "VAULT_BACKUP_RECIPIENTS_FILE", ""), "file of age recipients, one a line (VAULT_BACKUP_RECIPIENTS_FILE)")
	auditKey := fs.String("audit-key-file", envOr(getenv, "VAULT_AUDIT_KEY_FILE", ""), "checkpoint key file; default DATA_DIR/audit-checkpoint.key (VAULT_AUDIT_KEY_FILE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return exitError{code: 2, msg: "vaultd backup: --out FILE is required"}
	}
	if len(recipients) == 0 && getenv("VAULT_BACKUP_RECIPIENTS") != "" {
		recipients = strings.Split(getenv("VAULT_BACKUP_RECIPIENTS"), ",")
	}
	rs, err := parseRecipients(recipients, *recipientsFile)
	if err != nil {
		return exitError{code: 2, msg: "vaultd backup: " + err.Error()}
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	cfg.AuditKeyFile = *auditKey
	start := time.Now()
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".vault-backup-*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	m, err := app.Backup(ctx, cfg, rs, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	fmt.Fprintf(stdout, "backup: %s — %d files, %d bytes before encryption, taken %s in %s\n",
		*out, len(m.Files), size, m.CreatedAt.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	if m.Format == backup.FormatPostgres {
		fmt.Fprintln(stdout, "a dump of the PostgreSQL database taken in one snapshot, with the key files; restore it into an empty database with:")
		fmt.Fprintln(stdout, "  vaultd restore --from FILE --identity KEY --data-dir NEW_DIR --db postgres://…/EMPTY_DB --from-ledger NODE1_LEDGER --from-ledger NODE2_LEDGER …")
		fmt.Fprintln(stdout, "  (every node's erasure ledger: each records the erasures made through it)")
		return nil
	}
	fmt.Fprintln(stdout, "restore it with: vaultd restore --from FILE --identity KEY --data-dir NEW_DIR --erasure-ledger LEDGER")
	return nil
}

func parseRecipients(texts []string, file string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, t := range texts {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(t))
		if err != nil {
			return nil, fmt.Errorf("--recipient: %w", err)
		}
		rs = append(rs, r)
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		more, err := age.ParseRecipients(f)
		if err != nil {
			return nil, fmt.Errorf("--recipients-file: %w", err)
		}
		rs = append(rs, more...)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("name at least one --recipient (create one with `vaultd backup keygen --out KEY`): a backup is always encrypted")
	}
	return rs, nil
}

// cmdBackupKeygen writes a new age identity (mode 0600) and prints its recipient.
func cmdBackupKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the identity (secret key) to; keep it away from the backups (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return exitError{code: 2, msg: "vaultd backup keygen: --out FILE is required"}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup keygen: %w", err)
	}
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "identity written to %s (mode 0600)\nrecipient: %s\n", *out, id.Recipient())
	return nil
}

// cmdRestore restores a backup into a new data dir and erases again everyone the erasure ledger names.
func cmdRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	from := fs.String("from", "", "backup file (required)")
	identity := fs.String("identity", envOr(getenv, "VAULT_BACKUP_IDENTITY", ""), "age identity file that decrypts the backup (VAULT_BACKUP_IDENTITY)")
	var ledgers []string
	fs.Func("from-ledger", "erasure ledger to apply, once per ledger (on PostgreSQL every node keeps its own: name each); default the --erasure-ledger of the vault",
		func(v string) error { ledgers = append(ledgers, v); return nil })
	without := fs.Bool("without-ledger", false, "restore without applying erasures: everyone erased after the backup comes back")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *identity == "" {
		return exitError{code: 2, msg: "vaultd restore: --from FILE and --identity KEY are required"}
	}
	if len(ledgers) == 0 && common.erasureLedger != "" {
		ledgers = []string{common.erasureLedger}
	}
	f, err := os.Open(*identity)
	if err != nil {
		return exitError{code: 2, msg: "vaultd restore: " + err.Error()}
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		return exitError{code: 2, msg: "vaultd restore: --identity: " + err.Error()}
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	if cfg.KEKFile != "" || cfg.AuditKeyFile != "" {
		// The archive's key files are restored into the data dir, where the restore's own start and check
		// read them; a key kept elsewhere is moved there by the operator after the restore.
		return exitError{code: 2, msg: "vaultd restore: --kek-file and --audit-key-file are not used by restore: it writes the key ring and the checkpoint key into --data-dir; move them after the restore and start serve with the flags"}
	}
	in, err := os.Open(*from)
	if err != nil {
		return exitError{code: 2, msg: "vaultd restore: " + err.Error()}
	}
	defer in.Close()
	start := time.Now()
	rep, err := app.Restore(ctx, cfg, in, ids, app.RestoreOptions{Ledgers: ledgers, WithoutLedger: *without})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %d files of the backup taken %s into %s\n", len(rep.Manifest.Files), rep.Manifest.CreatedAt.Format(time.RFC3339), cfg.DataDir)
	if *without {
		fmt.Fprintln(stdout, "erasures: none applied (--without-ledger)")
	} else {
		fmt.Fprintf(stdout, "erasures: %d in the ledger, %d applied again (%d kept in part under a legal hold), %d not in this backup\n",
			rep.Reapply.Records, rep.Reapply.Erased, rep.Reapply.Held, rep.Reapply.Absent)
	}
	fmt.Fprintf(stdout, "audit trail: %d entries verified, %d checkpoints, head %s\n", rep.Verify.Entries, rep.Verify.Checkpoints, rep.Verify.Head)
	fmt.Fprintf(stdout, "done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
