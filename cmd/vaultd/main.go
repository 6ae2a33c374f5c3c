// Command vaultd runs Profile Vault and its operator commands: serve, demo, token, keys rotate and
// policy explain. main only wires: run(ctx, args, env, stdout, stderr) does the work so tests can call it.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintln(os.Stderr, ex.msg)
			}
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "vaultd:", err)
		os.Exit(1)
	}
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

const usage = `usage: vaultd <command> [flags]

commands:
  serve            serve the API (creates the data dir on first start)
  demo             seed demo subjects, print tokens and curl lines, then serve
  tags compute     compute every subject's tags (population models, then per purpose; --subject ID for one)
  audiences build  build a marketing audience (--rule, --channel, --holdout) through the enforcement point
  audiences simulate  the synthetic shop's response to a campaign on an audience (--audience ID), and its report
  token            print a signed JWT for local use
  keys rotate      new KEK version, rewrap every DEK, retire unused KEKs (resumes an interrupted one)
  keys check       unwrap every stored DEK, count them per KEK version (exit 1 if any fails)
  keys purge       destroy retired KEK versions' key material (--retired-before T)
  events reseal    seal events stored as JSON again in the binary attribute encoding (progress bar; resumable)
  import           import subjects, consents, objections and events (NDJSON or CSV files or directories)
  synth            write the deterministic synthetic shop as NDJSON/CSV files
  retention run    shred data whose legal hold has ended (the server also does it hourly)
  audit verify     recheck the whole audit trail (exit 0 intact, 1 tampered, 2 cannot run)
  audit export     write audit entries to stdout (--since, --until, --format ndjson|csv)
  audit reindex    rebuild the review index from the log's entries
  migrate          move a data dir into an empty PostgreSQL database (--from sqlite:DIR --to postgres://…), verified
  audit witness    an outside auditor's check over HTTP: checkpoint signature and consistency (exit 0 ok, 1 inconsistent, 2 cannot run)
  policy explain   what a role sees for a purpose, and why
  backup           write an encrypted, consistent snapshot of the data dir (works beside a running server)
  backup keygen    create an age identity for backups and print its recipient
  restore          restore a backup into a new data dir and erase again everyone the erasure ledger names
  sentiment score  score texts (one a line, or label<TAB>id<TAB>text) as id<TAB>label<TAB>score; accuracy on stderr

Run "vaultd <command> -h" for its flags. The settings of a deployment (data dir, keys, database, limits)
also have a VAULT_* environment variable, named in each flag's help; a flag on the command line wins.`

// commandGroups are the commands whose first argument is a subcommand (tags compute, audit verify, …).
var commandGroups = map[string]bool{"tags": true, "keys": true, "policy": true, "audit": true, "retention": true,
	"sentiment": true, "events": true, "audiences": true}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "help" }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	if len(rest) == 1 && isHelp(rest[0]) && commandGroups[cmd] {
		// A group's help asked for: its usage on stdout and exit 0 (a usage error goes to stderr, exit 2).
		var usage bytes.Buffer
		err := run(ctx, []string{cmd}, getenv, stdout, &usage)
		var ex exitError
		if errors.As(err, &ex) {
			usage.WriteString(ex.msg)
		}
		fmt.Fprintln(stdout, strings.TrimSpace(usage.String()))
		return nil
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr, false)
	case "demo":
		return cmdServe(ctx, rest, getenv, stdout, stderr, true)
	case "token":
		return cmdToken(rest, getenv, stdout, stderr)
	case "tags":
		return cmdTags(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, getenv, stdout, stderr)
	case "policy":
		if len(rest) == 0 || rest[0] != "explain" {
			fmt.Fprintln(stderr, "usage: vaultd policy explain --role ROLE --purpose PURPOSE")
			return exitError{code: 2}
		}
		return cmdPolicyExplain(rest[1:], getenv, stdout, stderr)
	case "events":
		return cmdEvents(ctx, rest, getenv, stdout, stderr)
	case "import":
		return cmdImport(ctx, rest, getenv, stdout, stderr)
	case "synth":
		return cmdSynth(rest, getenv, stdout, stderr)
	case "retention":
		return cmdRetention(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, getenv, stdout, stderr)
	case "audiences":
		return cmdAudiences(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, rest, getenv, stdout, stderr)
	case "sentiment":
		return cmdSentiment(rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "vaultd: unknown command %q\n\n%s\n", cmd, usage)
	return exitError{code: 2}
}
