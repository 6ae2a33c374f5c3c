package synth

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/profilevault/profilevault/audit/jsonenc"
)

// Output formats of WriteDir and Write.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// File names (before the format's extension) of a written shop; the ground truth goes to TruthFile.
const (
	FileSubjects   = "subjects"
	FileEvents     = "events"
	FileConsents   = "consents"
	FileObjections = "objections"
	TruthFile      = "truth.json"
)

// ErrFormat reports an unknown output format or a file that does not have the expected shape.
var ErrFormat = errors.New("synth: bad format")

// SubjectColumns are the CSV columns of the subjects file: external_id, source and every schema field
// (policies/schema.json) in schema order.
var SubjectColumns = []string{"external_id", "source", "name", "gender", "birth_date", "phone", "email", "province",
	"city", "district", "address_line", "occupation", "industry", "id_number", "bank_account"}

// CSV columns of the other files.
var (
	EventColumns     = []string{"event_id", "subject_id", "type", "ts", "source", "attrs"}
	ConsentColumns   = []string{"subject_id", "purpose", "notice_version", "method", "kind", "granted_at", "recipient"}
	ObjectionColumns = []string{"subject_ref", "kind"}
)

// Summary counts what Write wrote and carries the ground truth.
type Summary struct {
	// Subjects, Events, Consents and Objections are the numbers of records written to each file.
	Subjects, Events, Consents, Objections int
	// Truth is what truth.json holds.
	Truth Truth
}

// WriteDir writes the shop into dir (created if needed) as subjects.<ext>, events.<ext>, consents.<ext>,
// objections.<ext> and truth.json, where ext is the format, "ndjson" or "csv". Files are written through
// buffers with mode 0644; the same shop always gives the same bytes.
func (s Shop) WriteDir(dir, format string) error {
	w, err := createShopWriter(dir, format)
	if err != nil {
		return err
	}
	defer w.abort()
	for _, r := range s.Subjects {
		if err := w.subject(r); err != nil {
			return err
		}
	}
	for _, e := range s.Events {
		if err := w.event(e); err != nil {
			return err
		}
	}
	for _, c := range s.Consents {
		if err := w.consent(c); err != nil {
			return err
		}
	}
	for _, o := range s.Objections {
		if err := w.objection(o); err != nil {
			return err
		}
	}
	return w.finish(s.Truth)
}

// Write generates the shop of opts straight into files, as Generate(opts).WriteDir(dir, format) would
// (byte for byte), holding only one person's events in memory at a time.
func Write(opts Options, dir, format string) (Summary, error) {
	g := newGenerator(opts)
	w, err := createShopWriter(dir, format)
	if err != nil {
		return Summary{}, err
	}
	defer w.abort()
	tb := newTruthBuilder(g)
	var sum Summary
	err = g.each(func(ps *person, pe *personEvents) error {
		for _, r := range ps.records {
			if err := w.subject(r); err != nil {
				return err
			}
		}
		for _, e := range pe.events {
			if err := w.event(e); err != nil {
				return err
			}
		}
		for _, c := range ps.consents {
			if err := w.consent(c); err != nil {
				return err
			}
		}
		obj := ps.objections()
		for _, o := range obj {
			if err := w.objection(o); err != nil {
				return err
			}
		}
		sum.Subjects += len(ps.records)
		sum.Events += len(pe.events)
		sum.Consents += len(ps.consents)
		sum.Objections += len(obj)
		tb.add(ps, pe)
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	sum.Truth = tb.t
	if err := w.finish(sum.Truth); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// The four data files, by index.
const (
	fSubjects = iota
	fEvents
	fConsents
	fObjections
	numFiles
)

var fileNames = [numFiles]string{FileSubjects, FileEvents, FileConsents, FileObjections}

// shopWriter writes the four data files of one shop.
type shopWriter struct {
	dir   string
	csv   bool
	files [numFiles]*os.File
	bufs  [numFiles]*bufio.Writer
	csvw  [numFiles]*csv.Writer
	line  []byte
	row   []string
}

// createShopWriter creates dir and the four data files with their CSV headers.
func createShopWriter(dir, format string) (*shopWriter, error) {
	if format != FormatNDJSON && format != FormatCSV {
		return nil, fmt.Errorf("%w: %q (want ndjson or csv)", ErrFormat, format)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("synth: create output directory: %w", err)
	}
	w := &shopWriter{dir: dir, csv: format == FormatCSV}
	for k, name := range fileNames {
		f, err := os.OpenFile(filepath.Join(dir, name+"."+format), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			w.abort()
			return nil, fmt.Errorf("synth: create %s file: %w", name, err)
		}
		w.files[k] = f
		w.bufs[k] = bufio.NewWriterSize(f, 256<<10)
		if w.csv {
			w.csvw[k] = csv.NewWriter(w.bufs[k])
		}
	}
	if w.csv {
		for k, h := range [numFiles][]string{SubjectColumns, EventColumns, ConsentColumns, ObjectionColumns} {
			if err := w.csvw[k].Write(h); err != nil {
				w.abort()
				return nil, fmt.Errorf("synth: write %s header: %w", fileNames[k], err)
			}
		}
	}
	return w, nil
}

// abort closes any file still open (after an error; a no-op after finish).
func (w *shopWriter) abort() {
	for k, f := range w.files {
		if f != nil {
			_ = f.Close()
			w.files[k] = nil
		}
	}
}

// finish flushes and closes the data files and writes truth.json.
func (w *shopWriter) finish(t Truth) error {
	for k := range w.files {
		if w.csv {
			w.csvw[k].Flush()
			if err := w.csvw[k].Error(); err != nil {
				return fmt.Errorf("synth: write %s file: %w", fileNames[k], err)
			}
		}
		if err := w.bufs[k].Flush(); err != nil {
			return fmt.Errorf("synth: write %s file: %w", fileNames[k], err)
		}
		err := w.files[k].Close()
		w.files[k] = nil
		if err != nil {
			return fmt.Errorf("synth: close %s file: %w", fileNames[k], err)
		}
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("synth: encode truth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, TruthFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("synth: write truth file: %w", err)
	}
	return nil
}

// emit writes the CSV row w.row or the NDJSON line w.line to file k.
func (w *shopWriter) emit(k int) error {
	var err error
	if w.csv {
		err = w.csvw[k].Write(w.row)
	} else {
		w.line = append(w.line, '\n')
		_, err = w.bufs[k].Write(w.line)
	}
	if err != nil {
		return fmt.Errorf("synth: write %s file: %w", fileNames[k], err)
	}
	return nil
}

func (w *shopWriter) subject(r SubjectRecord) error {
	if w.csv {
		w.row = append(w.row[:0], r.ExternalID, r.Source)
		for _, c := range SubjectColumns[2:] {
			w.row = append(w.row, r.Fields[c])
		}
		return w.emit(fSubjects)
	}
	b := append(w.line[:0], `{"external_id":`...)
	b = appendString(b, r.ExternalID)
	b = append(b, `,"source":`...)
	b = appendString(b, r.Source)
	b = append(b, `,"fields":`...)
	b = appendStringMap(b, r.Fields)
	w.line = append(b, '}')
	return w.emit(fSubjects)
}

func (w *shopWriter) event(e Event) error {
	ts := e.TS.UTC().Format(time.RFC3339)
	if w.csv {
		attrs := appendValue(w.line[:0], e.Attrs)
		w.line = attrs
		w.row = append(w.row[:0], e.EventID, e.SubjectRef, e.Type, ts, e.Source, string(attrs))
		return w.emit(fEvents)
	}
	b := append(w.line[:0], `{"event_id":`...)
	b = appendString(b, e.EventID)
	b = append(b, `,"subject_id":`...)
	b = appendString(b, e.SubjectRef)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"ts":"`...)
	b = append(b, ts...)
	b = append(b, `","source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"attrs":`...)
	b = appendValue(b, e.Attrs)
	w.line = append(b, '}')
	return w.emit(fEvents)
}

func (w *shopWriter) consent(c ConsentRecord) error {
	at := c.GrantedAt.UTC().Format(time.RFC3339)
	if w.csv {
		w.row = append(w.row[:0], c.SubjectRef, c.Purpose, c.NoticeVersion, c.Method, c.Kind, at, c.Recipient)
		return w.emit(fConsents)
	}
	b := append(w.line[:0], `{"subject_id":`...)
	b = appendString(b, c.SubjectRef)
	b = append(b, `,"purpose":`...)
	b = appendString(b, c.Purpose)
	b = append(b, `,"notice_version":`...)
	b = appendString(b, c.NoticeVersion)
	b = append(b, `,"method":`...)
	b = appendString(b, c.Method)
	b = append(b, `,"kind":`...)
	b = appendString(b, c.Kind)
	b = append(b, `,"granted_at":"`...)
	b = append(b, at...)
	b = append(b, '"')
	if c.Recipient != "" {
		b = append(b, `,"recipient":`...)
		b = appendString(b, c.Recipient)
	}
	w.line = append(b, '}')
	return w.emit(fConsents)
}

func (w *shopWriter) objection(o ObjectionRecord) error {
	if w.csv {
		w.row = append(w.row[:0], o.SubjectRef, o.Kind)
		return w.emit(fObjections)
	}
	b := append(w.line[:0], `{"subject_ref":`...)
	b = appendString(b, o.SubjectRef)
	b = append(b, `,"kind":`...)
	b = appendString(b, o.Kind)
	w.line = append(b, '}')
	return w.emit(fObjections)
}

// appendString appends s as a JSON string, as encoding/json writes it without HTML escaping (invalid UTF-8
// becomes U+FFFD).
func appendString(b []byte, s string) []byte { return jsonenc.AppendString(b, s, false) }

// appendStringMap appends a map of strings as a JSON object with sorted keys ({} for none).
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "{}"...)
	}
	return jsonenc.AppendStringMap(b, m, false)
}

// appendValue appends an attribute value as JSON; objects get sorted keys. Types outside those the
// generator makes fall back to encoding/json.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case json.Number:
		return append(b, x...)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			return strconv.AppendFloat(b, x, 'f', -1, 64)
		}
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case map[string]any:
		var arr [16]string
		keys := arr[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendValue(b, x[k])
		}
		return append(b, '}')
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}
