package httpapi_test

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// The whole flow in the words, over HTTP with real tokens.
func TestAccessRequestOverHTTP(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "赵六", "birth_date": "1979-03-03", "id_number": "110101197903031238"})
	other := s.CreateSubject(map[string]any{"name": "钱七", "birth_date": "1979-04-04", "id_number": "110101197904041235"})
	cs := s.Token("cs-7", "customer_service")
	both := s.Token("cs-7", "customer_service", "compliance_officer")
	co := s.Token("co-1", "compliance_officer")
	read := func(tok, subject, grant string) apptest.Response {
		return s.DoHeaders("GET", "/v1/subjects/"+subject+"?fields=id_number", tok, "risk_control", nil, map[string]string{"X-Access-Grant": grant})
	}
	if r := read(cs, id, ""); r.Status != 403 {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}
	body := map[string]any{"fields": []string{"id_number"}, "subjects": []string{id}, "justification": "chargeback 2026-118",
		"reason_category": "fraud_investigation", "duration": "4h"}
	if r := s.Do("POST", "/v1/access-requests", s.Token("mk", "marketing"), "marketing", body); r.Status != 403 {
		t.Fatalf("marketing may request nothing: %d %s", r.Status, r.Body)
	}
	r := s.Do("POST", "/v1/access-requests", cs, "risk_control", body)
	if r.Status != 201 || r.JSON["state"] != "pending" || r.JSON["subject_count"].(float64) != 1 || r.JSON["expires_at"] != nil {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	reqID := r.JSON["id"].(string)
	decide := func(tok string, b map[string]any) apptest.Response {
		return s.Do("POST", "/v1/access-requests/"+reqID+"/decision", tok, "", b)
	}
	if r := decide(both, map[string]any{"decision": "approve"}); r.Status != 403 {
		t.Fatalf("self-approval with both roles: %d %s", r.Status, r.Body)
	} else if e := s.Do("GET", "/v1/audit/events?action=access.decide&min_seq="+r.Header.Get("X-Audit-Seq"), co, "compliance_audit", nil); !strings.Contains(string(e.Body), `"reason":"four_eyes access_request:`+reqID+`"`) {
		t.Fatalf("the refused self-approval's entry does not name the request: %s", e.Body)
	}
	if r := s.Do("GET", "/v1/access-requests?state=pending", co, "", nil); r.Status != 200 || len(r.JSON["requests"].([]any)) != 1 ||
		r.JSON["requests"].([]any)[0].(map[string]any)["justification"] != "chargeback 2026-118" {
		t.Fatalf("the approver's queue: %d %s", r.Status, r.Body)
	}
	const note = "checked with 韩梅梅 at +8613912340000" // an approver's note may name a person
	ok := decide(co, map[string]any{"decision": "approve", "note": note, "duration": "2h"})
	if ok.Status != 200 || ok.JSON["state"] != "approved" || ok.JSON["grant_id"] == nil || ok.JSON["expires_at"] == nil || ok.JSON["note"] != note {
		t.Fatalf("approval: %d %s", ok.Status, ok.Body)
	}
	// The note is shown, and stored sealed: the database files never hold it.
	if err := s.App.Internals().Store.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vault.db", "vault.db-wal"} {
		if b, _ := os.ReadFile(filepath.Join(s.Dir, f)); bytes.Contains(b, []byte("+8613912340000")) || bytes.Contains(b, []byte("韩梅梅")) {
			t.Errorf("%s holds the decision note in plain text", f)
		}
	}
	if r := s.Do("GET", "/v1/access-requests", co, "", nil); !strings.Contains(string(r.Body), note) {
		t.Errorf("the note is not shown to the approver: %s", r.Body)
	}
	if r := decide(co, map[string]any{"decision": "deny"}); r.Status != 409 {
		t.Fatalf("deciding twice: %d", r.Status)
	}
	grant := ok.JSON["grant_id"].(string)
	got := read(cs, id, grant)
	if got.Status != 200 || got.JSON["fields"].(map[string]any)["id_number"] != "110101197903031238" {
		t.Fatalf("read under the grant: %d %s", got.Status, got.Body)
	}
	if r := read(cs, other, grant); r.Status != 403 || r.JSON["error"].(map[string]any)["reason"] != "outside_grant" {
		t.Fatalf("a subject outside the grant: %d %s", r.Status, r.Body)
	}
	// The grant is the requester's in the role they asked in: the same person as a data steward has none.
	if r := read(s.Token("cs-7", "data_steward"), id, grant); r.Status != 403 || r.JSON["error"].(map[string]any)["reason"] != "outside_grant" {
		t.Fatalf("the requester in another role: %d %s", r.Status, r.Body)
	}
	// An explicit deny of one of the caller's roles wins over the grant (marketing may never read id numbers).
	// (With nothing else to read for risk_control, the read is refused as a whole.)
	if r := read(s.Token("cs-7", "customer_service", "marketing"), id, grant); r.Status != 403 || strings.Contains(string(r.Body), "110101") {
		t.Fatalf("a grant beside a role that denies the field: %d %s", r.Status, r.Body)
	}
	// The read's entry names the grant.
	seq := got.Header.Get("X-Audit-Seq")
	ev := s.Do("GET", "/v1/audit/events?limit=1&min_seq="+seq+"&action=subject.read", co, "compliance_audit", nil)
	if es := ev.JSON["events"].([]any); len(es) != 1 || es[0].(map[string]any)["grant_id"] != grant {
		t.Fatalf("the read's entry: %s", ev.Body)
	}
	byGrant := s.Do("GET", "/v1/audit/events?grant="+grant+"&min_seq="+seq, co, "compliance_audit", nil)
	var reads int
	for _, x := range byGrant.JSON["events"].([]any) {
		m := x.(map[string]any)
		if m["grant_id"] != grant {
			t.Fatalf("?grant= returned another grant's entry: %v", m)
		}
		if m["action"] == "subject.read" {
			reads++
		}
	}
	if reads != 4 { // the read, and the refused ones: outside the grant, in another role, beside a deny
		t.Fatalf("?grant= lists %d reads: %s", reads, byGrant.Body)
	}
	// The subject sees the read as made under an approved request, with its reason category, never who.
	log := s.Do("GET", "/v1/me/access-log", s.Token(id, "subject"), "", nil)
	var under int
	for _, x := range log.JSON["entries"].([]any) {
		if _, ok := x.(map[string]any)["team"]; !ok {
			t.Fatalf("an access log entry without the team key (API.md names it): %v", x)
		}
		// Under the request: the read, and the one refused beside a deny rule (the grant was good); not the
		// one refused in another role, outside the grant.
		m := x.(map[string]any)
		if m["under_request"] == true {
			under++
			if m["reason_category"] != "fraud_investigation" || m["purpose"] != "risk_control" {
				t.Fatalf("access log entry under a request: %v", m)
			}
		}
	}
	if under != 2 || strings.Contains(string(log.Body), "cs-7") || strings.Contains(string(log.Body), "chargeback") {
		t.Fatalf("the subject's access log: %s", log.Body)
	}
	if r := s.Do("POST", "/v1/access-requests/"+reqID+"/revoke", cs, "", nil); r.Status != 200 || r.JSON["state"] != "revoked" {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := read(cs, id, grant); r.Status != 403 || r.JSON["error"].(map[string]any)["reason"] != "grant_expired" {
		t.Fatalf("after revocation: %d %s", r.Status, r.Body)
	}
}

// The body exactly as API.md writes it (no reason category: the request states "other"), and every step of
// the workflow answers with the sequence number of its audit entry.
func TestAccessRequestAsTheContractWritesIt(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "赵六", "birth_date": "1979-03-03", "id_number": "110101197903031238"})
	cs, co := s.Token("cs-7", "customer_service"), s.Token("co-1", "compliance_officer")
	r := s.Do("POST", "/v1/access-requests", cs, "risk_control", map[string]any{"fields": []string{"id_number"},
		"subjects": []string{id}, "justification": "chargeback 2026-118", "duration": "4h"})
	if r.Status != 201 || r.JSON["reason_category"] != "other" || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("request: %d %v %s", r.Status, r.Header, r.Body)
	}
	seqs := []string{r.Header.Get("X-Audit-Seq")}
	reqID := r.JSON["id"].(string)
	if r := s.Do("POST", "/v1/access-requests/"+reqID+"/decision", co, "", map[string]any{"decision": "approve"}); r.Status != 200 {
		t.Fatalf("decision: %d %s", r.Status, r.Body)
	} else {
		seqs = append(seqs, r.Header.Get("X-Audit-Seq"))
	}
	if r := s.Do("POST", "/v1/access-requests/"+reqID+"/revoke", cs, "", nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	} else {
		seqs = append(seqs, r.Header.Get("X-Audit-Seq"))
	}
	for i, want := range []string{"access.request", "access.decide", "access.revoke"} {
		ev := s.Do("GET", "/v1/audit/events?limit=1&min_seq="+seqs[i]+"&action="+want, co, "compliance_audit", nil)
		es, _ := ev.JSON["events"].([]any)
		if len(es) != 1 || fmt.Sprint(es[0].(map[string]any)["seq"]) != seqs[i] {
			t.Fatalf("X-Audit-Seq %q of %s does not name its entry: %s", seqs[i], want, ev.Body)
		}
	}
}

// A grant never widens a consent-based read for a subject without consent.
// A request may name an audience instead of subjects (API.md): it covers the audience's treated members,
// whose ids stay inside the vault (the request shows the audience and the count), up to the same cap.
func TestAccessRequestForAnAudience(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	var ids []string
	for i, idn := range []string{"110101198001011232", "110101198102022344", "110101198203033456"} {
		id := s.CreateSubject(map[string]any{"name": "王" + strconv.Itoa(i), "phone": "+861380000123" + strconv.Itoa(i), "birth_date": idn[6:10] + "-" + idn[10:12] + "-" + idn[12:14],
			"id_number": idn})
		if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil)); r.Status != 201 {
			t.Fatalf("consent: %d %s", r.Status, r.Body)
		}
		var cids []string
		for _, c := range s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil).JSON["consents"].([]any) {
			if m := c.(map[string]any); m["purpose"] == "marketing" {
				cids = append(cids, m["id"].(string))
			}
		}
		if _, _, err := s.App.Vault.Tags().StoreTags(t.Context(), vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}},
			[]vault.SubjectTags{{SubjectID: id, Purpose: "marketing", ConsentIDs: cids, Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value",
				Value: "at_risk", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	b := s.Do("POST", "/v1/audiences", s.Token("mk", "marketing"), "marketing", map[string]any{"name": "win back", "rule": "value.rfm_segment == 'at_risk'", "channel": "sms", "holdout": 0})
	if b.Status != 201 || b.JSON["size"].(float64) != 3 || b.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("build: %d %s (X-Audit-Seq %q)", b.Status, b.Body, b.Header.Get("X-Audit-Seq"))
	}
	aud := b.JSON["id"].(string)
	cs := s.Token("cs-7", "customer_service")
	body := map[string]any{"fields": []string{"id_number"}, "audience": aud, "justification": "fraud ring among the win-back offers",
		"reason_category": "fraud_investigation", "duration": "4h"}
	r := s.Do("POST", "/v1/access-requests", cs, "risk_control", body)
	if r.Status != 201 || r.JSON["subject_count"].(float64) != 3 || r.JSON["audience"] != aud || len(r.JSON["subjects"].([]any)) != 0 {
		t.Fatalf("request for an audience: %d %s", r.Status, r.Body)
	}
	for _, id := range ids {
		if strings.Contains(string(r.Body), id) {
			t.Fatalf("the request shows a member's subject id: %s", r.Body)
		}
	}
	if a := s.Do("GET", "/v1/audit/events?action=access.request", s.Token("co-2", "compliance_officer"), "compliance_audit", nil); !strings.Contains(string(a.Body), "audience:"+aud) {
		t.Fatalf("the request's entry does not name the audience: %s", a.Body)
	}
	ok := s.Do("POST", "/v1/access-requests/"+r.JSON["id"].(string)+"/decision", s.Token("co-1", "compliance_officer"), "", map[string]any{"decision": "approve"})
	if ok.Status != 200 || ok.JSON["grant_id"] == nil {
		t.Fatalf("approval: %d %s", ok.Status, ok.Body)
	}
	got := s.DoHeaders("GET", "/v1/subjects/"+ids[1]+"?fields=id_number", cs, "risk_control", nil, map[string]string{"X-Access-Grant": ok.JSON["grant_id"].(string)})
	if got.Status != 200 || got.JSON["fields"].(map[string]any)["id_number"] != "110101198102022344" {
		t.Fatalf("a member read under the grant: %d %s", got.Status, got.Body)
	}
	both := map[string]any{"fields": []string{"id_number"}, "audience": aud, "subjects": []string{ids[0]}, "justification": "x",
		"reason_category": "fraud_investigation", "duration": "4h"}
	if r := s.Do("POST", "/v1/access-requests", cs, "risk_control", both); r.Status != 400 {
		t.Fatalf("subjects and an audience: %d %s", r.Status, r.Body)
	}
	body["audience"] = "aud_nope"
	if r := s.Do("POST", "/v1/access-requests", cs, "risk_control", body); r.Status != 400 {
		t.Fatalf("an unknown audience: %d %s", r.Status, r.Body)
	}
}

func TestGrantKeepsConsentRules(t *testing.T) {
	dir := t.TempDir()
	grants := `{"grantable":[{"role":"analyst","purpose":"analytics","categories":["demographic"],"max_duration":"7d","approvers":["compliance_officer"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "grants.json"), []byte(grants), 0o600); err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, func(c *app.Config) { c.PolicyDir = dir })
	with := s.CreateSubject(map[string]any{"name": "甲", "birth_date": "1980-01-01", "occupation": "teacher"})
	without := s.CreateSubject(map[string]any{"name": "乙", "birth_date": "1980-01-01", "occupation": "doctor"})
	if r := s.Do("POST", "/v1/subjects/"+with+"/consents", s.Token("st", "data_steward"), "account_management",
		map[string]any{"purpose": "analytics", "notice_version": "2026-01", "method": "app_checkbox", "kind": "general"}); r.Status != 201 {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	an := s.Token("an-1", "analyst")
	r := s.Do("POST", "/v1/access-requests", an, "analytics", map[string]any{"categories": []string{"demographic"}, "subjects": []string{with, without},
		"justification": "churn study 2026-Q4", "reason_category": "study", "duration": "7d", "max_reads": 10})
	if r.Status != 201 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	ok := s.Do("POST", "/v1/access-requests/"+r.JSON["id"].(string)+"/decision", s.Token("co", "compliance_officer"), "", map[string]any{"decision": "approve"})
	grant := ok.JSON["grant_id"].(string)
	get := func(id string) apptest.Response {
		return s.DoHeaders("GET", "/v1/subjects/"+id+"?fields=occupation", an, "analytics", nil, map[string]string{"X-Access-Grant": grant})
	}
	if r := get(with); r.Status != 200 || r.JSON["fields"].(map[string]any)["occupation"] != "teacher" {
		t.Fatalf("with consent: %d %s", r.Status, r.Body)
	}
	if r := get(without); r.Status != 200 || len(r.JSON["fields"].(map[string]any)) != 0 || !withheldAs(r, "occupation", "consent_required") {
		t.Fatalf("without consent the grant must not widen the read: %d %s", r.Status, r.Body)
	}
}

// GET /v1/subjects/{id}/events: the role's baseline categories; an analyst's grant for behaviour and
// transactions gives pseudonymous rows (GET /v1/grants/{id}/rows), never this route's identified events,
// and still only for subjects whose analytics consent is valid at each read.
func TestSubjectEventsUnderAGrant(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	with := s.CreateSubject(map[string]any{"name": "甲", "birth_date": "1980-01-01"})
	without := s.CreateSubject(map[string]any{"name": "乙", "birth_date": "1980-01-01"})
	if r := s.Do("POST", "/v1/subjects/"+with+"/consents", st, "account_management",
		map[string]any{"purpose": "analytics", "notice_version": "2026-01", "method": "app_checkbox", "kind": "general"}); r.Status != 201 {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	ts := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	var batch []string
	for i, id := range []string{with, without} {
		batch = append(batch, `{"event_id":"o-`+strconv.Itoa(i)+`","subject_id":"`+id+`","type":"order","ts":"`+ts+`","source":"app","attrs":{"order_id":"o-1","amount":99,"currency":"CNY","items":[{"sku":"s1","category":"toys","brand":"Lego","qty":1,"price":99}]}}`)
	}
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[`+strings.Join(batch, ",")+`]}`); r.JSON["accepted"].(float64) != 2 {
		t.Fatalf("ingest: %s", r.Body)
	}
	// Free text and codes a row must not carry: a return's reason, a search query, a coupon, a page's query
	// string, an item's extra attribute.
	pii := []string{"李雷", "13800001234", "VIP-LEI", "token=", "gift_note"}
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[{"event_id":"r-1","subject_id":"`+with+`","type":"return","ts":"`+ts+`","source":"app","attrs":{"order_id":"o-1","amount":10,"reason":"请退款到 13800001234 李雷"}},
		{"event_id":"o-9","subject_id":"`+with+`","type":"order","ts":"`+ts+`","source":"app","attrs":{"order_id":"o-9","amount":5,"currency":"CNY","coupon":"VIP-LEI","items":[{"sku":"s2","category":"toys","brand":"Lego","qty":1,"price":5,"gift_note":"给李雷"}]}}]}`); r.JSON["accepted"].(float64) != 2 {
		t.Fatalf("ingest a return and an order: %s", r.Body)
	}
	if r := s.Do("POST", "/v1/subjects/"+with+"/consents", st, "account_management",
		map[string]any{"purpose": "personalization", "notice_version": "2026-01", "method": "app_checkbox", "kind": "general"}); r.Status != 201 {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	time.Sleep(1100 * time.Millisecond) // behaviour from before the consent is refused; times have whole seconds
	now := time.Now().UTC().Format(time.RFC3339)
	if r := s.Do("POST", "/v1/events", st, "personalization", `{"events":[{"event_id":"q-1","subject_id":"`+with+`","type":"search","ts":"`+now+`","source":"app","attrs":{"query":"李雷 13800001234 订单"}},
		{"event_id":"p-1","subject_id":"`+with+`","type":"page_view","ts":"`+now+`","source":"app","attrs":{"page":"/p/s1?token=abc#x","category":"toys"}}]}`); r.JSON["accepted"].(float64) != 2 {
		t.Fatalf("ingest behaviour: %s", r.Body)
	}
	// customer_service reads transactions for its own purpose on its baseline, in pages; a cursor naming no
	// event is 400 (it was an empty page, read as the end of the list).
	r := s.Do("GET", "/v1/subjects/"+with+"/events?category=transactions", s.Token("cs", "customer_service"), "customer_service", nil)
	if r.Status != 200 || len(r.JSON["events"].([]any)) != 3 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("customer_service: %d %s", r.Status, r.Body)
	}
	for _, cursor := range []string{"ev_doesnotexist", "李雷"} {
		r := s.Do("GET", "/v1/subjects/"+with+"/events?category=transactions&cursor="+url.QueryEscape(cursor), s.Token("cs", "customer_service"), "customer_service", nil)
		if r.Status != 400 || r.ErrorCode() != "invalid_argument" || strings.Contains(string(r.Body), cursor) {
			t.Fatalf("cursor %q: %d %s", cursor, r.Status, r.Body)
		}
	}
	an := s.Token("an-1", "analyst")
	if r := s.Do("GET", "/v1/subjects/"+with+"/events", an, "analytics", nil); r.Status != 403 {
		t.Fatalf("an analyst without a grant: %d %s", r.Status, r.Body)
	}
	req := s.Do("POST", "/v1/access-requests", an, "analytics", map[string]any{"categories": []string{"behavior", "transactions"},
		"subjects": []string{with, without}, "justification": "basket study", "reason_category": "study", "duration": "7d"})
	ok := s.Do("POST", "/v1/access-requests/"+req.JSON["id"].(string)+"/decision", s.Token("co", "compliance_officer"), "", map[string]any{"decision": "approve"})
	grant, _ := ok.JSON["grant_id"].(string)
	get := func(id string) apptest.Response {
		return s.DoHeaders("GET", "/v1/subjects/"+id+"/events?category=transactions", an, "analytics", nil, map[string]string{"X-Access-Grant": grant})
	}
	// An analyst sees no one: the grant gives pseudonymous rows, never a person's identified events.
	for _, id := range []string{with, without} {
		if r := get(id); r.Status != 403 || !strings.Contains(string(r.Body), "/rows") || r.Header.Get("X-Audit-Seq") == "" {
			t.Fatalf("identified events under an analytics grant: %d %s", r.Status, r.Body)
		}
	}
	// The grant's rows: pseudonymous, consenting subjects only, no identifiers, no free text.
	rows := s.Do("GET", "/v1/grants/"+grant+"/rows", an, "analytics", nil)
	rs, _ := rows.JSON["rows"].([]any)
	if rows.Status != 200 || len(rs) != 5 {
		t.Fatalf("rows: %d %s", rows.Status, rows.Body)
	}
	row := rs[0].(map[string]any)
	if p := row["pseudonym"].(string); p == "" || strings.Contains(string(rows.Body), with) || strings.Contains(string(rows.Body), "order_id") || row["day"] != ts[:10] {
		t.Fatalf("a row: %v", row)
	}
	for _, leak := range pii {
		if strings.Contains(string(rows.Body), leak) {
			t.Fatalf("the rows carry %q: %s", leak, rows.Body)
		}
	}
	for _, kept := range []string{`"page":"/p/s1"`, `"amount":10`, `"sku":"s2"`} {
		if !strings.Contains(string(rows.Body), kept) {
			t.Fatalf("the rows lack %s: %s", kept, rows.Body)
		}
	}
	// The page's own entry names the grant as each subject's does: a review by grant finds all three.
	byGrant := s.Do("GET", "/v1/audit/events?action=grant.rows&grant="+grant+"&min_seq="+rows.Header.Get("X-Audit-Seq"), s.Token("co", "compliance_officer"), "compliance_audit", nil)
	if evs, _ := byGrant.JSON["events"].([]any); byGrant.Status != 200 || len(evs) != 3 {
		t.Fatalf("the grant's rows entries by grant: %d %s", byGrant.Status, byGrant.Body)
	}
	if r := s.Do("GET", "/v1/grants/"+grant+"/rows", s.Token("an-2", "analyst"), "analytics", nil); r.Status != 403 {
		t.Fatalf("another analyst using the grant: %d %s", r.Status, r.Body)
	}
	// Each subject on the page has its own entry under the grant: the non-consenting one as refused.
	log := s.Do("GET", "/v1/me/access-log", s.Token(without, "subject"), "", nil)
	if !strings.Contains(string(log.Body), `"action":"grant.rows"`) || !strings.Contains(string(log.Body), `"under_request":true`) {
		t.Fatalf("the subject's access log: %s", log.Body)
	}
}

// Requests come in pages (`limit`, `cursor`, `next_cursor`), and every request a caller may see is reachable
// however many others were filed: the list read the newest 1,000 requests of everyone and filtered them
// afterwards, so one agent filing enough pushed another's pending request — and live grants — out of both
// the requester's and the approver's sight.
func TestAccessRequestListReachesEveryRequest(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "赵六", "birth_date": "1979-03-03", "id_number": "110101197903031238"})
	in := vault.AccessRequestInput{Fields: []string{"id_number"}, Subjects: []string{id}, Justification: "chargeback", Duration: "1h"}
	file := func(agent string) string {
		t.Helper()
		a := vault.Access{Caller: vault.Caller{Subject: agent, Roles: []policies.Role{"customer_service"}}, Purpose: "risk_control"}
		v, err := s.App.Vault.AccessRequests().Request(t.Context(), a, in)
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	first := file("cs-1")
	for range 1030 {
		file("cs-2")
	}
	r := s.Do("GET", "/v1/access-requests?mine=true", s.Token("cs-1", "customer_service"), "", nil)
	if rows, _ := r.JSON["requests"].([]any); r.Status != 200 || len(rows) != 1 || rows[0].(map[string]any)["id"] != first || r.JSON["next_cursor"] != nil {
		t.Fatalf("the requester's own request under 1,030 newer ones: %d %.300s", r.Status, r.Body)
	}
	co := s.Token("co-1", "compliance_officer")
	seen, cursor := map[string]bool{}, ""
	for pages := 0; ; pages++ {
		r := s.Do("GET", "/v1/access-requests?state=pending&limit=500&cursor="+cursor, co, "", nil)
		rows, _ := r.JSON["requests"].([]any)
		if r.Status != 200 || pages > 3 || len(rows) > 500 {
			t.Fatalf("page %d: %d %.300s", pages, r.Status, r.Body)
		}
		for _, row := range rows {
			seen[row.(map[string]any)["id"].(string)] = true
		}
		next, _ := r.JSON["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 1031 || !seen[first] {
		t.Fatalf("the approver's queue in pages: %d requests, the oldest seen %v", len(seen), seen[first])
	}
	// Nobody's requests are an empty list, never null (the console iterates it).
	if r := s.Do("GET", "/v1/access-requests?mine=true", s.Token("cs-9", "customer_service"), "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"requests":[]`) {
		t.Fatalf("an empty list: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"cursor=acr_nope", "limit=0", "limit=501"} {
		if r := s.Do("GET", "/v1/access-requests?"+bad, co, "", nil); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
			t.Fatalf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
}

// A read under a grant that releases nothing — the subject has none of the fields asked for — spends none
// of its reads and is not recorded as a read of those fields: it spent one, and the person's access log
// said their id number had been read.
func TestAGrantReadOfNothingSpendsNothing(t *testing.T) {
	s := apptest.Start(t)
	none := s.CreateSubject(map[string]any{"name": "赵六", "birth_date": "1979-03-03"})
	with := s.CreateSubject(map[string]any{"name": "钱七", "birth_date": "1979-04-04", "id_number": "110101197904041235"})
	cs := s.Token("cs-7", "customer_service")
	r := s.Do("POST", "/v1/access-requests", cs, "risk_control", map[string]any{"fields": []string{"id_number"}, "subjects": []string{none, with},
		"justification": "chargeback", "duration": "1h", "max_reads": 1})
	ok := s.Do("POST", "/v1/access-requests/"+r.JSON["id"].(string)+"/decision", s.Token("co", "compliance_officer"), "", map[string]any{"decision": "approve"})
	grant, _ := ok.JSON["grant_id"].(string)
	read := func(id string) apptest.Response {
		return s.DoHeaders("GET", "/v1/subjects/"+id+"?fields=id_number", cs, "risk_control", nil, map[string]string{"X-Access-Grant": grant})
	}
	if r := read(none); r.Status != 200 || len(r.JSON["fields"].(map[string]any)) != 0 {
		t.Fatalf("a read of a subject without an id number: %d %s", r.Status, r.Body)
	}
	if r := read(with); r.Status != 200 || r.JSON["fields"].(map[string]any)["id_number"] != "110101197904041235" {
		t.Fatalf("the one read the grant allows, after a read that released nothing: %d %s", r.Status, r.Body)
	}
	if r := read(with); r.Status != 403 {
		t.Fatalf("a second read under max_reads 1: %d %s", r.Status, r.Body)
	}
	log := s.Do("GET", "/v1/me/access-log", s.Token(none, "subject"), "", nil)
	for _, e := range log.JSON["entries"].([]any) {
		if m := e.(map[string]any); m["action"] == "subject.read" && strings.Contains(fmt.Sprint(m["fields"]), "id_number") {
			t.Fatalf("the person without an id number reads that theirs was read: %v", m)
		}
	}
}
