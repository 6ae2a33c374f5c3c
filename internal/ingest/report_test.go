package ingest

import (
	"cmp"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReportLines(t *testing.T) {
	var r Report
	r.Accepted, r.Duplicates, r.Standardised, r.Anomalies = 10, 2, 4, 1
	r.Imputed, r.Merged, r.ReviewQueued, r.LinesRead = 3, 1, 2, 20
	r.RejectAt("shop/events.ndjson", 12, "bad_time")
	r.RejectAt("shop/events.ndjson", 7, "unknown_type")
	r.RejectAt("c:/shop/subjects.csv", 3, "bad_attrs:items")
	r.AddCleanCounts(CleanCounts{Standardised: map[string]int{"phone": 3}, Imputed: map[string]int{"city": 2}})
	want := []string{
		"accepted: 10", "duplicates: 2", "standardised: 4", "anomalies: 1", "imputed: 3", "merged: 1",
		"review_queued: 2", "rejected: 3", "rejected.bad_attrs:items: 1", "rejected.bad_time: 1", "rejected.unknown_type: 1",
		"imputed.city: 2", "standardised.phone: 3",
		"at c:/shop/subjects.csv:3: bad_attrs:items", "at shop/events.ndjson:7: unknown_type", "at shop/events.ndjson:12: bad_time",
	}
	if got := r.Lines(); !slices.Equal(got, want) {
		t.Errorf("Lines() =\n%q\nwant\n%q", got, want)
	}
	var total Report
	total.Merge(r)
	total.Merge(r)
	if total.Accepted != 20 || total.Rejected["bad_time"] != 2 || total.RejectedTotal() != 6 || total.Details["standardised.phone"] != 6 || total.LinesRead != 40 || len(total.At) != 6 {
		t.Errorf("merged %+v", total)
	}
	empty := Report{}.Lines()
	if len(empty) != 8 || empty[7] != "rejected: 0" {
		t.Errorf("empty report lines %q", empty)
	}
	// At is bounded.
	for i := range MaxRejectedAt + 5 {
		total.RejectAt("f", i, "x")
	}
	if len(total.At) != MaxRejectedAt || total.Rejected["x"] != MaxRejectedAt+5 {
		t.Errorf("%d places kept, %d counted", len(total.At), total.Rejected["x"])
	}
	// ParseLines reads the lines back (LinesRead is not among them).
	back, err := ParseLines(r.Lines())
	r.LinesRead = 0
	slices.SortStableFunc(r.At, func(a, b Rejection) int { return cmp.Or(strings.Compare(a.File, b.File), a.Line-b.Line) })
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("ParseLines(Lines()) = %+v, %v; want %+v", back, err, r)
	}
	for _, bad := range []string{"accepted 10", "accepted: ten", ": 3", "at events.ndjson: bad_time", "at events.ndjson:x: bad_time"} {
		if _, err := ParseLines([]string{bad}); err == nil {
			t.Errorf("ParseLines accepted %q", bad)
		}
	}
}

func TestDetectKind(t *testing.T) {
	tests := []struct {
		path   string
		kind   Kind
		format string
		err    error
	}{
		{"/data/subjects.ndjson", KindSubjects, FormatNDJSON, nil},
		{"subjects-crm.csv", KindSubjects, FormatCSV, nil},
		{"dir/Events_2026-01.JSONL", KindEvents, FormatNDJSON, nil},
		{"events.csv", KindEvents, FormatCSV, nil},
		{"consents.ndjson", KindConsents, FormatNDJSON, nil},
		{"objections.csv", KindObjections, FormatCSV, nil},
		{"orders.csv", "", "", ErrUnknownKind},
		{"events.json", "", "", ErrUnknownFormat},
		{"events.csv.gz", "", "", ErrUnknownFormat},
		{"subjects", "", "", ErrUnknownFormat},
	}
	for _, tt := range tests {
		k, f, err := Detect(tt.path)
		if k != tt.kind || f != tt.format || !errors.Is(err, tt.err) {
			t.Errorf("Detect(%q) = %q, %q, %v", tt.path, k, f, err)
		}
		k2, err2 := DetectKind(tt.path)
		if k2 != tt.kind || !errors.Is(err2, tt.err) {
			t.Errorf("DetectKind(%q) = %q, %v", tt.path, k2, err2)
		}
	}
	if !slices.Equal(Kinds(), []Kind{KindSubjects, KindEvents, KindConsents, KindObjections}) {
		t.Error("Kinds order")
	}
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(Report{Accepted: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"accepted":1,"duplicates":0,"standardised":0,"anomalies":0,"imputed":0,"merged":0,"review_queued":0,"rejected":{},"lines_read":0}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}

// TestRejectAtKeepsTheFirstPlaces: whatever order the workers reject records in, the report keeps the first
// MaxRejectedAt places by file and line, so two runs of one import report the same places.
func TestRejectAtKeepsTheFirstPlaces(t *testing.T) {
	lines := make([]int, 500)
	for i := range lines {
		lines[i] = i + 1
	}
	var inOrder, shuffled Report
	for _, l := range lines {
		inOrder.RejectAt("events.ndjson", l, "x")
	}
	for i := range lines { // a fixed shuffle
		j := (i*7919 + 13) % len(lines)
		lines[i], lines[j] = lines[j], lines[i]
	}
	for _, l := range lines {
		shuffled.RejectAt("events.ndjson", l, "x")
	}
	if !slices.Equal(inOrder.Lines(), shuffled.Lines()) {
		t.Fatalf("the places kept depend on the order:\n%q\n%q", inOrder.Lines(), shuffled.Lines())
	}
	if l := shuffled.Lines(); l[len(l)-1] != "at events.ndjson:100: x" {
		t.Fatalf("last place kept %q, want line 100", l[len(l)-1])
	}
}

// The places kept come in import order — subjects, consents, objections, events — so a rejected subject,
// the cause of its consents' and events' unknown_subject, is among them (consents* sorted before subjects*).
func TestRejectAtKeepsImportOrder(t *testing.T) {
	var r Report
	for l := 1; l <= 150; l++ {
		r.RejectAt("shop/consents.ndjson", l, "unknown_subject")
	}
	r.RejectAt("shop/subjects.csv", 7, "bad_value:phone")
	if at := r.Lines(); !slices.Contains(at, "at shop/subjects.csv:7: bad_value:phone") {
		t.Fatalf("the rejected subject is not among the places kept: %q", at[len(at)-3:])
	}
}
