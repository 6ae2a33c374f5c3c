package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// tagsDEKCache is the default number of unwrapped data keys `vaultd tags compute` keeps (--dek-cache): a
// full run uses each subject's keys while it reads the subject, and again only in its second pass, after
// every other subject's; a large cache only holds keys that will not be used before they are evicted.
const tagsDEKCache = 4096

// tagsCaller is the identity offline tag runs act under.
var tagsCaller = vault.Caller{Subject: "vaultd-tags", Roles: []policies.Role{policies.RoleDataSteward}}

// offlineRunner is the app's tag runner acting as tagsCaller (a copy: it shares the frozen-model cache).
func offlineRunner(a *app.App) tagrun.Runner {
	r := *a.Tags
	r.Caller = tagsCaller
	return r
}

// cmdTags runs `vaultd tags compute`: a full run (population models, then every subject's tags), or with
// --subject ID one subject's tags with the frozen models. It takes the data dir's lock.
func cmdTags(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "compute" {
		return exitError{code: 2, msg: "usage: vaultd tags compute --data-dir DIR [--subject ID]"}
	}
	fs := flag.NewFlagSet("tags compute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	one := fs.String("subject", "", "recompute only this subject, with the frozen population models")
	cpuProfile := fs.String("cpuprofile", "", "diagnostics: write a CPU profile of the computation to this file")
	memProfile := fs.String("memprofile", "", "diagnostics: write a heap profile (what the computation allocated, and still holds) to this file")
	changed := fs.Bool("changed", false, "recompute only subjects whose data or consent changed, with the frozen population models")
	var ro tagrun.RulesOptions
	fs.Float64Var(&ro.MinSupport, "rules-min-support", 0, "association rules: least share of baskets holding an itemset (default 0.01)")
	fs.Float64Var(&ro.MinConfidence, "rules-min-confidence", 0, "association rules: least confidence of a rule (default 0.1)")
	fs.IntVar(&ro.MaxLen, "rules-max-len", 0, "association rules: most items in a rule, 1 to 10 (default 3)")
	fs.Float64Var(&ro.MinLift, "rules-min-lift", tagrun.DefaultRules().MinLift, "association rules: least lift of a rule; 0 for every rule")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if _, err := ro.Normalize(); err != nil {
		return exitError{code: 2, msg: "vaultd tags compute: " + err.Error()}
	}
	// 0 means "the default" only when the flag is left out: given, it is refused, as the API refuses it.
	if flagSet(fs, "rules-max-len") && ro.MaxLen == 0 || flagSet(fs, "rules-min-support") && ro.MinSupport == 0 {
		return exitError{code: 2, msg: "vaultd tags compute: --rules-max-len must be 1 to 10 and --rules-min-support above 0 (leave them out for the defaults)"}
	}
	if *changed && *one != "" {
		return exitError{code: 2, msg: "vaultd tags compute: --changed and --subject exclude each other"}
	}
	if !flagSet(fs, "dek-cache") && getenv("VAULT_DEK_CACHE") == "" {
		common.dekCache = tagsDEKCache
	}
	defer setGC(getenv, tagsGCPercent, tagsMemoryLimit)()
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	// A full run reads nearly every page of the database once: mapped, they would stay in the process's
	// resident set (file-backed, 450-650 MB on the 100,000-subject shop, on top of the heap).
	cfg.ScanReads = true
	cfg.BulkWrites = true // about 780,000 tag rows for the 100,000-subject shop
	cfg.Existing = true   // a mistyped --data-dir must not become a new, empty vault
	cfg.Offline = true    // records no policy in force: the servers' is the processing record
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
	if *changed {
		r := offlineRunner(a)
		start := time.Now()
		n, err := r.Incremental(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "recomputed: %d\nduration: %s\n", n, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := computeTags(ctx, a, *one, ro, stdout, stderr); err != nil {
		return err
	}
	return writeHeapProfile(*memProfile)
}

// tagsLoop recomputes, every interval, the tags of subjects whose data or consent changed (once a full run
// has frozen the population models) until ctx ends.
func tagsLoop(ctx context.Context, a *app.App, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	r := offlineRunner(a)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := r.Incremental(ctx); err != nil && !errors.Is(err, tagrun.ErrNoModel) {
				a.Config.Logger.Error("incremental tag recomputation failed", "err", err)
			} else if n > 0 {
				a.Config.Logger.Info("tags recomputed", "subjects", n)
			}
		}
	}
}

// computeTags runs the tag engine, with a progress bar when stderr is a terminal.
func computeTags(ctx context.Context, a *app.App, one string, ro tagrun.RulesOptions, stdout, stderr io.Writer) error {
	r := offlineRunner(a)
	r.Rules = ro
	start := time.Now()
	if one != "" {
		released, err := r.One(ctx, one)
		if err != nil {
			return err
		}
		if !released {
			// Not an error: a subject without a legal basis for any tag purpose has its tags removed.
			fmt.Fprintf(stdout, "nothing released in %s: no active subject by that id, or none of its data may feed a tag purpose now (any tags it had are removed)\n",
				time.Since(start).Round(time.Microsecond))
			return nil
		}
		fmt.Fprintf(stdout, "subject recomputed in %s\n", time.Since(start).Round(time.Microsecond))
		return nil
	}
	r.Progress = terminalProgress(stderr, "tags")
	sum, err := r.Full(ctx)
	if r.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "subjects: %d\nfitted_on: %d\n", sum.Subjects, sum.FittedOn)
	for _, p := range a.Vault.Tags().TagPurposes() {
		fmt.Fprintf(stdout, "tagged.%s: %d\n", p, sum.TaggedByPurp[p])
	}
	fmt.Fprintf(stdout, "duration: %s (release %s, fit %s, store %s)\n", time.Since(start).Round(time.Millisecond),
		sum.Release.Round(time.Millisecond), sum.Fit.Round(time.Millisecond), sum.Store.Round(time.Millisecond))
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isTerminal reports whether w is a terminal (progress is drawn only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// terminalProgress returns a progress callback drawing a bar labelled label on w, or nil when w is not a
// terminal.
func terminalProgress(w io.Writer, label string) func(done, total int) {
	if !isTerminal(w) {
		return nil
	}
	return func(done, total int) { progressBar(w, label, done, total) }
}

// progressBar redraws a one-line bar.
func progressBar(w io.Writer, label string, done, total int) {
	if total <= 0 {
		return
	}
	const width = 30
	n := done * width / total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '-'
		if i < n {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(w, "\r%s [%s] %d/%d", label, bar, done, total)
}
