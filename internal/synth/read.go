package synth

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ReadDir reads a shop written by WriteDir or Write, in either format (found from the file names). Event
// attributes are decoded with json.Number for numbers, so a round trip gives back equal values.
func ReadDir(dir string) (Shop, error) {
	format := FormatNDJSON
	if _, err := os.Stat(filepath.Join(dir, FileSubjects+"."+FormatNDJSON)); errors.Is(err, os.ErrNotExist) {
		format = FormatCSV
	}
	var s Shop
	steps := []struct {
		name string
		fn   func(io.Reader) error
	}{
		{FileSubjects, func(r io.Reader) (err error) { s.Subjects, err = readSubjects(r, format); return }},
		{FileEvents, func(r io.Reader) (err error) { s.Events, err = readEvents(r, format); return }},
		{FileConsents, func(r io.Reader) (err error) { s.Consents, err = readConsents(r, format); return }},
		{FileObjections, func(r io.Reader) (err error) { s.Objections, err = readObjections(r, format); return }},
	}
	for _, st := range steps {
		f, err := os.Open(filepath.Join(dir, st.name+"."+format))
		if err != nil {
			return Shop{}, fmt.Errorf("synth: open %s file: %w", st.name, err)
		}
		err = st.fn(bufio.NewReaderSize(f, 256<<10))
		_ = f.Close()
		if err != nil {
			return Shop{}, fmt.Errorf("synth: read %s file: %w", st.name, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, TruthFile))
	if err != nil {
		return Shop{}, fmt.Errorf("synth: read truth file: %w", err)
	}
	if err := json.Unmarshal(b, &s.Truth); err != nil {
		return Shop{}, fmt.Errorf("%w: truth file: %w", ErrFormat, err)
	}
	s.Truth.Start, s.Truth.Now = s.Truth.Start.UTC(), s.Truth.Now.UTC()
	return s, nil
}

// eachNDJSON decodes every value of an NDJSON stream into a fresh T (numbers as json.Number).
func eachNDJSON[T any](r io.Reader, fn func(*T) error) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for line := 1; ; line++ {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%w: line %d: %w", ErrFormat, line, err)
		}
		if err := fn(&v); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// eachCSV reads a CSV stream whose header must equal cols and calls fn for every row.
func eachCSV(r io.Reader, cols []string, fn func([]string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(cols)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if !slices.Equal(head, cols) {
		return fmt.Errorf("%w: unexpected header", ErrFormat)
	}
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFormat, err)
		}
		if err := fn(row); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad time", ErrFormat)
	}
	return t.UTC(), nil
}

func readSubjects(r io.Reader, format string) ([]SubjectRecord, error) {
	var out []SubjectRecord
	if format == FormatCSV {
		err := eachCSV(r, SubjectColumns, func(row []string) error {
			rec := SubjectRecord{ExternalID: row[0], Source: row[1], Fields: map[string]string{}}
			for k, c := range SubjectColumns[2:] {
				if v := row[k+2]; v != "" {
					rec.Fields[c] = v
				}
			}
			out = append(out, rec)
			return nil
		})
		return out, err
	}
	type line struct {
		ExternalID string            `json:"external_id"`
		Source     string            `json:"source"`
		Fields     map[string]string `json:"fields"`
	}
	err := eachNDJSON(r, func(l *line) error {
		out = append(out, SubjectRecord{ExternalID: l.ExternalID, Source: l.Source, Fields: l.Fields})
		return nil
	})
	return out, err
}

func readEvents(r io.Reader, format string) ([]Event, error) {
	var out []Event
	if format == FormatCSV {
		err := eachCSV(r, EventColumns, func(row []string) error {
			ts, err := parseTime(row[3])
			if err != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(row[5])))
			dec.UseNumber()
			var attrs map[string]any
			if err := dec.Decode(&attrs); err != nil {
				return fmt.Errorf("%w: attrs: %w", ErrFormat, err)
			}
			out = append(out, Event{EventID: row[0], SubjectRef: row[1], Type: row[2], TS: ts, Source: row[4], Attrs: attrs})
			return nil
		})
		return out, err
	}
	type line struct {
		EventID    string         `json:"event_id"`
		SubjectRef string         `json:"subject_id"`
		Type       string         `json:"type"`
		TS         string         `json:"ts"`
		Source     string         `json:"source"`
		Attrs      map[string]any `json:"attrs"`
	}
	err := eachNDJSON(r, func(l *line) error {
		ts, err := parseTime(l.TS)
		if err != nil {
			return err
		}
		out = append(out, Event{EventID: l.EventID, SubjectRef: l.SubjectRef, Type: l.Type, TS: ts, Source: l.Source, Attrs: l.Attrs})
		return nil
	})
	return out, err
}

func readConsents(r io.Reader, format string) ([]ConsentRecord, error) {
	var out []ConsentRecord
	if format == FormatCSV {
		err := eachCSV(r, ConsentColumns, func(row []string) error {
			at, err := parseTime(row[5])
			if err != nil {
				return err
			}
			out = append(out, ConsentRecord{SubjectRef: row[0], Purpose: row[1], NoticeVersion: row[2], Method: row[3],
				Kind: row[4], GrantedAt: at, Recipient: row[6]})
			return nil
		})
		return out, err
	}
	type line struct {
		SubjectRef    string `json:"subject_id"`
		Purpose       string `json:"purpose"`
		NoticeVersion string `json:"notice_version"`
		Method        string `json:"method"`
		Kind          string `json:"kind"`
		GrantedAt     string `json:"granted_at"`
		Recipient     string `json:"recipient"`
	}
	err := eachNDJSON(r, func(l *line) error {
		at, err := parseTime(l.GrantedAt)
		if err != nil {
			return err
		}
		out = append(out, ConsentRecord{SubjectRef: l.SubjectRef, Purpose: l.Purpose, NoticeVersion: l.NoticeVersion,
			Method: l.Method, Kind: l.Kind, GrantedAt: at, Recipient: l.Recipient})
		return nil
	})
	return out, err
}

func readObjections(r io.Reader, format string) ([]ObjectionRecord, error) {
	var out []ObjectionRecord
	if format == FormatCSV {
		err := eachCSV(r, ObjectionColumns, func(row []string) error {
			out = append(out, ObjectionRecord{SubjectRef: row[0], Kind: row[1]})
			return nil
		})
		return out, err
	}
	type line struct {
		SubjectRef string `json:"subject_ref"`
		Kind       string `json:"kind"`
	}
	err := eachNDJSON(r, func(l *line) error {
		out = append(out, ObjectionRecord{SubjectRef: l.SubjectRef, Kind: l.Kind})
		return nil
	})
	return out, err
}
