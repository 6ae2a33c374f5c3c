package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/policies"
)

// cmdToken prints a JWT signed with the data dir's own key. It reads the key only, so it works beside a
// running server.
func cmdToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr(getenv, "VAULT_DATA_DIR", "data"), "data directory (VAULT_DATA_DIR)")
	var roles rolesFlag
	fs.Var(&roles, "role", "role claim (repeatable)")
	sub := fs.String("sub", "", "subject claim: a staff member's id, or a subject id for role subject")
	team := fs.String("team", "", "optional team claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime (at most 24h)")
	issuer := fs.String("jwt-issuer", envOr(getenv, "VAULT_JWT_ISSUER", "vaultd"), "iss claim (VAULT_JWT_ISSUER)")
	audience := fs.String("jwt-audience", envOr(getenv, "VAULT_JWT_AUDIENCE", "profile-vault"), "aud claim (VAULT_JWT_AUDIENCE)")
	policyDir := fs.String("policy-dir", envOr(getenv, "VAULT_POLICY_DIR", ""), "directory overriding the embedded policy files, whose roles --role must name (VAULT_POLICY_DIR)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(roles) == 0 || *sub == "" {
		return exitError{code: 2, msg: "vaultd token: --role and --sub are required"}
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		return exitError{code: 2, msg: "vaultd token: --ttl must be more than 0 and at most 24h"}
	}
	// A role no policy rule names would mint a token that can do nothing, silently (a typo, or "a,b").
	pol, err := policies.Load(*policyDir)
	if err != nil {
		return exitError{code: 2, msg: "vaultd token: " + err.Error()}
	}
	for _, r := range roles {
		if !slices.Contains(pol.Roles(), r) {
			return exitError{code: 2, msg: fmt.Sprintf("vaultd token: unknown role %q (the policy's roles: %s; repeat --role for several)", r, strings.Join(pol.Roles(), ", "))}
		}
	}
	keyPath := filepath.Join(*dataDir, datadir.JWTKeyFile)
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no signing key at %s: start the server once (vaultd serve or demo) to create the data dir", keyPath)
	}
	signer, _, err := authn.LoadOrCreateSigner(keyPath)
	if err != nil {
		return err
	}
	tok, err := signer.Mint(authn.MintRequest{Subject: *sub, Roles: roles, Team: *team, TTL: *ttl,
		Issuer: *issuer, Audience: *audience, Now: time.Now()})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
