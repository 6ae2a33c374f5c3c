package httpapi_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/datadir"
)

func TestAuditReview(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("officer-1", "compliance_officer")
	cs := s.Token("agent-9", "customer_service")
	a := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})
	b := s.CreateSubject(map[string]any{"name": "韩梅梅"})
	for i := 0; i < 3; i++ {
		s.Do("GET", "/v1/subjects/"+a, cs, "customer_service", nil)
	}
	s.Do("GET", "/v1/subjects/"+b, s.Token("mk", "marketing"), "marketing", nil)
	s.Do("GET", "/v1/subjects/"+b, s.Token("an", "analyst"), "analytics", nil) // 403, still recorded

	get := func(query string) apptest.Response {
		t.Helper()
		r := s.Do("GET", "/v1/audit/events"+query, co, "compliance_audit", nil)
		if r.Status != 200 {
			t.Fatalf("events%s: %d %s", query, r.Status, r.Body)
		}
		return r
	}
	events := func(r apptest.Response) []map[string]any {
		var out []map[string]any
		for _, e := range r.JSON["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}
	bySubject := events(get("?subject_id=" + a))
	if len(bySubject) != 4 { // create + 3 reads
		t.Fatalf("subject filter: %d entries", len(bySubject))
	}
	for _, e := range bySubject {
		if strings.Contains(fmt.Sprint(e), a) {
			t.Fatal("an entry holds the subject id instead of its pseudonym")
		}
	}
	if seq0, seq1 := bySubject[0]["seq"].(float64), bySubject[1]["seq"].(float64); seq0 <= seq1 {
		t.Error("not newest first")
	}
	if d := events(get("?decision=deny&action=subject.read")); len(d) != 2 {
		t.Fatalf("deny filter: %d (want the marketing read without consent and the analyst's 403)", len(d))
	}
	if r := events(get("?actor=agent-9")); len(r) != 3 {
		t.Fatalf("actor filter: %d", len(r))
	}
	// Cursor pagination walks everything exactly once.
	seen := map[float64]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		r := get("?limit=2&cursor=" + cursor)
		for _, e := range events(r) {
			if seen[e["seq"].(float64)] {
				t.Fatal("entry on two pages")
			}
			seen[e["seq"].(float64)] = true
		}
		next, present := r.JSON["next_cursor"]
		if !present {
			t.Fatal("no next_cursor key (API.md names it)")
		}
		if next == nil || pages > 50 { // null on the last page
			break
		}
		cursor = next.(string)
	}
	if len(seen) < 8 {
		t.Fatalf("pagination saw %d entries", len(seen))
	}
	// Reading the trail is recorded too.
	if r := events(get("?action=audit.read&limit=500")); len(r) < 5 {
		t.Fatalf("audit reads recorded: %d", len(r))
	}
	// Only compliance officers, only for compliance_audit.
	for _, tc := range []struct{ tok, purpose string }{{cs, "customer_service"}, {s.Token("root", "admin"), "compliance_audit"}, {co, "marketing"}} {
		if r := s.Do("GET", "/v1/audit/events", tc.tok, tc.purpose, nil); r.Status != 403 {
			t.Errorf("%s: %d", tc.purpose, r.Status)
		}
	}
	if r := s.Do("GET", "/v1/audit/events", co, "", nil); r.ErrorCode() != "purpose_required" {
		t.Errorf("no purpose: %s", r.Body)
	}
	if r := s.Do("GET", "/v1/audit/events?since=yesterday", co, "compliance_audit", nil); r.Status != 400 {
		t.Errorf("bad since: %d", r.Status)
	}
}

func TestAuditExportAndJustification(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("officer-1", "compliance_officer")
	cs := s.Token("agent-9", "customer_service")
	id := s.CreateSubject(secrets[0])
	req, _ := http.NewRequest("GET", s.Server.URL+"/v1/subjects/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+cs)
	req.Header.Set("X-Purpose", "customer_service")
	req.Header.Set("X-Justification", "ticket CS-4711 王先生投诉")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("read with justification: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	nd := s.Do("GET", "/v1/audit/export?format=ndjson", co, "compliance_audit", nil)
	if nd.Status != 200 || nd.Header.Get("Content-Type") != "application/x-ndjson" || nd.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("ndjson export: %d %v", nd.Status, nd.Header)
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(nd.Body))
	for sc.Scan() {
		lines++
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"seq":`)) {
			t.Fatalf("line %d is not a canonical entry", lines)
		}
	}
	if lines < 2 {
		t.Fatalf("%d lines", lines)
	}
	cv := s.Do("GET", "/v1/audit/export?format=csv", co, "compliance_audit", nil)
	recs, err := csv.NewReader(bytes.NewReader(cv.Body)).ReadAll()
	if err != nil || len(recs) < 3 || recs[0][0] != "seq" {
		t.Fatalf("csv export: %v %d", err, len(recs))
	}
	for _, body := range [][]byte{nd.Body, cv.Body} {
		for _, n := range append(needles(), "CS-4711", "王先生") {
			if bytes.Contains(body, []byte(n)) {
				t.Errorf("export holds %q", n)
			}
		}
	}
	// The justification is kept, sealed, beside its entry; the entry holds its hash.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Dir, datadir.DatabaseFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	var seq int64
	if err := db.QueryRow(`SELECT seq, sealed FROM audit_note`).Scan(&seq, &sealed); err != nil {
		t.Fatalf("no sealed note: %v", err)
	}
	if bytes.Contains(sealed, []byte("CS-4711")) {
		t.Fatal("note stored in clear")
	}
	pt, err := s.App.Internals().Ring.NoteSealer().Open(sealed, []byte(audit.HashText("ticket CS-4711 王先生投诉")))
	if err != nil || string(pt) != "ticket CS-4711 王先生投诉" {
		t.Fatalf("note does not open to the justification: %v", err)
	}
	if r := s.Do("GET", "/v1/audit/export?format=xml", co, "compliance_audit", nil); r.Status != 400 {
		t.Errorf("format xml: %d", r.Status)
	}
}

func TestAuditVerifyCheckpointAndProof(t *testing.T) {
	s := apptest.Start(t, func(c *app.Config) { c.CheckpointInterval = 20 * time.Millisecond })
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	cs := s.Token("cs", "customer_service")
	for i := 0; i < 12; i++ {
		s.Do("GET", "/v1/subjects/"+id, cs, "customer_service", nil)
	}
	for _, role := range []string{"compliance_officer", "admin"} {
		r := s.Do("GET", "/v1/audit/verify", s.Token("x", role), "", nil)
		if r.Status != 200 || r.JSON["ok"] != true || r.JSON["entries"].(float64) < 13 || r.JSON["indexed"] != r.JSON["entries"] {
			t.Fatalf("verify as %s: %d %s", role, r.Status, r.Body)
		}
	}
	if r := s.Do("GET", "/v1/audit/verify", cs, "", nil); r.Status != 403 {
		t.Fatalf("customer service verified: %d", r.Status)
	}
	// ?min_seq= names the entry the review must include; a bad value is refused.
	co := s.Token("co", "compliance_officer")
	read := s.Do("GET", "/v1/subjects/"+id, cs, "customer_service", nil)
	if r := s.Do("GET", "/v1/audit/events?limit=1&min_seq="+read.Header.Get("X-Audit-Seq"), co, "compliance_audit", nil); r.Status != 200 ||
		strconv.FormatFloat(r.JSON["events"].([]any)[0].(map[string]any)["seq"].(float64), 'f', -1, 64) != read.Header.Get("X-Audit-Seq") {
		t.Fatalf("min_seq: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/v1/audit/events?min_seq=x", co, "compliance_audit", nil); r.Status != 400 {
		t.Fatalf("min_seq=x: %d", r.Status)
	}
	// An outside auditor keeps the checkpoint and its key, then checks an entry against them. A checkpoint
	// covers every entry within 2 s (API.md).
	var cpr apptest.Response
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cpr = s.Do("GET", "/v1/audit/checkpoint", s.Token("co", "compliance_officer"), "", nil)
		if cpr.Status != 200 {
			t.Fatalf("checkpoint: %d %s", cpr.Status, cpr.Body)
		}
		if cpr.JSON["size"].(float64) >= 13 || time.Now().After(deadline) {
			break
		}
	}
	v, err := audit.NewVerifier(cpr.JSON["public_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint([]byte(cpr.JSON["note"].(string)), v)
	if err != nil || cp.Size != int64(cpr.JSON["size"].(float64)) || cp.Size < 10 {
		t.Fatalf("checkpoint note: %+v %v", cp, err)
	}
	for seq := int64(1); seq <= cp.Size; seq++ {
		// Against the checkpoint the auditor kept (every proof read is itself an entry: newer checkpoints follow).
		r := s.Do("GET", "/v1/audit/proof/"+strconv.FormatInt(seq, 10)+"?tree_size="+strconv.FormatInt(cp.Size, 10), s.Token("co", "compliance_officer"), "", nil)
		if r.Status != 200 {
			t.Fatalf("proof %d: %d %s", seq, r.Status, r.Body)
		}
		entry, _ := base64.StdEncoding.DecodeString(r.JSON["entry"].(string))
		var proof tlog.RecordProof
		for _, h := range r.JSON["hashes"].([]any) {
			raw, _ := base64.StdEncoding.DecodeString(h.(string))
			var hh tlog.Hash
			copy(hh[:], raw)
			proof = append(proof, hh)
		}
		if int64(r.JSON["tree_size"].(float64)) != cp.Size || int64(r.JSON["leaf_index"].(float64)) != seq-1 {
			t.Fatalf("proof %d: wrong sizes %s", seq, r.Body)
		}
		if err := tlog.CheckRecord(proof, cp.Size, cp.Root, seq-1, tlog.RecordHash(entry)); err != nil {
			t.Fatalf("proof %d does not check: %v", seq, err)
		}
	}
	if r := s.Do("GET", "/v1/audit/proof/100000", s.Token("co", "compliance_officer"), "", nil); r.Status != 404 {
		t.Errorf("proof beyond the checkpoint: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/audit/proof/abc", s.Token("co", "compliance_officer"), "", nil); r.Status != 400 {
		t.Errorf("proof of abc: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/audit/proof/1?tree_size="+strconv.FormatInt(cp.Size+100000, 10), s.Token("co", "compliance_officer"), "", nil); r.Status != 404 {
		t.Errorf("proof against a size never signed: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/audit/proof/1", s.Token("co", "compliance_officer"), "", nil); r.Status != 200 || r.JSON["tree_size"].(float64) < float64(cp.Size) {
		t.Errorf("proof against the newest checkpoint: %d %s", r.Status, r.Body)
	}
}

func TestErasureUnlinksOldEntries(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("officer-1", "compliance_officer")
	id := s.CreateSubject(map[string]any{"name": "李雷"})
	s.Do("GET", "/v1/subjects/"+id, s.Token("cs", "customer_service"), "customer_service", nil)
	before := s.Do("GET", "/v1/audit/events?subject_id="+id, co, "compliance_audit", nil)
	if n := len(before.JSON["events"].([]any)); n != 2 {
		t.Fatalf("before erasure: %d entries", n)
	}
	s.Do("DELETE", "/v1/subjects/"+id, s.Token("st", "data_steward"), "account_management", nil)
	after := s.Do("GET", "/v1/audit/events?subject_id="+id, co, "compliance_audit", nil)
	if n := len(after.JSON["events"].([]any)); n != 0 {
		t.Fatalf("after erasure the subject id still finds %d entries", n)
	}
	if r := s.Do("GET", "/v1/audit/verify", co, "", nil); r.JSON["ok"] != true {
		t.Fatalf("chain broken by erasure: %s", r.Body)
	}
}

func TestReportsForTheCharts(t *testing.T) {
	s := apptest.Start(t)
	co := s.Token("co", "compliance_officer")
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234", "birth_date": "1984-09-10"})
	s.Do("GET", "/v1/subjects/"+id+"?fields=phone", s.Token("mk", "marketing"), "marketing", nil) // denied: no consent
	r := s.Do("GET", "/v1/audit/reports/activity", co, "compliance_audit", nil)
	days, _ := r.JSON["days"].([]any)
	if r.Status != 200 || len(days) != 30 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("activity: %d %s", r.Status, r.Body)
	}
	today := days[29].(map[string]any)
	if today["denied"].(float64) < 1 || today["by_role"].(map[string]any)["marketing"].(float64) != 1 {
		t.Fatalf("today: %v", today)
	}
	r = s.Do("GET", "/v1/audit/reports/consent-rates?since=2026-01-01T00:00:00Z&until=2026-01-08T00:00:00Z", co, "compliance_audit", nil)
	if r.Status != 200 || len(r.JSON["days"].([]any)) != 7 || len(r.JSON["subjects"].([]any)) != 7 {
		t.Fatalf("consent rates for a week: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		path, tok, purpose string
		status             int
	}{
		{"/v1/audit/reports/activity", co, "", 400},
		{"/v1/audit/reports/activity", s.Token("mk", "marketing"), "marketing", 403},
		{"/v1/audit/reports/activity?since=yesterday", co, "compliance_audit", 400},
		{"/v1/audit/reports/consent-rates?since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z", co, "compliance_audit", 400},
		{"/v1/audit/reports/consent-rates?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", co, "compliance_audit", 400},
		{"/v1/audit/reports/activity?since=2026-12-07&until=2026-12-07", co, "compliance_audit", 400}, // neither parses: one error
		{"/v1/audit/events?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", co, "compliance_audit", 400},
		{"/v1/audit/export?since=2026-02-01T00:00:00Z&until=2026-02-01T00:00:00Z", co, "compliance_audit", 400},
	} {
		r := s.Do("GET", tc.path, tc.tok, tc.purpose, nil)
		if r.Status != tc.status {
			t.Errorf("GET %s as %s: %d, want %d", tc.path, tc.purpose, r.Status, tc.status)
		}
		if r.Status >= 400 && r.JSON == nil {
			t.Errorf("GET %s: the error body is not one JSON object: %s", tc.path, r.Body)
		}
	}
}
