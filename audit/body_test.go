package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// reflectBody is the reference for Entry.Body: the struct encoded by encoding/json with HTML escaping off,
// nil lists as empty arrays, seq and prev_hash cut off. Body must give exactly these bytes, since entries
// already in logs were hashed from them.
func reflectBody(e Entry) ([]byte, error) {
	c := e
	c.Seq, c.PrevHash = 0, ""
	if c.Version == 0 {
		c.Version = FormatVersion
	}
	c.TS = e.TS.UTC()
	empty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	c.Actor.Roles = empty(e.Actor.Roles)
	c.Categories, c.FieldsRequested = empty(e.Categories), empty(e.FieldsRequested)
	c.FieldsGranted, c.FieldsWithheld, c.ConsentIDs = empty(e.FieldsGranted), empty(e.FieldsWithheld), empty(e.ConsentIDs)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	const head, tail = `{"seq":0,`, `,"prev_hash":""}`
	if !bytes.HasPrefix(b, []byte(head)) || !bytes.HasSuffix(b, []byte(tail)) {
		return nil, errors.New("unexpected layout")
	}
	return b[len(head) : len(b)-len(tail)], nil
}

// fuzzEntry builds an entry whose every member comes from the fuzzer: s is cut at '|' into the string
// members and lists (a list's items at ','; an absent list stays nil).
func fuzzEntry(s string, version int, nanos int64, status int, intent int64) Entry {
	p := strings.Split(s, "|")
	at := func(i int) string {
		if i < len(p) {
			return p[i]
		}
		return ""
	}
	list := func(i int) []string {
		if i >= len(p) {
			return nil
		}
		if p[i] == "" {
			return []string{}
		}
		return strings.Split(p[i], ",")
	}
	return Entry{Seq: 7, Version: version, TS: time.Unix(0, nanos).In(time.FixedZone("X", 3600)), RequestID: at(0),
		Actor: Actor{Sub: at(1), Pseudonym: at(2), Roles: list(3), Team: at(4), TokenID: at(5)}, Purpose: at(6),
		JustificationHash: at(7), Action: at(8), SubjectRef: at(9), Categories: list(10), FieldsRequested: list(11),
		FieldsGranted: list(12), FieldsWithheld: list(13), DecisionInputs: list(14), Decision: Decision(at(15)),
		Reason: at(16), ConsentIDs: list(17), Status: status, PolicyHash: at(18), ClientRef: at(19),
		ClientRequestRef: at(20), GrantID: at(21), Recipient: at(22), Intent: intent, PrevHash: GenesisHash}
}

func FuzzEntryBody(f *testing.F) {
	f.Add("r1|alice||customer_service||jti-1|customer_service||subject.read|ref|identity,contact|name,phone|name|phone|birth_date|partial||c1,c2|h|||||",
		0, int64(1767225600123456789), 200, int64(0))
	f.Add("", 2, int64(0), 0, int64(-3))
	f.Add("a\"b\\c|<>&\u2028\u2029|\x00\x1f\x7f|é,漢字|\xff\xfe|||||||||||||||||||", 3, int64(-1), -1, int64(1<<62))
	f.Add("|||,,|", -5, int64(1)<<62, 1<<30, int64(9))
	f.Fuzz(func(t *testing.T, s string, version int, nanos int64, status int, intent int64) {
		e := fuzzEntry(s, version, nanos, status, intent)
		want, wantErr := reflectBody(e)
		got, err := e.Body()
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("errors differ: Body %v, encoding/json %v", err, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Body differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEntryBody measures the hand encoder against encoding/json on a typical read's entry:
// go test -run '^$' -bench EntryBody ./audit
func BenchmarkEntryBody(b *testing.B) {
	e := fuzzEntry("6f1c2a9e0b|cs-agent-1||customer_service||jti-1|customer_service||subject.read|k2f9a8c7e6d5b4a3|identity,contact|name,phone,email,city|name,phone,city|email||partial||c-1,c-2|9f86d081884c7d65|||||",
		0, time.Now().UnixNano(), 200, 0)
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Body(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := reflectBody(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
