package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// trailEntry is the part of an exported audit entry the ordering test reads.
type trailEntry struct {
	Seq           int64    `json:"seq"`
	Action        string   `json:"action"`
	SubjectRef    string   `json:"subject_ref"`
	Decision      string   `json:"decision"`
	ConsentIDs    []string `json:"consent_ids"`
	FieldsGranted []string `json:"fields_granted"`
	Reason        string   `json:"reason"`
}

func exportTrail(t *testing.T, s *apptest.Stack) []trailEntry {
	t.Helper()
	r := s.Do("GET", "/v1/audit/export?format=ndjson", s.Token("co", "compliance_officer"), "compliance_audit", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("export: %d", r.Status)
	}
	var out []trailEntry
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e trailEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestTrailOrderIsTheTruth races reads against consent withdrawals and erasures of the same subjects. In
// the trail, no read entry ordered after a withdrawal may release a field under the withdrawn consent, and
// none ordered after an erasure may release anything of the erased subject — whatever the reads decided
// from the record they had read before.
func TestTrailOrderIsTheTruth(t *testing.T) {
	s := apptest.Start(t)
	steward := s.Token("st", "data_steward")
	mk := s.Token("mk", "marketing")
	cs := s.Token("cs", "customer_service")
	const rounds = 12
	var refs []string // subject_ref of each round's subject
	for round := 0; round < rounds; round++ {
		id := s.CreateSubject(map[string]any{"name": fmt.Sprintf("赵%d", round), "phone": fmt.Sprintf("+86136%08d", round), "city": "苏州", "birth_date": "1979-10-11"})
		if r := s.Do("POST", "/v1/subjects/"+id+"/consents", steward, "account_management", grantBody("marketing", nil)); r.Status != http.StatusCreated {
			t.Fatalf("grant: %d %s", r.Status, r.Body)
		}
		ev := s.Do("GET", "/v1/audit/events?subject_id="+id+"&limit=1", s.Token("co", "compliance_officer"), "compliance_audit", nil)
		refs = append(refs, ev.JSON["events"].([]any)[0].(map[string]any)["subject_ref"].(string))

		// Readers hammer the subject while, a moment in, its consent is withdrawn and then it is erased.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if w%2 == 0 {
						s.Do("GET", "/v1/subjects/"+id+"?fields=phone,city", mk, "marketing", nil)
					} else {
						s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil)
					}
				}
			}(w)
		}
		time.Sleep(15 * time.Millisecond)
		if r := s.Do("DELETE", "/v1/subjects/"+id+"/consents/marketing", steward, "account_management", nil); r.Status != http.StatusOK {
			t.Fatalf("withdraw: %d %s", r.Status, r.Body)
		}
		time.Sleep(15 * time.Millisecond)
		if r := s.Do("DELETE", "/v1/subjects/"+id, steward, "account_management", nil); r.Status != http.StatusOK {
			t.Fatalf("erase: %d %s", r.Status, r.Body)
		}
		time.Sleep(10 * time.Millisecond)
		close(stop)
		wg.Wait()
	}

	trail := exportTrail(t, s)
	checked := 0
	for _, ref := range refs {
		var withdrawn []string
		var withdrawnAt, erasedAt int64
		readsAfter := 0
		for _, e := range trail {
			if e.SubjectRef != ref {
				continue
			}
			switch {
			case e.Action == "consent.withdraw" && e.Decision == "allow":
				withdrawn, withdrawnAt = e.ConsentIDs, e.Seq
			case e.Action == "subject.erase":
				erasedAt = e.Seq
			case e.Action == "subject.read" && e.Decision != "deny":
				if withdrawnAt > 0 {
					readsAfter++
					for _, c := range e.ConsentIDs {
						if slices.Contains(withdrawn, c) {
							t.Errorf("read %d (after withdrawal %d) releases %v under withdrawn consent %s", e.Seq, withdrawnAt, e.FieldsGranted, c)
						}
					}
				}
				if erasedAt > 0 {
					t.Errorf("read %d releases %v of a subject erased at %d", e.Seq, e.FieldsGranted, erasedAt)
				}
				checked++
			}
		}
		if withdrawnAt == 0 || erasedAt == 0 || len(withdrawn) == 0 {
			t.Fatalf("subject %s: withdrawal %d, erasure %d missing from the trail", ref, withdrawnAt, erasedAt)
		}
		if readsAfter == 0 {
			t.Logf("subject %s: no read landed between the withdrawal and the erasure", ref)
		}
	}
	if checked < rounds*10 {
		t.Fatalf("only %d reads were checked", checked)
	}
	t.Logf("%d reads checked against %d withdrawals and erasures", checked, rounds)
}

// TestEveryRefusalIsAudited covers refusals that used to leave no entry: staff tokens on /v1/me, the
// policy routes and audit checks for roles without them, and key management for non-admins. Each answers
// 403 with the X-Audit-Seq of its deny entry, and the entry is in the trail.
func TestEveryRefusalIsAudited(t *testing.T) {
	s := apptest.Start(t)
	cs := s.Token("cs", "customer_service")
	mk := s.Token("mk", "marketing")
	want := map[string]string{} // audit seq → request
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/v1/me", cs},
		{"GET", "/v1/me/export", cs},
		{"GET", "/v1/me/access-log", mk},
		{"GET", "/v1/me/requests", mk},
		{"GET", "/v1/policies", cs},
		{"GET", "/v1/policies/matrix", mk},
		{"POST", "/v1/policies/reload", cs},
		{"GET", "/v1/audit/verify", mk},
		{"GET", "/v1/audit/checkpoint", cs},
		{"GET", "/v1/audit/proof/1", cs},
		{"POST", "/v1/keys/rotate", cs},
		{"GET", "/v1/keys", mk},
	} {
		r := s.Do(tc.method, tc.path, tc.token, "", nil)
		if r.Status != http.StatusForbidden {
			t.Errorf("%s %s: %d, want 403", tc.method, tc.path, r.Status)
		}
		seq := r.Header.Get("X-Audit-Seq")
		if seq == "" {
			t.Errorf("%s %s: %d without an audit entry", tc.method, tc.path, r.Status)
			continue
		}
		want[seq] = tc.method + " " + tc.path
	}
	// A missing or unknown purpose is a 400, recorded too — without the unknown purpose's text.
	id := s.CreateSubject(map[string]any{"name": "周九"})
	for _, purpose := range []string{"", "my-own-reasons-13800001234"} {
		for _, path := range []string{"/v1/subjects/" + id, "/v1/audit/events"} {
			r := s.Do("GET", path, cs, purpose, nil)
			seq := r.Header.Get("X-Audit-Seq")
			if r.Status != http.StatusBadRequest || seq == "" {
				t.Errorf("GET %s with purpose %q: %d, audit seq %q; want 400 with its entry", path, purpose, r.Status, seq)
				continue
			}
			want[seq] = "GET " + path + " purpose " + purpose
		}
	}
	r := s.Do("GET", "/v1/audit/export?format=ndjson", s.Token("co", "compliance_officer"), "compliance_audit", nil)
	if bytes.Contains(r.Body, []byte("13800001234")) {
		t.Error("the client's unknown purpose text reached the trail")
	}
	for _, e := range exportTrail(t, s) {
		if what, ok := want[strconv.FormatInt(e.Seq, 10)]; ok {
			if e.Decision != "deny" {
				t.Errorf("%s: entry %d is %s", what, e.Seq, e.Decision)
			}
			delete(want, strconv.FormatInt(e.Seq, 10))
		}
	}
	for seq, what := range want {
		t.Errorf("%s: entry %s is not in the trail", what, seq)
	}
}

// TestAccessLogShowsCollectionAndTagEngine checks that batch releases are recorded per subject: a person's
// access log shows that their events were collected (and from where) and that their data went to the tag
// engine, for which purpose.
func TestAccessLogShowsCollectionAndTagEngine(t *testing.T) {
	s := apptest.Start(t)
	st := s.Token("st", "data_steward")
	id := s.CreateSubject(map[string]any{"name": "钱七", "birth_date": "1985-02-03", "city": "上海"})
	if r := s.Do("POST", "/v1/subjects/"+id+"/consents", st, "account_management", grantBody("marketing", nil)); r.Status != http.StatusCreated {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	ts := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	order := `{"event_id":"o-1","subject_id":"` + id + `","type":"order","ts":"` + ts + `","source":"pos","attrs":{"order_id":"o-1","amount":88,"currency":"CNY","items":[{"sku":"s1","category":"tea","brand":"Longjing","qty":1,"price":88}]}}`
	if r := s.Do("POST", "/v1/events", st, "order_fulfillment", `{"events":[`+order+`]}`); r.Status != http.StatusOK || r.JSON["accepted"] != float64(1) {
		t.Fatalf("events: %d %s", r.Status, r.Body)
	}
	runner := *s.App.Tags
	runner.Caller = vault.Caller{Subject: "st", Roles: []policies.Role{"data_steward"}}
	if _, err := runner.Full(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := s.Do("GET", "/v1/me/access-log", s.Token(id, "subject"), "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("access log: %d %s", r.Status, r.Body)
	}
	var collected, tagged bool
	for _, x := range r.JSON["entries"].([]any) {
		e := x.(map[string]any)
		switch {
		case e["action"] == "event.ingest" && e["purpose"] == "order_fulfillment":
			collected = true
		case e["action"] == "tag.compute" && e["purpose"] == "marketing" && e["decision"] == "allow":
			tagged = true
		}
	}
	if !collected || !tagged {
		t.Fatalf("the subject's access log lacks the collection (%v) or the tag engine (%v): %s", collected, tagged, r.Body)
	}
	// The collection entry says where from, with no free text.
	for _, e := range exportTrail(t, s) {
		if e.Action == "event.ingest" && e.SubjectRef != "" {
			return
		}
	}
	t.Fatal("no per-subject collection entry in the trail")
}
