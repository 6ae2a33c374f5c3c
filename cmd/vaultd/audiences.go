package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// audiencesCaller is the identity offline audience builds act under (a marketing role, purpose marketing).
var audiencesCaller = vault.Caller{Subject: "vaultd-audiences", Roles: []policies.Role{policies.RoleMarketing}}

// cmdAudiences runs `vaultd audiences build`: an audience built through the enforcement point, for batch
// use, with a progress bar when stderr is a terminal. It takes the data dir's lock.
func cmdAudiences(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		return exitError{code: 2, msg: "usage: vaultd audiences build --data-dir DIR --rule RULE --channel sms|email|push|wecom|short_video [--holdout 0.1] [--name NAME]"}
	}
	fs := flag.NewFlagSet("audiences build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	rule := fs.String("rule", "", "the audience rule over tags, e.g. \"value.rfm_segment in ['at_risk']\"")
	channel := fs.String("channel", "", "sms, email, push, wecom or short_video")
	holdout := fs.Float64("holdout", 0.1, "holdout share, 0 to 0.5")
	name := fs.String("name", "", "a name for the audience")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *rule == "" || *channel == "" {
		return exitError{code: 2, msg: "vaultd audiences build: --rule and --channel are required"}
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
	total, err := a.CountActiveSubjects(ctx)
	if err != nil {
		return err
	}
	in := vault.AudienceInput{Name: *name, Rule: *rule, Channel: *channel, Holdout: *holdout}
	if draw := terminalProgress(stderr, "audience"); draw != nil {
		in.Progress = func(done int) { draw(done, total) }
		defer fmt.Fprintln(stderr)
	}
	aud, err := a.Vault.Audiences().Build(ctx, vault.Access{Caller: audiencesCaller, Purpose: policies.PurposeMarketing, RequestID: "cli"}, in)
	if err != nil {
		if p := vault.ErrorPosition(err); p != nil {
			return fmt.Errorf("%s (at byte %d of the rule)", vault.ErrorMessage(err), *p)
		}
		return err
	}
	fmt.Fprintf(stdout, "audience: %s\nchannel: %s\nsize: %d\nholdout: %d\n", aud.ID, aud.Channel, aud.Size, aud.HoldoutSize)
	keys := make([]string, 0, len(aud.Excluded))
	for k := range aud.Excluded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "excluded.%s: %d\n", k, aud.Excluded[k])
	}
	return nil
}
