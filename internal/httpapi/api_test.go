package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
)

var liLei = map[string]any{
	"name": "李雷", "gender": "male", "birth_date": "1990-04-01", "phone": "+8613800001234",
	"email": "Li.Lei@Example.cn", "province": "湖北", "city": "襄阳", "district": "樊城区",
	"address_line": "人民路88号", "occupation": "teacher", "industry": "education",
	"id_number": "11010519491231002X", "bank_account": "6222020200112233445",
}

func TestReadIsScopedToPurpose(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(liLei)

	t.Run("customer service sees contact details in full", func(t *testing.T) {
		r := s.Do("GET", "/v1/subjects/"+id, s.Token("cs-1", "customer_service"), "customer_service", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		fields := r.JSON["fields"].(map[string]any)
		if fields["name"] != "李雷" || fields["phone"] != "+8613800001234" || fields["email"] != "li.lei@example.cn" {
			t.Errorf("fields = %v", fields)
		}
		for _, f := range []string{"id_number", "bank_account", "occupation"} {
			if _, ok := fields[f]; ok {
				t.Errorf("%s returned to customer service", f)
			}
		}
		if !withheldAs(r, "id_number", "not_permitted_for_purpose") {
			t.Errorf("id_number not withheld as not_permitted_for_purpose: %s", r.Body)
		}
		if r.Header.Get("X-Audit-Seq") == "" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Request-Id") == "" {
			t.Errorf("missing headers: %v", r.Header)
		}
	})
	t.Run("marketing gets nothing without consent", func(t *testing.T) {
		r := s.Do("GET", "/v1/subjects/"+id+"?fields=phone,city,name", s.Token("mk-1", "marketing"), "marketing", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if n := len(r.JSON["fields"].(map[string]any)); n != 0 {
			t.Errorf("marketing got %d fields without consent: %s", n, r.Body)
		}
		if !withheldAs(r, "phone", "consent_required") || !withheldAs(r, "name", "not_permitted_for_purpose") {
			t.Errorf("withheld reasons wrong: %s", r.Body)
		}
	})
	t.Run("risk control reads the id number", func(t *testing.T) {
		r := s.Do("GET", "/v1/subjects/"+id+"?fields=id_number,name", s.Token("st-1", "data_steward"), "risk_control", nil)
		if r.Status != http.StatusOK || r.JSON["fields"].(map[string]any)["id_number"] != "11010519491231002X" {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	})
	for _, tc := range []struct{ role, purpose string }{
		{"analyst", "analytics"}, {"compliance_officer", "compliance_audit"}, {"admin", "account_management"},
		{"marketing", "customer_service"}, {"subject", "data_subject_request"},
	} {
		t.Run("403 for "+tc.role+" with "+tc.purpose, func(t *testing.T) {
			r := s.Do("GET", "/v1/subjects/"+id, s.Token(id, tc.role), tc.purpose, nil)
			if r.Status != http.StatusForbidden || r.ErrorCode() != "permission_denied" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if r.Header.Get("X-Audit-Seq") == "" {
				t.Error("a denied access must still be audited")
			}
		})
	}
}

func withheldAs(r apptest.Response, field, reason string) bool {
	w, _ := r.JSON["withheld"].([]any)
	for _, x := range w {
		m := x.(map[string]any)
		if m["field"] == field {
			return m["reason"] == reason
		}
	}
	return false
}

func TestOrderOfChecks(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "韩梅梅"})
	cs := s.Token("cs-1", "customer_service")
	an := s.Token("an-1", "analyst")
	missing := "sub_doesnotexist000000000000"
	for _, tc := range []struct {
		name, token, purpose, path string
		status                     int
		code                       string
	}{
		{"no token beats no purpose", "", "", "/v1/subjects/" + id, 401, "unauthenticated"},
		{"no purpose", cs, "", "/v1/subjects/" + id, 400, "purpose_required"},
		{"unknown purpose", cs, "fun", "/v1/subjects/" + id, 400, "invalid_argument"},
		{"unknown field", cs, "customer_service", "/v1/subjects/" + id + "?fields=shoe_size", 400, "invalid_argument"},
		{"role without policy before lookup", an, "analytics", "/v1/subjects/" + missing, 403, "permission_denied"},
		{"missing subject", cs, "customer_service", "/v1/subjects/" + missing, 404, "not_found"},
		{"implausible id", cs, "customer_service", "/v1/subjects/%2e%2e", 404, "not_found"},
		{"found", cs, "customer_service", "/v1/subjects/" + id, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("GET", tc.path, tc.token, tc.purpose, nil)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.ErrorCode(), tc.status, tc.code, r.Body)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

func TestInvalidWritesChangeNothing(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "张三", "phone": "+8613900001111"})
	st := s.Token("st-1", "data_steward")
	long := strings.Repeat("长", 65)
	cases := []struct {
		name string
		body any
	}{
		{"unknown field", `{"fields":{"shoe_size":"42"}}`},
		{"number instead of string", `{"fields":{"name":42}}`},
		{"object instead of string", `{"fields":{"name":{"x":1}}}`},
		{"over-long value", `{"fields":{"name":"` + long + `"}}`},
		{"invalid UTF-8", []byte("{\"fields\":{\"name\":\"\xff\xfe\"}}")},
		{"malformed JSON", `{"fields":{"name":`},
		{"trailing data", `{"fields":{"name":"a"}} {}`},
		{"unknown member", `{"fieldz":{"name":"a"}}`},
		{"empty fields", `{"fields":{}}`},
		{"bad phone", `{"fields":{"phone":"call me"}}`},
		{"bad email", `{"fields":{"email":"nobody"}}`},
		{"bad date", `{"fields":{"birth_date":"1990-13-01"}}`},
		{"future date", `{"fields":{"birth_date":"2999-01-01"}}`},
		{"bad enum", `{"fields":{"gender":"robot"}}`},
		{"bad id number check digit", `{"fields":{"id_number":"110105194912310021"}}`},
		{"control character", `{"fields":{"name":"a\u0007b"}}`},
		{"one bad among good", `{"fields":{"name":"王五","phone":"nope"}}`},
	}
	before := countRows(t, s, "fields")
	for _, tc := range cases {
		t.Run("create/"+tc.name, func(t *testing.T) {
			r := s.Do("POST", "/v1/subjects", st, "account_management", tc.body)
			if r.Status != 400 || r.ErrorCode() != "invalid_argument" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
		})
		t.Run("patch/"+tc.name, func(t *testing.T) {
			r := s.Do("PATCH", "/v1/subjects/"+id, st, "account_management", tc.body)
			if r.Status != 400 || r.ErrorCode() != "invalid_argument" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
		})
	}
	if after := countRows(t, s, "fields"); after != before {
		t.Fatalf("invalid requests wrote fields: %d → %d", before, after)
	}
	r := s.Do("GET", "/v1/subjects/"+id+"?fields=name,phone", s.Token("cs", "customer_service"), "customer_service", nil)
	f := r.JSON["fields"].(map[string]any)
	if f["name"] != "张三" || f["phone"] != "+8613900001111" {
		t.Fatalf("subject changed by refused requests: %s", r.Body)
	}
}

func TestPatchAndLookup(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st-1", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "13800001234", "email": "a@example.cn"})
	other := s.CreateSubject(map[string]any{"name": "韩梅梅", "phone": "+8613800009999"})

	lookup := func(field, value string) []any {
		t.Helper()
		r := s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": field, "value": value})
		if r.Status != 200 {
			t.Fatalf("lookup: %d %s", r.Status, r.Body)
		}
		ids, _ := r.JSON["ids"].([]any)
		return ids
	}
	for _, v := range []string{"+8613800001234", "138 0000 1234", "+86 138-0000-1234", "008613800001234"} {
		if ids := lookup("phone", v); len(ids) != 1 || ids[0] != id {
			t.Fatalf("lookup %q = %v, want [%s]", v, ids, id)
		}
	}
	if ids := lookup("email", " A@EXAMPLE.CN "); len(ids) != 1 || ids[0] != id {
		t.Fatalf("email lookup = %v", ids)
	}
	r := s.Do("PATCH", "/v1/subjects/"+id, st, "account_management", `{"fields":{"phone":"+8613700007777","email":null}}`)
	if r.Status != 200 || r.JSON["fields"].(map[string]any)["phone"] != "+8613700007777" {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if ids := lookup("phone", "13800001234"); len(ids) != 0 {
		t.Fatalf("old phone still indexed: %v", ids)
	}
	if ids := lookup("phone", "13700007777"); len(ids) != 1 || ids[0] != id {
		t.Fatalf("new phone not indexed: %v", ids)
	}
	if ids := lookup("email", "a@example.cn"); len(ids) != 0 {
		t.Fatalf("cleared email still indexed: %v", ids)
	}
	r = s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "name", "value": "李雷"})
	if r.Status != 400 {
		t.Fatalf("lookup by a field without blind index: %d", r.Status)
	}
	r = s.Do("POST", "/v1/subjects/lookup", s.Token("mk", "marketing"), "marketing", map[string]any{"field": "phone", "value": "13800009999"})
	if r.Status != 403 {
		t.Fatalf("marketing lookup: %d %s", r.Status, r.Body)
	}
	if ids := lookup("phone", "13800009999"); len(ids) != 1 || ids[0] != other {
		t.Fatalf("other subject: %v", ids)
	}
}

func TestLookupIsRateLimited(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st-1", "data_steward")
	limited := false
	for i := 0; i < 80 && !limited; i++ {
		r := s.Do("POST", "/v1/subjects/lookup", st, "account_management", map[string]any{"field": "phone", "value": "13800001234"})
		limited = r.Status == http.StatusTooManyRequests && r.ErrorCode() == "rate_limited"
	}
	if !limited {
		t.Fatal("80 lookups in a burst were never rate-limited")
	}
	// Another caller has their own budget.
	r := s.Do("POST", "/v1/subjects/lookup", s.Token("st-2", "data_steward"), "account_management", map[string]any{"field": "phone", "value": "13800001234"})
	if r.Status != 200 {
		t.Fatalf("second caller: %d", r.Status)
	}
}

// The bulk-ingest body limit is configurable (app.Config.MaxBulkBody, vaultd serve --max-bulk-mib); other
// routes keep the 1 MiB limit.
func TestBulkBodyLimitIsConfigurable(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.MaxBulkBody = 2 << 20 })
	st := s.Token("st-1", "data_steward")
	pad := strings.Repeat("a", 3<<20>>1) // 1.5 MiB: over the normal limit, under this bulk one
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[],"pad":"`+pad+`"}`); r.Status == 413 {
		t.Fatalf("1.5 MiB under a 2 MiB bulk limit: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[],"pad":"`+pad+pad+`"}`); r.Status != 413 || r.ErrorCode() != "payload_too_large" {
		t.Fatalf("3 MiB over a 2 MiB bulk limit: %d %s", r.Status, r.Body)
	}
}

func TestBodyLimitAndRoutes(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st-1", "data_steward")
	big := `{"fields":{"name":"` + strings.Repeat("a", 2<<20) + `"}}`
	if r := s.Do("POST", "/v1/subjects", st, "account_management", big); r.Status != 413 || r.ErrorCode() != "payload_too_large" {
		t.Fatalf("big body: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/nothing", st, "", nil); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Fatalf("unknown route: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PUT", "/v1/subjects/abc", st, "", nil); r.Status != 405 || r.JSON["error"] == nil || r.JSON["error"].(map[string]any)["code"] != "invalid_argument" || !strings.Contains(r.Header.Get("Allow"), "GET") {
		t.Fatalf("wrong method: %d %s %v", r.Status, r.Body, r.Header)
	}
}

func TestRequestID(t *testing.T) {
	s := apptest.Start(t)
	for _, tc := range []struct{ in, want string }{{"abc-123", "abc-123"}, {"bad id!", ""}, {strings.Repeat("a", 65), ""}} {
		req, _ := http.NewRequest("GET", s.Server.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", tc.in)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == "" || got == tc.in) {
			t.Errorf("X-Request-Id for %q = %q", tc.in, got)
		}
	}
}

func countRows(t *testing.T, s *apptest.Stack, table string) int {
	t.Helper()
	n, err := s.App.Internals().Store.CountRows(t.Context(), table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
