package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/profilevault/profilevault/internal/apptest"
)

// FuzzRequestBodies sends arbitrary bodies to the routes that bind JSON: whatever arrives, the answer is a
// client error or a success, never a 5xx, and always the JSON error shape on refusal.
func FuzzRequestBodies(f *testing.F) {
	s := apptest.Start(f)
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "birth_date": "1984-09-10"})
	routes := []struct{ method, path, token, purpose string }{
		{"POST", "/v1/audiences", s.Token("mk", "marketing"), "marketing"},
		{"POST", "/v1/access-requests", s.Token("cs", "customer_service"), "risk_control"},
		{"PUT", "/v1/me/consents/marketing", s.Token(id, "subject"), ""},
		{"PATCH", "/v1/me", s.Token(id, "subject"), ""},
		{"POST", "/v1/subjects/" + id + "/consents", s.Token("st", "data_steward"), "account_management"},
		{"POST", "/v1/events", s.Token("st", "data_steward"), "order_fulfillment"},
		{"POST", "/v1/tokens/revoke", s.Token("root", "admin"), ""},
	}
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"rule":"a in [","channel":"sms","granted":false,"channel2":1}`))
		f.Add(uint8(i), []byte(`{"fields":{"city":"襄阳"},"subjects":["x"],"duration":"99999d","purpose":"marketing"}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		r := routes[int(which)%len(routes)]
		req, _ := http.NewRequest(r.method, s.Server.URL+r.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "application/json")
		if r.purpose != "" {
			req.Header.Set("X-Purpose", r.purpose)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 && !bytes.Contains(b, []byte(`"error":{"code":`)) {
			t.Fatalf("%s %s: a refusal without the error shape: %s", r.method, r.path, b)
		}
	})
}
