package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/dsr"
)

func TestRequestWorkflow(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	other := s.CreateSubject(map[string]any{"name": "韩梅梅"})
	me := s.Token(id, "subject")
	co := s.Token("co-1", "compliance_officer")

	// A subject's own token verifies the request (API.md); one they can also serve themselves says where.
	auto := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "access"})
	if auto.Status != 201 || auto.JSON["state"] != "verified" || auto.JSON["note"] == "" ||
		auto.JSON["answer_route"] != "GET /v1/me/export" {
		t.Fatalf("access request: %d %s", auto.Status, auto.Body)
	}
	del := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "deletion"})
	if del.Status != 201 || del.JSON["state"] != "verified" || del.JSON["answer_route"] != nil {
		t.Fatalf("deletion request: %d %s", del.Status, del.Body)
	}
	due, err := time.Parse(time.RFC3339, del.JSON["due_at"].(string))
	created, _ := time.Parse(time.RFC3339, del.JSON["created_at"].(string))
	if err != nil || due.Sub(created) < 15*24*time.Hour || due.Sub(created) > 40*24*time.Hour {
		t.Fatalf("15 working days: created %v due %v", created, due)
	}
	if r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": "refund"}); r.Status != 400 {
		t.Fatalf("unknown type: %d", r.Status)
	}
	// A close relative signed in to a deceased subject's account (PIPL Art. 49): the request starts received,
	// the evidence sealed, and a compliance officer verifies it.
	rel := s.Do("POST", "/v1/me/requests", s.Token(other, "subject"), "", map[string]any{"type": "deceased_relative", "relationship": "child",
		"evidence": "death certificate 2026-0457 and household register"})
	if rel.Status != 201 || rel.JSON["state"] != "received" || rel.JSON["relationship"] != "child" || strings.Contains(string(rel.Body), "2026-0457") {
		t.Fatalf("a relative's request: %d %s", rel.Status, rel.Body)
	}
	for _, bad := range []map[string]any{{"type": "deceased_relative", "relationship": "child"}, {"type": "deceased_relative", "relationship": "friend", "evidence": "x"},
		{"type": "access", "relationship": "child", "evidence": "x"}} {
		if r := s.Do("POST", "/v1/me/requests", me, "", bad); r.Status != 400 {
			t.Fatalf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	s.Do("POST", "/v1/me/requests", s.Token(other, "subject"), "", map[string]any{"type": "correction"})

	// The subject sees their own requests only.
	mine := s.Do("GET", "/v1/me/requests", me, "", nil)
	if n := len(mine.JSON["requests"].([]any)); n != 2 {
		t.Fatalf("own requests: %d", n)
	}
	// The compliance queue sees all, by pseudonym.
	q := s.Do("GET", "/v1/requests?state=verified", co, "compliance_audit", nil)
	if q.Status != 200 || len(q.JSON["requests"].([]any)) != 3 {
		t.Fatalf("queue: %d %s", q.Status, q.Body)
	}
	if r := s.Do("GET", "/v1/requests?overdue=true", co, "compliance_audit", nil); len(r.JSON["requests"].([]any)) != 0 {
		t.Fatalf("nothing is overdue yet: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/requests", s.Token("cs", "customer_service"), "customer_service", nil); r.Status != 403 {
		t.Fatalf("customer service read the queue: %d", r.Status)
	}
	rid := del.JSON["id"].(string)
	move := func(to, reason string) apptest.Response {
		return s.Do("POST", "/v1/requests/"+rid+"/transition", co, "compliance_audit", map[string]any{"to": to, "reason": reason})
	}
	if r := move("received", ""); r.Status != 409 || r.ErrorCode() != "conflict" {
		t.Fatalf("illegal transition: %d %s", r.Status, r.Body)
	}
	for _, to := range []string{"done", ""} { // not a state at all: a bad argument, not a conflict
		if r := move(to, ""); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
			t.Fatalf("transition to %q: %d %s", to, r.Status, r.Body)
		}
	}
	if r := s.Do("GET", "/v1/requests?state=open", co, "compliance_audit", nil); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
		t.Fatalf("queue of an unknown state: %d %s", r.Status, r.Body)
	}
	if r := move("in_progress", ""); r.Status != 200 || r.JSON["state"] != "in_progress" {
		t.Fatalf("in_progress: %d %s", r.Status, r.Body)
	}
	if r := move("rejected", ""); r.Status != 400 {
		t.Fatalf("rejection without reason: %d", r.Status)
	}
	if r := move("rejected", "订单记录须依法保存三年"); r.Status != 200 || r.JSON["state"] != "rejected" {
		t.Fatalf("rejection: %d %s", r.Status, r.Body)
	}
	if r := move("completed", ""); r.Status != 409 {
		t.Fatalf("a final state moved: %d", r.Status)
	}
	// The access request is answered by the officer once its export was given.
	if r := s.Do("POST", "/v1/requests/"+auto.JSON["id"].(string)+"/transition", co, "compliance_audit", map[string]any{"to": "completed"}); r.Status != 200 ||
		r.JSON["state"] != "completed" || r.JSON["answer_route"] != "GET /v1/me/export" {
		t.Fatalf("completing the access request: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/requests/req_nope/transition", co, "compliance_audit", map[string]any{"to": "completed"}); r.Status != 404 {
		t.Fatalf("unknown request: %d", r.Status)
	}
	// The subject sees the reason.
	mine = s.Do("GET", "/v1/me/requests", me, "", nil)
	found := false
	for _, x := range mine.JSON["requests"].([]any) {
		m := x.(map[string]any)
		if m["id"] == rid {
			found = m["state"] == "rejected" && m["reason"] == "订单记录须依法保存三年"
		}
	}
	if !found {
		t.Fatalf("subject does not see the rejection reason: %s", mine.Body)
	}
	// The export lists the requests.
	x := s.Do("GET", "/v1/me/export", me, "", nil)
	if n := len(x.JSON["requests"].([]any)); n != 2 {
		t.Fatalf("export requests: %d", n)
	}
}

// The deadlines are configuration (app.Config.RequestRules; vaultd serve --request-deadlines): a request's
// due date follows them.
func TestRequestDeadlinesAreConfigured(t *testing.T) {
	rules, err := dsr.LoadRules([]byte(`{"default": 15, "per_type": {"deletion": 3}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := apptest.Start(t, func(c *app.Config) { c.RequestRules = rules })
	me := s.Token(s.CreateSubject(map[string]any{"name": "李雷"}), "subject")
	due := func(typ string) time.Time {
		r := s.Do("POST", "/v1/me/requests", me, "", map[string]any{"type": typ})
		d, err := time.Parse(time.RFC3339, fmt.Sprint(r.JSON["due_at"]))
		if r.Status != 201 || err != nil {
			t.Fatalf("%s request: %d %s", typ, r.Status, r.Body)
		}
		return d
	}
	deletion, access := due("deletion"), due("access")
	if days := access.Sub(deletion).Hours() / 24; days < 12 { // 12 working days apart: at least 12 calendar days
		t.Fatalf("deletion due %v, access due %v: the per-type deadline was not used", deletion, access)
	}
}
