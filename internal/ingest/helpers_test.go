package ingest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// validAttrs returns a fresh, valid attrs map for every event type.
func validAttrs(t *testing.T, typ string) map[string]any {
	t.Helper()
	var raw string
	switch typ {
	case TypeOrder, TypePOSPurchase:
		raw = `{"order_id":"o-1","amount":199.5,"currency":"CNY","items":[{"sku":"sku-1","category":"shoes","brand":"acme","qty":1,"price":199.5}],"coupon":"NEW10","discount":0,"store_id":"s-01"}`
	case TypeCancel:
		raw = `{"order_id":"o-1","reason":"changed_mind"}`
	case TypeReturn:
		raw = `{"order_id":"o-1","amount":99,"reason":"size"}`
	case TypeReview:
		raw = `{"order_id":"o-1","rating":5,"text":"很好"}`
	case TypeChat, TypeComplaint:
		raw = `{"text":"where is my parcel?"}`
	case TypeShare:
		raw = `{"sku":"sku-1"}`
	case TypePageView:
		raw = `{"page":"/p/sku-1","category":"shoes","dwell_ms":1200,"session_id":"sess-1"}`
	case TypeClick, TypeFavorite, TypeCartAdd, TypeCartRemove:
		raw = `{"sku":"sku-1","category":"shoes","brand":"acme","price":19.9}`
	case TypeSearch:
		raw = `{"query":"running shoes"}`
	default:
		t.Fatalf("no attrs for %q", typ)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// validEvent returns a valid event of a type.
func validEvent(t *testing.T, typ string) *EventRow {
	t.Helper()
	return &EventRow{EventID: "ev-1", SubjectRef: "sub_abc123", Type: typ, Source: "app",
		TS: testNow.Add(-time.Hour), Attrs: validAttrs(t, typ)}
}

// with returns a copy of m with key set to v (or deleted when v is the special value del).
func with(m map[string]any, key string, v any) map[string]any {
	out := maps.Clone(m)
	if _, ok := v.(deleted); ok {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

// deleted marks a key to delete in with.
type deleted struct{}

var del = deleted{}

// writeFile writes content to name in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll opens a file and reads every row of it with the test clock.
func readAll(t *testing.T, path string, kind Kind, format string) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f, kind, format)
	r.SetClock(func() time.Time { return testNow })
	var rows []Row
	for {
		row, ok := r.Next()
		if !ok {
			return rows
		}
		rows = append(rows, row)
	}
}

// reasonOf returns the RowError reason of a row, or "" when it has none.
func reasonOf(t *testing.T, row Row) string {
	t.Helper()
	if row.Err == nil {
		return ""
	}
	re, ok := AsRowError(row.Err)
	if !ok {
		t.Fatalf("line %d: error %v is not a RowError", row.Line, row.Err)
	}
	if re.Line != row.Line {
		t.Errorf("RowError line %d, row line %d", re.Line, row.Line)
	}
	return re.Reason
}

// jsonMarshal is json.Marshal, for the benchmarks' CSV conversion.
func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
