package audit

import (
	"testing"
	"time"
)

// The fast reader of an entry's index row and encoding/json agree on every input: the same row, or both
// an error. Seeded with real entries of every format version and with inputs meant to split them.
func FuzzIndexOfCanonical(f *testing.F) {
	e := Entry{Seq: 3, TS: time.Date(2026, 12, 6, 8, 0, 0, 123456789, time.UTC), RequestID: "r", Actor: Actor{Sub: "cs-1", Roles: []string{"customer_service"}, Team: "a"},
		Purpose: "customer_service", Action: "subject.read", SubjectRef: "ps_x", Categories: []string{"contact"}, Decision: Partial,
		ConsentIDs: []string{"c1"}, Status: 200, PolicyHash: "h", Intent: 3, PrevHash: GenesisHash}
	c, err := e.Canonical()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c)
	e.Actor = Actor{Pseudonym: "ps_self", Roles: []string{"subject"}}
	e.Actor.Team = "队\"伍\\"
	c, _ = e.Canonical()
	f.Add(c)
	for _, s := range []string{
		`{"seq":1,"ts":"2026-01-01T00:00:00Z","request_id":"r","actor":{"roles":["admin"]},"purpose":"","action":"policy.reload","categories":[],"fields_requested":[],"fields_granted":[],"fields_withheld":[],"decision":"allow","consent_ids":[],"status":200,"policy_hash":"h","prev_hash":"x"}`,
		`{"Purpose":"a","purpose":"b"}`, `{"purpose":"a","purpose":"b"}`, `{"ſubject_ref":"x"}`, `{"actor":{"SUB":"x"}}`,
		`{"purpose":"\u0041\n"}`, `{"purpose":null}`, `{"actor":null}`, `{"ts":"2026-13-01T00:00:00Z"}`, `{"ts":null}`,
		`{"purpose":"x"} `, ` {"purpose":"x"}`, `{"a":[1,{"b":"]"}],"action":"y"}`, `{"decision":5}`, `[]`, `{"purpose":"\xff"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := indexOfDecoded(b)
		got, ok := indexOfFast(b)
		if !ok {
			return // the reference answers
		}
		if wantErr != nil {
			t.Fatalf("fast read %q, the reference refuses it: %v", b, wantErr)
		}
		if got.Differs(want) != "" || got.TS.Location() != want.TS.Location() && !got.TS.Equal(want.TS) {
			t.Fatalf("%q: fast %+v, reference %+v", b, got, want)
		}
	})
}

// The fast path takes canonical entries (it must not fall back on what the vault writes), and is what
// makes verify's index check cheap.
func TestIndexOfFastReadsCanonicalEntries(t *testing.T) {
	e := Entry{Seq: 9, TS: time.Now(), Actor: Actor{Sub: "审计员", Roles: []string{"compliance_officer"}, TokenID: "t"}, Purpose: "compliance_audit",
		Action: "audit.read", SubjectRef: "ps_1", Decision: Allow, Reason: `quote " and \ backslash`, PrevHash: GenesisHash}
	c, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	row, ok := indexOfFast(c)
	if !ok || !row.Equal(IndexOf(e)) {
		t.Fatalf("fast path: %+v %v", row, ok)
	}
}

func BenchmarkIndexOfCanonical(b *testing.B) {
	e := Entry{Seq: 9, TS: time.Now(), RequestID: "0123456789abcdef01234567", Actor: Actor{Sub: "agent-0042", Roles: []string{"customer_service"}, Team: "hangzhou", TokenID: "5f0c4e3b9a7d6e1f"},
		Purpose: "customer_service", Action: "subject.read", SubjectRef: "ps_abcdefghijklmnopqrstuvwxyz234567", Categories: []string{"address", "contact", "identity"},
		FieldsRequested: []string{"address_line", "birth_date", "city", "district", "email", "gender", "name", "phone", "province"},
		FieldsGranted:   []string{"address_line", "birth_date", "city", "district", "email", "gender", "name", "phone", "province"},
		Decision:        Allow, Status: 200, PolicyHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", PrevHash: GenesisHash}
	c, _ := e.Canonical()
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			if _, ok := indexOfFast(c); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for range b.N {
			if _, err := indexOfDecoded(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
