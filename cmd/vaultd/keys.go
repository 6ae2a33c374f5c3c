package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/vault"
)

// cmdKeysRotate rotates the KEK offline. It takes the data dir's lock, so it refuses while a server runs
// (use POST /v1/keys/rotate then).
func cmdKeysRotate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Vault.RotateKeys(ctx, vault.Access{
		Caller:    vault.Caller{Subject: "vaultd-cli", Roles: []string{"admin"}},
		RequestID: "cli-keys-rotate",
	}, a.Crypto)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new KEK version: %d\nDEKs rewrapped: %d\nKEK versions retired: %v\naudit seq: %d\n",
		res.NewVersion, res.Rewrapped, res.Retired, res.AuditSeq)
	return nil
}
