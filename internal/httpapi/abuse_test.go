package httpapi_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"

	"github.com/profilevault/profilevault/internal/apptest"
)

// metricSeries counts the series of the request counter on /metrics.
func metricSeries(t *testing.T, s *apptest.Stack) int {
	t.Helper()
	resp, err := http.Get(s.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Count(string(b), "\nvault_http_requests_total{")
}

// TestMetricLabelsAreAClosedSet sends invented methods and paths: the number of series does not grow with
// them (methods outside the standard set are "OTHER", unmatched paths "unmatched").
func TestMetricLabelsAreAClosedSet(t *testing.T) {
	s := apptest.Start(t)
	send := func(round int) {
		for i := 0; i < 50; i++ {
			req, _ := http.NewRequest("FOO"+strconv.Itoa(round*100+i), s.Server.URL+"/no/such/"+strconv.Itoa(i), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	metricSeries(t, s) // the scrape's own series
	send(1)
	after1 := metricSeries(t, s)
	send(2)
	if after2 := metricSeries(t, s); after2 != after1 || after1 > 10 {
		t.Fatalf("series: %d after the first 50 invented requests, %d after 50 more", after1, after2)
	}
}

// TestCSVExportsNeutraliseFormulas puts formula-leading values where a client controls them — a staff
// token's sub and team claims in the audit CSV, a consent's method and evidence in the subject's ZIP — and
// checks every such cell is written as text.
func TestCSVExportsNeutraliseFormulas(t *testing.T) {
	s := apptest.Start(t)
	hostile := s.Token("=HYPERLINK(\"http://x\")", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "庚", "birth_date": "1988-02-03"})
	g := grantBody("marketing", map[string]any{"method": "@SUM(1+1)", "evidence": "+cmd|' /C calc'!A0"})
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", hostile, "account_management", g); r.Status != http.StatusCreated {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	csvOut := s.Do("GET", "/v1/audit/export?format=csv", s.Token("co", "compliance_officer"), "compliance_audit", nil)
	if csvOut.Status != http.StatusOK || !strings.Contains(string(csvOut.Body), `'=HYPERLINK`) {
		t.Fatalf("audit CSV: %d, the hostile sub is not neutralised:\n%.600s", csvOut.Status, csvOut.Body)
	}
	z := s.Do("GET", "/v1/me/export?format=zip", s.Token(id, "subject"), "", nil)
	zr, err := zip.NewReader(bytes.NewReader(z.Body), int64(len(z.Body)))
	if err != nil {
		t.Fatalf("zip: %v (%d)", err, z.Status)
	}
	checked := 0
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".csv") {
			continue
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, line := range strings.Split(string(b), "\n") {
			for _, cell := range strings.Split(line, ",") {
				cell = strings.Trim(cell, `"`)
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Errorf("%s: a cell starts with %q: %q", f.Name, cell[0], cell)
				}
			}
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d CSV files in the export", checked)
	}
}

// TestClientRequestIDNeverStored sends a well-formed X-Request-Id that carries a phone number: it is echoed
// back, but the trail, its export and the logs keep the vault's own id and at most a keyed hash of it.
func TestClientRequestIDNeverStored(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "辛"})
	req, _ := http.NewRequest("GET", s.Server.URL+"/v1/subjects/"+id+"?fields=name", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token("cs", "customer_service"))
	req.Header.Set("X-Purpose", "customer_service")
	req.Header.Set("X-Request-Id", "ZZ-8613912345678")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	own := resp.Header.Get("X-Vault-Request-Id")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != "ZZ-8613912345678" || own == "" || own == "ZZ-8613912345678" {
		t.Fatalf("%d, X-Request-Id %q, X-Vault-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"), own)
	}
	export := s.Do("GET", "/v1/audit/export?format=ndjson", s.Token("co", "compliance_officer"), "compliance_audit", nil)
	if strings.Contains(string(export.Body), "8613912345678") || strings.Contains(s.Logs(), "8613912345678") {
		t.Fatal("the client's request id reached the trail or the logs")
	}
	if !strings.Contains(string(export.Body), `"request_id":"`+own+`"`) || !strings.Contains(string(export.Body), `"client_request_ref":"`) {
		t.Fatal("the read's entry lacks the vault's own id or the keyed hash of the client's")
	}
}

// TestRequestsPerSubjectAreLimited files requests in a row: after the daily budget the subject gets 429
// rate_limited with Retry-After, recorded like any refusal, and nothing more is queued.
func TestRequestsPerSubjectAreLimited(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "壬"})
	me := s.Token(id, "subject")
	for i := 0; i < 20; i++ {
		if r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "explanation"}); r.Status != http.StatusCreated {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "correction"})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("21st request: %d %s (audit seq %q)", r.Status, r.Body, r.Header.Get("X-Audit-Seq"))
	}
	if after, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || after < 60*60*23 || after > 24*60*60 {
		t.Errorf("Retry-After = %q, want about a day", r.Header.Get("Retry-After"))
	}
	if l := s.Do("GET", "/v1/me/requests", me, "", nil); len(l.JSON["requests"].([]any)) != 20 {
		t.Errorf("%d requests queued, want 20", len(l.JSON["requests"].([]any)))
	}
}

// TestAuthFailureFloodIsBounded floods one address with bad tokens: the first failures are 401 with their
// entries, the rest 429 with none of their own; a flush records how many were folded, so the trail shows
// the whole attack in a bounded number of entries, and a valid token still works meanwhile.
func TestAuthFailureFloodIsBounded(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.AuthTarpit = time.Millisecond })
	authFailures := func() (entries, folded int) {
		for _, e := range exportTrail(t, s) {
			if e.Action == "auth.failure" {
				entries++
			}
		}
		r := s.Do("GET", "/v1/audit/export?format=ndjson", s.Token("co", "compliance_officer"), "compliance_audit", nil)
		for _, line := range strings.Split(string(r.Body), "\n") {
			if i := strings.Index(line, "folded:"); i >= 0 {
				n, _ := strconv.Atoi(strings.TrimRightFunc(line[i+len("folded:"):i+len("folded:")+6], func(r rune) bool { return r < '0' || r > '9' }))
				folded += n
			}
		}
		return entries, folded
	}
	const flood = 400
	got := map[int]int{}
	for i := 0; i < flood; i++ {
		got[s.Do("GET", "/v1/subjects/x", "garbage", "customer_service", nil).Status]++
	}
	if got[http.StatusUnauthorized] == 0 || got[http.StatusTooManyRequests] == 0 || got[401]+got[429] != flood {
		t.Fatalf("answers to the flood: %v", got)
	}
	if r := s.Do("GET", "/v1/policies", s.Token("root", "admin"), "", nil); r.Status != http.StatusOK {
		t.Fatalf("a valid token during the flood: %d", r.Status)
	}
	entries, carried := authFailures()
	if entries != got[401] || entries > 150 {
		t.Fatalf("%d auth.failure entries for %d failures (%d answered 401)", entries, flood, got[401])
	}
	// A 401 let through as the budget refills carries the count folded before it; the flush records the
	// rest in one more entry — none if the flood's last failure carried it all (a slow run's budget refills
	// more often).
	want := got[401]
	if carried < got[429] {
		want++
	}
	if err := s.App.Vault.FlushAuthFailures(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, folded := authFailures()
	if entries != want || folded != got[429] {
		t.Fatalf("after the flush: %d entries, %d folded; want %d and %d (%d carried before it)", entries, folded, want, got[429], carried)
	}
}

// TestOverBudgetAuthFailuresAreTarpitted: beyond the auth-failure budget a refusal is held for the tarpit's
// delay before its 429 (so a flooding connection gets about one answer per delay), and once every place is
// taken the next is answered at once with Connection: close; legitimate requests are never held.
func TestOverBudgetAuthFailuresAreTarpitted(t *testing.T) {
	const delay = 300 * time.Millisecond
	s := apptest.Start(t, func(c *app.Config) { c.AuthTarpit, c.AuthTarpitSlots = delay, 1 })
	garbage := func() (*http.Response, time.Duration) {
		req, _ := http.NewRequest("GET", s.Server.URL+"/v1/subjects/x", nil)
		req.Header.Set("Authorization", "Bearer garbage")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, time.Since(start)
	}
	var (
		resp *http.Response
		took time.Duration
	)
	for range 1000 { // the budget's burst is answered 401 at once
		if resp, took = garbage(); resp.StatusCode != http.StatusUnauthorized {
			break
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests || took < delay || resp.Close || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the first failure beyond the budget: %d after %v (close %v, Retry-After %q); want 429 held ≥ %v on a kept connection",
			resp.StatusCode, took, resp.Close, resp.Header.Get("Retry-After"), delay)
	}
	// Eight at once with one place: the budget refilled during the hold answers a few 401, one 429 is held,
	// the others find no place and are answered with Connection: close.
	type answer struct {
		status int
		close  bool
		took   time.Duration
	}
	answers := make(chan answer, 8)
	for range 8 {
		go func() { r, d := garbage(); answers <- answer{r.StatusCode, r.Close, d} }()
	}
	var heldN, closedN int
	for range 8 {
		a := <-answers
		switch {
		case a.status == http.StatusTooManyRequests && a.close:
			closedN++
		case a.status == http.StatusTooManyRequests && a.took >= delay:
			heldN++
		case a.status != http.StatusUnauthorized:
			t.Errorf("an answer %+v is neither 401, nor held, nor closed", a)
		}
	}
	if heldN != 1 || closedN == 0 {
		t.Fatalf("%d held and %d closed; want exactly 1 held (one place) and the rest closed", heldN, closedN)
	}
	if r := s.Do("GET", "/v1/policies", s.Token("root", "admin"), "", nil); r.Status != http.StatusOK {
		t.Fatalf("a valid token during the flood: %d", r.Status)
	}
}

// TestCachesStayWithinTheirBounds reads more subjects than the record and DEK caches hold: /metrics shows
// both filled to their bound and no further, so memory stops growing with the number of subjects read.
func TestCachesStayWithinTheirBounds(t *testing.T) {
	const bound = 5
	s := apptest.Start(t, func(c *app.Config) { c.RecordCache, c.DEKCache = bound, bound })
	cs := s.Token("cs", "customer_service")
	for i := range 3 * bound {
		id := s.CreateSubject(map[string]any{"name": "客户", "phone": "+8613800000" + strconv.Itoa(100+i)})
		if r := s.Do("GET", "/v1/subjects/"+id, cs, "customer_service", nil); r.Status != http.StatusOK {
			t.Fatalf("read %d: %d", i, r.Status)
		}
	}
	resp, err := http.Get(s.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, cache := range []string{"records", "deks"} {
		prefix := `vault_cache_entries{cache="` + cache + `"} `
		i := strings.Index(string(page), "\n"+prefix)
		if i < 0 {
			t.Fatalf("no %s in /metrics", prefix)
		}
		line := string(page[i+1+len(prefix):])
		n, err := strconv.Atoi(line[:strings.IndexByte(line, '\n')])
		if err != nil || n != bound {
			t.Errorf("%s cache holds %q entries after %d subjects were read, want its bound %d", cache, line[:strings.IndexByte(line, '\n')], 3*bound, bound)
		}
	}
}

// TestReadinessGoesDownBelowTheFreeSpaceWatermark: with less free space than the watermark on the data
// dir's volume /readyz answers 503 (a load balancer drains the node while writes still succeed), with room
// it answers 200, and /metrics shows the free space of each volume the vault writes to.
func TestReadinessGoesDownBelowTheFreeSpaceWatermark(t *testing.T) {
	low := apptest.Start(t, func(c *app.Config) { c.MinFreeBytes = 1 << 62 }) // more than any disk has
	if r := low.Do("GET", "/readyz", "", "", nil); r.Status != http.StatusServiceUnavailable || r.JSON["status"] != "unavailable" {
		t.Fatalf("readyz below the watermark: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(low.Logs(), "below the watermark") {
		t.Error("the log does not say why the node is not ready")
	}
	st := low.Token("st", "data_steward")
	if r := low.Do("POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{"name": "客户"}}); r.Status != http.StatusCreated {
		t.Fatalf("a write below the watermark (before the disk is full): %d", r.Status)
	}
	ok := apptest.Start(t, func(c *app.Config) { c.MinFreeBytes = 1 })
	if r := ok.Do("GET", "/readyz", "", "", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz with room: %d %s", r.Status, r.Body)
	}
	resp, err := http.Get(ok.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, v := range []string{"data", "erasure_ledger"} {
		if !strings.Contains(string(page), "\nvault_disk_free_bytes{volume=\""+v+"\"} ") {
			t.Errorf("no vault_disk_free_bytes for the %s volume", v)
		}
	}
}

// TestExportsPerSubjectAreLimited: beyond its hourly budget a subject's export is refused 429 with
// Retry-After (the time one export takes to refill) and recorded; another subject's exports are not touched.
func TestExportsPerSubjectAreLimited(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.ExportsPerHour = 2 })
	id, other := s.CreateSubject(map[string]any{"name": "癸"}), s.CreateSubject(map[string]any{"name": "子"})
	me := s.Token(id, "subject")
	for i := range 2 {
		if r := s.Do("GET", "/v1/me/export", me, "", nil); r.Status != http.StatusOK {
			t.Fatalf("export %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Do("GET", "/v1/me/export?format=zip", me, "", nil)
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("third export in the hour: %d %s (audit seq %q)", r.Status, r.Body, r.Header.Get("X-Audit-Seq"))
	}
	if after, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || after != 30*60 {
		t.Errorf("Retry-After = %q, want 1800 (an hour over a budget of 2)", r.Header.Get("Retry-After"))
	}
	refused := 0
	for _, e := range exportTrail(t, s) {
		if e.Action == "me.export" && e.Reason == "export_rate" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d me.export entries with reason export_rate, want 1", refused)
	}
	if r := s.Do("GET", "/v1/me/export", s.Token(other, "subject"), "", nil); r.Status != http.StatusOK {
		t.Fatalf("another subject's export: %d", r.Status)
	}
}
