// Package webui serves the web consoles of Profile Vault: the privacy centre for data subjects (/privacy),
// the console for staff (/console), their sign-in and the browser sessions behind them. Pages are
// html/template shells and small scripts embedded in the binary; every piece of personal data they show or
// change is fetched by the browser from the /v1 API, through the vault's enforcement point and its audit
// trail. This package opens no store and renders no personal data: it holds sessions (a verified bearer
// token behind a random cookie) and decides which page a role may open.
package webui

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/policies"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// TokenVerifier checks a bearer token (internal/authn.Verifier implements it).
type TokenVerifier interface {
	Verify(token string) (authn.Principal, error)
}

// Demo is what the demo sign-in page needs; only `vaultd demo` provides it, so `serve` has no such page.
type Demo struct {
	// Mint issues a token (as app.App.Mint).
	Mint func(sub string, roles []string, team string, ttl time.Duration) (string, error)
	// People lists a few demo subjects' ids to sign in as.
	People func(ctx context.Context) ([]string, error)
}

// Config wires the pages.
type Config struct {
	Verifier TokenVerifier
	// Revoked reports a verified token revoked since (POST /v1/tokens/revoke): it opens no session, and a
	// session of it ends at its next page. Nil: none is.
	Revoked func(authn.Principal) bool
	// AuthFailed records a refused sign-in (an auth.failure audit entry, as the API's) and reports whether
	// the client is over its budget of failures (then 429). requestID and clientAddr are what the server in
	// front put in the request's context (WithClient).
	AuthFailed func(ctx context.Context, requestID, clientAddr, reason string) (limited bool)
	// Policy is the policy in force: a console page opens only for roles it allows (what the page's API
	// calls need), so the page and the enforcement point agree.
	Policy   func() *policies.Set
	Sessions *Sessions
	Demo     *Demo // nil except under vaultd demo
}

// UI is the web consoles' http.Handler.
type UI struct {
	cfg   Config
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// consolePage is one page of /console and who may open it. Later pages (request queue, access requests,
// audiences) are added to consolePages with the API permission they rest on.
type consolePage struct {
	Path    string
	Title   string   // phrase key
	Scripts []string // under /ui/, after common.js
	may     func(pol *policies.Set, roles []policies.Role) bool
}

// allows is a page rule: the roles may act on the object for the purpose, as the API will check.
func allows(purpose policies.PurposeName, obj policies.Object, act policies.Act) func(*policies.Set, []policies.Role) bool {
	return func(pol *policies.Set, roles []policies.Role) bool { return pol.Allowed(roles, purpose, obj, act) }
}

var consolePages = []consolePage{
	{Path: "/console/audit", Title: "page.audit", Scripts: []string{"sha256.js", "audit.js"}, may: allows(policies.PurposeComplianceAudit, policies.ResourceAudit, policies.ActRead)},
	{Path: "/console/charts", Title: "page.charts", Scripts: []string{"charts.js"}, may: allows(policies.PurposeComplianceAudit, policies.ResourceAudit, policies.ActRead)},
	{Path: "/console/access", Title: "page.access", Scripts: []string{"access.js"}, may: mayAskOrApprove},
	{Path: "/console/audiences", Title: "page.audiences", Scripts: []string{"audiences.js"}, may: allows(policies.PurposeMarketing, policies.ResourceAudiences, policies.ActWrite)},
	{Path: "/console/requests", Title: "page.requests", Scripts: []string{"requests.js"}, may: allows(policies.PurposeComplianceAudit, policies.ResourceRequests, policies.ActRead)},
	{Path: "/console/incidents", Title: "page.incidents", Scripts: []string{"incidents.js"}, may: allows(policies.PurposeComplianceAudit, policies.ResourceAudit, policies.ActRead)},
	{Path: "/console/policy", Title: "page.policy", Scripts: []string{"policy.js"}, may: allows(policies.NoPurpose, policies.ResourcePolicies, policies.ActRead)},
	{Path: "/console/imports", Title: "page.imports", Scripts: []string{"imports.js"}, may: allows(policies.PurposeAccountManagement, policies.ResourceSubjects, policies.ActCreate)},
	{Path: "/console/identity", Title: "page.identity", Scripts: []string{"identity.js"}, may: allows(policies.PurposeAccountManagement, policies.ResourceSubjects, policies.ActCreate)},
}

// mayAskOrApprove opens the access-request page to roles grants.json lets ask for something or approve.
func mayAskOrApprove(pol *policies.Set, roles []policies.Role) bool {
	for _, g := range pol.Grantables() {
		for _, r := range roles {
			if g.Role == r || slices.Contains(g.Approvers, r) {
				return true
			}
		}
	}
	return false
}

// New builds the handler.
func New(cfg Config) (*UI, error) {
	if cfg.Verifier == nil || cfg.Policy == nil || cfg.Sessions == nil {
		return nil, errors.New("webui: Verifier, Policy and Sessions are required")
	}
	u := &UI{cfg: cfg, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	names := []string{"signin", "demo", "refused", "privacy", "console"}
	for _, p := range consolePages {
		names = append(names, p.template())
	}
	for _, name := range names {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		u.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	u.mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /signin", u.getSignin)
	u.mux.HandleFunc("POST /signin", u.postSignin)
	u.mux.HandleFunc("POST /signout", u.postSignout)
	if cfg.Demo != nil {
		u.mux.HandleFunc("GET /signin/demo", u.getDemo)
		u.mux.HandleFunc("POST /signin/demo", u.postDemo)
	}
	u.mux.HandleFunc("GET /{$}", u.home)
	u.mux.HandleFunc("GET /privacy", u.privacy)
	u.mux.HandleFunc("GET /console", u.console)
	for _, p := range consolePages {
		u.mux.HandleFunc("GET "+p.Path, u.consolePage(p))
	}
	return u, nil
}

// Route is a method and a path (in Gin's syntax) that the UI answers.
type Route struct{ Method, Path string }

// Routes are the routes the UI answers; the HTTP API mounts them on its engine.
func (u *UI) Routes() []Route {
	routes := []Route{{"GET", "/"}, {"GET", "/ui/*file"}, {"GET", "/signin"}, {"POST", "/signin"}, {"POST", "/signout"},
		{"GET", "/privacy"}, {"GET", "/console"}}
	if u.cfg.Demo != nil {
		routes = append(routes, Route{"GET", "/signin/demo"}, Route{"POST", "/signin/demo"})
	}
	for _, p := range consolePages {
		routes = append(routes, Route{"GET", p.Path})
	}
	return routes
}

// ServeHTTP sets the headers every page carries, then serves it.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if l := r.URL.Query().Get("lang"); l != "" && r.Method == http.MethodGet && validLang(l) {
		// The switch: remember the choice and show the same page without the parameter.
		setCookie(w, r, langCookie, l, time.Now().AddDate(1, 0, 0))
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
		return
	}
	u.mux.ServeHTTP(w, r)
}

// view is what every template gets.
type view struct {
	Lang     string
	Other    string // the language the switch offers
	Title    string // phrase key
	T        map[string]string
	CSRF     string
	Roles    []policies.Role
	Pages    []consolePage
	Scripts  []string // the page's scripts under /ui/ (common.js comes first)
	SignedIn bool
	Demo     bool
	Error    string // phrase key
	People   []string
	Staff    []policies.Role
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Lang = language(r)
	v.Other = "zh"
	if v.Lang == "zh" {
		v.Other = "en"
	}
	v.T = texts(v.Lang)
	v.Demo = u.cfg.Demo != nil
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = u.pages[name].Execute(w, v)
}

// signedIn is the request's session, or a redirect to the sign-in page. A session whose token was revoked
// since it opened ends here.
func (u *UI) signedIn(w http.ResponseWriter, r *http.Request) (*session, bool) {
	id, s, ok := u.cfg.Sessions.fromRequest(r)
	if ok && u.revoked(s.principal) {
		u.cfg.Sessions.delete(id)
		ok = false
	}
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil, false
	}
	return s, true
}

func (u *UI) revoked(p authn.Principal) bool { return u.cfg.Revoked != nil && u.cfg.Revoked(p) }

func (u *UI) refuse(w http.ResponseWriter, r *http.Request, s *session) {
	u.render(w, r, http.StatusForbidden, "refused", view{Title: "refused.title", Roles: s.principal.Roles, CSRF: s.csrf, SignedIn: true})
}

// home sends a browser to its place: the privacy centre, the console, or the sign-in page.
func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	s, ok := u.signedIn(w, r)
	if !ok {
		return
	}
	to := "/console"
	if s.hasRole(policies.RoleSubject) {
		to = "/privacy"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (u *UI) privacy(w http.ResponseWriter, r *http.Request) {
	s, ok := u.signedIn(w, r)
	if !ok {
		return
	}
	if !s.hasRole(policies.RoleSubject) {
		u.refuse(w, r, s)
		return
	}
	u.render(w, r, http.StatusOK, "privacy", view{Title: "privacy.title", CSRF: s.csrf, Roles: s.principal.Roles, SignedIn: true, Scripts: []string{"privacy.js"}})
}

// pagesFor lists the console pages the roles may open.
func (u *UI) pagesFor(roles []policies.Role) []consolePage {
	pol := u.cfg.Policy()
	var out []consolePage
	for _, p := range consolePages {
		if p.may(pol, roles) {
			out = append(out, p)
		}
	}
	return out
}

func (u *UI) console(w http.ResponseWriter, r *http.Request) {
	s, ok := u.signedIn(w, r)
	if !ok {
		return
	}
	if s.hasRole(policies.RoleSubject) && len(s.principal.Roles) == 1 {
		u.refuse(w, r, s)
		return
	}
	u.render(w, r, http.StatusOK, "console", view{Title: "console.title", CSRF: s.csrf, Roles: s.principal.Roles, SignedIn: true, Pages: u.pagesFor(s.principal.Roles)})
}

// template is the page's template name: the last element of its path.
func (p consolePage) template() string { return p.Path[len("/console/"):] }

func (u *UI) consolePage(p consolePage) http.HandlerFunc {
	name := p.template()
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := u.signedIn(w, r)
		if !ok {
			return
		}
		if !p.may(u.cfg.Policy(), s.principal.Roles) {
			u.refuse(w, r, s)
			return
		}
		u.render(w, r, http.StatusOK, name, view{Title: p.Title, CSRF: s.csrf, Roles: s.principal.Roles, SignedIn: true,
			Pages: u.pagesFor(s.principal.Roles), Scripts: p.Scripts})
	}
}

// signinToken is the double-submit token of the sign-in forms: the same random value in a cookie and in
// the form, so another site cannot sign this browser in as someone else.
func signinToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := cookie(r, signinCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	t := randomToken()
	setCookie(w, r, signinCookie, t, time.Now().Add(time.Hour))
	return t
}

// signinFormOK checks a sign-in form: posted from this origin, and carrying the double-submit token. The
// origin check is what holds when another site can write this site's cookies (another port of the same
// host, a sibling subdomain): it could set the cookie half of the token, never the browser's Origin.
func signinFormOK(r *http.Request) bool {
	c, err := cookie(r, signinCookie)
	return err == nil && sameOrigin(r) && SameToken(c.Value, r.PostFormValue("csrf"))
}

// sameOrigin reports whether a browser says r comes from a page of this origin: Sec-Fetch-Site
// same-origin (or none: typed, bookmarked), else an Origin naming this host. A request with neither
// header comes from no browser, which no other site can make send it.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (u *UI) getSignin(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "signin", view{Title: "signin.title", CSRF: signinToken(w, r)})
}

// postSignin verifies the pasted token and opens a session for it.
func (u *UI) postSignin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !signinFormOK(r) {
		u.render(w, r, http.StatusForbidden, "refused", view{Title: "csrf.title", Error: "csrf.lead"})
		return
	}
	u.signIn(w, r, r.PostFormValue("token"))
}

func (u *UI) signIn(w http.ResponseWriter, r *http.Request, token string) {
	p, err := u.cfg.Verifier.Verify(token)
	reason := authn.Reason(err)
	if err == nil && u.revoked(p) {
		err, reason = errRevoked, "token_revoked"
	}
	if err != nil {
		// Refused as the API refuses: audited, and within a budget of failures per address.
		requestID, addr := clientOf(r)
		if u.cfg.AuthFailed != nil && u.cfg.AuthFailed(r.Context(), requestID, addr, reason) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many failed sign-ins; try again shortly", http.StatusTooManyRequests)
			return
		}
		u.render(w, r, http.StatusUnauthorized, "signin", view{Title: "signin.title", CSRF: signinToken(w, r), Error: "signin.bad"})
		return
	}
	// Signing in again ends the session this browser had: one browser, one session.
	if old, _, ok := u.cfg.Sessions.fromRequest(r); ok {
		u.cfg.Sessions.delete(old)
	}
	id, s, err := u.cfg.Sessions.create(token, p)
	if err != nil {
		u.render(w, r, http.StatusServiceUnavailable, "signin", view{Title: "signin.title", CSRF: signinToken(w, r), Error: "signin.full"})
		return
	}
	setCookie(w, r, sessionCookie, id, s.principal.ExpiresAt)
	setCookie(w, r, signinCookie, "", time.Time{})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// clientKey keys what the server in front knows of a request (WithClient).
type clientKey struct{}

// client is a request's id and its client's address, as the server in front decided them.
type client struct{ requestID, addr string }

// WithClient returns ctx carrying the request's id and its client's address as the server in front
// decided them (a well-formed X-Request-Id or its own; the address through its trusted proxies): a refused
// sign-in is recorded and budgeted under them, as the API's refusals are — never under a header as sent.
func WithClient(ctx context.Context, requestID, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, client{requestID, addr})
}

// clientOf returns what WithClient put in r's context; without it, no request id and the peer's address.
func clientOf(r *http.Request) (requestID, addr string) {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c.requestID, c.addr
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "", host
}

// errRevoked refuses a sign-in with a token revoked since it was issued.
var errRevoked = errors.New("webui: revoked token")

// postSignout ends the session; the form must carry the session's CSRF token.
func (u *UI) postSignout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id, s, ok := u.cfg.Sessions.fromRequest(r)
	if ok && (!sameOrigin(r) || !SameToken(s.csrf, r.PostFormValue("csrf"))) {
		u.render(w, r, http.StatusForbidden, "refused", view{Title: "csrf.title", Error: "csrf.lead", CSRF: s.csrf, SignedIn: true})
		return
	}
	if ok {
		u.cfg.Sessions.delete(id)
	}
	setCookie(w, r, sessionCookie, "", time.Time{})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// demoStaff are the roles the demo page offers.
var demoStaff = []policies.Role{policies.RoleComplianceOfficer, policies.RoleCustomerService, policies.RoleMarketing, policies.RoleAnalyst, policies.RoleDataSteward, policies.RoleAdmin}

func (u *UI) getDemo(w http.ResponseWriter, r *http.Request) {
	people, err := u.cfg.Demo.People(r.Context())
	if err != nil {
		http.Error(w, "demo people unavailable", http.StatusServiceUnavailable)
		return
	}
	u.render(w, r, http.StatusOK, "demo", view{Title: "demo.title", CSRF: signinToken(w, r), People: people, Staff: demoStaff})
}

// postDemo mints a token for the chosen demo person or staff role and signs in with it.
func (u *UI) postDemo(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !signinFormOK(r) {
		u.render(w, r, http.StatusForbidden, "refused", view{Title: "csrf.title", Error: "csrf.lead"})
		return
	}
	var sub string
	var roles []string
	if person := r.PostFormValue("person"); person != "" {
		people, err := u.cfg.Demo.People(r.Context())
		if err != nil || !slices.Contains(people, person) {
			http.Error(w, "unknown demo person", http.StatusBadRequest)
			return
		}
		sub, roles = person, []string{string(policies.RoleSubject)}
	} else {
		role := policies.Role(r.PostFormValue("role"))
		if !slices.Contains(demoStaff, role) {
			http.Error(w, "unknown demo role", http.StatusBadRequest)
			return
		}
		sub, roles = "demo-"+string(role), []string{string(role)}
	}
	tok, err := u.cfg.Demo.Mint(sub, roles, "demo", 12*time.Hour)
	if err != nil {
		http.Error(w, "could not mint a demo token", http.StatusInternalServerError)
		return
	}
	u.signIn(w, r, tok)
}
