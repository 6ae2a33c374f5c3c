package httpapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
)

// Every request refused for its form — bad JSON, an unknown field, a bad value, a bad query parameter, a bad
// header — leaves a deny entry with status 400, whether the handler or the domain refused it, and the entry
// holds none of the client's input.
func TestEveryBadRequestLeavesAnEntry(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"city": "杭州"})
	st := s.Token("st", "data_steward")
	co := s.Token("co", "compliance_officer")
	cs := s.Token("cs", "customer_service")
	me := s.Token(id, "subject")
	const marker = "Zq9marker"
	for _, c := range []struct {
		name, method, path, token, purpose string
		body                               any
	}{
		{"broken JSON", "POST", "/v1/subjects", st, "account_management", `{"fields": {"city": "` + marker},
		{"two JSON objects", "PATCH", "/v1/subjects/" + id, st, "account_management", `{"fields":{}} {"` + marker + `":1}`},
		{"unknown field", "POST", "/v1/subjects", st, "account_management", map[string]any{"fields": map[string]any{marker: "x"}}},
		{"bad value", "PATCH", "/v1/subjects/" + id, st, "account_management", map[string]any{"fields": map[string]any{"email": marker}}},
		{"unknown read field", "GET", "/v1/subjects/" + id + "?fields=" + marker, cs, "customer_service", nil},
		{"bad lookup value", "POST", "/v1/subjects/lookup", cs, "customer_service", map[string]any{"field": "phone", "value": marker}},
		{"bad consent", "POST", "/v1/subjects/" + id + "/consents", st, "account_management", map[string]any{"purpose": marker}},
		{"bad audit cursor", "GET", "/v1/audit/events?cursor=" + marker, co, "compliance_audit", nil},
		{"bad audit time", "GET", "/v1/audit/events?since=" + marker, co, "compliance_audit", nil},
		{"bad request type", "POST", "/v1/me/requests", me, "", map[string]any{"type": marker}},
		{"bad objection kind", "POST", "/v1/me/objections", me, "", map[string]any{"kind": marker}},
	} {
		r := s.Do(c.method, c.path, c.token, c.purpose, c.body)
		if r.Status != 400 {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			continue
		}
		seq, err := strconv.ParseInt(r.Header.Get("X-Audit-Seq"), 10, 64)
		if err != nil || seq <= 0 {
			t.Errorf("%s: no audit entry (X-Audit-Seq %q)", c.name, r.Header.Get("X-Audit-Seq"))
			continue
		}
		entry := rawEntry(t, s, seq)
		if !bytes.Contains(entry, []byte(`"decision":"deny"`)) || !bytes.Contains(entry, []byte(`"status":400`)) {
			t.Errorf("%s: entry %d is not a 400 refusal: %s", c.name, seq, entry)
		}
		if bytes.Contains(entry, []byte(marker)) {
			t.Errorf("%s: entry %d holds the client's input: %s", c.name, seq, entry)
		}
	}
	// A call without its purpose is refused at the door, under a dotted action like every other (API.md).
	r := s.Do("GET", "/v1/subjects/"+id, cs, "", nil)
	seq, _ := strconv.ParseInt(r.Header.Get("X-Audit-Seq"), 10, 64)
	if entry := rawEntry(t, s, seq); r.Status != 400 || !bytes.Contains(entry, []byte(`"action":"api.refuse"`)) {
		t.Errorf("a missing purpose: %d, entry %s", r.Status, entry)
	}
	ev := s.Do("GET", "/v1/audit/events?limit=500", co, "compliance_audit", nil)
	for _, x := range ev.JSON["events"].([]any) {
		if a, _ := x.(map[string]any)["action"].(string); !strings.Contains(a, ".") {
			t.Errorf("entry %v: action %q is not a dotted name", x.(map[string]any)["seq"], a)
		}
	}
}

// rawEntry reads one entry's canonical bytes straight from the audit log.
func rawEntry(t *testing.T, s *apptest.Stack, seq int64) []byte {
	t.Helper()
	e, err := s.App.Internals().Store.Leaf(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The explanation of each purpose is worded by the wire in the reader's language: the contract basis in
// Chinese for a zh Accept-Language, in English otherwise, and a consent purpose says whether the
// subject consented.
func TestExplanationIsWordedInTheReadersLanguage(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"city": "杭州", "birth_date": "1990-01-01"})
	me := s.Token(id, "subject")
	why := func(lang string) map[string]string {
		t.Helper()
		r := s.DoHeaders("GET", "/v1/me/explanation", me, "", nil, map[string]string{"Accept-Language": lang})
		if r.Status != 200 {
			t.Fatalf("explanation: %d %s", r.Status, r.Body)
		}
		out := map[string]string{}
		for _, p := range r.JSON["purposes"].([]any) {
			m := p.(map[string]any)
			out[m["purpose"].(string)] = m["why"].(string)
		}
		return out
	}
	zh, en := why("zh-CN,zh;q=0.9"), why("en-GB")
	if !strings.Contains(zh["order_fulfillment"], "合同") || !strings.Contains(en["order_fulfillment"], "contract") {
		t.Fatalf("contract basis: zh %q en %q", zh["order_fulfillment"], en["order_fulfillment"])
	}
	if !strings.Contains(en["marketing"], "not given it") || !strings.Contains(zh["marketing"], "尚未同意") {
		t.Fatalf("marketing without consent: zh %q en %q", zh["marketing"], en["marketing"])
	}
	// A child under 14 is told that only a guardian can consent; a restriction is named on every purpose.
	child := s.Token(s.CreateSubject(map[string]any{"city": "杭州", "birth_date": time.Now().AddDate(-10, 0, 0).Format(time.DateOnly)}), "subject")
	r := s.DoHeaders("GET", "/v1/me/explanation", child, "", nil, map[string]string{"Accept-Language": "en"})
	if !strings.Contains(string(r.Body), "only a parent or guardian can give it") {
		t.Fatalf("a child's explanation: %s", r.Body)
	}
	if r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "restriction"}); r.Status != 201 {
		t.Fatalf("restriction: %d %s", r.Status, r.Body)
	}
	if en := why("en"); !strings.Contains(en["order_fulfillment"], "You restricted processing") || !strings.Contains(en["marketing"], "You restricted processing") {
		t.Fatalf("under a restriction: %v", en)
	}
}

// The privacy notice is public (no token) and complete in both languages: handler, officer, rights, every
// purpose, and recipients with their country and, abroad, the transfer mechanism.
func TestPublicNotice(t *testing.T) {
	s := apptest.Start(t)
	for _, lang := range []string{"zh", "en"} {
		r := s.Do("GET", "/v1/notice?lang="+lang, "", "", nil)
		if r.Status != 200 || r.JSON["language"] != lang {
			t.Fatalf("%s: %d %s", lang, r.Status, r.Body)
		}
		h := r.JSON["handler"].(map[string]any)
		officer := h["pi_protection_officer"].(map[string]any)
		if h["name"] == "" || h["contact"] == "" || officer["contact"] == "" || r.JSON["rights"] == "" {
			t.Fatalf("%s: handler or rights missing: %s", lang, r.Body)
		}
		if r.JSON["notice_version"] != "2026-01" || r.JSON["version"] == "" {
			t.Fatalf("%s: notice version %v (the purposes' newest, as consents carry it), version %v", lang, r.JSON["notice_version"], r.JSON["version"])
		}
		purposes := map[string]map[string]any{}
		for _, p := range r.JSON["purposes"].([]any) {
			purposes[p.(map[string]any)["purpose"].(string)] = p.(map[string]any)
		}
		if len(purposes) != len(s.App.Vault.Policy().Purposes().All()) {
			t.Fatalf("%s: %d purposes", lang, len(purposes))
		}
		for name, p := range purposes {
			if m, _ := p["method"].(string); m == "" {
				t.Fatalf("%s: purpose %s names no processing method", lang, name)
			}
		}
		if m := purposes["marketing"]["method"].(string); lang == "en" && !strings.Contains(m, "profile tags") {
			t.Fatalf("marketing's method does not say it computes tags: %q", m)
		}
		abroad := purposes["cross_border_transfer"]["recipients"].([]any)[0].(map[string]any)
		if abroad["country"] != "SG" || abroad["transfer_mechanism"] != "standard_contract" || abroad["name"] == "" {
			t.Fatalf("%s: cross-border recipient %v", lang, abroad)
		}
	}
	if r := s.DoHeaders("GET", "/v1/notice", "", "", nil, map[string]string{"Accept-Language": "zh-CN"}); r.Status != 200 || r.JSON["language"] != "zh" {
		t.Fatalf("Accept-Language: %s", r.Body)
	}
}

// Every published version of the notice is listed with its dates (no token); the notice names its version
// and when it was published, and a reloaded policy publishes a new one and supersedes the old.
func TestNoticeVersions(t *testing.T) {
	dir := t.TempDir()
	for _, name := range policies.FileNames() {
		if err := os.WriteFile(filepath.Join(dir, name), policies.Embedded(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := apptest.Start(t, func(c *app.Config) { c.PolicyDir = dir })
	versions := func() []map[string]any {
		t.Helper()
		r := s.Do("GET", "/v1/notice/versions", "", "", nil)
		if r.Status != 200 {
			t.Fatalf("versions: %d %s", r.Status, r.Body)
		}
		var out []map[string]any
		for _, v := range r.JSON["versions"].([]any) {
			out = append(out, v.(map[string]any))
		}
		return out
	}
	first := versions()
	n := s.Do("GET", "/v1/notice", "", "", nil)
	if len(first) != 1 || first[0]["current"] != true || first[0]["superseded_at"] != nil || n.JSON["version"] != first[0]["version"] ||
		n.JSON["published_at"] != first[0]["published_at"] {
		t.Fatalf("one version: %v; the notice: version %v published %v", first, n.JSON["version"], n.JSON["published_at"])
	}
	p := filepath.Join(dir, "purposes.json")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), `"version": "2026-01", "material": false}`, `"version": "2026-08", "material": false}`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("POST", "/v1/policies/reload", s.Token("root", "admin"), "", nil); r.Status != 200 {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	two := versions()
	n = s.Do("GET", "/v1/notice", "", "", nil)
	if len(two) != 2 || two[0]["version"] != first[0]["version"] || two[0]["current"] != false || two[0]["superseded_at"] != two[1]["published_at"] ||
		two[1]["current"] != true || n.JSON["version"] != two[1]["version"] || n.JSON["version"] == first[0]["version"] || n.JSON["published_at"] != two[1]["published_at"] {
		t.Fatalf("after a reload: %v; the notice: version %v published %v", two, n.JSON["version"], n.JSON["published_at"])
	}
}
