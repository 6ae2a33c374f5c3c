package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/policies/safetext"
)

// MaxLineBytes bounds one line of input (and one CSV record, which may span lines inside quotes),
// without its line terminator. A longer line is rejected with "line_too_long" and skipped without
// being buffered.
const MaxLineBytes = 1 << 20

// readBufferSize is the size of the Reader's bufio buffer.
const readBufferSize = 64 << 10

// utf8BOM is the UTF-8 byte-order mark some Windows tools write at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Reader streams the records of one file. It is not safe for concurrent use.
type Reader struct {
	br     *bufio.Reader
	kind   Kind
	format string
	now    func() time.Time

	line  int   // physical lines consumed
	bytes int64 // bytes consumed
	buf   []byte
	done  bool
	setup error // a NewReader argument error, reported by the first Next
	skip  func(line []byte) bool
	par   *parallel // set by Parallel

	// CSV state.
	header []string // column names, once read
	// headerProblem says what is wrong with an unusable header row (HeaderProblem).
	headerProblem string
	col           map[string]int // column name → index
	csv           csvParser
	recStart      int  // line the current CSV record starts on
	recActive     bool // a multi-line CSV record is being assembled
	// recLines are the physical lines after the first of the record being assembled (copies, with their
	// numbers), and replay the lines to parse again before reading on: a record that spans lines and turns out bad — a
	// stray opening quote, which swallows every line after it until the end of the file or 1 MiB — is
	// rejected on its first line alone, and the lines after it are records of their own.
	recLines []numberedLine
	replay   []numberedLine
}

// numberedLine is a physical line and its number.
type numberedLine struct {
	text []byte
	n    int
}

// NewReader returns a Reader of records of kind in format (FormatNDJSON or FormatCSV) from r. An unknown
// kind or format is reported by the first call to Next as a Row whose Err wraps ErrUnknownKind or
// ErrUnknownFormat.
func NewReader(r io.Reader, kind Kind, format string) *Reader {
	rd := &Reader{br: bufio.NewReaderSize(r, readBufferSize), kind: kind, format: format, now: time.Now}
	switch {
	case !kind.Valid():
		rd.setup = fmt.Errorf("%w: %q", ErrUnknownKind, string(kind))
	case format != FormatNDJSON && format != FormatCSV:
		rd.setup = fmt.Errorf("%w: %q", ErrUnknownFormat, format)
	}
	return rd
}

// SetClock sets the clock used to reject times in the future (default time.Now); for tests.
func (r *Reader) SetClock(now func() time.Time) { r.now = now }

// SkipLines makes Next pass over every NDJSON line for which skip returns true without parsing it (a
// pre-scan that needs only some records can drop the others on a cheap byte test). It has no effect on
// CSV, whose records may span lines.
func (r *Reader) SkipLines(skip func(line []byte) bool) { r.skip = skip }

// Line returns the number of physical lines consumed so far (for the report and progress).
func (r *Reader) Line() int {
	if r.par != nil {
		return r.par.line
	}
	return r.line
}

// BytesRead returns the number of input bytes consumed so far (for a progress bar).
func (r *Reader) BytesRead() int64 {
	if r.par != nil {
		return r.par.bytes
	}
	return r.bytes
}

// Next returns the next record and true, or false at the end of the input. A rejected record comes
// back with a RowError in Err and reading can go on; an I/O error comes back once as a Row whose Err
// wraps ErrRead, and then Next returns false.
func (r *Reader) Next() (Row, bool) {
	if r.done {
		return Row{}, false
	}
	if r.setup != nil {
		r.done = true
		return Row{Kind: r.kind, Err: r.setup}, true
	}
	if r.par != nil {
		return r.nextParallel()
	}
	for {
		if len(r.replay) > 0 {
			l := r.replay[0]
			r.replay = r.replay[1:]
			if row, ok := r.csvLine(l.text, l.n, false); ok {
				return row, true
			}
			if r.done {
				return Row{}, false
			}
			continue
		}
		line, tooLong, err := r.readLine()
		if errors.Is(err, io.EOF) {
			if r.recActive { // end of input inside a quoted CSV field
				start := r.recStart
				r.failRecord()
				if len(r.replay) == 0 {
					r.done = true
				}
				return r.reject(start, ReasonBadCSV), true
			}
			r.done = true
			return Row{}, false
		}
		if err != nil {
			r.done = true
			return Row{Line: r.line + 1, Kind: r.kind, Err: fmt.Errorf("%w: %w", ErrRead, err)}, true
		}
		n := r.line
		if r.format == FormatNDJSON {
			switch {
			case tooLong:
				return r.reject(n, ReasonLineTooLong), true
			case isBlank(line):
				continue
			case r.skip != nil && r.skip(line):
				continue
			case !utf8.Valid(line):
				return r.reject(n, ReasonBadEncoding), true
			}
			return r.ndjsonRow(line, n), true
		}
		if row, ok := r.csvLine(line, n, tooLong); ok {
			return row, true
		}
		if r.done {
			return Row{}, false
		}
	}
}

// reject returns a Row rejected for reason at line.
func (r *Reader) reject(line int, reason string) Row {
	return Row{Line: line, Kind: r.kind, Err: RowError{Line: line, Reason: reason}}
}

// withErr returns a Row rejected with re (which may be nil: then the row is returned as is).
func (r *Reader) withErr(row Row, re *RowError) Row {
	if re == nil {
		return row
	}
	return Row{Line: row.Line, Kind: r.kind, Err: RowError{Line: row.Line, Reason: re.Reason}}
}

// readLine returns the next physical line without its terminator (and without a leading BOM on line
// 1). A line longer than MaxLineBytes is consumed but not kept: tooLong is true and line is nil. At
// the end of input it returns io.EOF.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	got := false
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(frag) > 0 {
			got = true
			r.bytes += int64(len(frag))
			if !tooLong {
				if len(r.buf)+len(frag) > MaxLineBytes+2 { // +2: the CRLF terminator
					tooLong = true
					r.buf = r.buf[:0]
				} else {
					r.buf = append(r.buf, frag...)
				}
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if !got {
				return nil, false, io.EOF
			}
			break
		}
		if err != nil {
			return nil, false, err
		}
		break
	}
	r.line++
	if tooLong {
		return nil, true, nil
	}
	line = r.buf
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	if r.line == 1 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	if len(line) > MaxLineBytes {
		return nil, true, nil
	}
	return line, false, nil
}

// isBlank reports whether a line holds only ASCII white space.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f' {
			return false
		}
	}
	return true
}

// isJSONBlank reports whether b holds only JSON white space (space, tab, CR, LF).
func isJSONBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// ---- NDJSON ----

// Wire shapes of NDJSON records (API.md).
type (
	eventWire struct {
		EventID   string         `json:"event_id"`
		SubjectID string         `json:"subject_id"`
		Type      string         `json:"type"`
		TS        string         `json:"ts"`
		Source    string         `json:"source"`
		Attrs     map[string]any `json:"attrs"`
	}
	subjectWire struct {
		ExternalID string         `json:"external_id"`
		Source     string         `json:"source"`
		Fields     map[string]any `json:"fields"`
	}
	consentWire struct {
		SubjectID     string `json:"subject_id"`
		Purpose       string `json:"purpose"`
		NoticeVersion string `json:"notice_version"`
		Method        string `json:"method"`
		Kind          string `json:"kind"`
		GrantedAt     string `json:"granted_at"`
		Recipient     string `json:"recipient"`
		Evidence      string `json:"evidence"`
		ExpiresAt     string `json:"expires_at"`
	}
	objectionWire struct {
		SubjectID  string `json:"subject_id"`
		SubjectRef string `json:"subject_ref"` // accepted alias of subject_id
		Kind       string `json:"kind"`
	}
)

// Envelope field names per kind, for mapping JSON type errors to a fixed vocabulary.
var wireFields = map[Kind][]string{
	KindEvents:     {"event_id", "subject_id", "type", "ts", "source", "attrs"},
	KindSubjects:   {"external_id", "source", "fields"},
	KindConsents:   {"subject_id", "purpose", "notice_version", "method", "kind", "granted_at", "recipient", "evidence", "expires_at"},
	KindObjections: {"subject_id", "subject_ref", "kind"},
}

// ndjsonRow parses one non-blank NDJSON line.
func (r *Reader) ndjsonRow(line []byte, n int) Row {
	row := Row{Line: n, Kind: r.kind}
	switch r.kind {
	case KindEvents:
		e, re := ParseEventJSON(line, r.now())
		row.Event = e
		return r.withErr(row, re)
	case KindSubjects:
		var w subjectWire
		if re := decodeStrict(line, &w, true, KindSubjects); re != nil {
			return r.withErr(row, re)
		}
		s, re := subjectFromWire(&w)
		row.Subject = s
		return r.withErr(row, re)
	case KindConsents:
		var w consentWire
		if re := decodeStrict(line, &w, false, KindConsents); re != nil {
			return r.withErr(row, re)
		}
		c, re := consentFromStrings(w.SubjectID, w.Purpose, w.NoticeVersion, w.Method, w.Kind, w.GrantedAt,
			w.Recipient, w.Evidence, w.ExpiresAt, r.now())
		row.Consent = c
		return r.withErr(row, re)
	default: // KindObjections
		var w objectionWire
		if re := decodeStrict(line, &w, false, KindObjections); re != nil {
			return r.withErr(row, re)
		}
		ref := w.SubjectID
		switch {
		case ref == "":
			ref = w.SubjectRef
		case w.SubjectRef != "" && w.SubjectRef != ref:
			return r.withErr(row, rowErr(ReasonBadValue, "subject_id"))
		}
		o := &ObjectionRow{SubjectRef: ref, Kind: w.Kind}
		if re := ValidateObjection(o); re != nil {
			return r.withErr(row, re)
		}
		row.Objection = o
		return row
	}
}

// ParseEventJSON parses and validates one event object as of now (the NDJSON line format, and the
// elements of POST /v1/events): unknown top-level keys are rejected, ts must be RFC 3339, and then
// ValidateEventAt applies. On error the event is nil.
func ParseEventJSON(data []byte, now time.Time) (*EventRow, *RowError) {
	var w eventWire
	if re := decodeStrict(data, &w, false, KindEvents); re != nil {
		return nil, re
	}
	e := &EventRow{EventID: w.EventID, SubjectRef: w.SubjectID, Type: w.Type, Source: w.Source, Attrs: w.Attrs}
	if w.TS != "" {
		ts, err := time.Parse(time.RFC3339, w.TS)
		if err != nil {
			return nil, rowErr(ReasonBadTime, "")
		}
		e.TS = ts
	}
	// The attrs are part of the line, so the line's length bounds their encoding: only a long line
	// needs them measured.
	e.attrsLen = max(len(data), 1)
	if re := ValidateEventAt(e, now); re != nil {
		return nil, re
	}
	return e, nil
}

// decodeStrict decodes one JSON object from data into v, rejecting unknown keys and trailing data,
// and maps failures to reason codes that never echo the input.
func decodeStrict(data []byte, v any, useNumber bool, kind Kind) *RowError {
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i == len(data) || data[i] != '{' {
		return rowErr(ReasonMalformedJSON, "")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if useNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return jsonReason(err, kind)
	}
	if off := dec.InputOffset(); off < 0 || off > int64(len(data)) || !isJSONBlank(data[off:]) {
		return rowErr(ReasonMalformedJSON, "") // trailing data after the object
	}
	return nil
}

// jsonReason maps a decoding error to a reason code.
func jsonReason(err error, kind Kind) *RowError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		root, _, _ := strings.Cut(typ.Field, ".")
		if root == "attrs" && kind == KindEvents {
			return rowErr(ReasonBadAttrs, "")
		}
		if contains(wireFields[kind], root) {
			return rowErr(ReasonBadValue, root)
		}
		return rowErr(ReasonMalformedJSON, "")
	}
	if strings.Contains(err.Error(), "unknown field") {
		return rowErr(ReasonUnknownField, "")
	}
	return rowErr(ReasonMalformedJSON, "")
}

// subjectFromWire converts decoded subject fields (strings and numbers) to a SubjectRow.
func subjectFromWire(w *subjectWire) (*SubjectRow, *RowError) {
	s := &SubjectRow{ExternalID: w.ExternalID, Source: w.Source, Fields: make(map[string]string, len(w.Fields))}
	for k, v := range w.Fields {
		switch x := v.(type) {
		case nil:
		case string:
			if x != "" {
				s.Fields[k] = x
			}
		case json.Number:
			s.Fields[k] = string(x)
		default:
			return nil, rowErr(ReasonBadValue, "fields")
		}
	}
	if re := ValidateSubjectEnvelope(s); re != nil {
		return nil, re
	}
	return s, nil
}

// consentFromStrings builds and validates a ConsentRow from its textual columns.
func consentFromStrings(subject, purpose, notice, method, kind, granted, recipient, evidence, expires string,
	now time.Time) (*ConsentRow, *RowError) {
	c := &ConsentRow{SubjectRef: subject, Purpose: purpose, NoticeVersion: notice, Method: method, Kind: kind,
		Recipient: recipient, Evidence: evidence}
	if granted != "" {
		t, err := time.Parse(time.RFC3339, granted)
		if err != nil {
			return nil, rowErr(ReasonBadTime, "")
		}
		c.GrantedAt = t
	}
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return nil, rowErr(ReasonBadTime, "")
		}
		c.ExpiresAt = &t
	}
	if re := ValidateConsent(c, now); re != nil {
		return nil, re
	}
	return c, nil
}

// ---- CSV ----

// CSV columns per kind: required first, then optional. Subjects take any other column as a field name.
var (
	csvRequired = map[Kind][]string{
		KindEvents:     {"event_id", "subject_id", "type", "ts", "source"},
		KindSubjects:   {"external_id", "source"},
		KindConsents:   {"subject_id", "purpose", "notice_version", "method", "kind", "granted_at"},
		KindObjections: {"subject_id", "kind"},
	}
	csvOptional = map[Kind][]string{
		KindEvents:     {"attrs"},
		KindConsents:   {"recipient", "evidence", "expires_at"},
		KindSubjects:   nil,
		KindObjections: nil,
	}
	// csvAliases maps accepted alternative column names to the canonical ones.
	csvAliases = map[Kind]map[string]string{
		KindObjections: {"subject_ref": "subject_id"},
	}
)

// csvLine feeds one physical line to the CSV state machine and returns a Row when one is complete.
func (r *Reader) csvLine(line []byte, n int, tooLong bool) (Row, bool) {
	if tooLong {
		start := n
		if r.recActive {
			start = r.recStart
		}
		r.resetRecord()
		if r.header == nil {
			r.done = true
			return r.reject(start, ReasonBadHeader), true
		}
		return r.reject(start, ReasonLineTooLong), true
	}
	if !r.recActive {
		if isBlank(line) {
			return Row{}, false
		}
		r.recStart = n
		r.recActive = true
	} else if r.header != nil {
		// A line after a record's first: kept in case the record turns out bad (single-line records, nearly
		// all of them, copy nothing).
		r.recLines = append(r.recLines, numberedLine{text: bytes.Clone(line), n: n})
	}
	if !utf8.Valid(line) {
		start := r.recStart
		r.resetRecord()
		if r.header == nil {
			r.done = true
			return r.reject(start, ReasonBadHeader), true
		}
		return r.reject(start, ReasonBadEncoding), true
	}
	complete, ok := r.csv.feed(line)
	if ok && !complete && r.csv.size > MaxLineBytes {
		start := r.recStart
		reason := ReasonLineTooLong
		if len(r.recLines) > 0 {
			reason = ReasonBadCSV // an unclosed quote ran on: the lines after the first are parsed again
		}
		r.failRecord()
		return r.reject(start, reason), true
	}
	if ok && !complete {
		return Row{}, false
	}
	start := r.recStart
	fields := r.csv.fields
	if r.header != nil && (!ok || len(fields) != len(r.header)) {
		r.failRecord()
		return r.reject(start, ReasonBadCSV), true
	}
	r.resetRecord()
	if r.header == nil {
		if !ok {
			r.done = true
			return r.reject(start, ReasonBadHeader), true
		}
		if reason := r.setHeader(fields); reason != "" {
			r.done = true
			return r.reject(start, reason), true
		}
		return Row{}, false
	}
	if !ok || len(fields) != len(r.header) {
		return r.reject(start, ReasonBadCSV), true
	}
	return r.csvRow(fields, start), true
}

// resetRecord forgets the CSV record being assembled.
func (r *Reader) resetRecord() {
	r.recActive = false
	r.recLines = r.recLines[:0]
	r.csv.reset()
}

// failRecord forgets a bad CSV record and, if it spanned lines, has the lines after its first parsed again
// as records of their own: the first line is where it went wrong (a stray quote), and what follows it is
// not lost.
func (r *Reader) failRecord() {
	if len(r.recLines) > 0 {
		r.replay = append(slices.Clone(r.recLines), r.replay...)
	}
	r.resetRecord()
}

// setHeader checks and records the header row; it returns a reason code when the header is unusable, and
// keeps what is wrong with it for HeaderProblem.
func (r *Reader) setHeader(cols []string) string {
	r.col = make(map[string]int, len(cols))
	names := make([]string, len(cols))
	bad := func(reason, problem string) string {
		r.headerProblem = problem
		return ReasonBadHeader + ":" + reason
	}
	for i, c := range cols {
		name := strings.ToLower(strings.TrimSpace(c))
		if canon, ok := csvAliases[r.kind][name]; ok {
			name = canon
		}
		// A column is named only when it looks like a name: a file without its header row has a record there.
		named := fmt.Sprintf("column %d (%s)", i+1, safetext.Name(name))
		if name == "" {
			return bad("empty_column", fmt.Sprintf("column %d has no name", i+1))
		}
		if _, dup := r.col[name]; dup {
			return bad("duplicate_column", named+" appears twice")
		}
		if r.kind != KindSubjects && !contains(csvRequired[r.kind], name) && !contains(csvOptional[r.kind], name) {
			return bad("unknown_column", fmt.Sprintf("%s is not a column of %s files (they have %s)", named, r.kind,
				strings.Join(append(slices.Clone(csvRequired[r.kind]), csvOptional[r.kind]...), ", ")))
		}
		r.col[name] = i
		names[i] = name
	}
	for _, req := range csvRequired[r.kind] {
		if _, ok := r.col[req]; !ok {
			return bad("missing_column", fmt.Sprintf("no %s column (%s files need %s)", req, r.kind, strings.Join(csvRequired[r.kind], ", ")))
		}
	}
	r.header = names
	return ""
}

// HeaderProblem says what made a CSV header row unusable (after Next returned a bad_header row): which
// column, never a cell's text unless it looks like a column name.
func (r *Reader) HeaderProblem() string { return r.headerProblem }

// cell returns the trimmed value of a named column, or "" when the header lacks it.
func (r *Reader) cell(fields []string, name string) string {
	if i, ok := r.col[name]; ok {
		return strings.TrimSpace(fields[i])
	}
	return ""
}

// csvRow builds the record of one complete CSV row.
func (r *Reader) csvRow(f []string, line int) Row {
	row := Row{Line: line, Kind: r.kind}
	switch r.kind {
	case KindEvents:
		e := &EventRow{EventID: r.cell(f, "event_id"), SubjectRef: r.cell(f, "subject_id"), Type: r.cell(f, "type"),
			Source: r.cell(f, "source")}
		if ts := r.cell(f, "ts"); ts != "" {
			t, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				return r.withErr(row, rowErr(ReasonBadTime, ""))
			}
			e.TS = t
		}
		if raw := r.cell(f, "attrs"); raw != "" {
			if raw[0] != '{' || json.Unmarshal([]byte(raw), &e.Attrs) != nil {
				return r.withErr(row, rowErr(ReasonBadAttrs, ""))
			}
			e.attrsLen = len(raw)
		}
		if re := ValidateEventAt(e, r.now()); re != nil {
			return r.withErr(row, re)
		}
		row.Event = e
	case KindSubjects:
		s := &SubjectRow{ExternalID: r.cell(f, "external_id"), Source: r.cell(f, "source"),
			Fields: make(map[string]string, len(f))}
		for i, name := range r.header {
			if name == "external_id" || name == "source" || f[i] == "" {
				continue
			}
			s.Fields[name] = f[i]
		}
		if re := ValidateSubjectEnvelope(s); re != nil {
			return r.withErr(row, re)
		}
		row.Subject = s
	case KindConsents:
		c, re := consentFromStrings(r.cell(f, "subject_id"), r.cell(f, "purpose"), r.cell(f, "notice_version"),
			r.cell(f, "method"), r.cell(f, "kind"), r.cell(f, "granted_at"), r.cell(f, "recipient"),
			r.cell(f, "evidence"), r.cell(f, "expires_at"), r.now())
		if re != nil {
			return r.withErr(row, re)
		}
		row.Consent = c
	default: // KindObjections
		o := &ObjectionRow{SubjectRef: r.cell(f, "subject_id"), Kind: r.cell(f, "kind")}
		if re := ValidateObjection(o); re != nil {
			return r.withErr(row, re)
		}
		row.Objection = o
	}
	return row
}

// csvParser is an RFC 4180 record parser fed one physical line at a time, so that a quoted field may
// span lines. Bare quotes in unquoted fields and text after a closing quote are errors.
type csvParser struct {
	fields   []string
	field    []byte
	inQuotes bool // inside a quoted field
	quoted   bool // the current field started with a quote
	closed   bool // the current field's closing quote has been seen
	size     int  // bytes fed for the current record
}

// reset prepares the parser for a new record.
func (p *csvParser) reset() {
	p.fields = nil
	p.field = p.field[:0]
	p.inQuotes, p.quoted, p.closed = false, false, false
	p.size = 0
}

// feed parses one line. complete is true when the record ended with this line; ok is false on a syntax
// error (then the record is finished and bad).
func (p *csvParser) feed(line []byte) (complete, ok bool) {
	p.size += len(line) + 1
	for i := 0; i < len(line); i++ {
		c := line[i]
		if p.inQuotes {
			if c == '"' {
				if i+1 < len(line) && line[i+1] == '"' {
					p.field = append(p.field, '"')
					i++
					continue
				}
				p.inQuotes, p.closed = false, true
				continue
			}
			p.field = append(p.field, c)
			continue
		}
		switch c {
		case ',':
			p.fields = append(p.fields, string(p.field))
			p.field = p.field[:0]
			p.quoted, p.closed = false, false
		case '"':
			if len(p.field) > 0 || p.quoted {
				return true, false
			}
			p.inQuotes, p.quoted = true, true
		default:
			if p.closed {
				return true, false
			}
			p.field = append(p.field, c)
		}
	}
	if p.inQuotes {
		p.field = append(p.field, '\n')
		return false, true
	}
	p.fields = append(p.fields, string(p.field))
	return true, true
}
