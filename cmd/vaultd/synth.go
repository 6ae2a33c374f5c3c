package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/synth"
)

// synthAsOf is the default reference date of the synthetic shop, fixed so that a seed always gives the same
// files.
const synthAsOf = "2026-11-01"

// cmdSynth writes the deterministic synthetic shop as files for `vaultd import` and benchmarks.
func cmdSynth(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subjects := fs.Int("subjects", 2000, "number of subjects")
	out := fs.String("out", "", "output directory (created)")
	seed := fs.Uint64("seed", 1, "seed")
	format := fs.String("format", "ndjson", "ndjson or csv")
	asOf := fs.String("as-of", synthAsOf, "reference date (YYYY-MM-DD): events span the --months before it")
	months := fs.Int("months", 24, "length of the observation window in months (fewer months, fewer events per subject)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *months > maxSynthMonths {
		return exitError{code: 2, msg: fmt.Sprintf("vaultd synth: --months must be 1 to %d", maxSynthMonths)}
	}
	if *out == "" || *subjects < 1 || *months < 1 || (*format != "ndjson" && *format != "csv") {
		return exitError{code: 2, msg: "usage: vaultd synth --subjects N --out DIR [--seed S] [--format ndjson|csv] [--as-of YYYY-MM-DD] [--months M]"}
	}
	now, err := time.Parse(time.DateOnly, *asOf)
	if err != nil {
		return exitError{code: 2, msg: "vaultd synth: --as-of must be YYYY-MM-DD"}
	}
	start := time.Now()
	sum, err := synth.Write(synth.Options{Seed: *seed, Subjects: *subjects, Now: now, Start: now.AddDate(0, -*months, 0)}, *out, *format)
	if err != nil {
		return err
	}
	// The POS store table, which `vaultd import` picks up from the same directory to impute cities.
	stores := map[string]string{}
	for _, st := range synth.Stores() {
		stores[st.ID] = st.City
	}
	raw, err := json.MarshalIndent(stores, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, importer.StoresFile), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	// The true effect of a simulated campaign per strategy tier (vaultd audiences simulate draws from it).
	truth, err := json.MarshalIndent(synth.CampaignTruth(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "campaign_truth.json"), append(truth, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "subjects: %d\nevents: %d\nconsents: %d\nobjections: %d\nduration: %s\nout: %s\n",
		sum.Subjects, sum.Events, sum.Consents, sum.Objections, time.Since(start).Round(time.Millisecond), *out)
	return nil
}

// maxSynthMonths bounds the synthetic shop's observation window (50 years; customer histories of the
// model's kind are far shorter, and timestamps must stay in years 0001–9999).
const maxSynthMonths = 600
