package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/profilevault/profilevault/policies"
)

// cmdPolicyExplain prints what a role sees for a purpose: per field, read and write, mask and the legal
// basis the purpose needs.
func cmdPolicyExplain(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "role to explain")
	purpose := fs.String("purpose", "", "purpose to explain")
	policyDir := fs.String("policy-dir", envOr(getenv, "VAULT_POLICY_DIR", ""), "directory overriding the embedded policy files (VAULT_POLICY_DIR)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *role == "" || *purpose == "" {
		return exitError{code: 2, msg: "vaultd policy explain: --role and --purpose are required"}
	}
	set, err := policies.Load(*policyDir)
	if err != nil {
		return err
	}
	p, ok := set.Purposes().Purpose(policies.PurposeName(*purpose))
	if !ok {
		return exitError{code: 2, msg: fmt.Sprintf("vaultd policy explain: unknown purpose %q", *purpose)}
	}
	rows, err := set.Explain(*role, policies.PurposeName(*purpose))
	if errors.Is(err, policies.ErrUnknownRole) {
		return exitError{code: 2, msg: fmt.Sprintf("vaultd policy explain: unknown role %q (the policy's roles: %s)", *role, strings.Join(set.Roles(), ", "))}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "role %s, purpose %s (legal basis: %s", *role, *purpose, p.LegalBasis)
	if p.LegalBasis == "consent" {
		fmt.Fprintf(stdout, ", %s consent of the subject, valid at the moment of access", p.ConsentKind)
	}
	fmt.Fprintf(stdout, "; policy %s)\n\n", set.Hash()[:12])
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tCATEGORY\tREAD\tMASK\tWRITE\tNEEDS")
	for _, r := range rows {
		read, mask, write := "no", "-", "no"
		if r.Read {
			read, mask = "yes", r.Mask
		}
		if r.Write {
			write = "yes"
		}
		needs := r.LegalBasis
		if r.LegalBasis == "consent" {
			needs = r.ConsentKind + " consent"
			if r.Sensitive {
				needs = "separate consent (sensitive, PIPL Art. 29)"
			}
		}
		if !r.Read && !r.Write {
			needs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Field, r.Category, read, mask, write, needs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The categories that hold no fields — events (behaviour, transactions, interactions) and tags — are
	// decided as wholes: what the role may do with each.
	cats, err := set.ExplainCategories(*role, policies.PurposeName(*purpose))
	if err != nil {
		return err
	}
	withFields := map[string]bool{}
	for _, r := range rows {
		withFields[r.Category] = true
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CATEGORY	READ	WRITE	PROCESSED FOR THE PURPOSE	NEEDS")
	for _, c := range cats {
		if withFields[c.Category] {
			continue
		}
		yes := map[bool]string{true: "yes", false: "no"}
		needs := "-"
		if c.Read || c.Write {
			needs = p.LegalBasis
			if p.LegalBasis == "consent" {
				needs = p.ConsentKind + " consent"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Category, yes[c.Read], yes[c.Write], yes[c.Processed], needs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// What the role may ask for beyond this baseline (grants.json), through an access request.
	grantable := set.Grantable([]policies.Role{policies.Role(*role)}, p.Name)
	if len(grantable) == 0 {
		_, err = fmt.Fprintf(stdout, "\nmay request: nothing beyond the baseline (grants.json)\n")
		return err
	}
	fmt.Fprintf(stdout, "\nmay request (POST /v1/access-requests, grants.json):\n")
	for _, g := range grantable {
		var what []string
		for _, c := range g.Categories {
			what = append(what, "category "+c)
		}
		for _, f := range g.Fields {
			what = append(what, "field "+f)
		}
		approvers := make([]string, len(g.Approvers))
		for i, a := range g.Approvers {
			approvers[i] = string(a)
		}
		fmt.Fprintf(stdout, "  %s, for at most %s, approved by %s (never the requester)\n", strings.Join(what, ", "), policies.FormatDuration(g.MaxDuration), strings.Join(approvers, " or "))
	}
	return nil
}
