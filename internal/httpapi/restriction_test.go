package httpapi_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// A restriction request (PIPL Art. 44) restricts at once: staff reads, tag reads and collection are
// withheld as "restricted" while the subject's own access stays; the subject lifts it with
// DELETE /v1/me/restriction, staff record a lift, and a rejected restriction request lifts it too.
func TestRestrictionIsEnforcedUntilLifted(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王芳", "phone": "+8613800007777", "city": "杭州"})
	me := s.Token(id, "subject")
	cs := s.Token("cs", "customer_service")
	st := s.Token("st", "data_steward")
	co := s.Token("co", "compliance_officer")
	readName := func() (granted bool, reason string) {
		t.Helper()
		r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
		if r.Status != 200 {
			t.Fatalf("read: %d %s", r.Status, r.Body)
		}
		if w, _ := r.JSON["withheld"].([]any); len(w) > 0 {
			return false, w[0].(map[string]any)["reason"].(string)
		}
		return r.JSON["fields"].(map[string]any)["name"] == "王芳", ""
	}
	restrict := func() string {
		t.Helper()
		r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "restriction"})
		if r.Status != 201 {
			t.Fatalf("restriction request: %d %s", r.Status, r.Body)
		}
		return r.JSON["id"].(string)
	}
	if ok, _ := readName(); !ok {
		t.Fatal("not readable before the restriction")
	}
	first := restrict()
	if ok, reason := readName(); ok || reason != "restricted" {
		t.Fatalf("read under restriction: granted %v reason %q", ok, reason)
	}
	// Every staff read (PIPL.md), a purpose under a legal obligation too.
	if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", st, "risk_control", nil); r.Status != 200 || len(r.JSON["fields"].(map[string]any)) != 0 ||
		r.JSON["withheld"].([]any)[0].(map[string]any)["reason"] != "restricted" {
		t.Fatalf("risk_control read under restriction: %d %s", r.Status, r.Body)
	}
	// Completing the request names the entry that restricted processing: the request's own.
	restrictedAt := ""
	if r := s.Do("GET", "/v1/audit/events?action=request.create&subject_id="+id, co, "compliance_audit", nil); r.Status == 200 {
		for _, e := range r.JSON["events"].([]any) {
			restrictedAt = fmt.Sprint(e.(map[string]any)["seq"])
		}
	}
	done := s.Do("POST", "/v1/requests/"+first+"/transition", co, "compliance_audit", map[string]any{"to": "completed"})
	if done.Status != 200 || restrictedAt == "" || done.JSON["note"] != "fulfilled: processing restricted, audit entry "+restrictedAt {
		t.Fatalf("complete: %d %s (the request's entry is %s)", done.Status, done.Body, restrictedAt)
	}
	if ok, _ := readName(); ok {
		t.Fatal("completing the request lifted the restriction")
	}
	ts := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	ev := `{"events":[{"event_id":"ev-rs1","subject_id":"` + id + `","type":"order","ts":"` + ts + `","source":"app","attrs":{"order_id":"o","amount":5,"currency":"CNY","items":[{"sku":"s","category":"c","brand":"b","qty":1,"price":5}]}}]}`
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", ev); r.JSON["accepted"].(float64) != 0 {
		t.Fatalf("collected under restriction: %s", r.Body)
	}
	// Storage only: staff change nothing (403 restricted, recorded); the subject still corrects their own data.
	if r := s.Do("PATCH", "/v1/subjects/"+id, st, "account_management", map[string]any{"fields": map[string]any{"city": "宁波"}}); r.Status != 403 ||
		r.ErrorCode() != "restricted" || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("staff change under restriction: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PATCH", "/v1/me", me, "", map[string]any{"fields": map[string]any{"city": "绍兴"}}); r.Status != 200 {
		t.Fatalf("own correction under restriction: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/me", me, "", nil); r.Status != 200 || r.JSON["fields"].(map[string]any)["name"] != "王芳" ||
		r.JSON["fields"].(map[string]any)["city"] != "绍兴" {
		t.Fatalf("own data under restriction: %d %s", r.Status, r.Body)
	}
	// The subject lifts it; lifting twice is 404.
	if r := s.Do("DELETE", "/v1/me/restriction", me, "", nil); r.Status != 200 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("lift: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/me/restriction", me, "", nil); r.Status != 404 {
		t.Fatalf("second lift: %d", r.Status)
	}
	if ok, reason := readName(); !ok {
		t.Fatalf("read after the lift: %q", reason)
	}
	// No staff member lifts it alone: the subject lifts it, or a compliance officer rejects the request.
	rid := restrict()
	if r := s.Do("DELETE", "/v1/subjects/"+id+"/restriction", st, "account_management", nil); r.Status != 404 {
		t.Fatalf("a staff lift: %d %s", r.Status, r.Body)
	}
	if ok, _ := readName(); ok {
		t.Fatal("read after an attempted staff lift")
	}
	// A rejected restriction request lifts what it set.
	if r := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "rejected", "reason": "the data are accurate and needed for the open order"}); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	if ok, reason := readName(); !ok {
		t.Fatalf("read after the rejection: %q", reason)
	}
}

// A restriction lifted by its subject takes its open requests out of the officers' queue (withdrawn, the
// lift's entry naming them); a subject withdraws an open request of their own — a restriction request
// lifting the restriction with it — but not an answered one, and not another person's; an officer cannot
// withdraw one.
func TestLiftingARestrictionWithdrawsItsRequests(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王芳", "phone": "+8613800007777"})
	other := s.CreateSubject(map[string]any{"name": "李雷"})
	me := s.Token(id, "subject")
	co := s.Token("co", "compliance_officer")
	file := func(typ string) string {
		t.Helper()
		r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": typ})
		if r.Status != 201 {
			t.Fatalf("%s request: %d %s", typ, r.Status, r.Body)
		}
		return r.JSON["id"].(string)
	}
	queued := func(rid string) string {
		t.Helper()
		for _, q := range s.Do("GET", "/v1/requests", co, "compliance_audit", nil).JSON["requests"].([]any) {
			if q.(map[string]any)["id"] == rid {
				return q.(map[string]any)["state"].(string)
			}
		}
		t.Fatalf("request %s is not in the queue", rid)
		return ""
	}
	restricted := func() bool {
		r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", s.Token("cs", "customer_service"), "customer_service", nil)
		return r.JSON["fields"].(map[string]any)["name"] != "王芳"
	}

	first, second := file("restriction"), file("restriction")
	if r := s.Do("POST", "/v1/requests/"+second+"/transition", co, "compliance_audit", map[string]any{"to": "in_progress"}); r.Status != 200 {
		t.Fatalf("in_progress: %d %s", r.Status, r.Body)
	}
	lift := s.Do("DELETE", "/v1/me/restriction", me, "", nil)
	if lift.Status != 200 || restricted() {
		t.Fatalf("lift: %d %s", lift.Status, lift.Body)
	}
	for _, rid := range []string{first, second} {
		if got := queued(rid); got != "withdrawn" {
			t.Fatalf("request %s is %s after the subject lifted the restriction, want withdrawn", rid, got)
		}
	}
	seq, _ := strconv.ParseInt(lift.Header.Get("X-Audit-Seq"), 10, 64)
	if entry := rawEntry(t, s, seq); !bytes.Contains(entry, []byte("withdrawn:"+first)) || !bytes.Contains(entry, []byte("withdrawn:"+second)) {
		t.Fatalf("the lift's entry does not name the requests it withdrew: %s", entry)
	}
	if r := s.Do("GET", "/v1/requests?state=withdrawn", co, "compliance_audit", nil); r.Status != 200 || len(r.JSON["requests"].([]any)) != 2 {
		t.Fatalf("queue of withdrawn requests: %d %s", r.Status, r.Body)
	}

	// Withdrawing a restriction request lifts the restriction.
	third := file("restriction")
	if !restricted() {
		t.Fatal("not restricted after the third request")
	}
	w := s.Do("DELETE", "/v1/me/requests/"+third, me, "", nil)
	if w.Status != 200 || w.JSON["state"] != "withdrawn" || w.Header.Get("X-Audit-Seq") == "" || restricted() {
		t.Fatalf("withdraw: %d %s", w.Status, w.Body)
	}
	if r := s.Do("DELETE", "/v1/me/requests/"+third, me, "", nil); r.Status != 409 {
		t.Fatalf("withdrawn twice: %d %s", r.Status, r.Body)
	}
	// An answered request stays as it was answered; another person's request is not found; an officer
	// cannot move one to withdrawn.
	access := file("access")
	if r := s.Do("POST", "/v1/requests/"+access+"/transition", co, "compliance_audit", map[string]any{"to": "withdrawn"}); r.Status != 400 {
		t.Fatalf("an officer withdrew a request: %d %s", r.Status, r.Body)
	}
	s.Do("POST", "/v1/requests/"+access+"/transition", co, "compliance_audit", map[string]any{"to": "completed"})
	if r := s.Do("DELETE", "/v1/me/requests/"+access, me, "", nil); r.Status != 409 || queued(access) != "completed" {
		t.Fatalf("withdrew a completed request: %d %s", r.Status, r.Body)
	}
	deletion := file("deletion")
	if r := s.Do("DELETE", "/v1/me/requests/"+deletion, s.Token(other, "subject"), "", nil); r.Status != 404 || queued(deletion) != "verified" {
		t.Fatalf("another subject withdrew the request: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/me/requests/"+deletion, me, "", nil); r.Status != 200 || queued(deletion) != "withdrawn" {
		t.Fatalf("withdraw a deletion request: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/v1/me/requests/nope", me, "", nil); r.Status != 404 {
		t.Fatalf("withdraw an unknown request: %d %s", r.Status, r.Body)
	}
}

// A request whose subject was erased before it was answered is rejected with a reason, and the reason is
// kept for the queue (sealed under the vault's note key, the subject's key being gone), not dropped.
func TestRejectionReasonOfAnErasedSubjectIsKept(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王芳"})
	me := s.Token(id, "subject")
	co := s.Token("co", "compliance_officer")
	r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "restriction"})
	if r.Status != 201 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	rid := r.JSON["id"].(string)
	if r := s.Do("DELETE", "/v1/me", me, "", nil); r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "completed"}); r.Status != 409 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("completed for an erased subject: %d %s (refused, and on the record: it left no entry)", r.Status, r.Body)
	}
	const why = "the person deleted their account before the request was answered"
	if r := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "rejected", "reason": why}); r.Status != 200 || r.JSON["reason"] != why {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	found := false
	for _, q := range s.Do("GET", "/v1/requests?state=rejected", co, "compliance_audit", nil).JSON["requests"].([]any) {
		if q := q.(map[string]any); q["id"] == rid {
			found = true
			if q["reason"] != why {
				t.Fatalf("the queue shows the rejection of the erased subject's request without its reason: %v", q)
			}
		}
	}
	if !found {
		t.Fatal("the rejected request is not in the queue")
	}
	var n int
	if err := rawDB(t, s).QueryRow(`SELECT count(*) FROM dsr_requests WHERE instr(reason, CAST(? AS BLOB)) > 0`, why).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the reason is stored in clear (%d rows, %v)", n, err)
	}
}

// A subject deletes one tag: it is gone under every purpose, a later tag run does not store it again while
// the choice stands, and withdrawing the choice lets it back.
func TestSubjectDeletesASingleTag(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅", "city": "杭州", "birth_date": "1990-01-01"})
	st := s.Token("st", "data_steward")
	me := s.Token(id, "subject")
	s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil))
	var consentID string
	for _, c := range s.Do("GET", "/v1/subjects/"+id+"/consents", st, "account_management", nil).JSON["consents"].([]any) {
		if c.(map[string]any)["purpose"] == "marketing" {
			consentID = c.(map[string]any)["id"].(string)
		}
	}
	store := func() {
		t.Helper()
		_, _, err := s.App.Vault.Tags().StoreTags(t.Context(), vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{policies.RoleDataSteward}}},
			[]vault.SubjectTags{{SubjectID: id, Purpose: "marketing", ConsentIDs: []string{consentID}, Tags: []vault.TagValue{
				{Key: "value.rfm_segment", Level: "value", Value: "champions", Inputs: []string{"transactions"}, ExplanationZH: "常买", ExplanationEN: "buys often", Algorithm: "t"},
				{Key: "value.churn_risk", Level: "value", Value: "low", Inputs: []string{"transactions"}, ExplanationZH: "低", ExplanationEN: "low", Algorithm: "t"}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, tg := range s.Do("GET", "/v1/subjects/"+id+"/tags", s.Token("mk", "marketing"), "marketing", nil).JSON["tags"].([]any) {
			out[tg.(map[string]any)["key"].(string)] = true
		}
		return out
	}
	store()
	if k := keys(); !k["value.rfm_segment"] || !k["value.churn_risk"] {
		t.Fatalf("tags before: %v", k)
	}
	if r := s.Do("DELETE", "/v1/me/tags/value.rfm_segment", me, "", nil); r.Status != 200 {
		t.Fatalf("delete tag: %d %s", r.Status, r.Body)
	}
	if k := keys(); k["value.rfm_segment"] || !k["value.churn_risk"] {
		t.Fatalf("right after the subject deleted value.rfm_segment: %v", k)
	}
	store() // a later run
	if k := keys(); k["value.rfm_segment"] || !k["value.churn_risk"] {
		t.Fatalf("after the subject deleted value.rfm_segment and a run: %v", k)
	}
	if r := s.Do("DELETE", "/v1/me/tags/not-a-key", me, "", nil); r.Status != 400 {
		t.Fatalf("bad key: %d", r.Status)
	}
	if r := s.Do("PUT", "/v1/me/tags/value.rfm_segment", me, "", map[string]any{"allowed": true}); r.Status != 200 || r.JSON["refused"] != false {
		t.Fatalf("allow again: %d %s", r.Status, r.Body)
	}
	store()
	if k := keys(); !k["value.rfm_segment"] {
		t.Fatalf("after withdrawing the choice: %v", k)
	}
	// {"allowed": false} refuses it as DELETE does; PUT without a body allows it.
	if r := s.Do("PUT", "/v1/me/tags/value.rfm_segment", me, "", map[string]any{"allowed": false}); r.Status != 200 || r.JSON["refused"] != true {
		t.Fatalf(`{"allowed": false}: %d %s`, r.Status, r.Body)
	}
	if k := keys(); k["value.rfm_segment"] {
		t.Fatalf(`after {"allowed": false}: %v`, k)
	}
	if r := s.Do("PUT", "/v1/me/tags/value.rfm_segment", me, "", nil); r.Status != 200 || r.JSON["refused"] != false {
		t.Fatalf("allow without a body: %d %s", r.Status, r.Body)
	}
}

// Completing a deletion request erases the subject through the gate, and the request says which audit
// entry did it; a subject already erased completes with that said.
func TestCompletingADeletionRequestErases(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800009999"})
	me := s.Token(id, "subject")
	co := s.Token("co", "compliance_officer")
	r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "deletion"})
	if r.Status != 201 {
		t.Fatalf("deletion request: %d %s", r.Status, r.Body)
	}
	rid := r.JSON["id"].(string)
	if r := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "in_progress"}); r.Status != 200 {
		t.Fatalf("in_progress: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil); r.Status != 200 {
		t.Fatalf("erased before completion: %d", r.Status)
	}
	done := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "completed"})
	if done.Status != 200 || done.JSON["state"] != "completed" {
		t.Fatalf("completed: %d %s", done.Status, done.Body)
	}
	note, _ := done.JSON["note"].(string)
	var seq int64
	if _, err := fmt.Sscanf(note, "fulfilled: erased, audit entry %d", &seq); err != nil || seq <= 0 {
		t.Fatalf("the request does not name the erasure's entry: %q", note)
	}
	if entry := rawEntry(t, s, seq); !bytes.Contains(entry, []byte(`"action":"subject.erase"`)) || !bytes.Contains(entry, []byte(`"decision":"allow"`)) {
		t.Fatalf("entry %d is not the erasure: %s", seq, entry)
	}
	if r := s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil); r.Status != 404 {
		t.Fatalf("read after the completed deletion request: %d", r.Status)
	}
}

// The access log is complete: paged with a cursor, every access once, and the export holds all of it.
func TestAccessLogIsPagedAndComplete(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	me := s.Token(id, "subject")
	cs := s.Token("cs", "customer_service")
	for range 1010 { // more than one page of the export's reads (1,000), too
		if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.Status != 200 {
			t.Fatalf("read: %d", r.Status)
		}
	}
	reads, pages, cursor := 0, 0, ""
	for {
		r := s.Do("GET", "/v1/me/access-log?limit=500&cursor="+cursor, me, "", nil)
		if r.Status != 200 {
			t.Fatalf("page: %d %s", r.Status, r.Body)
		}
		pages++
		for _, e := range r.JSON["entries"].([]any) {
			if e.(map[string]any)["action"] == "subject.read" {
				reads++
			}
		}
		next, _ := r.JSON["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if reads != 1010 || pages < 3 {
		t.Fatalf("%d reads over %d pages, want 1010 over at least 3", reads, pages)
	}
	if r := s.Do("GET", "/v1/me/access-log?cursor=abc", me, "", nil); r.Status != 400 {
		t.Fatalf("bad cursor: %d", r.Status)
	}
	x := s.Do("GET", "/v1/me/export", me, "", nil)
	exported := 0
	for _, e := range x.JSON["access_log"].([]any) {
		if e.(map[string]any)["action"] == "subject.read" {
			exported++
		}
	}
	if exported != 1010 {
		t.Fatalf("the export holds %d of 1010 reads", exported)
	}
}

// A deceased subject's close relative's request (PIPL Art. 49) is recorded by staff with the relationship
// and sealed evidence, starts received, and is verified by a compliance officer; marketing cannot record
// one, a subject cannot file one for themselves, and a bad relationship is refused.
func TestDeceasedRelativeRequest(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "张伟"})
	co := s.Token("co", "compliance_officer")
	body := map[string]any{"type": "deceased_relative", "relationship": "child", "evidence": "死亡证明 2026-沪-0042；户口簿亲属关系页"}
	r := s.Do("POST", "/v1/subjects/"+id+"/requests", s.Token("cs", "customer_service"), "customer_service", body)
	if r.Status != 201 || r.JSON["state"] != "received" || r.JSON["relationship"] != "child" || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("record: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "死亡证明") {
		t.Fatal("the evidence is echoed")
	}
	rid := r.JSON["id"].(string)
	if r := s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "verified"}); r.Status != 200 || r.JSON["state"] != "verified" {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/subjects/"+id+"/requests", s.Token("mk", "marketing"), "marketing", body); r.Status != 403 {
		t.Fatalf("marketing recorded a relative's request: %d", r.Status)
	}
	bad := map[string]any{"type": "deceased_relative", "relationship": "friend", "evidence": "x"}
	if r := s.Do("POST", "/v1/subjects/"+id+"/requests", co, "compliance_audit", bad); r.Status != 400 {
		t.Fatalf("a friend: %d", r.Status)
	}
	if r := s.Do("POST", "/v1/me/requests", s.Token(id, "subject"), "", map[string]any{"type": "deceased_relative"}); r.Status != 400 {
		t.Fatalf("a subject filed a relative's request for themselves: %d", r.Status)
	}
	// The evidence is stored sealed, never in clear.
	db := rawDB(t, s)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM dsr_requests WHERE evidence IS NOT NULL AND instr(evidence, CAST('死亡证明' AS BLOB)) = 0`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sealed evidence rows: %d %v", n, err)
	}
}

// rawDB opens the stack's database file read-only.
func rawDB(t *testing.T, s *apptest.Stack) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Dir, datadir.DatabaseFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The cross-border report is served to compliance officers, recorded, and refused to others.
func TestCrossBorderReportRoute(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("co", "compliance_officer")
	r := s.Do("GET", "/v1/audit/reports/cross-border?year=2026", co, "compliance_audit", nil)
	if r.Status != 200 || r.JSON["year"].(float64) != 2026 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	if _, ok := r.JSON["recipients"].([]any); !ok {
		t.Fatalf("no recipients list: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/audit/reports/cross-border?year=soon", co, "compliance_audit", nil); r.Status != 400 {
		t.Fatalf("bad year: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/audit/reports/cross-border?year=2026", s.Token("mk", "marketing"), "marketing", nil); r.Status != 403 {
		t.Fatalf("marketing: %d", r.Status)
	}
}

// A correction request completes only once the data was corrected, and names the entry of the correction.
func TestCompletingACorrectionRequestNamesTheCorrection(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王 芳"})
	me := s.Token(id, "subject")
	co := s.Token("co", "compliance_officer")
	r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "correction"})
	if r.Status != 201 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	rid := r.JSON["id"].(string)
	complete := func() apptest.Response {
		return s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": "completed"})
	}
	if r := complete(); r.Status != 409 {
		t.Fatalf("completed with nothing corrected: %d %s", r.Status, r.Body)
	}
	fix := s.Do("PATCH", "/v1/me", me, "", map[string]any{"fields": map[string]any{"name": "王芳"}})
	if fix.Status != 200 {
		t.Fatalf("correction: %d %s", fix.Status, fix.Body)
	}
	done := complete()
	if done.Status != 200 || done.JSON["note"] != "fulfilled: corrected, audit entry "+fix.Header.Get("X-Audit-Seq") {
		t.Fatalf("completed: %d %s (the correction was entry %s)", done.Status, done.Body, fix.Header.Get("X-Audit-Seq"))
	}
}

// An incident (PIPL Art. 57): the compliance officer records it with the actor and the window; the vault
// finds in the trail the subjects whose data that actor was given. It is open until notified; notifying it
// queues a notice to each of them and the regulator report, once. The subjects concerned (and no one else)
// see it, in /v1/me/notices and /v1/me, without learning who the actor was.
func TestIncidentScopeAndNotices(t *testing.T) {
	s := apptest.Start(t)
	a, b, c := s.CreateSubject(map[string]any{"name": "甲"}), s.CreateSubject(map[string]any{"name": "乙"}), s.CreateSubject(map[string]any{"name": "丙"})
	start := time.Now().Add(-time.Minute).UTC()
	rogue := s.Token("cs-rogue", "customer_service")
	for _, id := range []string{a, b} {
		// The id number is asked for and withheld (customer service may not see it): not part of the incident.
		if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name,id_number", rogue, "customer_service", nil); r.Status != 200 {
			t.Fatalf("read: %d %s", r.Status, r.Body)
		}
	}
	s.Do("GET", "/v1/subjects/"+c+"?fields=name", s.Token("cs-ok", "customer_service"), "customer_service", nil)
	co := s.Token("co", "compliance_officer")
	summary := "An account of our customer service was misused to view customer names; it was locked and its sessions ended. Contact dpo@example-shop.cn."
	body := map[string]any{"title": "Misused service account", "detected_at": time.Now().UTC(), "since": start, "until": time.Now().Add(30 * time.Second).UTC(),
		"actor": "cs-rogue", "summary": summary}
	r := s.Do("POST", "/v1/incidents", co, "compliance_audit", body)
	if r.Status != 201 || r.JSON["state"] != "open" || r.JSON["affected_subjects"].(float64) != 2 || r.JSON["subject_notices_queued"].(float64) != 0 ||
		r.JSON["regulator_notice"] != "pending" || r.JSON["title"] != "Misused service account" {
		t.Fatalf("incident: %d %s", r.Status, r.Body)
	}
	if cats, _ := r.JSON["categories"].([]any); len(cats) != 1 || cats[0] != "identity" {
		t.Fatalf("the incident's categories are what was released (identity), not what was asked for: %v", r.JSON["categories"])
	}
	id := r.JSON["id"].(string)
	notices := func(sub string) (int, apptest.Response) {
		n := s.Do("GET", "/v1/me/notices", s.Token(sub, "subject"), "", nil)
		if n.Status != 200 || strings.Contains(string(n.Body), "cs-rogue") {
			t.Fatalf("notices of %s: %d %s", sub, n.Status, n.Body)
		}
		return len(n.JSON["notices"].([]any)), n
	}
	for _, sub := range []string{a, b, c} {
		if got, n := notices(sub); got != 0 {
			t.Fatalf("%s sees an incident before it is notified: %s", sub, n.Body)
		}
	}
	if l := s.Do("GET", "/v1/incidents", co, "compliance_audit", nil); l.Status != 200 || len(l.JSON["incidents"].([]any)) != 1 ||
		l.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("list: %d %s", l.Status, l.Body)
	}
	nt := s.Do("POST", "/v1/incidents/"+id+"/notify", co, "compliance_audit", nil)
	if nt.Status != 200 || nt.JSON["state"] != "notified" || nt.JSON["subject_notices_queued"].(float64) != 2 || nt.JSON["regulator_notice"] != "queued" ||
		nt.JSON["notified_at"] == nil {
		t.Fatalf("notify: %d %s", nt.Status, nt.Body)
	}
	for sub, want := range map[string]int{a: 1, b: 1, c: 0} {
		if got, n := notices(sub); got != want {
			t.Fatalf("notices of %s: %s (want %d)", sub, n.Body, want)
		}
	}
	me := s.Do("GET", "/v1/me", s.Token(a, "subject"), "", nil)
	if me.Status != 200 || len(me.JSON["notices"].([]any)) != 1 || !strings.Contains(string(me.Body), summary) || strings.Contains(string(me.Body), "cs-rogue") {
		t.Fatalf("/v1/me of an affected subject: %d %s", me.Status, me.Body)
	}
	if again := s.Do("POST", "/v1/incidents/"+id+"/notify", co, "compliance_audit", nil); again.Status != 409 {
		t.Fatalf("notified twice: %d %s", again.Status, again.Body)
	}
	if g := s.Do("GET", "/v1/incidents/"+id, co, "compliance_audit", nil); g.Status != 200 || g.JSON["id"] != id || g.JSON["state"] != "notified" {
		t.Fatalf("read incident: %d %s", g.Status, g.Body)
	}
	if g := s.Do("POST", "/v1/incidents/inc_nope/notify", co, "compliance_audit", nil); g.Status != 404 {
		t.Fatalf("notify an unknown incident: %d", g.Status)
	}
	mk := s.Token("mk", "marketing")
	for _, call := range []struct{ method, path string }{{"POST", "/v1/incidents"}, {"GET", "/v1/incidents"}, {"POST", "/v1/incidents/" + id + "/notify"}} {
		if g := s.Do(call.method, call.path, mk, "marketing", body); g.Status != 403 {
			t.Fatalf("marketing: %s %s: %d", call.method, call.path, g.Status)
		}
	}

	// Without an actor every release in the window is in scope; the earlier release's field names still work.
	all := s.Do("POST", "/v1/incidents", co, "compliance_audit", map[string]any{"title": "Database copy", "discovered_at": time.Now().UTC(),
		"since": start, "notice": summary})
	if all.Status != 201 || all.JSON["affected_subjects"].(float64) != 3 || all.JSON["actor"] != "" || all.JSON["detected_at"] == nil {
		t.Fatalf("incident without an actor: %d %s", all.Status, all.Body)
	}
	if bad := s.Do("POST", "/v1/incidents", co, "compliance_audit", map[string]any{"detected_at": time.Now().UTC(), "summary": summary}); bad.Status != 400 {
		t.Fatalf("incident without a title: %d %s", bad.Status, bad.Body)
	}
	// Times in the future: the scope is read from the trail now, so an until ahead left out what followed
	// while the incident claimed it; a detection in 2099 or in year 1 is a typing error.
	for _, times := range []map[string]any{{"detected_at": "2099-05-05T00:00:00Z"}, {"detected_at": time.Now().UTC(), "until": "2030-01-01T00:00:00Z"},
		{"detected_at": "0001-01-01T00:00:01Z"}} {
		body := map[string]any{"title": "Database copy", "summary": summary}
		maps.Copy(body, times)
		if bad := s.Do("POST", "/v1/incidents", co, "compliance_audit", body); bad.Status != 400 || bad.ErrorCode() != "invalid_argument" {
			t.Fatalf("incident %v: %d %s", times, bad.Status, bad.Body)
		}
	}
}

// A source record is one person's: creating a subject for one a subject holds already is 409 (it made a
// second subject of the same CRM record, and every later import matched neither).
func TestASourceRecordIsCreatedOnce(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	body := map[string]any{"external_id": "T1", "source": "crm", "fields": map[string]any{"name": "周杰", "phone": "+8613800000101"}}
	if r := s.Do("POST", "/v1/subjects", st, "account_management", body); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/subjects", st, "account_management", body); r.Status != 409 || r.JSON["error"].(map[string]any)["reason"] != "source_record_exists" {
		t.Fatalf("the same source record again: %d %s", r.Status, r.Body)
	}
	other := map[string]any{"external_id": "T2", "source": "crm", "fields": map[string]any{"name": "周杰"}}
	if r := s.Do("POST", "/v1/subjects", st, "account_management", other); r.Status != 201 {
		t.Fatalf("another source record: %d %s", r.Status, r.Body)
	}
}
