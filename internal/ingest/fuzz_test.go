package ingest

import (
	"bytes"
	"testing"
	"time"
)

// fuzzSeedsNDJSON are the in-code seeds of FuzzReaderNDJSON (more are in testdata/fuzz).
var fuzzSeedsNDJSON = []string{
	ev("e1", "search", `{"query":"q"}`) + "\n" + `{"bad` + "\n" + ev("e2", "order", `{"order_id":"o","amount":1,"currency":"USD","items":[{"sku":"s","category":"c","brand":"b","qty":1,"price":1}]}`),
	"\xEF\xBB\xBF{\"external_id\":\"crm-1\",\"source\":\"crm\",\"fields\":{\"phone\":13800001234}}\r\n\r\n",
	`{"subject_id":"sub_x","purpose":"marketing","notice_version":"1","method":"m","kind":"general","granted_at":"2026-01-01T00:00:00Z"}`,
	`{"subject_id":"sub_x","kind":"personalized_marketing"}` + "\n\xff\xfe\n",
	"", "\n", "{}", "[]", "null", `{"attrs":{"items":[{"qty":"1e400"}]}}`,
}

// fuzzSeedsCSV are the in-code seeds of FuzzReaderCSV.
var fuzzSeedsCSV = []string{
	"event_id,subject_id,type,ts,source,attrs\ne1,sub_x,search,2026-03-01T10:00:00Z,web,\"{\"\"query\"\":\"\"q\"\"}\"\n",
	"external_id,source,name,phone\r\ncrm-1,crm,\"Li, Lei\",138 0000 1234\r\n\"crm-2\",crm,\"multi\nline\",\n",
	"subject_id,purpose,notice_version,method,kind,granted_at\nsub_x,marketing,1,m,general,2026-01-01T00:00:00Z\n",
	"subject_id,kind\nsub_x,personalized_marketing\n\"unterminated,\n",
	"", "\n\n", ",,,\n", "\"", "a\"b,c\n", "\xEF\xBB\xBFsubject_id,kind\n",
}

// fuzzCheck reads data as every kind in one format and checks the reader's invariants: it never
// panics, terminates, numbers rows within the input, and every row either carries exactly the record
// of its kind (which passes validation again) or a RowError.
func fuzzCheck(t *testing.T, data []byte, format string) {
	t.Helper()
	maxLines := bytes.Count(data, []byte{'\n'}) + 1
	for _, kind := range Kinds() {
		r := NewReader(bytes.NewReader(data), kind, format)
		r.SetClock(func() time.Time { return testNow })
		c := NewCleaner(nil)
		prev := 0
		for n := 0; ; n++ {
			row, ok := r.Next()
			if !ok {
				break
			}
			if n > maxLines {
				t.Fatalf("%s: more rows than lines", kind)
			}
			if row.Line < 1 || row.Line > maxLines || row.Line < prev {
				t.Fatalf("%s: row line %d (previous %d, %d lines)", kind, row.Line, prev, maxLines)
			}
			if format == FormatNDJSON && row.Line == prev {
				t.Fatalf("%s: two NDJSON rows on line %d", kind, row.Line)
			}
			prev = row.Line
			if row.Err != nil {
				re, isRow := AsRowError(row.Err)
				if !isRow || re.Reason == "" || re.Line != row.Line {
					t.Fatalf("%s: line %d: error %v is not a proper RowError", kind, row.Line, row.Err)
				}
				if row.Subject != nil || row.Event != nil || row.Consent != nil || row.Objection != nil {
					t.Fatalf("%s: line %d: record with an error", kind, row.Line)
				}
				continue
			}
			switch kind {
			case KindEvents:
				if row.Event == nil {
					t.Fatalf("line %d: no event", row.Line)
				}
				c.Event(row.Event)
				// Cleaning may add original_currency and fx_rate, which can push attrs over the limit.
				if re := ValidateEventAt(row.Event, testNow); re != nil && re.Reason != ReasonAttrsTooLarge {
					t.Fatalf("line %d: cleaned event invalid: %s", row.Line, re.Reason)
				}
			case KindSubjects:
				if row.Subject == nil || ValidateSubjectEnvelope(row.Subject) != nil {
					t.Fatalf("line %d: bad subject", row.Line)
				}
				c.Subject(row.Subject) // must not panic; may reject
			case KindConsents:
				if row.Consent == nil || ValidateConsent(row.Consent, testNow) != nil {
					t.Fatalf("line %d: bad consent", row.Line)
				}
			case KindObjections:
				if row.Objection == nil || ValidateObjection(row.Objection) != nil {
					t.Fatalf("line %d: bad objection", row.Line)
				}
			}
		}
	}
}

func FuzzReaderNDJSON(f *testing.F) {
	for _, s := range fuzzSeedsNDJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCheck(t, data, FormatNDJSON) })
}

func FuzzReaderCSV(f *testing.F) {
	for _, s := range fuzzSeedsCSV {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCheck(t, data, FormatCSV) })
}
