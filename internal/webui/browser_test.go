package webui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// The end-to-end tests of the consoles drive headless Chromium against the real server on loopback. They
// skip loudly when no browser is installed, except in CI (CI=true), where a missing browser fails them.

// browserPath finds Chromium: $CHROME_PATH, then the usual names.
func browserPath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a fresh headless browser (its own profile, so no cookie is shared between tests).
func browser(t testing.TB) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium found and CI=true: the browser tests must run in CI (apt-get install chromium)")
		}
		t.Skip("SKIPPING BROWSER TESTS: no Chromium found (install the Debian package chromium or set CHROME_PATH)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// screenshots is where the tests write a PNG of each page: $VAULT_SCREENSHOTS, or the test's artefact
// directory (kept with go test -artifacts). The directory is named in the log.
func screenshots(t testing.TB) string {
	dir := os.Getenv("VAULT_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func shot(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, t) // 100: PNG
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// signIn pastes token into the sign-in page.
func signIn(base, token string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)), // signed in, landed
	)
}

// text reads an element's text, waiting for it.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func grantMarketing(t *testing.T, s *apptest.Stack, id string) {
	t.Helper()
	r := s.Do("POST", "/v1/subjects/"+id+"/consents", s.Token("st", "data_steward"), "account_management",
		map[string]any{"purpose": "marketing", "notice_version": "2026-01", "method": "app_checkbox", "kind": "general"})
	if r.Status != 201 {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
}

func withheld(r apptest.Response, field string) string {
	w, _ := r.JSON["withheld"].([]any)
	for _, x := range w {
		if m := x.(map[string]any); m["field"] == field {
			s, _ := m["reason"].(string)
			return s
		}
	}
	return ""
}

// A subject whose data an incident concerns sees its notice in the privacy centre once the compliance
// officer has notified it (PIPL Art. 57) — what happened, never who the actor was.
func TestBrowserPrivacyCentreShowsIncidentNotices(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "city": "杭州"})
	start := time.Now().Add(-time.Minute).UTC()
	if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", s.Token("cs-rogue", "customer_service"), "customer_service", nil); r.Status != 200 {
		t.Fatalf("read: %d", r.Status)
	}
	co := s.Token("co", "compliance_officer")
	summary := "A service account was misused to view names; it was locked. Contact dpo@example-shop.cn."
	inc := s.Do("POST", "/v1/incidents", co, "compliance_audit", map[string]any{"title": "Misused service account", "detected_at": time.Now().UTC(),
		"since": start, "actor": "cs-rogue", "summary": summary})
	if inc.Status != 201 {
		t.Fatalf("incident: %d %s", inc.Status, inc.Body)
	}
	if r := s.Do("POST", "/v1/incidents/"+inc.JSON["id"].(string)+"/notify", co, "compliance_audit", nil); r.Status != 200 {
		t.Fatalf("notify: %d %s", r.Status, r.Body)
	}
	ctx := browser(t)
	if err := chromedp.Do(ctx, signIn(s.Server.URL, s.Token(id, "subject")), chromedp.WaitVisible(chromedp.CSS(`#notices li[data-incident]`)),
		shot(screenshots(t), "privacy-notices")); err != nil {
		t.Fatalf("privacy centre: %v", err)
	}
	got := text(ctx, t, `#notices li[data-incident]`)
	if !strings.Contains(got, summary) || !strings.Contains(got, "Misused service account") || strings.Contains(got, "cs-rogue") {
		t.Fatalf("the notice as shown: %q", got)
	}
}

// Tests 1 and 2 of the issue: a subject withdraws marketing consent in the privacy centre, the next
// marketing read withholds the phone; a compliance officer finds that read in the audit browser and the
// page checks its inclusion proof.
func TestBrowserConsentWithdrawalAndAuditProof(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 200 * time.Millisecond })
	dir := screenshots(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613912345678", "city": "杭州", "birth_date": "1990-05-01"})
	grantMarketing(t, s, id)
	mk := s.Token("mk", "marketing")
	read := func() apptest.Response {
		return s.Do("GET", "/v1/subjects/"+id+"?fields=phone,city", mk, "marketing", nil)
	}
	if r := read(); r.Status != 200 || r.JSON["fields"].(map[string]any)["phone"] == nil {
		t.Fatalf("before: marketing should see the masked phone: %d %s", r.Status, r.Body)
	}

	ctx := browser(t)
	base := s.Server.URL
	err := chromedp.Do(ctx,
		signIn(base, s.Token(id, "subject")),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="marketing"] button.withdraw`)),
		shot(dir, "privacy"),
	)
	if err != nil {
		t.Fatalf("privacy centre: %v", err)
	}
	phone := text(ctx, t, `#profile tr[data-field="phone"] td`)
	notice, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#notice-body")))
	if err != nil || !strings.Contains(notice, "dpo@") || !strings.Contains(notice, "15 working days") {
		t.Fatalf("the privacy centre's notice section: %q %v", notice, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`article[data-purpose="marketing"] button.withdraw`)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="marketing"] button.grant`)),
	)
	if err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	state := text(ctx, t, `article[data-purpose="marketing"] .consent-state`)
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('article[data-purpose="marketing"] button.channel').length`)); err != nil || n != 0 {
		t.Fatalf("a withdrawn consent offers no channel buttons: %d %v", n, err)
	}
	if phone != "+8613912345678" || state != "withdrawn" {
		t.Fatalf("privacy centre showed phone %q, consent %q", phone, state)
	}
	after := read()
	if got := withheld(after, "phone"); after.Status != 200 || got != "consent_required" {
		t.Fatalf("after withdrawal the marketing read must withhold the phone as consent_required: %d %s", after.Status, after.Body)
	}
	seq := after.Header.Get("X-Audit-Seq")

	// Test 2, in a fresh browser: the officer filters by the subject, opens that read, checks its proof.
	ctx = browser(t)
	row := `#entries tr[data-seq="` + seq + `"]`
	err = chromedp.Do(ctx,
		signIn(base, s.Token("co", "compliance_officer")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/audit"]`)),
		shot(dir, "console"),
		chromedp.Navigate(base+"/console/audit"),
		chromedp.WaitVisible(chromedp.CSS("#f-subject")),
		chromedp.SetValue(chromedp.CSS("#f-subject"), id),
		chromedp.Click(chromedp.CSS("#search")),
		chromedp.WaitVisible(chromedp.CSS(`#entries[data-query^="subject_id="]`)),
		chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS("#entry-json")),
		chromedp.Click(chromedp.CSS("#prove")),
		chromedp.WaitVisible(chromedp.CSS(`#proof[data-result]`)),
		shot(dir, "console-audit"),
	)
	if err != nil {
		t.Fatalf("audit browser: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#proof"), "data-result"))
	if err != nil || result.Value != "verified" {
		t.Fatalf("in-page proof of entry %s: %v %q (%s)", seq, err, result.Value, text(ctx, t, "#proof"))
	}
	detail := text(ctx, t, "#entry-json")
	if !strings.Contains(detail, `"action": "subject.read"`) || !strings.Contains(detail, `"purpose": "marketing"`) {
		t.Fatalf("entry detail is not the marketing read: %s", detail)
	}

	// The page's SHA-256 agrees with Go's on the block-boundary lengths.
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 1000} {
		msg := strings.Repeat("a", n)
		js := fmt.Sprintf(`PV.hex(PVSHA256(new TextEncoder().encode(%q)))`, msg)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256([]byte(msg))
		if got != hex.EncodeToString(want[:]) {
			t.Errorf("sha256.js of %d bytes = %s, want %x", n, got, want)
		}
	}

	// The page's check can fail: a flipped byte of the entry, or of a proof hash, is caught.
	checks, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`(async () => {
		const cp = await PV.api('GET', '/v1/audit/checkpoint');
		const p = await PV.api('GET', '/v1/audit/proof/`+seq+`?tree_size=' + cp.size);
		const good = PVAudit.verifyInclusion(cp, p, `+seq+`).length === 0;
		const b = PV.fromBase64(p.entry);
		const i = new TextDecoder().decode(b).indexOf('"decision":"') + 12;
		b[i] = 'x'.charCodeAt(0);
		const badEntry = PVAudit.verifyInclusion(cp, Object.assign({}, p, { entry: btoa(String.fromCharCode(...b)) }), `+seq+`).length > 0;
		const hashes = p.hashes.slice();
		hashes[0] = (hashes[0][0] === 'A' ? 'B' : 'A') + hashes[0].slice(1);
		const badHash = PVAudit.verifyInclusion(cp, Object.assign({}, p, { hashes }), `+seq+`).length > 0;
		return [good, badEntry, badHash];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 3 || !checks[0] || !checks[1] || !checks[2] {
		t.Fatalf("in-page proof check [untouched verifies, tampered entry fails, tampered hash fails] = %v", checks)
	}
}

// Test 3: a marketing user opening the audit browser is refused, with the reason on the page, and its
// console lists no audit page.
func TestBrowserConsolePageRefusedToOtherRoles(t *testing.T) {
	s := apptest.Start(t)
	dir := screenshots(t)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("mk", "marketing")),
		chromedp.WaitVisible(chromedp.CSS(`ul.pages a[href="/console/audiences"]`)), // its own page, not the audit browser
		chromedp.Navigate(s.Server.URL+"/console/audit"),
		chromedp.WaitVisible(chromedp.CSS("#refused")),
		shot(dir, "refused"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg := text(ctx, t, "#refused"); !strings.Contains(msg, "marketing") {
		t.Fatalf("refusal should name the roles held: %q", msg)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#entries, a[href="/console/audit"]').length`)); err != nil || n != 0 {
		t.Fatalf("the refused page must not carry the audit browser: %d %v", n, err)
	}
}

// Test 4: with the session cookie, an API call or a form post without the session's CSRF token is
// refused, and the same call with it goes through.
func TestBrowserCSRF(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "city": "襄阳", "birth_date": "1984-09-10"})
	ctx := browser(t)
	if err := chromedp.Do(ctx, signIn(s.Server.URL, s.Token(id, "subject")), chromedp.WaitVisible(chromedp.CSS("#objection-toggle"))); err != nil {
		t.Fatal(err)
	}
	statuses, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(async () => {
		const body = JSON.stringify({ kind: 'personalized_marketing' });
		const headers = { 'Content-Type': 'application/json' };
		const without = await fetch('/v1/me/objections', { method: 'POST', body, headers });
		const wrong = await fetch('/v1/me/objections', { method: 'POST', body, headers: Object.assign({ 'X-CSRF-Token': 'forged' }, headers) });
		const read = await fetch('/v1/me');
		const token = document.querySelector('meta[name="pv-csrf"]').content;
		const withToken = await fetch('/v1/me/objections', { method: 'POST', body, headers: Object.assign({ 'X-CSRF-Token': token }, headers) });
		return [without.status, wrong.status, read.status, withToken.status];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{401, 401, 200, 201}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("POST without, with a forged, GET, POST with the CSRF token: %v, want %v", statuses, want)
	}
	// A form post (sign out) with its token removed is refused and the session stays.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/signout"] input[name="csrf"]').remove()`),
		chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)),
		chromedp.WaitVisible(chromedp.CSS("#refused")),
		chromedp.Navigate(s.Server.URL+"/privacy"),
		chromedp.WaitVisible(chromedp.CSS("#objection-toggle")),
	)
	if err != nil {
		t.Fatalf("a sign-out without its token must be refused and leave the session: %v", err)
	}
	// With the token, sign-out ends the session: the API no longer accepts the cookie.
	err = chromedp.Do(ctx,
		chromedp.Submit(chromedp.CSS(`form[action="/signout"]`)),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/v1/me').then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil || st != 401 {
		t.Fatalf("after sign-out GET /v1/me = %d %v, want 401", st, err)
	}
}

// Test 5: the demo sign-in page exists under vaultd demo only; there it signs in as a demo person.
func TestBrowserDemoSignInOnlyUnderDemo(t *testing.T) {
	serve := apptest.Start(t)
	for _, m := range []string{"GET", "POST"} {
		if r := serve.Do(m, "/signin/demo", "", "", nil); r.Status != 404 {
			t.Fatalf("%s /signin/demo under serve: %d, want 404", m, r.Status)
		}
	}
	if r := serve.Do("GET", "/signin", "", "", nil); r.Status != 200 || strings.Contains(string(r.Body), "/signin/demo") {
		t.Fatalf("the serve sign-in page must not link a demo page: %d", r.Status)
	}
	demo := apptest.Start(t, func(c *app.Config) { c.DemoSignIn = true })
	demo.CreateSubject(map[string]any{"name": "张伟", "city": "成都", "birth_date": "1988-03-02"})
	dir := screenshots(t)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(demo.Server.URL+"/signin"),
		chromedp.Click(chromedp.CSS("#demo-link")),
		chromedp.WaitVisible(chromedp.CSS("button.demo-person")),
		shot(dir, "demo-signin"),
		chromedp.Click(chromedp.CSS("button.demo-person")),
		chromedp.WaitVisible(chromedp.CSS(`#profile tr[data-field="city"]`)),
	)
	if err != nil {
		t.Fatalf("demo sign-in: %v", err)
	}
	if city := text(ctx, t, `#profile tr[data-field="city"] td`); city != "成都" {
		t.Fatalf("signed in as the demo person, the privacy centre shows city %q", city)
	}
}

// A child under 14 sees why they cannot consent, in place of the control.
func TestBrowserChildSeesWhyTheyCannotConsent(t *testing.T) {
	s := apptest.Start(t)
	child := s.CreateSubject(map[string]any{"name": "小红", "birth_date": time.Now().AddDate(-9, 0, 0).Format(time.DateOnly)})
	ctx := browser(t)
	sel := `article[data-purpose="marketing"] [data-blocked="guardian_consent_required"]`
	if err := chromedp.Do(ctx, signIn(s.Server.URL, s.Token(child, "subject")), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatal(err)
	}
	if msg := text(ctx, t, sel); !strings.Contains(msg, "guardian") {
		t.Fatalf("the child's marketing card says %q", msg)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('article[data-purpose="marketing"] button').length`)); err != nil || n != 0 {
		t.Fatalf("a child must not get a consent button: %d %v", n, err)
	}
}

// The incidents page: the officer records an incident for an actor (the page derives nothing itself: the
// API finds the person affected in the trail), then notifies it; the person sees the notice.
func TestBrowserConsoleIncidents(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "钱八", "city": "宁波"})
	if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", s.Token("cs-rogue", "customer_service"), "customer_service", nil); r.Status != 200 {
		t.Fatalf("read: %d", r.Status)
	}
	ctx := browser(t)
	dir := screenshots(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("co", "compliance_officer")),
		chromedp.Navigate(s.Server.URL+"/console/incidents"),
		chromedp.WaitVisible(chromedp.CSS("#record")),
		chromedp.SetValue(chromedp.CSS("#i-title"), "Misused service account"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('i-detected').value = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16)`),
		chromedp.SetValue(chromedp.CSS("#i-actor"), "cs-rogue"),
		chromedp.SetValue(chromedp.CSS("#i-summary"), "A service account was misused to view names; it was locked."),
		chromedp.Click(chromedp.CSS(`#record button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#incidents tr[data-state="open"] button.notify`)),
		shot(dir, "console-incidents"),
	)
	if err != nil {
		t.Fatalf("record an incident: %v", err)
	}
	if n := text(ctx, t, `#incidents tr[data-state="open"] td.affected`); n != "1" {
		t.Fatalf("people affected as shown: %q", n)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#incidents button.notify`)), chromedp.WaitVisible(chromedp.CSS(`#incidents tr[data-state="notified"]`))); err != nil {
		t.Fatalf("notify: %v", err)
	}
	if n := s.Do("GET", "/v1/me/notices", s.Token(id, "subject"), "", nil); n.Status != 200 || len(n.JSON["notices"].([]any)) != 1 {
		t.Fatalf("the person's notices after the page notified: %d %s", n.Status, n.Body)
	}
}

// The staff pages: the officer moves a request on in the queue and reads the policy matrix; the steward
// decides an identity review. Each action goes through /v1 and is checked there afterwards.
func TestBrowserStaffPages(t *testing.T) {
	s := apptest.Start(t)
	dir := screenshots(t)
	id := s.CreateSubject(map[string]any{"name": "周杰", "city": "台州", "birth_date": "1985-08-08"})
	r := s.Do("POST", "/v1/me/requests", s.Token(id, "subject"), "", map[string]any{"type": "correction"})
	if r.Status != 201 {
		t.Fatalf("file a request: %d %s", r.Status, r.Body)
	}
	reqID := r.JSON["id"].(string)
	ctx := browser(t)
	move := `#queue tr[data-id="` + reqID + `"] button[data-to="in_progress"]`
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("co", "compliance_officer")),
		chromedp.Navigate(s.Server.URL+"/console/requests"),
		chromedp.WaitVisible(chromedp.CSS(move)),
		shot(dir, "console-requests"),
		chromedp.Click(chromedp.CSS(move)),
		chromedp.WaitNotPresent(chromedp.CSS(move)),
	)
	if err != nil {
		t.Fatalf("request queue: %v", err)
	}
	q := s.Do("GET", "/v1/requests", s.Token("co2", "compliance_officer"), "compliance_audit", nil)
	if !strings.Contains(string(q.Body), `"state":"in_progress"`) {
		t.Fatalf("after the move the queue says %s", q.Body)
	}
	// A close relative's request arrives received: the officer verifies it first (PIPL Art. 49).
	rel := s.Do("POST", "/v1/subjects/"+id+"/requests", s.Token("cs", "customer_service"), "customer_service",
		map[string]any{"type": "deceased_relative", "relationship": "child", "evidence": "死亡证明"})
	if rel.Status != 201 {
		t.Fatalf("a relative's request: %d %s", rel.Status, rel.Body)
	}
	verify := `#queue tr[data-id="` + rel.JSON["id"].(string) + `"] button[data-to="verified"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(s.Server.URL+"/console/requests"), chromedp.WaitVisible(chromedp.CSS(verify)),
		chromedp.Click(chromedp.CSS(verify)), chromedp.WaitNotPresent(chromedp.CSS(verify))); err != nil {
		t.Fatalf("verify a relative's request in the console: %v", err)
	}
	if q := s.Do("GET", "/v1/requests?state=verified", s.Token("co2", "compliance_officer"), "compliance_audit", nil); !strings.Contains(string(q.Body), rel.JSON["id"].(string)) {
		t.Fatalf("after verifying: %s", q.Body)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.Server.URL+"/console/policy"),
		chromedp.WaitVisible(chromedp.CSS(`#matrix td[data-cell]`)),
		chromedp.SetValue(chromedp.CSS("#f-role"), "marketing"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-role').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(chromedp.CSS(`#matrix td[data-cell="marketing/contact"].allow`)),
		shot(dir, "console-policy"),
	)
	if err != nil {
		t.Fatalf("policy matrix: %v", err)
	}
	if cell := text(ctx, t, `#matrix td[data-cell="marketing/contact"]`); cell != "masked" {
		t.Fatalf("marketing may read contact for marketing masked; the matrix says %q", cell)
	}
	if cell := text(ctx, t, `#matrix td[data-cell="marketing/identity"]`); cell != "—" {
		t.Fatalf("marketing may not read identity; the matrix says %q", cell)
	}

	// The steward's identity review.
	steward := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "account_management"}
	str := func(v string) *string { return &v }
	for _, ns := range []vault.NewSubject{
		{ExternalID: "c-1", Source: "crm", Fields: map[string]*string{"name": str("王芳"), "phone": str("+8613800001234")}},
		{ExternalID: "p-4", Source: "pos", Fields: map[string]*string{"name": str("王小明"), "phone": str("13800001234")}},
	} {
		if _, err := s.App.Vault.Ingestion().ImportSubject(t.Context(), steward, ns); err != nil {
			t.Fatal(err)
		}
	}
	ctx = browser(t)
	decide := `#reviews tr[data-id] button[data-decision="distinct"]`
	err = chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("st", "data_steward")),
		chromedp.Navigate(s.Server.URL+"/console/identity"),
		chromedp.WaitVisible(chromedp.CSS(decide)),
		shot(dir, "console-identity"),
		chromedp.Click(chromedp.CSS(decide)),
		chromedp.WaitNotPresent(chromedp.CSS(decide)),
	)
	if err != nil {
		t.Fatalf("identity reviews: %v", err)
	}
	rv := s.Do("GET", "/v1/identity/reviews?state=distinct", s.Token("st", "data_steward"), "account_management", nil)
	if rows, _ := rv.JSON["reviews"].([]any); len(rows) != 1 {
		t.Fatalf("after the decision: %s", rv.Body)
	}
	// A queue longer than a page: the first 100 open reviews, then "show more" appends the rest.
	var batch []vault.NewSubject
	for i := range 101 {
		phone := fmt.Sprintf("+861390000%04d", i)
		batch = append(batch, vault.NewSubject{ExternalID: fmt.Sprintf("q-%d", i), Source: "crm", Fields: map[string]*string{"name": str("张三"), "phone": str(phone)}},
			vault.NewSubject{ExternalID: fmt.Sprintf("r-%d", i), Source: "pos", Fields: map[string]*string{"name": str("李四"), "phone": str(phone)}})
	}
	for _, res := range s.App.Vault.Ingestion().ImportSubjects(t.Context(), steward, batch) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	countRows := chromedp.Evaluate[int](`document.querySelectorAll('#reviews tr[data-id]').length`)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.Server.URL+"/console/identity"), chromedp.WaitVisible(chromedp.CSS("#more"))); err != nil {
		t.Fatalf("the first page of 101 open reviews: %v", err)
	}
	if n, err := chromedp.Run(ctx, countRows); err != nil || n != 100 {
		t.Fatalf("the first page of 101 open reviews: %d rows, %v", n, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#more")), chromedp.WaitNotVisible(chromedp.CSS("#more"))); err != nil {
		t.Fatalf("show more: %v", err)
	}
	if n, err := chromedp.Run(ctx, countRows); err != nil || n != 101 {
		t.Fatalf("after show more: %d rows, %v", n, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.Server.URL+"/console/imports"), chromedp.WaitVisible(chromedp.CSS("#reports p, #reports article"))); err != nil {
		t.Fatalf("import reports: %v", err)
	}
}

// The charts page draws the reports: with one of two subjects consenting to marketing, the consent chart's
// numbers say 50 % today, and the denial chart counts the refused marketing read.
func TestBrowserCharts(t *testing.T) {
	s := apptest.Start(t)
	dir := screenshots(t)
	a := s.CreateSubject(map[string]any{"name": "甲", "phone": "+8613800000001", "birth_date": "1980-01-01"})
	b := s.CreateSubject(map[string]any{"name": "乙", "phone": "+8613800000002", "birth_date": "1981-01-01"})
	grantMarketing(t, s, a)
	mk := s.Token("mk", "marketing")
	for _, id := range []string{a, b} {
		s.Do("GET", "/v1/subjects/"+id+"?fields=phone", mk, "marketing", nil)
	}
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("co", "compliance_officer")),
		chromedp.Navigate(s.Server.URL+"/console/charts"),
		chromedp.WaitVisible(chromedp.CSS(`#main[data-loaded="30"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chart-consent polyline[data-series="marketing"]`)),
		shot(dir, "console-charts"),
	)
	if err != nil {
		t.Fatalf("charts: %v", err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const last = t => { const rows = document.querySelectorAll(t + ' tbody tr'); return rows[rows.length - 1]; };
		const head = t => [...document.querySelectorAll(t + ' thead th')].map(h => h.textContent);
		const consent = last('#chart-consent'), denied = last('#chart-denied');
		const mi = head('#chart-consent').indexOf('marketing');
		return [consent.children[mi].textContent, denied.children[1].textContent];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 2 || cells[0] != "50.0%" || cells[1] != "1" {
		t.Fatalf("today's marketing consent rate and denials: %v, want [50.0%% 1]", cells)
	}
}

// At 375 px (a small phone) no page scrolls sideways: wide tables scroll inside their own box.
func TestBrowserNarrowScreen(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "city": "襄阳", "birth_date": "1984-09-10"})
	grantMarketing(t, s, id)
	s.Do("GET", "/v1/subjects/"+id+"?fields=phone", s.Token("mk", "marketing"), "marketing", nil)
	for _, tc := range []struct{ token, path, ready string }{
		{s.Token(id, "subject"), "/privacy", `#access-log tbody tr`},
		{s.Token("co", "compliance_officer"), "/console/audit", `#entries tbody tr[data-seq]`},
		{s.Token("co", "compliance_officer"), "/console/charts", `#main[data-loaded]`},
	} {
		ctx := browser(t)
		err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 740), signIn(s.Server.URL, tc.token),
			chromedp.Navigate(s.Server.URL+tc.path), chromedp.WaitVisible(chromedp.CSS(tc.ready)))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 375 {
			t.Errorf("%s at 375 px is %d px wide (%v)", tc.path, width, err)
		}
	}
}

// The browser test: an analyst files a request in the console, an officer approves it there,
// the analyst's read under the grant succeeds, and the subject's privacy centre shows that read as made
// under an approved request.
func TestBrowserAccessRequest(t *testing.T) {
	s := apptest.Start(t)
	dir := screenshots(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "孙八", "birth_date": "1982-06-06"})
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management",
		map[string]any{"purpose": "analytics", "notice_version": "2026-01", "method": "app_checkbox", "kind": "general"}); r.Status != 201 {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	ts := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[{"event_id":"o-1","subject_id":"`+id+`","type":"order","ts":"`+ts+
		`","source":"app","attrs":{"order_id":"o-1","amount":42,"currency":"CNY","items":[{"sku":"s1","category":"toys","brand":"Lego","qty":1,"price":42}]}}]}`); r.JSON["accepted"].(float64) != 1 {
		t.Fatalf("ingest: %s", r.Body)
	}
	an := s.Token("an-1", "analyst")
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, an),
		chromedp.Navigate(s.Server.URL+"/console/access"),
		chromedp.WaitVisible(chromedp.CSS(`#main[data-loaded] #f-entry`)),
		chromedp.SetValue(chromedp.CSS("#f-subjects"), id),
		chromedp.SetValue(chromedp.CSS("#f-reason"), "study"),
		chromedp.SetValue(chromedp.CSS("#f-justification"), "basket study 2026-Q4"),
		chromedp.SetValue(chromedp.CSS("#f-duration"), "2d"),
		chromedp.Click(chromedp.CSS("#f-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#mine tr[data-state="pending"]`)),
		shot(dir, "console-access-requester"),
	)
	if err != nil {
		t.Fatalf("the analyst files a request: %v", err)
	}
	// The officer approves it in the console.
	ctx = browser(t)
	err = chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("co-1", "compliance_officer")),
		chromedp.Navigate(s.Server.URL+"/console/access"),
		chromedp.WaitVisible(chromedp.CSS(`#queue tr[data-state="pending"] button[data-approve]`)),
		shot(dir, "console-access-approver"),
		chromedp.Click(chromedp.CSS(`#queue tr[data-state="pending"] button[data-approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`#queue tr[data-state="approved"]`)),
	)
	if err != nil {
		t.Fatalf("the officer approves: %v", err)
	}
	list := s.Do("GET", "/v1/access-requests?mine=true", an, "", nil)
	reqs := list.JSON["requests"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["state"] != "approved" {
		t.Fatalf("the analyst's request: %s", list.Body)
	}
	grant := reqs[0].(map[string]any)["grant_id"].(string)
	r := s.Do("GET", "/v1/grants/"+grant+"/rows", an, "analytics", nil) // a study's rows: pseudonymous
	if r.Status != 200 || len(r.JSON["rows"].([]any)) != 1 {
		t.Fatalf("the analyst's read under the grant: %d %s", r.Status, r.Body)
	}
	// The subject sees it.
	ctx = browser(t)
	err = chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token(id, "subject")),
		chromedp.WaitVisible(chromedp.CSS(`#access-log .under-request`)),
		shot(dir, "privacy-under-request"),
	)
	if err != nil {
		t.Fatalf("the privacy centre: %v", err)
	}
	if txt := text(ctx, t, `#access-log .under-request`); !strings.Contains(txt, "study") {
		t.Fatalf("the privacy centre's note: %q", txt)
	}
}

// One channel of commercial messages is withdrawn on its own in the privacy centre.
func TestBrowserWithdrawOneChannel(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613912345678", "birth_date": "1990-05-01"})
	grantMarketing(t, s, id)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token(id, "subject")),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="marketing"] button.channel[data-channel="sms"]`)),
		chromedp.Click(chromedp.CSS(`article[data-purpose="marketing"] button.channel[data-channel="sms"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`article[data-purpose="marketing"] button.channel[data-channel="sms"]`)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="marketing"] button.channel[data-channel="email"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Do("GET", "/v1/me", s.Token(id, "subject"), "", nil)
	for _, c := range r.JSON["consents"].([]any) {
		if m := c.(map[string]any); m["purpose"] == "marketing" {
			if m["status"] != "granted" || strings.Contains(fmt.Sprint(m["channels"]), "sms") || !strings.Contains(fmt.Sprint(m["channels"]), "email") {
				t.Fatalf("after withdrawing sms in the page: %v", m)
			}
		}
	}
}

// The privacy centre shows a restriction the person asked for, with a button that lifts it (withdrawing
// the request that set it), each request's answer — a refused request says why (PIPL Art. 44, 50) — and a
// button that withdraws a request not answered yet.
func TestBrowserRestrictionAndRequestAnswers(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "birth_date": "1990-05-01"})
	me := s.Token(id, "subject")
	co := s.Token("co", "compliance_officer")
	rs := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "restriction"})
	if rs.Status != 201 {
		t.Fatalf("restriction request: %d %s", rs.Status, rs.Body)
	}
	del := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "deletion"})
	if del.Status != 201 {
		t.Fatalf("deletion request: %d %s", del.Status, del.Body)
	}
	ex := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "explanation"})
	if ex.Status != 201 {
		t.Fatalf("explanation request: %d %s", ex.Status, ex.Body)
	}
	if r := s.Do("POST", "/v1/requests/"+ex.JSON["id"].(string)+"/transition", co, "compliance_audit", map[string]any{"to": "rejected", "reason": "duplicate of an earlier request"}); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, me),
		chromedp.WaitVisible(chromedp.CSS("#restriction-lift")),
		chromedp.WaitVisible(chromedp.CSS(`#requests tr[data-request="`+ex.JSON["id"].(string)+`"] td.answer`)),
	)
	if err != nil {
		t.Fatalf("the restriction and the requests: %v", err)
	}
	if a := text(ctx, t, `#requests tr[data-request="`+ex.JSON["id"].(string)+`"] td.answer`); !strings.Contains(a, "duplicate of an earlier request") {
		t.Fatalf("the refused request's answer: %q", a)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#restriction-lift")), chromedp.WaitNotVisible(chromedp.CSS("#restriction"))); err != nil {
		t.Fatalf("lift: %v", err)
	}
	if r := s.Do("GET", "/v1/me", me, "", nil); strings.Contains(fmt.Sprint(r.JSON["objections"]), "restriction") {
		t.Fatalf("still restricted after lifting in the page: %v", r.JSON["objections"])
	}
	row := func(r apptest.Response) string { return `#requests tr[data-request="` + r.JSON["id"].(string) + `"]` }
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(row(rs)+`[data-state="withdrawn"]`)),
		chromedp.Click(chromedp.CSS(row(del)+` button.withdraw-request`)),
		chromedp.WaitVisible(chromedp.CSS(row(del)+`[data-state="withdrawn"]`)),
	)
	if err != nil {
		t.Fatalf("the lifted restriction's request, and withdrawing the deletion request: %v", err)
	}
	if st := text(ctx, t, row(del)+` td.state`); st != "Withdrawn" {
		t.Fatalf("the withdrawn request's state reads %q", st)
	}
}

// A separate consent to a purpose that provides data to a recipient is granted in the page for the
// recipient chosen there (it failed: the page sent none).
func TestBrowserGrantForARecipient(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "birth_date": "1990-05-01"})
	ctx := browser(t)
	grant := `article[data-purpose="third_party_sharing"] button.grant`
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token(id, "subject")),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="third_party_sharing"] select.recipient`)),
		chromedp.Click(chromedp.CSS(grant)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-purpose="third_party_sharing"] button.withdraw`)),
	)
	if err != nil {
		t.Fatalf("grant for a recipient in the page: %v", err)
	}
	r := s.Do("GET", "/v1/me", s.Token(id, "subject"), "", nil)
	var got string
	for _, c := range r.JSON["consents"].([]any) {
		if m := c.(map[string]any); m["purpose"] == "third_party_sharing" && m["status"] == "granted" {
			got, _ = m["recipient"].(string)
		}
	}
	if got == "" {
		t.Fatalf("no granted consent with a recipient: %s", r.Body)
	}
}

// The audiences page: a rule that does not parse shows its position; a good one builds with its counts;
// the campaign plan lists its tiers; an audience's uplift report opens.
func TestBrowserAudiences(t *testing.T) {
	s := apptest.Start(t)
	dir := screenshots(t)
	st := s.Token("st", "data_steward")
	for i := range 3 {
		id := s.CreateSubject(map[string]any{"name": "客户", "phone": fmt.Sprintf("+86138000000%02d", i), "birth_date": "1985-01-01"})
		grantMarketing(t, s, id)
		var cids []string
		for _, c := range s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil).JSON["consents"].([]any) {
			cids = append(cids, c.(map[string]any)["id"].(string))
		}
		if _, _, err := s.App.Vault.Tags().StoreTags(t.Context(), vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}},
			[]vault.SubjectTags{{SubjectID: id, Purpose: "marketing", ConsentIDs: cids, Tags: []vault.TagValue{
				{Key: "value.rfm_segment", Level: "value", Value: "at_risk", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"},
				{Key: "value.churn_risk", Level: "value", Value: "high", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t)
	err := chromedp.Do(ctx,
		signIn(s.Server.URL, s.Token("mk", "marketing")),
		chromedp.Navigate(s.Server.URL+"/console/audiences"),
		chromedp.WaitVisible(chromedp.CSS(`#main[data-loaded]`)),
		chromedp.SetValue(chromedp.CSS("#a-rule"), "value.rfm_segment in 'at_risk'"),
		chromedp.Click(chromedp.CSS("#a-submit")),
		chromedp.WaitVisible(chromedp.CSS("#built-error")),
	)
	if err != nil {
		t.Fatalf("a bad rule: %v", err)
	}
	if msg := text(ctx, t, "#built-error"); !strings.Contains(msg, "21") {
		t.Fatalf("the error should name the position: %q", msg)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#a-rule"), "value.rfm_segment in ['at_risk', 'cant_lose']"),
		chromedp.SetValue(chromedp.CSS("#a-holdout"), "0"),
		chromedp.Click(chromedp.CSS("#a-submit")),
		chromedp.WaitVisible(chromedp.CSS("#built-size")),
		chromedp.Click(chromedp.CSS("#plan")),
		chromedp.WaitVisible(chromedp.CSS(`#tiers tr[data-tier="churn_winback"]`)),
		chromedp.Click(chromedp.CSS(`#audiences button[data-report]`)),
		chromedp.WaitVisible(chromedp.CSS(`#report-table tr[data-metric="conversion"]`)),
		shot(dir, "console-audiences"),
	)
	if err != nil {
		t.Fatalf("build, plan, report: %v", err)
	}
	// The chart's holdout bars have the legend's colour (they did not).
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#report-chart svg rect[fill="#5b6570"]').length`)); err != nil || n < 1 {
		t.Fatalf("the report chart's holdout bars: %d %v", n, err)
	}
	if size, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#built-size"), "data-size")); err != nil || size.Value != "3" {
		t.Fatalf("built size %q %v", size.Value, err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#tiers tr[data-tier="churn_winback"] td')].map(td => td.textContent)`))
	if err != nil || len(cells) != 6 || cells[1] != "sms" || atoi(cells[3])+atoi(cells[4]) != 3 {
		t.Fatalf("the churn tier (treated + holdout = 3 on sms): %q %v", cells, err)
	}
	// The label and opt-out every message carries, shown with the build and the plan (GB/T 35273 §7.5).
	for _, sel := range []string{"#built-marker", "#plan-marker"} {
		if m := text(ctx, t, sel); !strings.Contains(m, "Personalised for you") || !strings.Contains(m, "/privacy") {
			t.Errorf("%s: %q", sel, m)
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
