package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/vault"
)

// distinctive values that must never appear at rest, in logs or in metrics.
var secrets = []map[string]any{
	{"name": "欧阳震华", "phone": "+8613912345678", "email": "zhenhua.ouyang@secret-mail.cn", "address_line": "紫禁城东华门大街9号",
		"id_number": "11010519491231002X", "bank_account": "6222020200998877665", "city": "景德镇"},
	{"name": "Quintessa Vandermolen", "phone": "+14155550123", "email": "quintessa@vandermolen.example", "occupation": "xylophonist",
		"address_line": "742 Evergreen Terrace Unit 9Q", "district": "Zzyzx"},
}

// needles are the byte strings to look for: every value, and the normalised forms.
func needles() []string {
	var out []string
	for _, m := range secrets {
		for _, v := range m {
			out = append(out, v.(string))
		}
	}
	return append(out, "13912345678", "4155550123")
}

func TestNoPlaintextAtRest(t *testing.T) {
	s := apptest.Start(t)
	for _, m := range secrets {
		id := s.CreateSubject(m)
		// Read and update too, so every code path has written what it writes.
		s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil)
		s.Do("PATCH", "/v1/subjects/"+id, s.Token("st", "data_steward"), "account_management", map[string]any{"fields": map[string]any{"name": m["name"]}})
	}
	var raw []byte
	for _, f := range []string{datadir.DatabaseFile, datadir.DatabaseFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, f))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		raw = append(raw, b...)
	}
	if len(raw) < 4096 {
		t.Fatalf("database files suspiciously small (%d bytes)", len(raw))
	}
	for _, n := range needles() {
		if bytes.Contains(raw, []byte(n)) {
			t.Errorf("plaintext %q found in the database files", n)
		}
	}
}

func TestLogsAndMetricsHoldNoPersonalData(t *testing.T) {
	s := apptest.Start(t)
	st, cs := s.Token("st", "data_steward"), s.Token("cs", "customer_service")
	for _, m := range secrets {
		id := s.CreateSubject(m)
		s.Do("GET", "/v1/subjects/"+id, cs, "customer_service", nil)
		s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "phone", "value": m["phone"]})
		// Refused writes whose bodies hold personal data: the values must not be echoed anywhere.
		r := s.Do("PATCH", "/v1/subjects/"+id, st, "account_management", map[string]any{"fields": map[string]any{"email": m["name"], "name": m["name"]}})
		if r.Status != 400 {
			t.Fatalf("bad email accepted: %d", r.Status)
		}
		for _, n := range needles() {
			if strings.Contains(string(r.Body), n) {
				t.Errorf("error body echoes %q", n)
			}
		}
		s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil)
	}
	metrics := s.Do("GET", "/metrics", "", "", nil)
	logs := s.Logs()
	if !strings.Contains(logs, "http request") {
		t.Fatalf("no access log captured")
	}
	for _, n := range needles() {
		if strings.Contains(logs, n) {
			t.Errorf("log output holds %q", n)
		}
		if strings.Contains(string(metrics.Body), n) {
			t.Errorf("metrics hold %q", n)
		}
	}
	if strings.Contains(string(metrics.Body), "sub_") {
		t.Error("metrics hold a subject id")
	}
	for _, name := range []string{"vault_audit_index_lag_entries", "vault_audit_log_sync_seconds_total"} {
		if !strings.Contains(string(metrics.Body), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}

func TestErasureIsCryptoShredding(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(secrets[0])
	keep := s.CreateSubject(secrets[1])

	// Take what an attacker with a copy of the live database and the KEK would have: the sealed values and
	// the wrapped DEK.
	rec, err := s.App.Internals().Store.Subject(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	dek := rec.DEKs[vault.ClassGeneral]
	sealedName := rec.Fields["name"].Value

	r := s.Do("DELETE", "/v1/subjects/"+id, st, "account_management", nil)
	if r.Status != 200 || r.JSON["erased"] != true {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ method, path, purpose string }{
		{"GET", "/v1/subjects/" + id, "customer_service"},
		{"PATCH", "/v1/subjects/" + id, "account_management"},
		{"DELETE", "/v1/subjects/" + id, "account_management"},
	} {
		tok := st
		if tc.purpose == "customer_service" {
			tok = s.Token("cs", "customer_service")
		}
		if r := s.Do(tc.method, tc.path, tok, tc.purpose, `{"fields":{"name":"x"}}`); r.Status != 404 {
			t.Errorf("%s after erasure: %d", tc.method, r.Status)
		}
	}
	if r := s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "phone", "value": secrets[0]["phone"]}); len(r.JSON["ids"].([]any)) != 0 {
		t.Errorf("erased subject still found by lookup")
	}
	after, err := s.App.Internals().Store.Subject(t.Context(), id)
	if err != nil || after.State != vault.StateErased || len(after.DEKs) != 0 || len(after.Fields) != 0 {
		t.Fatalf("after erasure: %+v %v", after, err)
	}
	// Even with the KEK ring, nothing opens: the DEK is gone from the store, and no other subject's DEK
	// opens the sealed value.
	if err := s.App.Internals().Store.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, f := range []string{datadir.DatabaseFile, datadir.DatabaseFile + "-wal"} {
		b, _ := os.ReadFile(filepath.Join(s.Dir, f))
		raw = append(raw, b...)
	}
	if bytes.Contains(raw, dek.Wrapped) {
		t.Error("the erased subject's wrapped DEK is still in the database files")
	}
	if bytes.Contains(raw, sealedName) {
		t.Error("the erased subject's sealed value is still in the database files")
	}
	other, err := s.App.Internals().Store.Subject(t.Context(), keep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Internals().Crypto.Open(other.DEKs[vault.ClassGeneral], "name", sealedName); err == nil {
		t.Error("another subject's DEK opened the erased subject's value")
	}
	// The other subject is untouched.
	r = s.Do("GET", "/v1/subjects/"+keep+"?fields=name", s.Token("cs", "customer_service"), "customer_service", nil)
	if r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != secrets[1]["name"] {
		t.Fatalf("other subject: %d %s", r.Status, r.Body)
	}
}

func TestInvalidTokensAre401AndAudited(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	signer := func() *authn.Signer {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		sg, err := authn.NewSigner(priv)
		if err != nil {
			t.Fatal(err)
		}
		return sg
	}
	mint := func(sg *authn.Signer, mutate func(*authn.MintRequest)) string {
		req := authn.MintRequest{Subject: "cs", Roles: []string{"customer_service"}, TTL: time.Hour, Issuer: "vaultd", Audience: "profile-vault", Now: time.Now()}
		mutate(&req)
		tok, err := sg.Mint(req)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := s.Token("cs", "customer_service")
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	flipped := parts[0] + "." + parts[1] + "." + flipSig(parts[2])
	ownKey := s.App.Signer
	cases := map[string]string{
		"garbage":          "not-a-jwt",
		"alg none":         none,
		"bad signature":    flipped,
		"unknown kid":      mint(signer(), func(*authn.MintRequest) {}),
		"expired":          mint(ownKey, func(r *authn.MintRequest) { r.Now = time.Now().Add(-3 * time.Hour) }),
		"not yet valid":    mint(ownKey, func(r *authn.MintRequest) { r.Now = time.Now().Add(time.Hour) }),
		"wrong issuer":     mint(ownKey, func(r *authn.MintRequest) { r.Issuer = "someone-else" }),
		"wrong audience":   mint(ownKey, func(r *authn.MintRequest) { r.Audience = "other-service" }),
		"empty bearer":     "",
		"huge token":       strings.Repeat("a", 9000),
		"hs256 confusion":  hs256Confusion(t, parts[1], ownKey.PublicKey()),
		"payload swapped":  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","roles":["admin"]}`)) + "." + parts[2],
		"missing segments": parts[0] + "." + parts[1],
	}
	before := s.App.Internals().Store.Size()
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.Do("GET", "/v1/subjects/"+id, tok, "customer_service", nil)
			if r.Status != 401 || r.ErrorCode() != "unauthenticated" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			if strings.Contains(string(r.Body), "李雷") {
				t.Fatal("401 leaked data")
			}
		})
	}
	if got := s.App.Internals().Store.Size() - before; got != int64(len(cases)) {
		t.Errorf("auth failures audited: %d entries for %d refusals", got, len(cases))
	}
	if r := s.Do("GET", "/v1/subjects/"+id, good, "customer_service", nil); r.Status != 200 {
		t.Fatalf("good token refused: %d", r.Status)
	}
}

func flipSig(sig string) string {
	b, _ := base64.RawURLEncoding.DecodeString(sig)
	b[0] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256Confusion signs the payload with HMAC-SHA256 keyed by the server's public key bytes.
func hs256Confusion(t *testing.T, payload string, pub ed25519.PublicKey) string {
	t.Helper()
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + authn.KeyIDOf(pub) + `","typ":"JWT"}`))
	return hdr + "." + payload + "." + base64.RawURLEncoding.EncodeToString(hmacSHA256(pub, hdr+"."+payload))
}

func TestKeyRotationKeepsReadsWorking(t *testing.T) {
	s := apptest.Start(t)
	var ids []string
	for i := 0; i < 30; i++ {
		ids = append(ids, s.CreateSubject(map[string]any{"name": fmt.Sprintf("测试%d", i), "phone": fmt.Sprintf("+86139%08d", i)}))
	}
	cs := s.Token("cs", "customer_service")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures sync.Map
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ids[(i+w)%len(ids)]
				if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != 200 {
					failures.Store(id, r.Status)
				}
			}
		}(w)
	}
	admin := s.Token("root", "admin")
	for round := 0; round < 2; round++ {
		r := s.Do("POST", "/v1/keys/rotate", admin, "", nil)
		if r.Status != 200 {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		if int(r.JSON["rewrapped"].(float64)) != len(ids) {
			t.Errorf("rewrapped %v DEKs, want %d", r.JSON["rewrapped"], len(ids))
		}
	}
	close(stop)
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Errorf("read of %v failed during rotation: %v", k, v); return true })
	if got := s.App.Internals().Ring.Versions(); len(got) != 1 || got[0] != 3 {
		t.Errorf("live KEK versions after two rotations = %v, want [3]", got)
	}
	if r := s.Do("POST", "/v1/keys/rotate", cs, "", nil); r.Status != 403 {
		t.Errorf("customer service rotated keys: %d", r.Status)
	}
	// The ring on disk agrees, and a fresh process can read everything.
	ring, _, err := keys.LoadOrCreateRing(filepath.Join(s.Dir, datadir.KEKFile))
	if err != nil || ring.ActiveVersion() != 3 {
		t.Fatalf("reloaded ring: %v %v", ring, err)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := apptest.Start(t)
	r := s.Do("GET", "/openapi.json", "", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v", err)
	}
	routes := s.App.HTTP.Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		path := rt.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") { // *path: a catch-all, documented as {path}
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, path)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("method %s of %s is not in openapi.json", rt.Method, path)
		}
	}
}

// TestOpenAPIHasTheContractsRoutes reads API.md (../shared/design beside the checkout, as for every
// developer and CI; skipped where it is absent) and checks that every route it names is in openapi.json:
// "METHOD /path" with that method, and the bare paths listed after one ("GET /v1/insights/rfm,
// /v1/insights/segments") at least as paths. A literal segment of API.md (consents/marketing) matches a
// parameter of the document (consents/{purpose}); optional parts ([.p/{W}]) and queries are left out.
func TestOpenAPIHasTheContractsRoutes(t *testing.T) {
	contract, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "design", "API.md"))
	if err != nil {
		t.Skipf("no API.md beside the checkout: %v", err)
	}
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	segments := func(path string) []string {
		if i := strings.IndexAny(path, "?["); i >= 0 {
			path = path[:i]
		}
		return strings.Split(strings.TrimSuffix(path, "/"), "/")
	}
	// documented reports whether the document has path (with method, unless it is "").
	documented := func(method, path string) bool {
		want := segments(path)
		for p, ops := range doc.Paths {
			have := strings.Split(p, "/")
			if len(have) != len(want) {
				continue
			}
			match := true
			for i := range want {
				param := strings.HasPrefix(have[i], "{")
				if have[i] != want[i] && !param || param && want[i] == "" {
					match = false
					break
				}
			}
			if _, ok := ops[strings.ToLower(method)]; match && (method == "" || ok) {
				return true
			}
		}
		return false
	}
	route := regexp.MustCompile("^(GET|POST|PUT|PATCH|DELETE) (/[^ ]+)")
	var checked int
	for _, line := range strings.Split(string(contract), "\n") {
		method := ""
		spans := strings.Split(line, "`")
		for i := 1; i < len(spans); i += 2 { // the code spans of the line
			span := spans[i]
			switch m := route.FindStringSubmatch(span); {
			case m != nil:
				method = m[1]
				if !documented(method, m[2]) {
					t.Errorf("API.md names %s %s; openapi.json does not", method, m[2])
				}
				checked++
			case method != "" && (strings.HasPrefix(span, "/v1/") || strings.HasPrefix(span, "/audit/")) && !strings.Contains(span, "*") && !strings.Contains(span, " "):
				if !documented("", span) {
					t.Errorf("API.md names %s (after a %s route); openapi.json does not", span, method)
				}
				checked++
			}
		}
	}
	if checked < 60 {
		t.Fatalf("only %d routes found in API.md: is the parser still reading it?", checked)
	}
}

func TestAuditEntriesHoldNoValues(t *testing.T) {
	s := apptest.Start(t)
	for _, m := range secrets {
		id := s.CreateSubject(m)
		s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil)
	}
	// Every byte of the audit log on disk: segments, tiles, entry bundles, checkpoints.
	n := s.App.Internals().Store.Size()
	s.App.Close() // the final checkpoint writes the last tiles and bundles
	err := filepath.WalkDir(filepath.Join(s.Dir, datadir.AuditLogDir), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, needle := range needles() {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("audit log file %s holds %q", filepath.Base(path), needle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("only %d audit entries", n)
	}
}

// TestClientTextNeverReachesTheTrailOrAnError: text a client puts where the vault expects one of its own
// names or ids — a grant id header or path, an access request's categories, a consent's channels, an
// audience rule's keys and values — is never written into the trail (which can never be redacted) nor
// repeated in an error, whatever is refused.
func TestClientTextNeverReachesTheTrailOrAnError(t *testing.T) {
	s := apptest.Start(t)
	const marker = "泄漏标记 leak.marker@example.cn 13900000174"
	st, cs, mk, co := s.Token("st", "data_steward"), s.Token("cs", "customer_service"), s.Token("mk", "marketing"), s.Token("co", "compliance_officer")
	id := s.CreateSubject(map[string]any{"name": "甲"})
	var replies []apptest.Response
	do := func(method, path, token, purpose string, body any, headers ...map[string]string) {
		t.Helper()
		var h map[string]string
		if len(headers) > 0 {
			h = headers[0]
		}
		replies = append(replies, s.DoHeaders(method, path, token, purpose, body, h))
	}
	grant := map[string]string{"X-Access-Grant": marker}
	do("GET", "/v1/subjects/"+id, cs, "customer_service", nil, grant)
	do("GET", "/v1/subjects/"+id+"/events", cs, "customer_service", nil, grant)
	do("GET", "/v1/grants/"+url.PathEscape(marker)+"/rows", s.Token("an", "analyst"), "analytics", nil)
	do("POST", "/v1/access-requests", cs, "risk_control", map[string]any{"categories": []string{marker}, "subjects": []string{id}, "justification": "x", "duration": "2h"})
	do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", map[string]any{"purpose": "marketing", "notice_version": "2026-01",
		"method": "app_checkbox", "kind": "general", "channels": []string{"sms:" + marker}})
	do("POST", "/v1/subjects", st, "account_management", map[string]any{"source": marker, "external_id": "e-1", "fields": map[string]any{"name": "乙"}})
	do("POST", "/v1/requests/"+url.PathEscape(marker)+"/transition", co, "compliance_audit", map[string]any{"to": "in_progress"})
	do("POST", "/v1/identity/reviews/"+url.PathEscape(marker)+"/decision", st, "account_management", map[string]any{"decision": "distinct"})
	for _, rule := range []string{"basic.gender == '" + marker + "'", "value.churn_risk == 'high' and " + marker + " == 'x'", "x13900000174.phone == '1'", "value.churn_risk == 'high' x13900000174"} {
		do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": rule, "channel": "sms"})
	}
	for i, r := range replies {
		if r.Status < 400 {
			t.Errorf("request %d was not refused: %d %s", i, r.Status, r.Body)
		}
		for _, part := range append(strings.Fields(marker), "x13900000174") {
			if strings.Contains(string(r.Body), part) {
				t.Errorf("reply %d (%d) repeats %q: %s", i, r.Status, part, r.Body)
			}
		}
	}
	trail := s.Do("GET", "/v1/audit/events?limit=1000", co, "compliance_audit", nil)
	if trail.Status != 200 || len(trail.JSON["events"].([]any)) < len(replies) {
		t.Fatalf("trail: %d", trail.Status)
	}
	for _, part := range append(strings.Fields(marker), "x13900000174") {
		if strings.Contains(string(trail.Body), part) {
			t.Errorf("the trail holds %q", part)
		}
	}
}
