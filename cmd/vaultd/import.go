package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// cmdImport imports NDJSON/CSV files or directories through the vault (encrypted, gated, audited). It
// takes the data dir's lock, so it refuses while a server runs.
func cmdImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	storesFile := fs.String("stores", "", "JSON file mapping POS store ids to cities, for imputing a missing city")
	cpuProfile := fs.String("cpuprofile", "", "diagnostics: write a CPU profile of the import to this file")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError{code: 0}
		}
		return exitError{code: 2}
	}
	if fs.NArg() == 0 {
		return exitError{code: 2, msg: "usage: vaultd import --data-dir DIR PATH..."}
	}
	// Every file opens and every CSV header is usable before the vault is opened (or created): a bad file
	// leaves nothing half-imported.
	plan, err := importer.Check(fs.Args())
	for _, line := range plan.Skipped {
		fmt.Fprintln(stderr, "vaultd import: skipped "+line)
	}
	if err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	// On PostgreSQL the import's workers each read before they change (identity resolution, the subject's
	// record): with the default pool of 4 they queue for connections (the 10,000-subject shop's subjects
	// at 576/s with 4, 996/s with 16).
	cfg.DBPool = importPool
	cfg.BulkWrites = true
	var stores map[string]string
	if *storesFile != "" {
		raw, err := os.ReadFile(*storesFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &stores); err != nil {
			return fmt.Errorf("--stores: %w", err)
		}
	}
	cfg.Offline = true // records no policy in force: the servers' is the processing record
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	defer setGC(getenv, importGCPercent, importMemoryLimit)()
	im := &importer.Importer{Vault: a.Vault, Steward: vault.Caller{Subject: "vaultd-import", Roles: []policies.Role{policies.RoleDataSteward}}, Stores: stores}
	if isTerminal(stderr) {
		im.Progress = stderr
	}
	start := time.Now()
	rep, err := im.RunPlan(ctx, plan)
	for _, line := range rep.Lines() {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "duration: %s\n", time.Since(start).Round(time.Millisecond))
	for _, p := range im.Phases {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		return err
	}
	_, err = a.Vault.Ingestion().SaveImportReport(ctx, vault.Access{Caller: im.Steward, Purpose: policies.PurposeAccountManagement, RequestID: "import"}, rep.Lines())
	return err
}

// importPool is the least number of PostgreSQL connections an import opens (pool_max_conns in --db wins).
const importPool = 16
