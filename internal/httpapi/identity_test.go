package httpapi_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

func str(s string) *string { return &s }

func TestIdentityStewardship(t *testing.T) {
	s := apptest.Start(t)
	ctx := t.Context()
	st := s.Token("st", "data_steward")
	steward := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "account_management"}
	base, err := s.App.Vault.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "c-1", Source: "crm",
		Fields: map[string]*string{"name": str("王芳"), "phone": str("+8613800001234"), "email": str("wang@example.cn")}})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := s.App.Vault.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "a-9", Source: "app",
		Fields: map[string]*string{"email": str("wang@example.cn"), "city": str("杭州"), "occupation": str("teacher")}})
	if err != nil || !merged.Merged {
		t.Fatalf("merge: %+v %v", merged, err)
	}
	family, err := s.App.Vault.Ingestion().ImportSubject(ctx, steward, vault.NewSubject{ExternalID: "p-4", Source: "pos",
		Fields: map[string]*string{"phone": str("13800001234"), "name": str("王小明")}})
	if err != nil || !family.Review {
		t.Fatalf("review: %+v %v", family, err)
	}

	r := s.Do("GET", "/v1/identity/merges", st, "account_management", "")
	merges, _ := r.JSON["merges"].([]any)
	if r.Status != 200 || len(merges) != 1 {
		t.Fatalf("merges: %d %s", r.Status, r.Body)
	}
	m := merges[0].(map[string]any)
	if m["subject_id"] != base.ID || m["source"] != "app" || m["matched_on"] != "email" || strings.Contains(string(r.Body), "杭州") {
		t.Fatalf("merge row: %s", r.Body)
	}
	mergeID := m["id"].(string)
	if r := s.Do("GET", "/v1/identity/merges", s.Token("mk", "marketing"), "marketing", ""); r.Status != 403 {
		t.Fatalf("marketing reading merges: %d", r.Status)
	}

	// Revert: the app record's fields and external id go to a restored subject; the CRM subject keeps its own.
	r = s.Do("POST", "/v1/identity/merges/"+mergeID+"/revert", st, "account_management", "")
	if r.Status != 200 {
		t.Fatalf("revert: %d %s", r.Status, r.Body)
	}
	restored := r.JSON["restored_subject_id"].(string)
	if got := r.JSON["fields_moved"].([]any); len(got) != 2 {
		t.Fatalf("fields moved: %s", r.Body)
	}
	if id, err := s.App.Vault.Ingestion().ResolveSubject(ctx, steward, "external:app:a-9"); err != nil || id != restored {
		t.Fatalf("app external id after revert: %q %v", id, err)
	}
	if id, err := s.App.Vault.Ingestion().ResolveSubject(ctx, steward, "external:crm:c-1"); err != nil || id != base.ID {
		t.Fatalf("crm external id after revert: %q %v", id, err)
	}
	cs := s.Token("cs", "customer_service")
	r = s.Do("GET", "/v1/subjects/"+base.ID+"?fields=name,city,occupation", cs, "customer_service", "")
	if r.Status != 200 || strings.Contains(string(r.Body), "杭州") || !strings.Contains(string(r.Body), "王芳") {
		t.Fatalf("merged subject after revert: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/v1/subjects/"+restored+"?fields=city", cs, "customer_service", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), "杭州") {
		t.Fatalf("restored subject: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/identity/merges/"+mergeID+"/revert", st, "account_management", ""); r.Status != 409 {
		t.Fatalf("second revert: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/identity/merges/mrg_nope/revert", st, "account_management", ""); r.Status != 404 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("unknown merge: %d %s (audited: %q)", r.Status, r.Body, r.Header.Get("X-Audit-Seq"))
	}
	// A caller who may not steward identities learns nothing of which merges exist: 403 for a real one and
	// an unknown one alike (an unknown id answered 404, a real one 403).
	mk := s.Token("mk", "marketing")
	for _, id := range []string{mergeID, "mrg_nope"} {
		if r := s.Do("POST", "/v1/identity/merges/"+id+"/revert", mk, "account_management", ""); r.Status != 403 {
			t.Fatalf("marketing reverting %s: %d %s", id, r.Status, r.Body)
		}
	}

	// The review queue: the family phone waits for a decision, which is taken once.
	r = s.Do("GET", "/v1/identity/reviews", st, "account_management", "")
	reviews, _ := r.JSON["reviews"].([]any)
	if r.Status != 200 || len(reviews) != 1 {
		t.Fatalf("reviews: %d %s", r.Status, r.Body)
	}
	rev := reviews[0].(map[string]any)
	if rev["subject_a"] != family.ID || rev["subject_b"] != base.ID || rev["state"] != "open" {
		t.Fatalf("review row: %s", r.Body)
	}
	path := "/v1/identity/reviews/" + rev["id"].(string) + "/decision"
	if r := s.Do("POST", path, st, "account_management", `{"decision":"merge_them"}`); r.Status != 400 {
		t.Fatalf("bad decision: %d", r.Status)
	}
	if r := s.Do("POST", path, st, "account_management", `{"decision":"distinct"}`); r.Status != 200 {
		t.Fatalf("decision: %d %s", r.Status, r.Body)
	}
	second := s.Do("POST", path, st, "account_management", `{"decision":"same_person"}`)
	if second.Status != 409 {
		t.Fatalf("second decision: %d %s", second.Status, second.Body)
	}
	// The refused decision is recorded as refused (it was recorded as allowed, 200).
	if seq, err := strconv.ParseInt(second.Header.Get("X-Audit-Seq"), 10, 64); err != nil {
		t.Fatalf("the refused decision names no entry: %v", err)
	} else if entry := rawEntry(t, s, seq); !bytes.Contains(entry, []byte(`"decision":"deny"`)) || !bytes.Contains(entry, []byte(`"status":409`)) {
		t.Fatalf("the refused decision's entry: %s", entry)
	}
	if r := s.Do("POST", "/v1/identity/reviews/rev_nope/decision", st, "account_management", `{"decision":"distinct"}`); r.Status != 404 {
		t.Fatalf("unknown review: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/v1/identity/reviews", st, "account_management", "")
	if left, _ := r.JSON["reviews"].([]any); len(left) != 0 {
		t.Fatalf("open reviews after the decision: %s", r.Body)
	}

	// Stored import reports are readable, counts only.
	// The counts API.md names are fields beside the lines, the rejections per reason.
	if _, err := s.App.Vault.Ingestion().SaveImportReport(ctx, steward, []string{"accepted: 3", "duplicates: 2", "rejected: 1", "rejected.bad_time: 1"}); err != nil {
		t.Fatal(err)
	}
	r = s.Do("GET", "/v1/imports", st, "account_management", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), "accepted: 3") {
		t.Fatalf("import reports: %d %s", r.Status, r.Body)
	}
	rep := r.JSON["reports"].([]any)[0].(map[string]any)
	if rep["accepted"] != 3.0 || rep["duplicates"] != 2.0 || rep["merged"] != 0.0 || rep["rejected"].(map[string]any)["bad_time"] != 1.0 {
		t.Fatalf("import report counts: %v", rep)
	}
	// Every stewardship call left an audit entry.
	r = s.Do("GET", "/v1/audit/events?action=subject.merge_revert", s.Token("co", "compliance_officer"), "compliance_audit", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), "subject.merge_revert") {
		t.Fatalf("audit of the revert: %d %s", r.Status, r.Body)
	}
}

// The merges and the review queue come in pages (`limit`, `cursor`, `next_cursor`): both lists stopped at
// 1,000 rows, and a large import's merges and reviews after those could not be seen at all.
func TestIdentityListsArePaged(t *testing.T) {
	s := apptest.Start(t)
	ctx := t.Context()
	st := s.Token("st", "data_steward")
	steward := vault.Access{Caller: vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}, Purpose: "account_management"}
	for i := range 5 {
		phone, email := "1380000"+strconv.Itoa(1000+i), "p"+strconv.Itoa(i)+"@example.cn"
		for _, in := range []vault.NewSubject{
			{ExternalID: "c-" + strconv.Itoa(i), Source: "crm", Fields: map[string]*string{"name": str("王芳" + strconv.Itoa(i)), "phone": str(phone), "email": str(email)}},
			{ExternalID: "a-" + strconv.Itoa(i), Source: "app", Fields: map[string]*string{"email": str(email), "city": str("杭州")}},  // merged
			{ExternalID: "p-" + strconv.Itoa(i), Source: "pos", Fields: map[string]*string{"phone": str(phone), "name": str("李小明")}}, // queued
		} {
			if _, err := s.App.Vault.Ingestion().ImportSubject(ctx, steward, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := func(path, key string) []string {
		t.Helper()
		var ids []string
		cursor := ""
		for pages := 0; ; pages++ {
			r := s.Do("GET", path+"?limit=2&cursor="+cursor, st, "account_management", "")
			rows, _ := r.JSON[key].([]any)
			if r.Status != 200 || len(rows) > 2 || pages > 5 {
				t.Fatalf("%s page %d: %d %s", path, pages, r.Status, r.Body)
			}
			for _, row := range rows {
				ids = append(ids, row.(map[string]any)["id"].(string))
			}
			next, _ := r.JSON["next_cursor"].(string)
			if next == "" {
				if _, ok := r.JSON["next_cursor"]; !ok || len(rows) == 0 {
					t.Fatalf("%s: last page %s", path, r.Body)
				}
				return ids
			}
			cursor = next
		}
	}
	for _, l := range []struct{ path, key string }{{"/v1/identity/merges", "merges"}, {"/v1/identity/reviews", "reviews"}} {
		ids := all(l.path, l.key)
		r := s.Do("GET", l.path, st, "account_management", "")
		var whole []string
		for _, row := range r.JSON[l.key].([]any) {
			whole = append(whole, row.(map[string]any)["id"].(string))
		}
		if len(ids) != 5 || strings.Join(ids, ",") != strings.Join(whole, ",") {
			t.Fatalf("%s in pages of 2: %v; in one: %v", l.path, ids, whole)
		}
		for _, bad := range []string{"?cursor=mrg_nope", "?cursor=rev_nope", "?limit=0", "?limit=501", "?limit=x"} {
			if r := s.Do("GET", l.path+bad, st, "account_management", ""); r.Status != 400 || r.ErrorCode() != "invalid_argument" {
				t.Fatalf("%s%s: %d %s", l.path, bad, r.Status, r.Body)
			}
		}
	}
}
