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
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/synth"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := common.config(stderr)
	if err != nil {
		return err
	}
	cfg.CommitTimeout = envDuration(getenv, "VAULT_COMMIT_TIMEOUT", 5*time.Second)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if demo {
		if err := runDemo(ctx, a, *subjects, *seed, ln.Addr().String(), stdout, stderr); err != nil {
			ln.Close()
			return err
		}
	}
	return serveHTTP(ctx, a, ln, stderr)
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
	go retentionLoop(ctx, a, time.Hour)
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

// demoRoles are the staff roles that get a ready token, with the purpose their example uses.
var demoRoles = []struct{ role, purpose string }{
	{"data_steward", "account_management"},
	{"customer_service", "customer_service"},
	{"marketing", "marketing"},
	{"analyst", "analytics"},
	{"compliance_officer", "compliance_audit"},
	{"admin", ""},
}

// runDemo seeds a new data dir with synthetic subjects (through the enforcement point, so every creation is
// audited) and prints tokens and example curl lines.
func runDemo(ctx context.Context, a *app.App, n int, seed uint64, addr string, stdout, stderr io.Writer) error {
	ids, err := seedDemo(ctx, a, n, seed, stderr)
	if err != nil {
		return err
	}
	total, err := a.Store.CountActiveSubjects(ctx)
	if err != nil {
		return err
	}
	base := "http://" + addr
	fmt.Fprintf(stdout, "\nProfile Vault demo — %d subjects in %s\n\nTokens (valid 12h):\n", total, a.Dir.Path)
	tokens := map[string]string{}
	for _, r := range demoRoles {
		tok, err := a.Mint("demo-"+r.role, []string{r.role}, "demo", 12*time.Hour)
		if err != nil {
			return err
		}
		tokens[r.role] = tok
		fmt.Fprintf(stdout, "  export %s=%s\n", envName(r.role), tok)
	}
	if len(ids) == 0 {
		return nil
	}
	id := ids[0]
	subjectToken, err := a.Mint(id, []string{vault.RoleSubject}, "", 12*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  export SUBJECT_TOKEN=%s   # data subject %s (role subject: only their own data, via /v1/me)\n", subjectToken, id)
	fmt.Fprintf(stdout, `
Try (subject %[2]s):
  # customer service sees contact details in full for its purpose
  curl -s -H "Authorization: Bearer $CUSTOMER_SERVICE_TOKEN" -H "X-Purpose: customer_service" %[1]s/v1/subjects/%[2]s
  # marketing sees masked contact details and the city only with the subject's consent; never the name
  curl -s -H "Authorization: Bearer $MARKETING_TOKEN" -H "X-Purpose: marketing" "%[1]s/v1/subjects/%[2]s?fields=phone,city,name"
  # the subject's consents (current state and history); withdraw one (effective for the next request)
  curl -s -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" %[1]s/v1/subjects/%[2]s/consents
  curl -s -X DELETE -H "Authorization: Bearer $DATA_STEWARD_TOKEN" -H "X-Purpose: account_management" %[1]s/v1/subjects/%[2]s/consents/marketing
  # no purpose declared -> 400 purpose_required
  curl -s -H "Authorization: Bearer $CUSTOMER_SERVICE_TOKEN" %[1]s/v1/subjects/%[2]s
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

// seedConsents records a realistic, deterministic consent mix for demo subject i: about 70 % consent to
// marketing and 50 % to personalization, given by a guardian for subjects under 14.
func seedConsents(ctx context.Context, a *app.App, access vault.Access, id string, i int, birthDate string) error {
	kind := consent.General
	if b, err := time.Parse(time.DateOnly, birthDate); err == nil && consent.IsMinor(b, time.Now()) {
		kind = consent.Guardian
	}
	for _, c := range []struct {
		purpose string
		share   int // out of 10
	}{{"marketing", 7}, {"personalization", 5}} {
		if (i*7+len(c.purpose))%10 >= c.share {
			continue
		}
		g := consent.Grant{Purpose: c.purpose, Kind: kind, NoticeVersion: "2026-01", Method: "app_checkbox", Evidence: "demo seed"}
		if _, _, err := a.Vault.GrantConsent(ctx, access, id, g); err != nil {
			return err
		}
	}
	return nil
}

// seedDemo creates n synthetic subjects when the data dir is new, with 16 concurrent writers so their
// audit entries share group commits. It returns the ids of a few subjects for the examples.
func seedDemo(ctx context.Context, a *app.App, n int, seed uint64, stderr io.Writer) ([]string, error) {
	if !a.Dir.Created {
		fmt.Fprintln(stderr, "vaultd: data dir already seeded; serving it as it is")
		return a.DemoSubjects(ctx, 3)
	}
	profiles := synth.Profiles(seed, n, time.Now())
	access := vault.Access{
		Caller:    vault.Caller{Subject: "vaultd-demo-seeder", Roles: []string{"data_steward"}},
		Purpose:   "account_management",
		RequestID: "demo-seed",
	}
	ids := make([]string, len(profiles))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(profiles) {
					return
				}
				p := profiles[i]
				fields := make(map[string]*string, len(p.Fields))
				for k, v := range p.Fields {
					fields[k] = &v
				}
				c, err := a.Vault.Create(ctx, access, vault.NewSubject{ExternalID: p.ExternalID, Source: p.Source, Fields: fields})
				if err != nil {
					errs <- fmt.Errorf("seed subject %d: %w", i, err)
					return
				}
				ids[i] = c.ID
				if err := seedConsents(ctx, a, access, c.ID, i, p.Fields["birth_date"]); err != nil {
					errs <- fmt.Errorf("seed consents of subject %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "vaultd: seeded %d synthetic subjects in %s\n", len(ids), time.Since(start).Round(time.Millisecond))
	if len(ids) > 3 {
		// Subject 1 consented to marketing and subject 0 did not (seedConsents): show both.
		ids = []string{ids[1], ids[0], ids[2]}
	}
	return ids, nil
}
