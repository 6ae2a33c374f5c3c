package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
)

func TestPostEvents(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "李雷", "birth_date": "1990-07-08"})
	ts := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	order := `{"event_id":"ev-1","subject_id":"` + id + `","type":"order","ts":"` + ts + `","source":"app","attrs":{"order_id":"o-1","amount":128.5,"currency":"CNY","items":[{"sku":"s1","category":"diapers","brand":"Pampers","qty":2,"price":64.25}]}}`
	review := `{"event_id":"ev-2","subject_id":"` + id + `","type":"review","ts":"` + ts + `","source":"app","attrs":{"order_id":"o-1","rating":5,"text":"质量非常好，宝宝很喜欢"}}`
	bad := `{"event_id":"ev-3","subject_id":"` + id + `","type":"order","ts":"yesterday","source":"app","attrs":{}}`
	r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[`+order+`,`+review+`,`+bad+`,{"event_id":"ev-4","subject_id":"`+id+`","type":"teleport","ts":"`+ts+`","source":"app","attrs":{}}]}`)
	if r.Status != 200 || r.JSON["accepted"].(float64) != 2 {
		t.Fatalf("json batch: %d %s", r.Status, r.Body)
	}
	rej := r.JSON["rejected"].([]any)
	if len(rej) != 2 || rej[0].(map[string]any)["index"].(float64) != 2 || rej[1].(map[string]any)["index"].(float64) != 3 {
		t.Fatalf("rejections: %s", r.Body)
	}
	if strings.Contains(string(r.Body), "yesterday") {
		t.Fatal("a rejection echoes a value")
	}
	// NDJSON: the same events again are duplicates and change nothing.
	req, _ := http.NewRequest("POST", s.Server.URL+"/v1/events", strings.NewReader(order+"\n"+review+"\n"))
	req.Header.Set("Authorization", "Bearer "+st)
	req.Header.Set("X-Purpose", "order_fulfillment")
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"duplicates":2`)) {
		t.Fatalf("ndjson: %d %s", resp.StatusCode, body)
	}
	// Behaviour without consent is not collected; marketing may not collect at all.
	view := `{"event_id":"ev-5","subject_id":"` + id + `","type":"page_view","ts":"` + ts + `","source":"web","attrs":{"page":"/p/1","category":"toys","dwell_ms":900,"session_id":"s1"}}`
	r = s.Do("POST", "/v1/events", st, "personalization", `{"events":[`+view+`]}`)
	if r.JSON["accepted"].(float64) != 0 || !strings.Contains(string(r.Body), "consent_required") {
		t.Fatalf("gated behaviour: %s", r.Body)
	}
	// The person sees the refused collection in their access log: what kind of data, and that it was refused.
	refusedSeen := false
	for _, e := range s.Do("GET", "/v1/me/access-log", s.Token(id, "subject"), "", nil).JSON["entries"].([]any) {
		e := e.(map[string]any)
		if e["action"] == "event.ingest" && e["decision"] == "deny" && e["purpose"] == "personalization" {
			refusedSeen = fmt.Sprint(e["categories"]) == "[behavior]"
		}
	}
	if !refusedSeen {
		t.Fatal("a refused collection is missing from the subject's access log, or names no category")
	}
	r = s.Do("POST", "/v1/events", s.Token("mk", "marketing"), "marketing", `{"events":[`+order+`]}`)
	if !strings.Contains(string(r.Body), "not_permitted_for_purpose") {
		t.Fatalf("marketing collecting: %s", r.Body)
	}
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":`); r.Status != 400 {
		t.Fatalf("broken envelope: %d", r.Status)
	}
	// Each rejection is a bare code from the vocabulary with the attribute beside it, in the order of the
	// events whichever check refused them (the vault's own, unknown_subject, before the envelope's);
	// descriptive attributes may be left out, as long as those present are well formed.
	ghost := `{"event_id":"ev-7","subject_id":"sub_00000000000000000000000000","type":"cancel","ts":"` + ts + `","source":"app","attrs":{"order_id":"o-9","reason":"late"}}`
	badRating := `{"event_id":"ev-8","subject_id":"` + id + `","type":"review","ts":"` + ts + `","source":"app","attrs":{"order_id":"o-1","rating":9}}`
	noID := `{"subject_id":"` + id + `","type":"search","ts":"` + ts + `","source":"app","attrs":{"query":"q"}}`
	minimal := `{"event_id":"ev-9","subject_id":"` + id + `","type":"review","ts":"` + ts + `","source":"app","attrs":{"order_id":"o-1","rating":4}}`
	r = s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[`+ghost+`,`+badRating+`,`+noID+`,`+minimal+`]}`)
	want := []map[string]any{{"index": 0.0, "error": "unknown_subject"}, {"index": 1.0, "error": "bad_attrs", "field": "rating"},
		{"index": 2.0, "error": "missing_field", "field": "event_id"}}
	if r.Status != 200 || r.JSON["accepted"].(float64) != 1 || len(r.JSON["rejected"].([]any)) != len(want) {
		t.Fatalf("mixed batch: %d %s", r.Status, r.Body)
	}
	for i, x := range r.JSON["rejected"].([]any) {
		if got := x.(map[string]any); len(got) != len(want[i]) || got["index"] != want[i]["index"] || got["error"] != want[i]["error"] || got["field"] != want[i]["field"] {
			t.Fatalf("rejection %d = %v, want %v (%s)", i, got, want[i], r.Body)
		}
	}
	// The export carries the events, decrypted; at rest their text is sealed.
	x := s.Do("GET", "/v1/me/export", s.Token(id, "subject"), "", nil)
	if n := len(x.JSON["events"].([]any)); n != 3 || !strings.Contains(string(x.Body), "宝宝很喜欢") {
		t.Fatalf("export events: %d", n)
	}
	raw, _ := os.ReadFile(filepath.Join(s.Dir, datadir.DatabaseFile))
	wal, _ := os.ReadFile(filepath.Join(s.Dir, datadir.DatabaseFile+"-wal"))
	for _, needle := range []string{"宝宝很喜欢", "Pampers", "128.5"} {
		if bytes.Contains(append(raw, wal...), []byte(needle)) {
			t.Errorf("event attribute %q stored in clear", needle)
		}
	}
}
