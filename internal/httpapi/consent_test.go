package httpapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/policies"
)

func grantBody(purpose string, extra map[string]any) map[string]any {
	b := map[string]any{"purpose": purpose, "notice_version": "2026-01", "method": "app_checkbox", "kind": "general", "evidence": "form 2026-0042 screenshot"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func TestConsentGatesMarketing(t *testing.T) {
	s := apptest.Start(t)
	st, mk := s.Token("st", "data_steward"), s.Token("mk", "marketing")
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "email": "wei@example.cn", "city": "襄阳", "province": "湖北", "occupation": "teacher", "birth_date": "1984-09-10"})
	read := func() apptest.Response {
		return s.Do("GET", "/v1/subjects/"+id+"?fields=name,phone,email,city,province,occupation", mk, "marketing", nil)
	}
	if r := read(); len(r.JSON["fields"].(map[string]any)) != 0 || !withheldAs(r, "phone", "consent_required") {
		t.Fatalf("before consent: %s", r.Body)
	}
	g := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil))
	if g.Status != 201 || g.JSON["status"] != "granted" || g.JSON["id"] == "" || g.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("grant: %d %s", g.Status, g.Body)
	}
	r := read()
	f := r.JSON["fields"].(map[string]any)
	if f["phone"] != "138****1234" || f["email"] != "w***@example.cn" || f["city"] != "襄阳" || f["occupation"] != "teacher" {
		t.Fatalf("with consent: %s", r.Body)
	}
	if !withheldAs(r, "name", "not_permitted_for_purpose") {
		t.Fatalf("name should stay withheld: %s", r.Body)
	}
	// The audit entry names the consent relied on.
	co := s.Token("co", "compliance_officer")
	ev := s.Do("GET", "/v1/audit/events?action=subject.read&limit=1", co, "compliance_audit", nil)
	ids := ev.JSON["events"].([]any)[0].(map[string]any)["consent_ids"].([]any)
	if len(ids) != 1 || ids[0] != g.JSON["id"] {
		t.Fatalf("audit consent_ids = %v, want [%v]", ids, g.JSON["id"])
	}
	// Withdrawal is effective for the very next request.
	w := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", st, "account_management", nil)
	if w.Status != 200 || len(w.JSON["withdrawn"].([]any)) != 1 {
		t.Fatalf("withdraw: %d %s", w.Status, w.Body)
	}
	if r := read(); len(r.JSON["fields"].(map[string]any)) != 0 {
		t.Fatalf("after withdrawal: %s", r.Body)
	}
	// History keeps both, newest first; the current state says withdrawn.
	l := s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil)
	hist := l.JSON["history"].([]any)
	if len(hist) != 2 || hist[0].(map[string]any)["status"] != "withdrawn" || hist[1].(map[string]any)["status"] != "granted" {
		t.Fatalf("history: %s", l.Body)
	}
	cur := l.JSON["consents"].([]any)
	if len(cur) != 1 || cur[0].(map[string]any)["status"] != "withdrawn" || cur[0].(map[string]any)["evidence"] != "form 2026-0042 screenshot" {
		t.Fatalf("current: %s", l.Body)
	}
	// Withdrawing again: nothing active, still 200; a purpose never granted: 404.
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", st, "account_management", nil); r.Status != 200 || len(r.JSON["withdrawn"].([]any)) != 0 {
		t.Fatalf("second withdrawal: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/analytics", st, "account_management", nil); r.Status != 404 {
		t.Fatalf("never granted: %d", r.Status)
	}
	// Two active grants of one purpose (two forms): the withdrawal lists both (API.md: "every active record
	// for that purpose is withdrawn"; it listed one).
	for _, form := range []string{"form-1", "form-2"} {
		if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("personalization", map[string]any{"evidence": form})); r.Status != 201 {
			t.Fatalf("grant %s: %d %s", form, r.Status, r.Body)
		}
	}
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/personalization", st, "account_management", nil); r.Status != 200 || len(r.JSON["withdrawn"].([]any)) != 2 {
		t.Fatalf("withdrawing two grants: %d %s", r.Status, r.Body)
	}
	// Evidence is personal data: never in clear at rest.
	raw, _ := os.ReadFile(filepath.Join(s.Dir, datadir.DatabaseFile))
	wal, _ := os.ReadFile(filepath.Join(s.Dir, datadir.DatabaseFile+"-wal"))
	if bytes.Contains(append(raw, wal...), []byte("form 2026-0042")) {
		t.Fatal("consent evidence stored in clear")
	}
}

func TestConsentRecordingRules(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	adult := s.CreateSubject(map[string]any{"name": "韩梅梅", "birth_date": "1990-01-01"})
	child := s.CreateSubject(map[string]any{"name": "小明", "birth_date": time.Now().AddDate(-9, 0, 0).Format(time.DateOnly), "city": "杭州"})
	for _, tc := range []struct {
		name, who, purpose string
		extra              map[string]any
		status             int
		code               string
	}{
		{"old notice", adult, "marketing", map[string]any{"notice_version": "2025-06"}, 400, "invalid_argument"},
		{"contract purpose", adult, "account_management", nil, 400, "invalid_argument"},
		{"unknown purpose", adult, "spam", nil, 400, "invalid_argument"},
		{"sharing without recipient", adult, "third_party_sharing", map[string]any{"kind": "separate"}, 400, "invalid_argument"},
		{"sharing general", adult, "third_party_sharing", map[string]any{"recipient": "sf_express"}, 400, "invalid_argument"},
		{"sharing separate with recipient", adult, "third_party_sharing", map[string]any{"kind": "separate", "recipient": "sf_express"}, 201, ""},
		{"minor general", child, "marketing", nil, 403, "guardian_consent_required"},
		{"minor guardian", child, "marketing", map[string]any{"kind": "guardian"}, 201, ""},
		{"unknown member", adult, "marketing", map[string]any{"colour": "red"}, 400, "invalid_argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/subjects/"+tc.who+"/consents", st, "account_management", grantBody(tc.purpose, tc.extra))
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
		})
	}
	// Who may record: data stewards and customer service under account_management, nobody else.
	for _, tc := range []struct {
		role, purpose string
		status        int
	}{{"customer_service", "account_management", 201}, {"marketing", "marketing", 403}, {"data_steward", "marketing", 403}, {"analyst", "account_management", 403}} {
		r := s.Do("POST", "/v1/subjects/"+adult+"/consents", s.Token("x", tc.role), tc.purpose, grantBody("personalization", nil))
		if r.Status != tc.status {
			t.Errorf("%s/%s: %d %s", tc.role, tc.purpose, r.Status, r.Body)
		}
	}
	// The guardian's consent lets marketing see the child's city; a general one would not have.
	r := s.Do("GET", "/v1/subjects/"+child+"?fields=city", s.Token("mk", "marketing"), "marketing", nil)
	if r.JSON["fields"].(map[string]any)["city"] != "杭州" {
		t.Fatalf("guardian consent: %s", r.Body)
	}
}

func TestMaterialNoticeChangeVoidsOldConsents(t *testing.T) {
	dir := t.TempDir()
	for _, name := range policies.FileNames() {
		if err := os.WriteFile(filepath.Join(dir, name), policies.Embedded(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := apptest.Start(t, func(c *app.Config) { c.PolicyDir = dir })
	id := s.CreateSubject(map[string]any{"city": "杭州", "birth_date": "1991-03-04"})
	s.Do("POST", "/v1/subjects/"+id+"/consents", s.Token("st", "data_steward"), "account_management", grantBody("marketing", nil))
	mk := s.Token("mk", "marketing")
	read := func() apptest.Response { return s.Do("GET", "/v1/subjects/"+id+"?fields=city", mk, "marketing", nil) }
	if read().JSON["fields"].(map[string]any)["city"] != "杭州" {
		t.Fatal("consent under the current notice does not count")
	}
	publish := func(material bool) {
		t.Helper()
		p := filepath.Join(dir, "purposes.json")
		b, _ := os.ReadFile(p)
		old := `"notice": {"version": "2026-01", "material": true, "channels": ["sms", "email", "push", "wecom", "short_video"]},
      "notice_history": [{"version": "2025-06", "material": false}]`
		m := "false"
		if material {
			m = "true"
		}
		repl := `"notice": {"version": "2026-07", "material": ` + m + `, "channels": ["sms", "email", "push", "wecom", "short_video"]},
      "notice_history": [{"version": "2025-06", "material": false}, {"version": "2026-01", "material": true, "channels": ["sms", "email", "push", "wecom", "short_video"]}]`
		if !strings.Contains(string(b), old) {
			t.Fatal("purposes.json layout changed")
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, repl, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := s.Do("POST", "/v1/policies/reload", s.Token("root", "admin"), "", nil); r.Status != 200 {
			t.Fatalf("reload: %d %s", r.Status, r.Body)
		}
	}
	publish(false)
	if read().JSON["fields"].(map[string]any)["city"] != "杭州" {
		t.Fatal("a non-material notice change voided the consent")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "purposes.json"))
	os.WriteFile(filepath.Join(dir, "purposes.json"), []byte(strings.Replace(string(b), `"version": "2026-07", "material": false`, `"version": "2026-07", "material": true`, 1)), 0o600)
	s.Do("POST", "/v1/policies/reload", s.Token("root", "admin"), "", nil)
	if r := read(); len(r.JSON["fields"].(map[string]any)) != 0 || !withheldAs(r, "city", "consent_required") {
		t.Fatalf("a material notice change left the old consent counting: %s", r.Body)
	}
}

// TestWithdrawalUnderConcurrentReads withdraws while many goroutines read, and checks that no read that
// started after the withdrawal had returned got a consent-based field.
func TestWithdrawalUnderConcurrentReads(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"city": "杭州", "phone": "+8613800001234", "birth_date": "1991-03-04"})
	st, mk := s.Token("st", "data_steward"), s.Token("mk", "marketing")
	s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil))
	type sample struct {
		start time.Time
		got   bool
	}
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r := s.Do("GET", "/v1/subjects/"+id+"?fields=city,phone", mk, "marketing", nil)
				mu.Lock()
				samples = append(samples, sample{start, r.Status == 200 && len(r.JSON["fields"].(map[string]any)) > 0})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", st, "account_management", nil); r.Status != 200 {
		t.Fatalf("withdraw: %d", r.Status)
	}
	withdrawn := time.Now()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	before, after := 0, 0
	for _, x := range samples {
		if x.start.After(withdrawn) {
			after++
			if x.got {
				t.Fatalf("a read that started %v after the withdrawal returned consent-based fields", x.start.Sub(withdrawn))
			}
		} else if x.got {
			before++
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("test did not exercise both sides: %d granted reads before, %d reads after", before, after)
	}
}

// A marketing consent covers the channels its notice names unless it names fewer; one channel is withdrawn
// on its own (Advertising Law Art. 43) by staff or the subject, and the consent and its other channels stand.
func TestConsentPerChannel(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "birth_date": "1984-09-10"})
	channels := func() []string {
		r := s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil)
		for _, c := range r.JSON["consents"].([]any) {
			m := c.(map[string]any)
			if m["purpose"] == "marketing" && m["status"] == "granted" {
				var out []string
				for _, ch := range m["channels"].([]any) {
					out = append(out, ch.(string))
				}
				return out
			}
		}
		return nil
	}
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", map[string]any{"channels": []string{"fax"}})); r.Status != 400 {
		t.Fatalf("a channel the notice does not name: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil)); r.Status != 201 {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	if got := strings.Join(channels(), ","); got != "sms,email,push,wecom,short_video" {
		t.Fatalf("a consent naming no channel covers the notice's: %s", got)
	}
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing?channel=sms", st, "account_management", nil); r.Status != 200 {
		t.Fatalf("withdraw sms: %d %s", r.Status, r.Body)
	}
	if got := strings.Join(channels(), ","); got != "email,push,wecom,short_video" {
		t.Fatalf("after withdrawing sms: %s", got)
	}
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing?channel=sms", st, "account_management", nil); r.Status != 404 {
		t.Fatalf("sms again: %d", r.Status)
	}
	me := s.Token(id, "subject")
	// The answer is the record (API.md), its keys at the top level; "record" repeats it.
	if r := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": false, "channel": "wecom"}); r.Status != 200 ||
		r.JSON["purpose"] != "marketing" || r.JSON["id"] == nil || r.JSON["id"] != r.JSON["record"].(map[string]any)["id"] {
		t.Fatalf("the subject withdraws wecom: %d %s", r.Status, r.Body)
	}
	if got := strings.Join(channels(), ","); got != "email,push,short_video" {
		t.Fatalf("after the subject's withdrawal: %s", got)
	}
	// The consent itself stands: marketing still reads the masked phone.
	r := s.Do("GET", "/v1/subjects/"+id+"?fields=phone", s.Token("mk", "marketing"), "marketing", nil)
	if r.Status != 200 || r.JSON["fields"].(map[string]any)["phone"] == nil {
		t.Fatalf("withdrawing channels must not withdraw the consent: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": false, "channel": "pigeon"}); r.Status != 400 {
		t.Fatalf("an unknown channel: %d", r.Status)
	}
	// A purpose that rests on a contract has no consent to withdraw, as it has none to grant.
	for _, granted := range []bool{true, false} {
		if r := s.Do("PUT", "/v1/me/consents/account_management", me, "", map[string]any{"granted": granted}); r.Status != 400 || !strings.Contains(string(r.Body), "not on consent") {
			t.Fatalf("granted %v on a contract purpose: %d %s", granted, r.Status, r.Body)
		}
	}
	// The history is never rewritten: the grant still shows the five channels it covered, each channel's
	// withdrawal the channel it withdrew, and a full withdrawal the channels the consent still covered.
	if r := s.Do("PUT", "/v1/me/consents/marketing", me, "", map[string]any{"granted": false}); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	hist := s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil)
	var got []string
	for _, h := range hist.JSON["history"].([]any) {
		m := h.(map[string]any)
		var chs []string
		list, _ := m["channels"].([]any)
		for _, c := range list {
			chs = append(chs, c.(string))
		}
		got = append(got, m["action"].(string)+":"+strings.Join(chs, ","))
	}
	want := []string{"withdraw:email,push,short_video", "withdraw:wecom", "withdraw:sms", "grant:sms,email,push,wecom,short_video"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("history, newest first:\n%q\nwant\n%q", got, want)
	}
}
