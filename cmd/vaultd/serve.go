package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/dsr"
	"github.com/profilevault/profilevault/internal/importer"
	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs, getenv)
	addr := fs.String("addr", envOr(getenv, "VAULT_ADDR", "127.0.0.1:8080"), "listen address (VAULT_ADDR)")
	subjects := fs.Int("subjects", 2000, "demo: number of synthetic subjects to seed into a new data dir")
	seed := fs.Uint64("seed", 1, "demo: seed of the synthetic data")
	cpuProfile := fs.String("cpuprofile", "", "diagnostics: write a CPU profile of the whole run to this file")
	requestsPerDay := fs.Int("requests-per-day", 20, "data-subject requests one subject may file in 24 hours")
	exportsPerHour := fs.Int("exports-per-hour", 60, "exports one subject may make in an hour; negative for no limit")
	maxExports := fs.Int("max-exports", 4, "exports running at once over all subjects (one per subject at most)")
	bulkDefault, err := envInt(getenv, "VAULT_MAX_BULK_MIB", 64)
	if err != nil {
		return err
	}
	maxBulkMiB := fs.Int("max-bulk-mib", bulkDefault, "largest body of POST /v1/events (bulk ingest), in MiB (VAULT_MAX_BULK_MIB)")
	memProfile := fs.String("memprofile", "", "diagnostics: write a heap profile to this file when the server stops")
	auditKey := fs.String("audit-key-file", envOr(getenv, "VAULT_AUDIT_KEY_FILE", ""), "checkpoint signing key file; default DATA_DIR/audit-checkpoint.key (VAULT_AUDIT_KEY_FILE)")
	idsOut := fs.String("ids-out", "", "demo: write the ids of up to 10,000 active subjects to this file, one per line (for load tests)")
	deadlines := fs.String("request-deadlines", envOr(getenv, "VAULT_REQUEST_DEADLINES", ""),
		`data-subject request deadlines in working days, JSON {"default": 15, "per_type": {"access": 10}} (VAULT_REQUEST_DEADLINES)`)
	calendar := fs.String("holiday-calendar", envOr(getenv, "VAULT_HOLIDAY_CALENDAR", ""),
		"holidays and make-up working days the deadlines count around, JSON as internal/dsr/calendar_prc.json; default PRC (VAULT_HOLIDAY_CALENDAR)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	if cfg.RequestRules, err = requestRules(*deadlines, *calendar); err != nil {
		return err
	}
	if cfg.CommitTimeout, err = envDuration(getenv, "VAULT_COMMIT_TIMEOUT", 5*time.Second); err != nil {
		return err
	}
	if demo && *subjects < 1 {
		return fmt.Errorf("--subjects must be at least 1")
	}
	cfg.AuditKeyFile = *auditKey
	cfg.DemoSignIn = demo // the consoles' demo sign-in page: demo only, never serve
	if *requestsPerDay <= 0 || *exportsPerHour == 0 || *maxExports <= 0 {
		return fmt.Errorf("--requests-per-day and --max-exports must be positive, --exports-per-hour not 0")
	}
	cfg.RequestsPerDay, cfg.ExportsPerHour, cfg.MaxExports = *requestsPerDay, *exportsPerHour, *maxExports
	if *maxBulkMiB <= 0 || *maxBulkMiB > 4096 {
		return fmt.Errorf("--max-bulk-mib must be 1 to 4096")
	}
	cfg.MaxBulkBody = int64(*maxBulkMiB) << 20
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	defer setGC(getenv, serveGCPercent, serveMemoryLimit)()
	// The address first: a bad or busy one must not leave a new data dir behind.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // on every early return; serving closes it too, and a second Close is harmless
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.RequireKeys(); err != nil {
		return err
	}
	if demo {
		if err := runDemo(ctx, a, *subjects, *seed, ln.Addr().String(), stdout, stderr); err != nil {
			return err
		}
		if *idsOut != "" {
			if err := writeSubjectIDs(ctx, a, *idsOut, 10_000); err != nil {
				return err
			}
		}
	}
	if err := serveHTTP(ctx, a, ln, stderr); err != nil {
		return err
	}
	return writeHeapProfile(*memProfile)
}

// requestRules reads the request deadlines and the holiday calendar from their files ("": the defaults).
func requestRules(deadlinesFile, calendarFile string) (vault.RequestRules, error) {
	read := func(path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		return os.ReadFile(path)
	}
	d, err := read(deadlinesFile)
	if err != nil {
		return nil, fmt.Errorf("--request-deadlines: %w", err)
	}
	c, err := read(calendarFile)
	if err != nil {
		return nil, fmt.Errorf("--holiday-calendar: %w", err)
	}
	r, err := dsr.LoadRules(d, c)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// serveHTTP serves until ctx is cancelled (SIGINT/SIGTERM), then drains in-flight requests.
func serveHTTP(ctx context.Context, a *app.App, ln net.Listener, stderr io.Writer) error {
	srv := &http.Server{
		Handler:           a.HTTP,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go resumeRotation(ctx, a)
	go foldedAuthFailuresLoop(ctx, a, 10*time.Second)
	go retentionLoop(ctx, a, time.Hour)
	go tagsLoop(ctx, a, time.Minute)
	fmt.Fprintf(stderr, "vaultd: serving on http://%s (data dir %s)\n", ln.Addr(), a.Dir.Path)
	a.Config.Logger.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "vaultd: shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// writeSubjectIDs writes up to n active subject ids to path, one per line (mode 0600: ids are not personal
// data, but they are the vault's).
func writeSubjectIDs(ctx context.Context, a *app.App, path string, n int) error {
	ids, err := a.DemoSubjects(ctx, n)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(ids, "\n")+"\n"), 0o600)
}

// foldedAuthFailuresLoop records, every interval, the authentication failures a flood had folded.
func foldedAuthFailuresLoop(ctx context.Context, a *app.App, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Vault.FlushAuthFailures(ctx); err != nil {
				a.Config.Logger.Error("recording folded authentication failures failed", "err", err)
			}
		}
	}
}

// resumeRotation finishes a key rotation that a crash or shutdown interrupted.
func resumeRotation(ctx context.Context, a *app.App) {
	res, ok, err := a.ResumeRotation(ctx, nil)
	switch {
	case err != nil:
		a.Config.Logger.Error("resuming the interrupted key rotation failed; POST /v1/keys/rotate resumes it", "err", err)
	case ok:
		a.Config.Logger.Info("resumed an interrupted key rotation", "rotation", res.JobID, "kek_version", res.NewVersion,
			"rewrapped", res.Rewrapped, "retired", res.Retired)
	}
}

// demoRoles are the staff roles that get a ready token, with the purpose their example uses.
var demoRoles = []struct {
	role    policies.Role
	purpose policies.PurposeName
}{
	{policies.RoleDataSteward, policies.PurposeAccountManagement},
	{policies.RoleCustomerService, policies.PurposeCustomerService},
	{policies.RoleMarketing, policies.PurposeMarketing},
	{policies.RoleAnalyst, policies.PurposeAnalytics},
	{policies.RoleComplianceOfficer, policies.PurposeComplianceAudit},
	{policies.RoleAdmin, ""},
	{policies.RoleWitness, ""},
}

// runDemo seeds a new data dir with synthetic subjects (through the enforcement point, so every creation is
// audited) and prints tokens and example curl lines.
func runDemo(ctx context.Context, a *app.App, n int, seed uint64, addr string, stdout, stderr io.Writer) error {
	ids, err := seedDemo(ctx, a, n, seed, stderr)
	if err != nil {
		return err
	}
	total, err := a.CountActiveSubjects(ctx)
	if err != nil {
		return err
	}
	base := "http://" + addr
	fmt.Fprintf(stdout, "\nProfile Vault demo — %d subjects in %s\n\nTokens (valid 12h):\n", total, a.Dir.Path)
	tokens := map[string]string{}
	for _, r := range demoRoles {
		tok, err := a.Mint("demo-"+string(r.role), []string{string(r.role)}, "demo", 12*time.Hour)
		if err != nil {
			return err
		}
		tokens[string(r.role)] = tok
		fmt.Fprintf(stdout, "  export %s=%s\n", envName(string(r.role)), tok)
	}
	if len(ids) == 0 {
		return nil
	}
	id := ids[0]
	// A few demo subjects, each with their own token (role subject: only their own data, via /v1/me).
	for i, sid := range ids[:min(3, len(ids))] {
		tok, err := a.Mint(sid, []string{string(vault.RoleSubject)}, "", 12*time.Hour)
		if err != nil {
			return err
		}
		name := "SUBJECT_TOKEN"
		if i > 0 {
			name += "_" + strconv.Itoa(i+1)
		}
		fmt.Fprintf(stdout, "  export %s=%s   # data subject %s\n", name, tok, sid)
	}
	fmt.Fprintf(stdout, `
Try (subject %[2]s):
  # customer service sees contact details in full for its purpose
  curl -s -H "Authorization: Bearer $CUSTOMER_SERVICE_TOKEN" -H "X-Purpose: customer_service" %[1]s/v1/subjects/%[2]s
  # marketing sees masked contact details and the city only with the subject's consent; never the name
  curl -s -H "Authorization: Bearer $MARKETING_TOKEN" -H "X-Purpose: marketing" "%[1]s/v1/subjects/%[2]s?fields=phone,city,name"
  # the subject's consents (current state and history); withdraw one (effective for the next request)
  curl -s -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" %[1]s/v1/subjects/%[2]s/consents
  curl -s -X DELETE -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" %[1]s/v1/subjects/%[2]s/consents/marketing
  # the subject's marketing tags (five levels, with inputs, consent ids and a plain-language explanation)
  curl -s -H "Authorization: Bearer $MARKETING_TOKEN" -H "X-Purpose: marketing" %[1]s/v1/subjects/%[2]s/tags
  # population insights for analysts: aggregates over subjects consenting to analytics only
  curl -s -H "Authorization: Bearer $ANALYST_TOKEN" -H "X-Purpose: analytics" %[1]s/v1/insights/rfm
  curl -s -H "Authorization: Bearer $ANALYST_TOKEN" -H "X-Purpose: analytics" %[1]s/v1/insights/rules
  # recompute every tag in the background and follow the job
  curl -s -X POST -H "Authorization: Bearer $DATA_STEWARD_TOKEN" %[1]s/v1/tags/compute
  # no purpose declared -> 400 purpose_required
  curl -s -H "Authorization: Bearer $CUSTOMER_SERVICE_TOKEN" %[1]s/v1/subjects/%[2]s
  # the subject's own view, and who accessed their data
  curl -s -H "Authorization: Bearer $SUBJECT_TOKEN" %[1]s/v1/me
  curl -s -H "Authorization: Bearer $SUBJECT_TOKEN" %[1]s/v1/me/access-log
  # an outside witness: the signed checkpoint (and hash tiles), never entries
  curl -s -H "Authorization: Bearer $WITNESS_TOKEN" %[1]s/audit/checkpoint
  # create, look up by phone (the value travels only in the body), correct, erase
  curl -s -X POST -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" -H "Content-Type: application/json" \
       -d '{"fields":{"name":"李雷","phone":"+8613800001234","city":"襄阳"}}' %[1]s/v1/subjects
  curl -s -X POST -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" -H "Content-Type: application/json" \
       -d '{"field":"phone","value":"138 0000 1234"}' %[1]s/v1/subjects/lookup
  curl -s -X DELETE -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" %[1]s/v1/subjects/%[2]s
  # operations
  curl -s %[1]s/readyz; curl -s %[1]s/metrics | head; curl -s %[1]s/openapi.json | head -c 300

`, base, id)
	return nil
}

func envName(role string) string {
	out := []byte(role)
	for i, b := range out {
		if b >= 'a' && b <= 'z' {
			out[i] = b - 'a' + 'A'
		}
	}
	return string(out) + "_TOKEN"
}

// seedDemo imports a synthetic shop of n subjects (internal/synth: profiles from several source systems,
// consents, objections and their events) when the data dir is new, through the importer and so through the
// enforcement point: encrypted, gated and audited like any import. It returns a few subject ids for the
// examples, the first one a subject who consented to marketing.
func seedDemo(ctx context.Context, a *app.App, n int, seed uint64, stderr io.Writer) ([]string, error) {
	if !a.Dir.Created {
		fmt.Fprintln(stderr, "vaultd: data dir already seeded; serving it as it is")
		return a.DemoSubjects(ctx, 3)
	}
	files, err := os.MkdirTemp("", "vaultd-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(files)
	start := time.Now()
	sum, err := synth.Write(synth.Options{Seed: seed, Subjects: n, Now: start}, files, "ndjson")
	if err != nil {
		return nil, fmt.Errorf("generate the synthetic shop: %w", err)
	}
	fmt.Fprintf(stderr, "vaultd: generated a synthetic shop: %d subject records, %d events, %d consents\n", sum.Subjects, sum.Events, sum.Consents)
	stores := map[string]string{}
	for _, st := range synth.Stores() {
		stores[st.ID] = st.City
	}
	im := &importer.Importer{Vault: a.Vault, Steward: vault.Caller{Subject: "vaultd-demo-seeder", Roles: []policies.Role{policies.RoleDataSteward}}, Stores: stores}
	if isTerminal(stderr) {
		im.Progress = stderr
	}
	rep, err := im.Run(ctx, []string{files}) // under serve's GC settings (setGC), which are import's but for the limit
	if err != nil {
		return nil, fmt.Errorf("import the synthetic shop: %w", err)
	}
	fmt.Fprintf(stderr, "vaultd: imported in %s: %d accepted, %d merged, %d rejected (behaviour without consent is refused at collection)\n",
		time.Since(start).Round(time.Millisecond), rep.Accepted, rep.Merged, rep.RejectedTotal())
	fmt.Fprintln(stderr, "vaultd: computing tags (consented data only)")
	if err := computeTags(ctx, a, "", tagrun.DefaultRules(), stderr, stderr); err != nil {
		return nil, fmt.Errorf("compute tags: %w", err)
	}
	ids := exampleSubjects(ctx, a, filepath.Join(files, "consents.ndjson"))
	if len(ids) == 0 {
		return a.DemoSubjects(ctx, 3)
	}
	return ids, nil
}

// exampleSubjects returns up to three subjects for the printed examples: first the earliest subject in the
// consents file with a general marketing consent, then two others.
func exampleSubjects(ctx context.Context, a *app.App, consents string) []string {
	f, err := os.Open(consents)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ids []string
	seen := map[string]bool{}
	r := ingest.NewReader(f, ingest.KindConsents, ingest.FormatNDJSON)
	for row, ok := r.Next(); ok && len(ids) < 3; row, ok = r.Next() {
		if row.Err != nil || row.Consent == nil {
			continue
		}
		c := row.Consent
		if len(ids) == 0 && (c.Purpose != string(policies.PurposeMarketing) || c.Kind != string(consent.General)) {
			continue
		}
		id, err := a.Vault.Ingestion().ResolveSubject(ctx, vault.Access{Caller: vault.Caller{Subject: "vaultd-demo", Roles: []policies.Role{policies.RoleDataSteward}},
			Purpose: policies.PurposeAccountManagement, RequestID: "demo"}, c.SubjectRef)
		if err != nil || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}
