package httpapi_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/apptest"
)

func TestMeIsOnlyForTheSubjectsOwnToken(t *testing.T) {
	s := apptest.Start(t)
	a := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})
	b := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613900009999"})
	ta, tb := s.Token(a, "subject"), s.Token(b, "subject")
	// Lists are arrays even when empty (a subject without tags, consents or notices).
	if r := s.Do("GET", "/v1/me", ta, "", nil); !strings.Contains(string(r.Body), `"tags":[]`) || !strings.Contains(string(r.Body), `"notices":[]`) {
		t.Fatalf("empty lists of /v1/me: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/me", ta, "", nil); r.Status != 200 || r.JSON["id"] != a || r.JSON["fields"].(map[string]any)["name"] != "李雷" {
		t.Fatalf("own data: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/me", tb, "", nil); strings.Contains(string(r.Body), "李雷") {
		t.Fatal("one subject saw another's data")
	}
	for _, role := range []string{"customer_service", "data_steward", "admin", "compliance_officer"} {
		if r := s.Do("GET", "/v1/me", s.Token(a, role), "", nil); r.Status != 403 {
			t.Errorf("staff token (%s) on /v1/me: %d", role, r.Status)
		}
	}
	if r := s.Do("GET", "/v1/me", s.Token(a, "subject", "marketing"), "", nil); r.Status != 403 {
		t.Errorf("mixed roles on /v1/me: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/me", ta, "marketing", nil); r.Status != 400 {
		t.Errorf("another purpose on /v1/me: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/me", ta, "data_subject_request", nil); r.Status != 200 {
		t.Errorf("declared data_subject_request: %d", r.Status)
	}
	// A subject's token reaches no staff route, whatever the purpose.
	if r := s.Do("GET", "/v1/subjects/"+b, ta, "data_subject_request", nil); r.Status != 403 {
		t.Errorf("subject token on a staff route: %d", r.Status)
	}
	// Correction touches only the caller.
	if r := s.Do("PATCH", "/v1/me", ta, "", map[string]any{"fields": map[string]any{"city": "武汉"}}); r.Status != 200 {
		t.Fatalf("correction: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PATCH", "/v1/me", ta, "", map[string]any{"fields": map[string]any{"phone": "not a phone"}}); r.Status != 400 {
		t.Fatalf("bad correction: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/me", tb, "", nil); r.JSON["fields"].(map[string]any)["city"] != nil {
		t.Fatal("correction leaked to another subject")
	}
	// Erased: 404 on /v1/me afterwards.
	r := s.Do("DELETE", "/v1/me", tb, "", nil)
	if r.Status != 200 || r.JSON["receipt"].(map[string]any)["signature"] == "" {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/me", tb, "", nil); r.Status != 404 {
		t.Fatalf("after erasure: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/me", ta, "", nil); r.Status != 200 {
		t.Fatal("erasing one subject touched another")
	}
}

func TestMeConsentsObjectionsAndAccessLog(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "city": "襄阳", "birth_date": "1990-04-01"})
	kid := s.CreateSubject(map[string]any{"name": "小明", "birth_date": time.Now().AddDate(-10, 0, 0).Format(time.DateOnly)})
	me, mk := s.Token(id, "subject"), s.Token("mk-7", "marketing")
	readCity := func() apptest.Response {
		return s.Do("GET", "/v1/subjects/"+id+"?fields=city", mk, "marketing", nil)
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": true}); r.Status != 200 || r.JSON["record"].(map[string]any)["status"] != "granted" {
		t.Fatalf("self grant: %d %s", r.Status, r.Body)
	}
	if r := readCity(); r.JSON["fields"].(map[string]any)["city"] != "襄阳" {
		t.Fatalf("marketing after self consent: %s", r.Body)
	}
	// An objection to personalised marketing shuts marketing off although consent stands.
	if r := s.Do("POST", "/v1/me/objections", me, "", map[string]any{"kind": "personalized_marketing"}); r.Status != 201 {
		t.Fatalf("objection: %d %s", r.Status, r.Body)
	}
	if r := readCity(); !withheldAs(r, "city", "objection") {
		t.Fatalf("objection ignored: %s", r.Body)
	}
	if r := s.Do("DELETE", "/v1/me/objections/personalized_marketing", me, "", nil); r.Status != 200 {
		t.Fatalf("lift objection: %d", r.Status)
	}
	if r := s.Do("DELETE", "/v1/me/objections/personalized_marketing", me, "", nil); r.Status != 404 {
		t.Fatalf("lift again: %d", r.Status)
	}
	if r := s.Do("POST", "/v1/me/objections", me, "", map[string]any{"kind": "everything"}); r.Status != 400 {
		t.Fatalf("unknown objection: %d", r.Status)
	}
	// Withdrawal is as easy as the grant.
	if r := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": false}); r.Status != 200 {
		t.Fatalf("self withdraw: %d %s", r.Status, r.Body)
	}
	if r := readCity(); !withheldAs(r, "city", "consent_required") {
		t.Fatalf("after self withdrawal: %s", r.Body)
	}
	// A child cannot consent themselves.
	if r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(kid, "subject"), "", map[string]any{"granted": true}); r.Status != 403 || r.ErrorCode() != "guardian_consent_required" {
		t.Fatalf("child consent: %d %s", r.Status, r.Body)
	}
	// The access log shows roles and team, never the staff member's identity.
	r := s.Do("GET", "/v1/me/access-log", me, "", nil)
	if r.Status != 200 {
		t.Fatalf("access log: %d", r.Status)
	}
	entries := r.JSON["entries"].([]any)
	sawMarketing := false
	for _, e := range entries {
		m := e.(map[string]any)
		if m["purpose"] == "marketing" && m["action"] == "subject.read" {
			sawMarketing = true
			if roles := m["actor_roles"].([]any); len(roles) != 1 || roles[0] != "marketing" || m["team"] != "team-a" {
				t.Errorf("entry: %v", m)
			}
		}
	}
	if !sawMarketing || strings.Contains(string(r.Body), "mk-7") || strings.Contains(string(r.Body), "steward-1") {
		t.Fatalf("access log: %s", r.Body)
	}
	// Explanation in both languages.
	for lang, want := range map[string]string{"zh-CN,zh;q=0.9": "保存期限", "en": "Kept for", "": "Kept for"} {
		req, _ := http.NewRequest("GET", s.Server.URL+"/v1/me/explanation", nil)
		req.Header.Set("Authorization", "Bearer "+me)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var x struct {
			Purposes []map[string]any `json:"purposes"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &x) != nil || len(x.Purposes) != len(s.App.Vault.Policy().Purposes().All()) || !strings.Contains(string(body), want) {
			t.Fatalf("explanation (%q): %d %s", lang, resp.StatusCode, body)
		}
	}
}

func TestMeExportIsCompleteAndSigned(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "欧阳娜娜", "phone": "+8613711112222", "city": "成都", "id_number": "11010519491231002X", "birth_date": "1949-12-31"})
	other := s.CreateSubject(map[string]any{"name": "司马光", "phone": "+8613733334444"})
	me := s.Token(id, "subject")
	s.Do("PUT", "/v1/me/consents/personalization", me, "", map[string]any{"granted": true})
	s.Do("POST", "/v1/subjects/"+id+"/consents", s.Token("st", "data_steward"), "account_management", grantBody("marketing", nil))
	s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil)
	s.Do("GET", "/v1/subjects/"+other, s.Token("cs", "customer_service"), "customer_service", nil)
	// Every other kind of data: events (a transaction and an interaction), an objection, a request; and an
	// event of the other subject that must not appear.
	ts := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	ev := func(eid, sid, typ, attrs string) string {
		return `{"event_id":"` + eid + `","subject_id":"` + sid + `","type":"` + typ + `","ts":"` + ts + `","source":"app","attrs":` + attrs + `}`
	}
	body := `{"events":[` + ev("x-1", id, "order", `{"order_id":"o-9","amount":66,"currency":"CNY","items":[{"sku":"s9","category":"tea","brand":"西湖","qty":1,"price":66}]}`) + `,` +
		ev("x-2", id, "chat", `{"text":"请帮我查一下快递"}`) + `,` + ev("x-3", other, "chat", `{"text":"别人的聊天记录"}`) + `]}`
	if r := s.Do("POST", "/v1/events", s.Token("st", "data_steward"), "order_fulfillment", body); r.JSON["accepted"].(float64) != 3 {
		t.Fatalf("events: %s", r.Body)
	}
	s.Do("POST", "/v1/me/objections", me, "", map[string]any{"kind": "personalized_marketing"})
	s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "correction"})

	r := s.Do("GET", "/v1/me/export", me, "", nil)
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	for _, k := range []string{"subject_id", "exported_at", "profile", "consents", "consent_history", "events", "tags", "access_log", "requests"} {
		if _, ok := r.JSON[k]; !ok {
			t.Errorf("export lacks %q", k)
		}
	}
	p := r.JSON["profile"].(map[string]any)
	if p["name"] != "欧阳娜娜" || p["id_number"] != "11010519491231002X" || p["phone"] != "+8613711112222" {
		t.Fatalf("profile incomplete: %v", p)
	}
	if len(r.JSON["consents"].([]any)) != 2 || len(r.JSON["consent_history"].([]any)) != 2 || len(r.JSON["access_log"].([]any)) < 2 {
		t.Fatalf("consents/history/access log: %s", r.Body)
	}
	// Who recorded a change is "subject" or "staff", never a staff member's identity (API.md).
	recorders := map[any]bool{}
	for _, x := range r.JSON["consent_history"].([]any) {
		recorders[x.(map[string]any)["recorded_by"]] = true
	}
	if len(recorders) != 2 || !recorders["subject"] || !recorders["staff"] || bytes.Contains(r.Body, []byte(`"st"`)) {
		t.Fatalf("consent history recorders %v", recorders)
	}
	if m := s.Do("GET", "/v1/me", me, "", nil); bytes.Contains(m.Body, []byte(`"recorded_by":"st"`)) {
		t.Fatalf("GET /v1/me names the staff member: %s", m.Body)
	}
	if w := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": false}); w.Status != 200 || bytes.Contains(w.Body, []byte(`"recorded_by":"st"`)) {
		t.Fatalf("withdrawing a grant staff recorded: %d %s", w.Status, w.Body)
	}
	if bytes.Contains(r.Body, []byte("司马光")) || bytes.Contains(r.Body, []byte("13733334444")) || bytes.Contains(r.Body, []byte(other)) ||
		bytes.Contains(r.Body, []byte("别人的聊天记录")) {
		t.Fatal("export holds another subject's data")
	}
	if n := len(r.JSON["events"].([]any)); n != 2 || !bytes.Contains(r.Body, []byte("请帮我查一下快递")) {
		t.Fatalf("export events: %d", n)
	}
	if len(r.JSON["requests"].([]any)) != 1 || len(r.JSON["objections"].([]any)) != 1 {
		t.Fatalf("export requests/objections: %s", r.Body)
	}

	z := s.Do("GET", "/v1/me/export?format=zip", me, "", nil)
	zr, err := zip.NewReader(bytes.NewReader(z.Body), int64(len(z.Body)))
	if err != nil {
		t.Fatalf("zip: %v (%d)", err, z.Status)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var manifest struct {
		Files []struct {
			Name, SHA256 string
		}
		VerifierKey string `json:"verifier_key"`
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Files) < 5 {
		t.Fatalf("manifest lists %d files", len(manifest.Files))
	}
	for _, f := range manifest.Files {
		sum := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: digest mismatch", f.Name)
		}
	}
	if !bytes.Contains(files["profile.csv"], []byte("欧阳娜娜")) {
		t.Error("profile.csv lacks the name")
	}
	for _, name := range []string{"export.json", "profile.csv", "consents.csv", "consent_history.csv", "access_log.csv", "events.csv", "requests.csv", "tags.csv", "objections.csv"} {
		if _, ok := files[name]; !ok {
			t.Errorf("zip lacks %s", name)
		}
	}
	v, err := audit.NewVerifier(manifest.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(files["manifest.sig"], note.VerifierList(v))
	if err != nil {
		t.Fatalf("manifest signature: %v", err)
	}
	msum := sha256.Sum256(files["manifest.json"])
	if !strings.Contains(n.Text, hex.EncodeToString(msum[:])) {
		t.Fatal("signature does not cover this manifest")
	}
	// A tampered manifest no longer matches the signed digest.
	files["manifest.json"] = append(files["manifest.json"], ' ')
	if msum2 := sha256.Sum256(files["manifest.json"]); strings.Contains(n.Text, hex.EncodeToString(msum2[:])) {
		t.Fatal("signature covers a tampered manifest")
	}
}

// The explanation says, per purpose, when the subject cannot give a consent themselves, with the reason a
// grant would be refused: the privacy centre shows it instead of a control that would fail.
func TestMeExplanationSaysWhoMayConsent(t *testing.T) {
	s := apptest.Start(t)
	now := time.Now().UTC()
	child := s.CreateSubject(map[string]any{"name": "小明", "birth_date": now.AddDate(-10, 0, 0).Format(time.DateOnly)})
	adult := s.CreateSubject(map[string]any{"name": "大明", "birth_date": "1980-01-01"})
	unknown := s.CreateSubject(map[string]any{"name": "无名"})
	blocked := func(id string) map[string]string {
		r := s.Do("GET", "/v1/me/explanation", s.Token(id, "subject"), "", nil)
		if r.Status != 200 {
			t.Fatalf("explanation: %d %s", r.Status, r.Body)
		}
		// The notice's parts that PIPL Art. 17 lists are rendered here too (PIPL.md): handler, method, rights.
		if h, _ := r.JSON["handler"].(map[string]any); h == nil || h["name"] == "" || r.JSON["rights"] == "" || r.JSON["notice_version"] == "" {
			t.Fatalf("explanation without the notice's handler or rights: %s", r.Body)
		}
		out := map[string]string{}
		for _, p := range r.JSON["purposes"].([]any) {
			m := p.(map[string]any)
			if m["method"] == "" || m["retention_days"] == nil {
				t.Fatalf("purpose %v without its method or retention", m["purpose"])
			}
			if b, ok := m["consent_blocked"].(string); ok {
				out[m["purpose"].(string)] = b
			}
		}
		return out
	}
	if b := blocked(child); b["marketing"] != "guardian_consent_required" || b["analytics"] != "guardian_consent_required" || b["account_management"] != "" {
		t.Fatalf("a child: %v", b)
	}
	if b := blocked(adult); len(b) != 0 {
		t.Fatalf("an adult: %v", b)
	}
	if b := blocked(unknown); b["marketing"] != "age_verification_required" || b["analytics"] != "" {
		t.Fatalf("an unknown birth date: %v", b)
	}
	// What the explanation says is what a grant answers.
	for id, want := range map[string]string{child: "guardian_consent_required", unknown: "permission_denied"} {
		r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(id, "subject"), "", map[string]any{"granted": true, "notice_version": "2026-01"})
		if r.Status != 403 || r.ErrorCode() != want {
			t.Fatalf("grant: %d %s, want 403 %s", r.Status, r.Body, want)
		}
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(adult, "subject"), "", map[string]any{"granted": true, "notice_version": "2026-01"}); r.Status != 200 {
		t.Fatalf("adult grant: %d %s", r.Status, r.Body)
	}
}

// TestLookupShowsInTheAccessLog: a staff lookup that found a person is in that person's access log (it had
// no subject and showed nowhere), and in no one else's.
func TestLookupShowsInTheAccessLog(t *testing.T) {
	s := apptest.Start(t)
	found := s.CreateSubject(map[string]any{"name": "甲", "phone": "+8613800004321"})
	other := s.CreateSubject(map[string]any{"name": "乙", "phone": "+8613800009876"})
	r := s.Do("POST", "/v1/subjects/lookup", s.Token("st", "data_steward"), "account_management", map[string]any{"field": "phone", "value": "+8613800004321"})
	if r.Status != 200 || len(r.JSON["ids"].([]any)) != 1 {
		t.Fatalf("lookup: %d %s", r.Status, r.Body)
	}
	for id, want := range map[string]bool{found: true, other: false} {
		log := s.Do("GET", "/v1/me/access-log", s.Token(id, "subject"), "", nil)
		if got := strings.Contains(string(log.Body), `"action":"subject.lookup"`); got != want {
			t.Errorf("%s's access log shows the lookup: %v, want %v: %s", id, got, want, log.Body)
		}
	}
}
