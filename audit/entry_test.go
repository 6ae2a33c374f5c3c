package audit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCanonicalIsDeterministic(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CST", 8*3600))
	a := Entry{Seq: 1, TS: ts, Action: "subject.read", Actor: Actor{Sub: "x", Roles: []string{"customer_service"}}, Decision: Allow, PrevHash: GenesisHash}
	b := a
	b.TS = ts.UTC()
	ca, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := b.Canonical()
	if string(ca) != string(cb) {
		t.Fatalf("same instant in two zones encodes differently:\n%s\n%s", ca, cb)
	}
	if !strings.Contains(string(ca), `"categories":[]`) || strings.Contains(string(ca), "null") {
		t.Errorf("nil slices must encode as []: %s", ca)
	}
	if ChainHash(ca) == ChainHash(append(ca[:len(ca):len(ca)], ' ')) {
		t.Error("hash ignores a byte")
	}
	c := a
	c.PrevHash = strings.Repeat("1", 64)
	cc, _ := c.Canonical()
	if ChainHash(cc) == ChainHash(ca) {
		t.Error("the chain hash does not cover the previous hash")
	}
}

func TestDecisionFor(t *testing.T) {
	for _, tc := range []struct {
		g, w int
		want Decision
	}{{3, 0, Allow}, {0, 0, Allow}, {1, 2, Partial}, {0, 2, Deny}} {
		if got := DecisionFor(tc.g, tc.w); got != tc.want {
			t.Errorf("DecisionFor(%d,%d) = %s", tc.g, tc.w, got)
		}
	}
}

func TestHashText(t *testing.T) {
	if HashText("") != "" || len(HashText("ticket-42")) != 64 || strings.Contains(HashText("ticket-42"), "ticket") {
		t.Fatal("HashText")
	}
}

// New entries carry the format version right after seq, and the reserved grant and recipient members when
// set; a version 1 entry (no "v") still decodes and indexes.
func TestEntryFormatVersion(t *testing.T) {
	e := Entry{Seq: 7, TS: time.Unix(1, 0), Action: "subject.read", Decision: Allow, PrevHash: GenesisHash}
	c, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c), `{"seq":7,"v":3,`) || strings.Contains(string(c), "grant_id") {
		t.Fatalf("canonical %s", c)
	}
	e.GrantID, e.Recipient = "grt_1", "partner-a"
	if c, _ = e.Canonical(); !strings.Contains(string(c), `"grant_id":"grt_1","recipient":"partner-a","prev_hash"`) {
		t.Fatalf("reserved members: %s", c)
	}
	v1 := []byte(`{"seq":1,"ts":"2026-01-01T00:00:00Z","request_id":"r","actor":{"roles":["admin"]},"purpose":"","action":"policy.reload","categories":[],"fields_requested":[],"fields_granted":[],"fields_withheld":[],"decision":"allow","consent_ids":[],"status":200,"policy_hash":"h","prev_hash":"` + GenesisHash + `"}`)
	ix, err := IndexOfCanonical(v1)
	if err != nil || ix.Action != "policy.reload" {
		t.Fatalf("version 1 entry: %+v %v", ix, err)
	}
}

// TestCSVHasEveryMember: a CSV export carries every member of the canonical entry, each in the column of
// its name ("actor_" before the actor's members), with the value the entry holds — so a column cannot be
// forgotten when the entry grows (grant_id and recipient were).
func TestCSVHasEveryMember(t *testing.T) {
	e := Entry{Seq: 7, Version: FormatVersion, TS: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), RequestID: "r",
		Actor: Actor{Sub: "s", Pseudonym: "p", Roles: []string{"a", "b"}, Team: "t", TokenID: "tok"}, Purpose: "pu",
		JustificationHash: "jh", Action: "subject.read", SubjectRef: "ps_x", Categories: []string{"identity"},
		FieldsRequested: []string{"name"}, FieldsGranted: []string{"name"}, FieldsWithheld: []string{"phone"},
		DecisionInputs: []string{"birth_date"}, Decision: Partial, Reason: "why", ConsentIDs: []string{"c1"}, Status: 200,
		PolicyHash: "ph", ClientRef: "cr", ClientRequestRef: "crr", GrantID: "grt_1", Recipient: "sf_express", Intent: 5, PrevHash: "prev"}
	canon, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]any
	if err := json.Unmarshal(canon, &members); err != nil {
		t.Fatal(err)
	}
	record := e.CSVRecord()
	if len(record) != len(CSVHeader) {
		t.Fatalf("%d values for %d columns", len(record), len(CSVHeader))
	}
	column := map[string]string{}
	for i, name := range CSVHeader {
		column[name] = record[i]
	}
	text := func(v any) string {
		switch v := v.(type) {
		case []any:
			var s []string
			for _, x := range v {
				s = append(s, fmt.Sprint(x))
			}
			return strings.Join(s, " ")
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return fmt.Sprint(v)
	}
	for name, v := range members {
		if actor, ok := v.(map[string]any); ok {
			for k, av := range actor {
				if got, ok := column["actor_"+k]; !ok || got != text(av) {
					t.Errorf("actor.%s: column %q holds %q, the entry %q", k, "actor_"+k, got, text(av))
				}
			}
			continue
		}
		if name == "v" || name == "ts" {
			continue // v and ts are checked below (a number; a time written as RFC 3339)
		}
		if got, ok := column[name]; !ok || got != text(v) {
			t.Errorf("%s: column holds %q (present %v), the entry %q", name, got, ok, text(v))
		}
	}
	if column["v"] != strconv.Itoa(FormatVersion) || column["ts"] != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("v %q, ts %q", column["v"], column["ts"])
	}
}
