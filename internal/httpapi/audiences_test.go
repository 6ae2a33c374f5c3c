package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// twoAtRisk makes two adults with a phone, a marketing consent and the tag value.rfm_segment = at_risk.
func twoAtRisk(t *testing.T, s *apptest.Stack) (id, other string) {
	t.Helper()
	st := s.Token("st", "data_steward")
	id = s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "birth_date": "1984-09-10"})
	other = s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613900005678", "birth_date": "1986-01-01"})
	for _, sid := range []string{id, other} {
		if r := s.Do("POST", "/v1/subjects/"+sid+"/consents", st, "account_management", grantBody("marketing", nil)); r.Status != 201 {
			t.Fatalf("consent: %d %s", r.Status, r.Body)
		}
		store := s.App.Vault.Tags()
		var cids []string
		for _, c := range s.Do("GET", "/v1/subjects/"+sid+"/consents", st, "account_management", nil).JSON["consents"].([]any) {
			if m := c.(map[string]any); m["purpose"] == "marketing" {
				cids = append(cids, m["id"].(string))
			}
		}
		if _, _, err := store.StoreTags(t.Context(), vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}},
			[]vault.SubjectTags{{SubjectID: sid, Purpose: "marketing", ConsentIDs: cids, Tags: []vault.TagValue{{Key: "value.rfm_segment", Level: "value",
				Value: "at_risk", Inputs: []string{"transactions"}, ExplanationZH: "x", ExplanationEN: "x", Algorithm: "t"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return id, other
}

func TestAudiencesOverHTTP(t *testing.T) {
	s := apptest.Start(t)
	mk := s.Token("mk", "marketing")
	id, other := twoAtRisk(t, s)
	r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "x", "rule": "value.rfm_segment in 'at_risk'", "channel": "sms"})
	if r.Status != 400 || r.JSON["error"].(map[string]any)["position"].(float64) != 21 {
		t.Fatalf("a bad rule: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "nope.key == 'x'", "channel": "sms"}); r.Status != 400 {
		t.Fatalf("an unknown tag key: %d %s", r.Status, r.Body)
	}
	// The position counts characters, not bytes: the error sits after a Chinese value.
	r = s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "basic.region == '云南' an value.churn_risk == 'high'", "channel": "sms"})
	if r.Status != 400 || r.JSON["error"].(map[string]any)["position"].(float64) != 21 {
		t.Fatalf("a bad rule after a Chinese value: %d %s", r.Status, r.Body)
	}
	// What the vocabulary says of a key decides what a rule may do with it: numbers are compared as
	// numbers however they are written; other tags only with ==, !=, in and not in; a tag of another purpose
	// (personalization) would leave everyone out, so it is refused.
	for rule, want := range map[string]string{
		"behavior.cart_abandon_rate >= 0.5":               "",
		"value.ltv_12m > -1 and attitude.sentiment > 0":   "",
		"value.ltv_12m >= 1000.0":                         "",
		"basic.city_tier >= 3":                            "is not a number",
		"value.ltv_12m == 'high'":                         "is a number",
		"interest.top_categories == 'toys'":               "purpose personalization",
		"basic.city_tier == '5'":                          "not one the vocabulary allows",
		"value.rfm_segment == 'at_risk' or nope.key == 1": "not a tag key",
	} {
		r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": rule, "channel": "sms"})
		if want == "" && r.Status != 201 || want != "" && (r.Status != 400 || !strings.Contains(string(r.Body), want)) {
			t.Fatalf("%s: %d %s (want %q)", rule, r.Status, r.Body, want)
		}
	}
	// Everyone decided is counted: the two reachable people whose tags the rule does not match too.
	if r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "value.rfm_segment == 'champions'", "channel": "sms"}); r.Status != 201 ||
		r.JSON["size"].(float64)+r.JSON["holdout_size"].(float64) != 0 || r.JSON["unmatched"].(float64) != 2 {
		t.Fatalf("an audience nobody matches: %d %s", r.Status, r.Body)
	}
	// A subject lacking a tag one branch of an or names is in the audience when the other branch holds.
	r = s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "value.rfm_segment == 'at_risk' or value.churn_risk == 'high'", "channel": "sms", "holdout": 0})
	if r.Status != 201 || r.JSON["size"].(float64) != 2 || r.JSON["excluded"].(map[string]any)["missing_tags"].(float64) != 0 {
		t.Fatalf("an or with a branch on a tag nobody has: %d %s", r.Status, r.Body)
	}
	r = s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "win back", "rule": "value.rfm_segment in ['at_risk','cant_lose']", "channel": "sms", "holdout": 0})
	if r.Status != 201 || r.JSON["size"].(float64) != 2 || r.JSON["excluded"].(map[string]any)["no_consent"] == nil {
		t.Fatalf("build: %d %s", r.Status, r.Body)
	}
	aud := r.JSON["id"].(string)
	// Personalised content is marked, with the way to turn it off (GB/T 35273 §7.5): on the audience and on
	// every members page the sender works from.
	marked := func(what string, m any) {
		t.Helper()
		p, _ := m.(map[string]any)
		label, _ := p["label"].(map[string]any)
		optOut, _ := p["opt_out"].(map[string]any)
		if label["zh"] != "个性化推荐" || label["en"] == nil || !strings.Contains(fmt.Sprint(optOut["en"]), "/privacy") || optOut["zh"] == nil {
			t.Fatalf("%s: personalised marker %v", what, m)
		}
	}
	marked("the built audience", r.JSON["personalised"])
	marked("a members page", s.Do("GET", "/v1/audiences/"+aud+"/members", mk, "marketing", nil).JSON["personalised"])
	marked("the audience read", s.Do("GET", "/v1/audiences/"+aud, mk, "marketing", nil).JSON["audience"].(map[string]any)["personalised"])
	members := func() string {
		m := s.Do("GET", "/v1/audiences/"+aud+"/members", mk, "marketing", nil)
		if m.Status != 200 {
			t.Fatalf("members: %d %s", m.Status, m.Body)
		}
		return string(m.Body)
	}
	if body := members(); !strings.Contains(body, "138****1234") || !strings.Contains(body, "139****5678") || strings.Contains(body, id) || strings.Contains(body, "13800001234") {
		t.Fatalf("members: %s", body)
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(id, "subject"), "", map[string]any{"granted": false, "channel": "sms"}); r.Status != 200 {
		t.Fatalf("withdraw sms: %d %s", r.Status, r.Body)
	}
	if body := members(); strings.Contains(body, "138****1234") || !strings.Contains(body, "139****5678") {
		t.Fatalf("after the withdrawal: %s", body)
	}
	// Outcomes by member ref and the uplift report.
	m := s.Do("GET", "/v1/audiences/"+aud+"/members", mk, "marketing", nil)
	ref := m.JSON["members"].([]any)[0].(map[string]any)["member_ref"].(string)
	if r := s.Do("POST", "/v1/audiences/"+aud+"/outcomes", mk, "marketing", map[string]any{"outcomes": []map[string]any{{"member_ref": ref, "converted": true, "order_value": 88.5, "retained_30": true}}}); r.Status != 200 {
		t.Fatalf("outcomes: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/audiences/"+aud+"/holdout", mk, "marketing", nil); r.Status != 200 || r.JSON["member_refs"] == nil {
		t.Fatalf("holdout refs: %d %s", r.Status, r.Body)
	}
	rep := s.Do("GET", "/v1/audiences/"+aud+"/report", mk, "marketing", nil)
	if rep.Status != 200 || rep.JSON["treated"].(map[string]any)["converted"].(float64) != 1 || !strings.Contains(string(rep.Body), "Newcombe") {
		t.Fatalf("report: %d %s", rep.Status, rep.Body)
	}
	// A tag the person refuses after the build takes them out of the audiences built on it, at the next
	// members read: the rule is decided again over the tags stored now.
	if r := s.Do("DELETE", "/v1/me/tags/value.rfm_segment", s.Token(other, "subject"), "", nil); r.Status != 200 {
		t.Fatalf("refuse the tag: %d %s", r.Status, r.Body)
	}
	if body := members(); strings.Contains(body, "139****5678") {
		t.Fatalf("after the tag was refused: %s", body)
	}
	if r := s.Do("DELETE", "/v1/me/tags/no.such_key", s.Token(other, "subject"), "", nil); r.Status != 400 {
		t.Fatalf("refusing a key the vocabulary does not have: %d %s", r.Status, r.Body)
	}
	// The plan's body is optional (its holdout defaults to 10 %), and the plan answers with its entry.
	if p := s.Do("POST", "/v1/campaigns/plan", mk, "marketing", nil); p.Status != 201 || p.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("plan without a body: %d %s", p.Status, p.Body)
	}
	// An audience's holdout defaults to 10 % too; the plan's names are the plan's.
	if r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "value.rfm_segment == 'at_risk'", "channel": "sms"}); r.Status != 201 || r.JSON["holdout"] != 0.1 {
		t.Fatalf("an audience without a holdout: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "plan:churn_winback", "rule": "value.rfm_segment == 'at_risk'", "channel": "sms"}); r.Status != 400 {
		t.Fatalf("an audience posing as a plan tier: %d %s", r.Status, r.Body)
	}
	// Text PostgreSQL cannot store (a NUL, bad UTF-8) is 400 on every store, and a name is refused before
	// anyone is decided: on PostgreSQL these were 500s, and a build failing at its last insert had logged
	// every selection of an audience never stored.
	entries := func() float64 {
		return s.Do("GET", "/v1/audit/verify", s.Token("root", "admin"), "", nil).JSON["entries"].(float64)
	}
	n0 := entries()
	if r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"name": "x\u0000y", "rule": "value.rfm_segment == 'at_risk'", "channel": "sms"}); r.Status != 400 {
		t.Fatalf("a name with a NUL: %d %s", r.Status, r.Body)
	}
	if n := entries(); n > n0+2 { // the refusal's entry (and verify's own), no selections
		t.Fatalf("a refused name left %v entries", n-n0)
	}
	for _, path := range []string{"/members?cursor=%00", "/members?cursor=%ff", "/holdout?cursor=%00"} {
		if r := s.Do("GET", "/v1/audiences/"+aud+path, mk, "marketing", nil); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := s.Do("POST", "/v1/audiences/"+aud+"/outcomes", mk, "marketing", `{"outcomes":[{"member_ref":"ps_\u0000","converted":true}]}`); r.Status != 400 {
		t.Fatalf("a member ref with a NUL: %d %s", r.Status, r.Body)
	}
	plan := s.Do("POST", "/v1/campaigns/plan", mk, "marketing", map[string]any{"holdout": 0})
	if plan.Status != 201 || len(plan.JSON["tiers"].([]any)) < 5 || plan.JSON["unmatched"] == nil {
		t.Fatalf("plan: %d %s", plan.Status, plan.Body)
	}
	// The person sees the campaign in their access log.
	if log := s.Do("GET", "/v1/me/access-log", s.Token(other, "subject"), "", nil); !strings.Contains(string(log.Body), `"action":"audience.select"`) ||
		!strings.Contains(string(log.Body), `"action":"audience.member_read"`) {
		t.Fatalf("access log: %s", log.Body)
	} else {
		// Which kind of data the campaign used: an audience names no field, so its categories say it.
		for _, e := range log.JSON["entries"].([]any) {
			if e := e.(map[string]any); e["action"] == "audience.select" && fmt.Sprint(e["categories"]) != "[tags]" {
				t.Fatalf("an audience.select entry of the access log names categories %v, want [tags]", e["categories"])
			}
		}
	}
}

// What a campaign led to is data about the person: the outcome of someone who withdrew their consent
// after the build is not recorded (skipped, by reason), nor is their ref listed among a holdout's, and each
// outcome recorded is an entry in that person's access log.
func TestOutcomesAreDecidedAgain(t *testing.T) {
	s := apptest.Start(t)
	mk := s.Token("mk", "marketing")
	id, other := twoAtRisk(t, s)
	build := func(holdout float64) string {
		t.Helper()
		r := s.Do("POST", "/v1/audiences", mk, "marketing", map[string]any{"rule": "value.rfm_segment == 'at_risk'", "channel": "sms", "holdout": holdout})
		if r.Status != 201 {
			t.Fatalf("build: %d %s", r.Status, r.Body)
		}
		return r.JSON["id"].(string)
	}
	// Both refs of an audience without a holdout, and audiences whose holdouts hold either person (one of
	// six holds the one who withdraws, but for a chance of 1 in 64).
	treated := build(0)
	var refs []string
	for _, m := range s.Do("GET", "/v1/audiences/"+treated+"/members", mk, "marketing", nil).JSON["members"].([]any) {
		refs = append(refs, m.(map[string]any)["member_ref"].(string))
	}
	if len(refs) != 2 {
		t.Fatalf("two treated members: %v", refs)
	}
	var held []string
	for range 6 {
		held = append(held, build(0.5))
	}
	if r := s.Do("PUT", "/v1/me/consents/marketing", s.Token(id, "subject"), "", map[string]any{"granted": false}); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	r := s.Do("POST", "/v1/audiences/"+treated+"/outcomes", mk, "marketing", map[string]any{"outcomes": []map[string]any{
		{"member_ref": refs[0], "converted": true, "order_value": 80}, {"member_ref": refs[1], "converted": true, "order_value": 90}}})
	if r.Status != 200 || r.JSON["recorded"].(float64) != 1 || r.JSON["skipped"].(map[string]any)["no_consent"].(float64) != 1 {
		t.Fatalf("outcomes after a withdrawal: %d %s", r.Status, r.Body)
	}
	// A batch of 10,000 full outcomes is about 1.6 MiB: over the 1 MiB of ordinary bodies, within the
	// outcomes' bulk cap, so it reaches the check of its size (10,001 are too many: 400, not 413).
	many := make([]map[string]any, 10_001)
	for i := range many {
		many[i] = map[string]any{"member_ref": refs[0], "converted": true, "order_value": 100.5, "retained_30": true, "retained_60": true, "retained_90": false}
	}
	if r := s.Do("POST", "/v1/audiences/"+treated+"/outcomes", mk, "marketing", map[string]any{"outcomes": many}); r.Status != 400 || !strings.Contains(string(r.Body), "10000") {
		t.Fatalf("a batch over 1 MiB: %d %.200s", r.Status, r.Body)
	}
	log := s.Do("GET", "/v1/me/access-log", s.Token(other, "subject"), "", nil)
	if !strings.Contains(string(log.Body), `"action":"audience.outcomes"`) {
		t.Fatalf("the recorded outcome is not in the person's access log: %s", log.Body)
	}
	// Of each audience built before the withdrawal, the treated members read and the holdout's refs
	// together hold the one person who still consents.
	for _, aud := range held {
		m := s.Do("GET", "/v1/audiences/"+aud+"/members", mk, "marketing", nil)
		h := s.Do("GET", "/v1/audiences/"+aud+"/holdout", mk, "marketing", nil)
		if n := len(m.JSON["members"].([]any)) + len(h.JSON["member_refs"].([]any)); h.Status != 200 || n != 1 {
			t.Fatalf("audience %s after a withdrawal: %d reachable (members %s, holdout %s)", aud, n, m.Body, h.Body)
		}
	}
}
