package webui_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/apptest"
)

// client is a browser without JavaScript: it keeps the cookies it is given and never follows redirects.
type client struct {
	t       *testing.T
	base    string
	host    string // Host header to send ("" → the server's)
	cookies map[string]*http.Cookie
}

func newClient(t *testing.T, s *apptest.Stack) *client {
	return &client{t: t, base: s.Server.URL, cookies: map[string]*http.Cookie{}}
}

type page struct {
	status int
	header http.Header
	body   string
	set    map[string]*http.Cookie
}

func (c *client) do(method, path string, form url.Values, headers map[string]string) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(b), set: map[string]*http.Cookie{}}
	for _, ck := range resp.Cookies() {
		p.set[ck.Name] = ck
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return p
}

// signIn posts token through the sign-in form, with the form's own double-submit token.
func (c *client) signIn(token string) page {
	c.t.Helper()
	c.do("GET", "/signin", nil, nil)
	return c.do("POST", "/signin", url.Values{"csrf": {c.cookie("pv_signin").Value}, "token": {token}}, nil)
}

// cookie is the client's cookie of a base name, __Host- prefixed or not.
func (c *client) cookie(base string) *http.Cookie {
	if ck := c.cookies["__Host-"+base]; ck != nil {
		return ck
	}
	if ck := c.cookies[base]; ck != nil {
		return ck
	}
	return &http.Cookie{}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	s := apptest.Start(t)
	c := newClient(t, s)
	if p := c.signIn(s.Token("co", "compliance_officer")); p.status != 303 || p.header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d %s", p.status, p.header.Get("Location"))
	}
	for _, path := range []string{"/signin", "/console", "/console/audit", "/ui/app.css", "/ui/audit.js"} {
		p := c.do("GET", path, nil, nil)
		if p.status != 200 {
			t.Fatalf("GET %s: %d", path, p.status)
		}
		csp := p.header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
			t.Errorf("%s: CSP allows inline code or another origin: %q", path, csp)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" || p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, p.header)
		}
		if strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".css") {
			continue
		}
		// No inline script or style: the CSP would block it, so the page must not need it.
		for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(p.body, bad) {
				t.Errorf("%s holds inline code %q", path, bad)
			}
		}
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	s := apptest.Start(t)
	tok := s.Token("co", "compliance_officer")
	loop := newClient(t, s)
	ck := loop.signIn(tok).set["pv_session"]
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure || len(ck.Value) < 40 {
		t.Fatalf("loopback session cookie: %+v", ck)
	}
	if strings.Contains(ck.Value, tok[:20]) {
		t.Fatal("the cookie must not carry the token")
	}
	// Reached under another host name (behind a proxy), the cookie is Secure and __Host- named (no other
	// origin may set it); so it is on loopback behind a TLS proxy that says so.
	remote := newClient(t, s)
	remote.host = "vault.example.cn"
	if ck := remote.signIn(tok).set["__Host-pv_session"]; ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("non-loopback session cookie: %+v", ck)
	}
	if p := remote.do("GET", "/console", nil, nil); p.status != 200 {
		t.Fatalf("the console under the __Host- cookie: %d", p.status)
	}
	proxied := newClient(t, s)
	proxied.do("GET", "/signin", nil, map[string]string{"X-Forwarded-Proto": "https"})
	p := proxied.do("POST", "/signin", url.Values{"csrf": {proxied.cookie("pv_signin").Value}, "token": {tok}}, map[string]string{"X-Forwarded-Proto": "https"})
	if ck := p.set["__Host-pv_session"]; ck == nil || !ck.Secure {
		t.Fatalf("loopback behind a TLS proxy: %+v", p.set)
	}
}

// Sign-in is refused from another origin even when that origin could write this site's cookies (another
// port of the host: cookies are not per port), a cookie planted twice signs no one in, signing in again
// ends the browser's earlier session, and one identity holds a bounded number of sessions.
func TestSignInCannotBeForged(t *testing.T) {
	s := apptest.Start(t)
	tok := s.Token("co", "compliance_officer")
	form := func(c *client) url.Values {
		c.do("GET", "/signin", nil, nil)
		return url.Values{"csrf": {c.cookie("pv_signin").Value}, "token": {tok}}
	}
	for _, h := range []map[string]string{{"Origin": "http://127.0.0.1:18999"}, {"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"}} {
		c := newClient(t, s)
		if p := c.do("POST", "/signin", form(c), h); p.status != 403 || p.set["pv_session"] != nil {
			t.Fatalf("sign-in with %v: %d", h, p.status)
		}
	}
	c := newClient(t, s)
	if p := c.do("POST", "/signin", form(c), map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.Server.URL}); p.status != 303 {
		t.Fatalf("a same-origin sign-in: %d", p.status)
	}
	mine := c.cookies["pv_session"]
	// A second session cookie planted on a narrower path: the browser sends both, and neither counts.
	planted := newClient(t, s)
	planted.signIn(s.Token("attacker", "compliance_officer"))
	req, _ := http.NewRequest("GET", s.Server.URL+"/console", nil)
	req.AddCookie(planted.cookies["pv_session"])
	req.AddCookie(mine)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 {
		t.Fatalf("two session cookies: %d, want a redirect to sign in", resp.StatusCode)
	}
	// Signing in again in the same browser ends the earlier session.
	old := c.cookies["pv_session"]
	c.signIn(s.Token("co2", "compliance_officer"))
	stale := newClient(t, s)
	stale.cookies["pv_session"] = old
	if p := stale.do("GET", "/console", nil, nil); p.status != 303 {
		t.Fatalf("the session before a second sign-in still works: %d", p.status)
	}
	// One identity, many sign-ins: its oldest sessions end, the table does not fill.
	before := s.App.Sessions.Len()
	for range 20 {
		newClient(t, s).signIn(tok)
	}
	if n := s.App.Sessions.Len() - before; n > 8 {
		t.Fatalf("one identity holds %d new sessions", n)
	}
}

// A refused sign-in is audited (auth.failure), as the API's refusals are; a revoked token opens no session,
// and a session of a token revoked since ends at its next page.
func TestSignInRefusalsAreAuditedAndRevocationHolds(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("co", "compliance_officer")
	c := newClient(t, s)
	if p := c.signIn("not.a.token"); p.status != 401 {
		t.Fatalf("bad token: %d", p.status)
	}
	r := s.Do("GET", "/v1/audit/events?action=auth.failure", co, "compliance_audit", nil)
	if r.Status != 200 || len(r.JSON["events"].([]any)) == 0 {
		t.Fatalf("a refused sign-in left no auth.failure entry: %d %s", r.Status, r.Body)
	}
	leaver := s.Token("leaver", "data_steward")
	in := newClient(t, s)
	if p := in.signIn(leaver); p.status != 303 {
		t.Fatalf("sign-in: %d", p.status)
	}
	if r := s.Do("POST", "/v1/tokens/revoke", s.Token("root", "admin"), "", map[string]any{"sub": "leaver"}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if p := in.do("GET", "/console", nil, nil); p.status != 303 || p.header.Get("Location") != "/signin" {
		t.Fatalf("a session of a revoked token: %d", p.status)
	}
	if p := newClient(t, s).signIn(leaver); p.status != 401 {
		t.Fatalf("sign-in with a revoked token: %d", p.status)
	}
}

func TestSignInRefusals(t *testing.T) {
	s := apptest.Start(t)
	c := newClient(t, s)
	if p := c.signIn("not.a.token"); p.status != 401 || p.set["pv_session"] != nil || !strings.Contains(p.body, "not accepted") {
		t.Fatalf("bad token: %d %v", p.status, p.set)
	}
	// Without the form's double-submit token another site could sign this browser in: refused.
	fresh := newClient(t, s)
	if p := fresh.do("POST", "/signin", url.Values{"token": {s.Token("co", "compliance_officer")}}, nil); p.status != 403 || p.set["pv_session"] != nil {
		t.Fatalf("sign-in without the form token: %d", p.status)
	}
	if p := fresh.do("GET", "/privacy", nil, nil); p.status != 303 || p.header.Get("Location") != "/signin" {
		t.Fatalf("signed out /privacy: %d %s", p.status, p.header.Get("Location"))
	}
}

func TestPagesByRole(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王小明", "phone": "+8613700001111", "city": "苏州", "birth_date": "1991-07-07"})
	subj := newClient(t, s)
	if p := subj.signIn(s.Token(id, "subject")); p.status != 303 {
		t.Fatalf("subject sign-in: %d", p.status)
	}
	if p := subj.do("GET", "/", nil, nil); p.header.Get("Location") != "/privacy" {
		t.Fatalf("a subject's home: %s", p.header.Get("Location"))
	}
	p := subj.do("GET", "/privacy", nil, nil)
	if p.status != 200 {
		t.Fatalf("subject /privacy: %d", p.status)
	}
	// The page is a shell: the data comes from /v1 in the browser, so no value is in the HTML, the title or
	// a URL.
	for _, v := range []string{"王小明", "13700001111", "苏州", id} {
		if strings.Contains(p.body, v) {
			t.Errorf("/privacy HTML holds %q", v)
		}
	}
	for _, path := range []string{"/console", "/console/audit"} {
		if p := subj.do("GET", path, nil, nil); p.status != 403 {
			t.Errorf("subject GET %s: %d, want 403", path, p.status)
		}
	}
	staff := newClient(t, s)
	staff.signIn(s.Token("cs", "customer_service"))
	if p := staff.do("GET", "/privacy", nil, nil); p.status != 403 {
		t.Errorf("staff GET /privacy: %d, want 403", p.status)
	}
	if p := staff.do("GET", "/console/audit", nil, nil); p.status != 403 || !strings.Contains(p.body, "customer_service") {
		t.Errorf("customer_service GET /console/audit: %d", p.status)
	}
	if p := staff.do("GET", "/console", nil, nil); p.status != 200 || strings.Contains(p.body, `href="/console/audit"`) {
		t.Errorf("customer_service console must not offer the audit browser: %d", p.status)
	}
	w := newClient(t, s)
	w.signIn(s.Token("w", "witness"))
	if p := w.do("GET", "/console", nil, nil); p.status != 200 || !strings.Contains(p.body, `id="no-pages"`) {
		t.Errorf("a witness's console offers no page: %d", p.status)
	}
}

// The /v1 API accepts the session cookie: reads as they are, changes only with X-CSRF-Token; a refused
// change is audited like any failed authentication.
func TestAPIWithSessionCookie(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "赵敏", "city": "南京", "birth_date": "1990-02-02"})
	c := newClient(t, s)
	c.signIn(s.Token(id, "subject"))
	if p := c.do("GET", "/v1/me", nil, nil); p.status != 200 || !strings.Contains(p.body, "南京") || p.header.Get("X-Audit-Seq") == "" {
		t.Fatalf("GET /v1/me with the cookie: %d %s", p.status, p.body)
	}
	patch := func(headers map[string]string) page {
		req, _ := http.NewRequest("PATCH", c.base+"/v1/me", strings.NewReader(`{"fields":{"city":"上海"}}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		for _, ck := range c.cookies {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	if p := patch(nil); p.status != 401 || p.header.Get("X-Audit-Seq") == "" || !strings.Contains(p.body, "X-CSRF-Token") {
		t.Fatalf("PATCH with the cookie and no CSRF token: %d %s", p.status, p.body)
	}
	csrf := csrfOf(t, c.do("GET", "/privacy", nil, nil).body)
	if p := patch(map[string]string{"X-CSRF-Token": csrf}); p.status != 200 {
		t.Fatalf("PATCH with the CSRF token: %d %s", p.status, p.body)
	}
	// With the cookie the body must say it is JSON (a cross-site form cannot); with a bearer token it is
	// JSON whatever it says (curl -d).
	if p := patch(map[string]string{"X-CSRF-Token": csrf, "Content-Type": "text/plain"}); p.status != 400 || !strings.Contains(p.body, "Content-Type") {
		t.Fatalf("PATCH with the cookie as text/plain: %d %s", p.status, p.body)
	}
	req, _ := http.NewRequest("PATCH", c.base+"/v1/me", strings.NewReader(`{"fields":{"city":"苏州"}}`))
	req.Header.Set("Authorization", "Bearer "+s.Token(id, "subject"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PATCH with a bearer token as a form: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// A bearer header is not mixed with the cookie: it is checked alone.
	if p := patch(map[string]string{"Authorization": "Bearer bad", "X-CSRF-Token": csrf}); p.status != 401 {
		t.Fatalf("a bad bearer header with a good cookie: %d", p.status)
	}
}

func csrfOf(t *testing.T, html string) string {
	t.Helper()
	const marker = `<meta name="pv-csrf" content="`
	i := strings.Index(html, marker)
	if i < 0 {
		t.Fatal("no CSRF meta in the page")
	}
	rest := html[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestLanguage(t *testing.T) {
	s := apptest.Start(t)
	c := newClient(t, s)
	if p := c.do("GET", "/signin", nil, map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"}); !strings.Contains(p.body, `<html lang="zh">`) || !strings.Contains(p.body, "登录") {
		t.Fatalf("Accept-Language zh: %s", p.body[:200])
	}
	p := c.do("GET", "/signin?lang=en", nil, map[string]string{"Accept-Language": "zh-CN"})
	if p.status != 303 || p.header.Get("Location") != "/signin" || p.set["pv_lang"] == nil {
		t.Fatalf("the switch: %d %s", p.status, p.header.Get("Location"))
	}
	if p := c.do("GET", "/signin", nil, map[string]string{"Accept-Language": "zh-CN"}); !strings.Contains(p.body, `<html lang="en">`) {
		t.Fatal("the switch's choice must win over Accept-Language")
	}
}
