package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// retentionCaller is the identity the retention job runs and is audited under.
var retentionCaller = vault.Caller{Subject: "vaultd-retention", Roles: []policies.Role{policies.RoleAdmin}}

// cmdRetention runs the retention job now: data whose legal hold has ended is shredded. It takes the data
// dir's lock; a running server does the same every hour by itself.
func cmdRetention(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		return exitError{code: 2, msg: "usage: vaultd retention run --data-dir DIR"}
	}
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	cfg.Existing = true // a mistyped --data-dir must not become a new, empty vault
	cfg.Offline = true  // records no policy in force: the servers' is the processing record
	a, err := app.Open(ctx, cfg)
	if errors.Is(err, datadir.ErrLocked) {
		// No HTTP route runs retention: the lock's "send this request over HTTP" does not apply here.
		return fmt.Errorf("%w: a server holds this data dir, and it runs retention itself every hour; stop it to run retention now", datadir.ErrLocked)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.Vault.Profiles().RunRetention(ctx, vault.Access{Caller: retentionCaller, RequestID: "retention-run"})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "holds ended and shredded: %d\n", n)
	m, err := a.Vault.Profiles().ExpireRetained(ctx, vault.Access{Caller: retentionCaller, RequestID: "retention-run"})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "subjects with data past every purpose's retention deleted: %d\n", m)
	return nil
}

// retentionLoop runs the retention job every interval until ctx ends.
func retentionLoop(ctx context.Context, a *app.App, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.Vault.Profiles().RunRetention(ctx, vault.Access{Caller: retentionCaller, RequestID: "retention-periodic"})
			if err != nil {
				a.Config.Logger.Error("retention run failed", "err", err)
			} else if n > 0 {
				a.Config.Logger.Info("retention run", "holds_ended", n)
			}
			m, err := a.Vault.Profiles().ExpireRetained(ctx, vault.Access{Caller: retentionCaller, RequestID: "retention-periodic"})
			if err != nil {
				a.Config.Logger.Error("retention expiry failed", "err", err)
			} else if m > 0 {
				a.Config.Logger.Info("retention expiry", "subjects_changed", m)
			}
		}
	}
}
