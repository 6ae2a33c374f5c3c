package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// ev returns one NDJSON event line.
func ev(id, typ, attrs string) string {
	return `{"event_id":"` + id + `","subject_id":"sub_abc","type":"` + typ + `","ts":"2026-03-01T10:00:00+08:00","source":"app","attrs":` + attrs + `}`
}

// rowSummary is what a test expects of one row: its line and reason ("" = accepted).
type rowSummary struct {
	line   int
	reason string
}

// summarise reduces rows to rowSummary and checks that accepted rows carry exactly their kind's record.
func summarise(t *testing.T, rows []Row, kind Kind) []rowSummary {
	t.Helper()
	out := make([]rowSummary, 0, len(rows))
	for _, r := range rows {
		reason := reasonOf(t, r)
		if r.Kind != kind {
			t.Errorf("line %d: kind %q, want %q", r.Line, r.Kind, kind)
		}
		set := 0
		for _, p := range []bool{r.Subject != nil, r.Event != nil, r.Consent != nil, r.Objection != nil} {
			if p {
				set++
			}
		}
		if reason == "" && set != 1 || reason != "" && set != 0 {
			t.Errorf("line %d: %d records set with reason %q", r.Line, set, reason)
		}
		out = append(out, rowSummary{r.Line, reason})
	}
	return out
}

func equalSummaries(t *testing.T, got, want []rowSummary) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReaderEventsNDJSON(t *testing.T) {
	search := `{"query":"shoes"}`
	exactLine := ev("e1", "search", search)
	exactLine += strings.Repeat(" ", MaxLineBytes-len(exactLine))
	tests := []struct {
		name    string
		content string
		want    []rowSummary
	}{
		{
			name: "bad row between good rows",
			content: ev("e1", "search", search) + "\n" +
				`{"event_id":"e2", oops}` + "\n" +
				ev("e3", "search", search) + "\n",
			want: []rowSummary{{1, ""}, {2, "malformed_json"}, {3, ""}},
		},
		{
			name:    "CRLF, BOM and blank lines",
			content: "\xEF\xBB\xBF" + ev("e1", "search", search) + "\r\n\r\n   \r\n" + ev("e2", "search", search) + "\r\n",
			want:    []rowSummary{{1, ""}, {4, ""}},
		},
		{
			name:    "last line without newline",
			content: ev("e1", "search", search) + "\n" + ev("e2", "search", search),
			want:    []rowSummary{{1, ""}, {2, ""}},
		},
		{
			name: "over-long line is skipped",
			content: ev("e1", "search", search) + "\n" +
				`{"event_id":"big","attrs":{"x":"` + strings.Repeat("a", MaxLineBytes+10) + `"}}` + "\n" +
				ev("e3", "search", search) + "\n",
			want: []rowSummary{{1, ""}, {2, "line_too_long"}, {3, ""}},
		},
		{
			name:    "line of exactly MaxLineBytes",
			content: exactLine + "\r\n" + ev("e2", "search", search),
			want:    []rowSummary{{1, ""}, {2, ""}},
		},
		{
			name:    "invalid UTF-8 (GBK)",
			content: ev("e1", "search", "{\"query\":\"\xc4\xe3\xba\xc3\"}") + "\n" + ev("e2", "search", search) + "\n",
			want:    []rowSummary{{1, "bad_encoding"}, {2, ""}},
		},
		{
			name: "validation errors keep their line",
			content: ev("e1", "teleport", search) + "\n" +
				ev("e2", "order", `{"order_id":"o1","amount":-1,"currency":"CNY","items":[]}`) + "\n" +
				`{"event_id":"e3","subject_id":"sub_abc","type":"search","ts":"2099-01-01T00:00:00Z","source":"app","attrs":{"query":"q"}}` + "\n" +
				ev("e4", "search", search) + "\n",
			want: []rowSummary{{1, "unknown_type"}, {2, "bad_attrs:amount"}, {3, "future_time"}, {4, ""}},
		},
		{
			name:    "empty input",
			content: "",
			want:    []rowSummary{},
		},
		{
			name:    "only a BOM and blank lines",
			content: "\xEF\xBB\xBF\n\n",
			want:    []rowSummary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "events.ndjson", tt.content)
			rows := readAll(t, path, KindEvents, FormatNDJSON)
			equalSummaries(t, summarise(t, rows, KindEvents), tt.want)
		})
	}
}

func TestReaderEventFields(t *testing.T) {
	path := writeFile(t, "events.ndjson", ev("e1", "order", `{"order_id":"o-9","amount":10,"currency":"usd","items":[{"sku":"s","category":"c","brand":"b","qty":1,"price":10}],"gift":true}`)+"\n")
	rows := readAll(t, path, KindEvents, FormatNDJSON)
	if len(rows) != 1 || rows[0].Err != nil {
		t.Fatalf("rows %+v", rows)
	}
	e := rows[0].Event
	wantTS := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	if e.EventID != "e1" || e.SubjectRef != "sub_abc" || e.Type != "order" || e.Source != "app" || !e.TS.Equal(wantTS) {
		t.Errorf("event %+v", e)
	}
	if e.Attrs["gift"] != true || e.Attrs["amount"] != 10.0 {
		t.Errorf("attrs %v", e.Attrs)
	}
	if e.Category() != CategoryTransactions {
		t.Errorf("category %q", e.Category())
	}
}

func TestReaderEventsCSV(t *testing.T) {
	header := "event_id,subject_id,type,ts,source,attrs\n"
	tests := []struct {
		name    string
		content string
		want    []rowSummary
	}{
		{
			name: "bad row between good rows",
			content: header +
				`e1,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""shoes""}"` + "\n" +
				`e2,sub_abc,search,2026-03-01T10:00:00Z,web` + "\n" +
				`e3,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""hat""}"` + "\n",
			want: []rowSummary{{2, ""}, {3, "bad_csv"}, {4, ""}},
		},
		{
			name: "bare quote and text after quote",
			content: header +
				`e1,sub_abc,sea"rch,2026-03-01T10:00:00Z,web,{}` + "\n" +
				`e2,"sub_abc"x,search,2026-03-01T10:00:00Z,web,{}` + "\n" +
				`e3,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\n",
			want: []rowSummary{{2, "bad_csv"}, {3, "bad_csv"}, {4, ""}},
		},
		{
			name: "CRLF, BOM, blank lines, reordered columns",
			content: "\xEF\xBB\xBF" + "Type, Event_ID ,subject_id,ts,source,attrs\r\n" + "\r\n" +
				`search,e1,sub_abc,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\r\n" +
				"\r\n" +
				` search ,e2,sub_abc,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\r\n",
			want: []rowSummary{{3, ""}, {5, ""}},
		},
		{
			name: "quoted field spanning lines keeps the start line",
			content: header +
				`e1,sub_abc,chat,2026-03-01T10:00:00Z,crm,"{""text"":""line one` + "\n" + `line two""}"` + "\n" +
				`e2,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\n",
			// A raw newline inside a JSON string is invalid JSON: the attrs are rejected, but line 4 is fine.
			want: []rowSummary{{2, "bad_attrs"}, {4, ""}},
		},
		{
			name: "attrs errors",
			content: header +
				`e1,sub_abc,search,2026-03-01T10:00:00Z,web,[1]` + "\n" +
				`e2,sub_abc,search,2026-03-01T10:00:00Z,web,` + "\n" +
				`e3,sub_abc,search,yesterday,web,"{""query"":""q""}"` + "\n",
			want: []rowSummary{{2, "bad_attrs"}, {3, "bad_attrs:query"}, {4, "bad_time"}},
		},
		{
			name: "over-long line is skipped",
			content: header +
				`e1,sub_abc,chat,2026-03-01T10:00:00Z,crm,"{""text"":""` + strings.Repeat("z", MaxLineBytes) + `""}"` + "\n" +
				`e2,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\n",
			want: []rowSummary{{2, "line_too_long"}, {3, ""}},
		},
		{
			name: "unterminated quote at the end",
			content: header +
				`e1,sub_abc,search,2026-03-01T10:00:00Z,web,"{""query"":""q""}"` + "\n" +
				`e2,sub_abc,search,2026-03-01T10:00:00Z,web,"{` + "\n",
			want: []rowSummary{{2, ""}, {3, "bad_csv"}},
		},
		{
			name:    "header missing a column stops the file",
			content: "event_id,subject_id,type,ts\n" + `e1,sub_abc,search,2026-03-01T10:00:00Z` + "\n",
			want:    []rowSummary{{1, "bad_header:missing_column"}},
		},
		{
			name:    "header with an unknown column",
			content: "event_id,subject_id,type,ts,source,attrs,phone\n",
			want:    []rowSummary{{1, "bad_header:unknown_column"}},
		},
		{
			name:    "header with a duplicate column",
			content: "event_id,event_id,subject_id,type,ts,source\n",
			want:    []rowSummary{{1, "bad_header:duplicate_column"}},
		},
		{
			name:    "header only",
			content: header,
			want:    []rowSummary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "events.csv", tt.content)
			rows := readAll(t, path, KindEvents, FormatCSV)
			equalSummaries(t, summarise(t, rows, KindEvents), tt.want)
		})
	}
}

func TestReaderCSVQuoting(t *testing.T) {
	content := "external_id,source,name,address_line\n" +
		`crm-1,crm,"Li, Lei","He said ""hi"""` + "\n" +
		`crm-2,crm,,` + "\n"
	rows := readAll(t, writeFile(t, "subjects.csv", content), KindSubjects, FormatCSV)
	if len(rows) != 2 || rows[0].Err != nil || rows[1].Err != nil {
		t.Fatalf("rows %+v", rows)
	}
	if got := rows[0].Subject.Fields; got["name"] != "Li, Lei" || got["address_line"] != `He said "hi"` {
		t.Errorf("fields %q", got)
	}
	if got := rows[1].Subject.Fields; len(got) != 0 {
		t.Errorf("empty cells kept: %q", got)
	}
}

// A stray opening quote in a CSV cell swallowed every line after it into one rejected record (97 of 100
// subjects vanished, counted nowhere): the record is rejected on its first line, and the lines after it are
// read as the records they are — at the end of the file, and when the run-on record ends with too many cells.
func TestReaderCSVStrayQuoteLosesOneLine(t *testing.T) {
	head := "external_id,source,name,address_line\n"
	for name, content := range map[string]string{
		"to the end of the file": head + "crm-1,crm,李雷,长江路1号\n" + "crm-2,crm,韩梅梅,\"长江路2号\n" + "crm-3,crm,王芳,长江路3号\n" + "crm-4,crm,张伟,长江路4号\n",
		"to a later quote":       head + "crm-1,crm,李雷,长江路1号\n" + "crm-2,crm,韩梅梅,\"长江路2号\n" + "crm-3,crm,王芳,长江路3号\n" + "crm-4,crm,张伟,\"长江路\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			rows := readAll(t, writeFile(t, "subjects.csv", content), KindSubjects, FormatCSV)
			got := summarise(t, rows, KindSubjects)
			if len(got) != 4 || got[0] != (rowSummary{2, ""}) || got[1] != (rowSummary{3, "bad_csv"}) || got[2] != (rowSummary{4, ""}) || got[3].line != 5 {
				t.Fatalf("rows %+v", got)
			}
		})
	}
}

func TestReaderSubjects(t *testing.T) {
	ndjson := `{"external_id":"crm-1","source":"crm","fields":{"name":"李雷","phone":13800001234,"city":"襄阳","email":null}}` + "\n" +
		`{"external_id":"crm-2","source":"crm","fields":{"name":{"first":"x"}}}` + "\n" +
		`{"source":"crm","fields":{}}` + "\n" +
		`{"external_id":"crm-4","source":"fax","fields":{}}` + "\n" +
		`{"external_id":"crm-5","source":"app","fields":{"name":"韩梅梅"},"x":1}` + "\n" +
		`{"external_id":"crm-6","source":"app"}` + "\n"
	rows := readAll(t, writeFile(t, "subjects.ndjson", ndjson), KindSubjects, FormatNDJSON)
	equalSummaries(t, summarise(t, rows, KindSubjects), []rowSummary{
		{1, ""}, {2, "bad_value:fields"}, {3, "missing_field:external_id"}, {4, "bad_value:source"}, {5, "unknown_field"}, {6, ""},
	})
	s := rows[0].Subject
	if s.ExternalID != "crm-1" || s.Source != "crm" || s.Fields["phone"] != "13800001234" || s.Fields["name"] != "李雷" {
		t.Errorf("subject %+v", s)
	}
	if _, ok := s.Fields["email"]; ok {
		t.Error("null field kept")
	}

	csv := "external_id,source,name,phone,city\n" +
		"crm-1,crm,李雷,138 0000 1234,襄阳市\n" +
		",crm,x,,\n" +
		"crm-3,crm,韩梅梅,,\n"
	rows = readAll(t, writeFile(t, "subjects.csv", csv), KindSubjects, FormatCSV)
	equalSummaries(t, summarise(t, rows, KindSubjects), []rowSummary{{2, ""}, {3, "missing_field:external_id"}, {4, ""}})
	if got := rows[0].Subject.Fields; got["city"] != "襄阳市" || got["phone"] != "138 0000 1234" {
		t.Errorf("fields %q", got)
	}
	if got := rows[2].Subject.Fields; len(got) != 1 {
		t.Errorf("fields %q", got)
	}
}

func TestReaderConsentsAndObjections(t *testing.T) {
	ndjson := `{"subject_id":"external:crm:crm-1","purpose":"marketing","notice_version":"2026-01","method":"app_checkbox","kind":"general","granted_at":"2026-01-05T10:00:00Z","recipient":null}` + "\n" +
		`{"subject_id":"sub_x","purpose":"analytics","notice_version":"2026-01","method":"web_form","kind":"separate","granted_at":"2026-01-05T10:00:00Z","expires_at":"2027-01-05T10:00:00Z","evidence":"form#7"}` + "\n" +
		`{"subject_id":"sub_x","purpose":"analytics","notice_version":"2026-01","method":"web_form","kind":"separate","granted_at":"5 Jan"}` + "\n" +
		`{"subject_id":"sub_x","purpose":"analytics","notice_version":"2026-01","method":"web_form","kind":"separate","granted_at":"2026-01-05T10:00:00Z","expires_at":"never"}` + "\n"
	rows := readAll(t, writeFile(t, "consents.ndjson", ndjson), KindConsents, FormatNDJSON)
	equalSummaries(t, summarise(t, rows, KindConsents), []rowSummary{{1, ""}, {2, ""}, {3, "bad_time"}, {4, "bad_time"}})
	c := rows[1].Consent
	if c.Purpose != "analytics" || c.Kind != "separate" || c.Evidence != "form#7" || c.ExpiresAt == nil ||
		c.ExpiresAt.Year() != 2027 || rows[0].Consent.ExpiresAt != nil {
		t.Errorf("consent %+v", c)
	}

	csv := "subject_id,purpose,notice_version,method,kind,granted_at,recipient,evidence,expires_at\n" +
		"sub_x,marketing,2026-01,app_checkbox,guardian,2026-01-05T10:00:00Z,,,\n" +
		"sub_x,marketing,2026-01,app_checkbox,tacit,2026-01-05T10:00:00Z,,,\n"
	rows = readAll(t, writeFile(t, "consents.csv", csv), KindConsents, FormatCSV)
	equalSummaries(t, summarise(t, rows, KindConsents), []rowSummary{{2, ""}, {3, "bad_value:kind"}})

	objN := `{"subject_id":"sub_x","kind":"personalized_marketing"}` + "\n" + `{"subject_id":"sub_x"}` + "\n"
	rows = readAll(t, writeFile(t, "objections.ndjson", objN), KindObjections, FormatNDJSON)
	equalSummaries(t, summarise(t, rows, KindObjections), []rowSummary{{1, ""}, {2, "missing_field:kind"}})
	objAlias := `{"subject_ref":"sub_y","kind":"personalized_marketing"}` + "\n" +
		`{"subject_id":"sub_x","subject_ref":"sub_y","kind":"personalized_marketing"}` + "\n" +
		`{"subject_id":"sub_x","subject_ref":"sub_x","kind":"personalized_marketing"}` + "\n"
	rows = readAll(t, writeFile(t, "objections.ndjson", objAlias), KindObjections, FormatNDJSON)
	equalSummaries(t, summarise(t, rows, KindObjections), []rowSummary{{1, ""}, {2, "bad_value:subject_id"}, {3, ""}})
	if rows[0].Objection.SubjectRef != "sub_y" {
		t.Errorf("subject_ref alias: %+v", rows[0].Objection)
	}
	rows = readAll(t, writeFile(t, "objections.csv", "subject_ref,kind\nsub_y,personalized_marketing\n"), KindObjections, FormatCSV)
	equalSummaries(t, summarise(t, rows, KindObjections), []rowSummary{{2, ""}})
	rows = readAll(t, writeFile(t, "objections.csv", "subject_ref,subject_id,kind\n"), KindObjections, FormatCSV)
	equalSummaries(t, summarise(t, rows, KindObjections), []rowSummary{{1, "bad_header:duplicate_column"}})
	objC := "subject_id,kind\nsub_x,personalized_marketing\nbogus,personalized_marketing\n"
	rows = readAll(t, writeFile(t, "objections.csv", objC), KindObjections, FormatCSV)
	equalSummaries(t, summarise(t, rows, KindObjections), []rowSummary{{2, ""}, {3, "bad_subject_ref"}})
	if rows[0].Objection.Kind != "personalized_marketing" {
		t.Errorf("objection %+v", rows[0].Objection)
	}
}

// failingReader returns some data and then an I/O error.
type failingReader struct {
	data []byte
	done bool
}

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.done {
		f.done = true
		return copy(p, f.data), nil
	}
	return 0, errDisk
}

func TestReaderIOErrorEndsStream(t *testing.T) {
	r := NewReader(&failingReader{data: []byte(ev("e1", "search", `{"query":"q"}`) + "\n")}, KindEvents, FormatNDJSON)
	r.SetClock(func() time.Time { return testNow })
	row, ok := r.Next()
	if !ok || row.Err != nil {
		t.Fatalf("first row %+v", row)
	}
	row, ok = r.Next()
	if !ok || !errors.Is(row.Err, ErrRead) || !errors.Is(row.Err, errDisk) {
		t.Fatalf("second row %+v, %v", row, ok)
	}
	if _, isRow := AsRowError(row.Err); isRow {
		t.Error("an I/O error must not be a RowError")
	}
	if _, ok := r.Next(); ok {
		t.Error("Next after an I/O error returned a row")
	}
	if r.Line() != 1 || r.BytesRead() == 0 {
		t.Errorf("Line %d BytesRead %d", r.Line(), r.BytesRead())
	}
}

func TestReaderBadArguments(t *testing.T) {
	tests := []struct {
		kind   Kind
		format string
		want   error
	}{
		{"orders", FormatNDJSON, ErrUnknownKind},
		{KindEvents, "xml", ErrUnknownFormat},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader("{}\n"), tt.kind, tt.format)
		row, ok := r.Next()
		if !ok || !errors.Is(row.Err, tt.want) {
			t.Errorf("%q/%q: row %+v", tt.kind, tt.format, row)
		}
		if _, ok := r.Next(); ok {
			t.Errorf("%q/%q: more rows", tt.kind, tt.format)
		}
	}
}

func TestReaderCounters(t *testing.T) {
	content := ev("e1", "search", `{"query":"q"}`) + "\n\n" + ev("e2", "search", `{"query":"q"}`) + "\n"
	r := NewReader(strings.NewReader(content), KindEvents, FormatNDJSON)
	for {
		if _, ok := r.Next(); !ok {
			break
		}
	}
	if r.Line() != 3 || r.BytesRead() != int64(len(content)) {
		t.Errorf("Line %d BytesRead %d, want 3 and %d", r.Line(), r.BytesRead(), len(content))
	}
}

func TestReaderSkipLines(t *testing.T) {
	in := ev("e1", "search", `{"query":"a"}`) + "\n" + ev("e2", "page_view", `{}`) + "\n{bad\n" + ev("e3", "search", `{"query":"b"}`) + "\n"
	r := NewReader(strings.NewReader(in), KindEvents, FormatNDJSON)
	r.SkipLines(func(line []byte) bool { return !strings.Contains(string(line), "search") })
	var ids []string
	var lines []int
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		if row.Err != nil {
			t.Fatalf("line %d: %v (a skipped line was parsed)", row.Line, row.Err)
		}
		ids, lines = append(ids, row.Event.EventID), append(lines, row.Line)
	}
	if strings.Join(ids, ",") != "e1,e3" || len(lines) != 2 || lines[0] != 1 || lines[1] != 4 {
		t.Fatalf("kept %v on lines %v, want e1,e3 on lines 1 and 4", ids, lines)
	}
	// CSV records may span lines: the filter does not apply.
	csvIn := "event_id,subject_id,type,ts,source,attrs\ne1,sub_abc,search,2026-03-01T10:00:00+08:00,app,\"{\"\"query\"\":\"\"a\"\"}\"\n"
	r = NewReader(strings.NewReader(csvIn), KindEvents, FormatCSV)
	r.SkipLines(func([]byte) bool { return true })
	n := 0
	for _, ok := r.Next(); ok; _, ok = r.Next() {
		n++
	}
	if n != 1 {
		t.Fatalf("CSV: %d rows, want 1", n)
	}
}
