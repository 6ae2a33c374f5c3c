package httpapi_test

import (
	"testing"

	"github.com/profilevault/profilevault/internal/apptest"
)

// A read for an entrusted processor (X-Processor, PIPL Art. 21) gets only what the processor's contract
// covers for the declared purpose — contact details for customer service here, never the name — and the
// entry names the processor; an unknown processor, or one not entrusted with the purpose, gets nothing.
func TestReadsForAnEntrustedProcessor(t *testing.T) {
	s := apptest.Start(t)
	id := s.CreateSubject(map[string]any{"name": "王芳", "phone": "+8613800006666", "city": "杭州", "birth_date": "1990-01-01"})
	cs := s.Token("cs", "customer_service")
	read := func(processor string) apptest.Response {
		t.Helper()
		r := s.DoHeaders("GET", "/v1/subjects/"+id+"?fields=name,phone", cs, "customer_service", nil, map[string]string{"X-Processor": processor})
		if r.Status != 200 {
			t.Fatalf("read for %q: %d %s", processor, r.Status, r.Body)
		}
		return r
	}
	withheld := func(r apptest.Response) map[string]string {
		out := map[string]string{}
		for _, w := range r.JSON["withheld"].([]any) {
			m := w.(map[string]any)
			out[m["field"].(string)] = m["reason"].(string)
		}
		return out
	}
	r := read("contact_centre_hz")
	if f := r.JSON["fields"].(map[string]any); f["phone"] == nil || f["name"] != nil || withheld(r)["name"] != "not_entrusted" {
		t.Fatalf("processor read: %s", r.Body)
	}
	co := s.Token("co", "compliance_officer")
	ev := s.Do("GET", "/v1/audit/events?limit=1&min_seq="+r.Header.Get("X-Audit-Seq"), co, "compliance_audit", nil)
	if e := ev.JSON["events"].([]any)[0].(map[string]any); e["recipient"] != "contact_centre_hz" {
		t.Fatalf("the entry does not name the processor: %s", ev.Body)
	}
	if r := read("someone_else"); len(r.JSON["fields"].(map[string]any)) != 0 || withheld(r)["phone"] != "not_entrusted" {
		t.Fatalf("unknown processor: %s", r.Body)
	}
	mk := s.DoHeaders("GET", "/v1/subjects/"+id+"?fields=phone", s.Token("mk", "marketing"), "marketing", nil, map[string]string{"X-Processor": "contact_centre_hz"})
	if mk.Status != 200 || withheld(mk)["phone"] != "not_entrusted" {
		t.Fatalf("a processor not entrusted with marketing: %d %s", mk.Status, mk.Body)
	}
	if r := s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil); r.JSON["fields"].(map[string]any)["name"] != "王芳" {
		t.Fatalf("a read for the handler itself: %s", r.Body)
	}
}
