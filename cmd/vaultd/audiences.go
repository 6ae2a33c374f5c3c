package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// audiencesCaller is the identity offline audience builds act under (a marketing role, purpose marketing).
var audiencesCaller = vault.Caller{Subject: "vaultd-audiences", Roles: []policies.Role{policies.RoleMarketing}}

// cmdAudiences runs `vaultd audiences build`: an audience built through the enforcement point, for batch
// use, with a progress bar when stderr is a terminal. It takes the data dir's lock.
func cmdAudiences(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" {
		return cmdAudiencesSimulate(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "build" {
		return exitError{code: 2, msg: "usage: vaultd audiences build --data-dir DIR --rule RULE --channel sms|email|push|wecom|short_video [--holdout 0.1] [--name NAME]\n" +
			"       vaultd audiences simulate --data-dir DIR --audience ID [--tier TIER] [--seed S]"}
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
	in := vault.AudienceInput{Name: *name, Rule: *rule, Channel: *channel, Holdout: *holdout}
	if draw := terminalProgress(stderr, "audience"); draw != nil {
		in.Progress = func(done int) { draw(done, total) }
		defer fmt.Fprintln(stderr)
	}
	aud, _, err := a.Vault.Audiences().Build(ctx, vault.Access{Caller: audiencesCaller, Purpose: policies.PurposeMarketing, RequestID: "cli"}, in)
	if err != nil {
		if p := vault.ErrorPosition(err); p != nil {
			return fmt.Errorf("%s (at character %d of the rule)", vault.ErrorMessage(err), *p)
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

// cmdAudiencesSimulate runs `vaultd audiences simulate`: the synthetic shop's response to a campaign on an
// audience, drawn from the known effect of its tier (synth.CampaignTruth), recorded as outcomes through the
// enforcement point for treated and held-out members alike, then the uplift report next to the truth.
func cmdAudiencesSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audiences simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	id := fs.String("audience", "", "the audience to simulate a campaign on")
	tier := fs.String("tier", "", "the strategy tier whose true effect to draw from (default: the audience's plan tier)")
	seed := fs.Uint64("seed", 1, "seed of the simulated response")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return exitError{code: 2, msg: "vaultd audiences simulate: --audience is required"}
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	cfg.Existing = true // a mistyped --data-dir must not become a new, empty vault
	cfg.Offline = true  // records no policy in force: the servers' is the processing record
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	acc := vault.Access{Caller: audiencesCaller, Purpose: policies.PurposeMarketing, RequestID: "cli"}
	aud, planTier, _, err := a.Vault.Audiences().Audience(ctx, acc, *id)
	if err != nil {
		return err
	}
	if *tier == "" && planTier != nil {
		*tier = planTier.Name
	}
	if *tier != "" {
		var names []string
		for _, t := range a.Vault.Policy().Strategy() {
			names = append(names, t.Name)
		}
		if !slices.Contains(names, *tier) {
			return exitError{code: 2, msg: "vaultd audiences simulate: --tier names no tier of the strategy table (want one of " + strings.Join(names, ", ") + ")"}
		}
	}
	effect := synth.EffectOf(*tier)
	var outcomes []vault.OutcomeUpdate
	add := func(ref string, treated bool) {
		o := synth.Simulate(*seed, effect, ref, treated)
		outcomes = append(outcomes, vault.OutcomeUpdate{Ref: ref, Converted: &o.Converted, OrderValue: &o.OrderValue,
			Retained30: &o.Retained30, Retained60: &o.Retained60, Retained90: &o.Retained90})
	}
	for cursor := ""; ; {
		page, err := a.Vault.Audiences().Members(ctx, acc, aud.ID, cursor, 1000)
		if err != nil {
			return err
		}
		for _, m := range page.Members {
			add(m.Ref, true)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	for cursor := ""; ; {
		refs, next, _, err := a.Vault.Audiences().HoldoutRefs(ctx, acc, aud.ID, cursor, 1000)
		if err != nil {
			return err
		}
		for _, r := range refs {
			add(r, false)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for len(outcomes) > 0 {
		n := min(len(outcomes), 10_000)
		if _, err := a.Vault.Audiences().RecordOutcomes(ctx, acc, aud.ID, outcomes[:n]); err != nil {
			return err
		}
		outcomes = outcomes[n:]
	}
	rep, err := a.Vault.Audiences().Report(ctx, acc, aud.ID)
	if err != nil {
		return err
	}
	tierLine := effect.Tier
	if tierLine == "" {
		tierLine = "none (not a plan tier's audience: the simulated truth is no effect)"
	}
	fmt.Fprintf(stdout, "audience: %s\ntier: %s\ntreated: %d\nholdout: %d\n", aud.ID, tierLine, rep.Treated.Members, rep.Holdout.Members)
	fmt.Fprintf(stdout, "conversion difference: %.4f [%.4f, %.4f] (true %.4f)\n", rep.Conversion.Estimate, rep.Conversion.Lo, rep.Conversion.Hi, effect.ConversionLift)
	fmt.Fprintf(stdout, "retention 90d difference: %.4f [%.4f, %.4f] (true %.4f)\n", rep.Retention[2].Estimate, rep.Retention[2].Lo, rep.Retention[2].Hi,
		effect.BaseRetention*effect.RetentionLiftRel)
	return nil
}
