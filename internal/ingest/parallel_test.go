package ingest

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mixedEvents is an NDJSON input with good and bad lines of every kind the line reader decides itself.
func mixedEvents(n int) string {
	var b strings.Builder
	b.WriteString("\xEF\xBB\xBF") // a BOM on line 1
	for i := range n {
		id := "e" + strconv.Itoa(i)
		switch i % 11 {
		case 3:
			b.WriteString("{not json")
		case 5:
			b.WriteString("   ") // blank
		case 7:
			b.WriteString(ev(id, "search", `{"query":"bad \xff utf8"}`))
		case 9:
			b.WriteString(ev(id, "no_such_type", `{}`))
		default:
			b.WriteString(ev(id, "search", `{"query":"q`+strconv.Itoa(i)+`"}`))
		}
		if i%4 == 0 {
			b.WriteString("\r")
		}
		b.WriteString("\n")
		if i == 700 {
			b.WriteString(strings.Repeat("x", MaxLineBytes+10) + "\n") // too long
		}
	}
	b.WriteString(ev("last", "search", `{"query":"no newline"}`))
	return b.String()
}

func drain(r *Reader) []Row {
	var rows []Row
	for row, ok := r.Next(); ok; row, ok = r.Next() {
		rows = append(rows, row)
	}
	return rows
}

func TestParallelReaderMatchesSequential(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }
	for _, n := range []int{0, 1, 511, 512, 513, 2000} {
		in := mixedEvents(n)
		seq := NewReader(strings.NewReader(in), KindEvents, FormatNDJSON)
		seq.SetClock(clock)
		want := drain(seq)
		for _, workers := range []int{2, 3} {
			par := NewReader(strings.NewReader(in), KindEvents, FormatNDJSON)
			par.SetClock(clock)
			par.Parallel(workers)
			got := drain(par)
			if len(got) != len(want) {
				t.Fatalf("n=%d workers=%d: %d rows, sequential %d", n, workers, len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("n=%d workers=%d row %d: %+v, sequential %+v", n, workers, i, got[i], want[i])
				}
			}
			if par.BytesRead() != int64(len(in)) || par.Line() != seq.Line() {
				t.Fatalf("n=%d: read %d bytes %d lines, want %d and %d", n, par.BytesRead(), par.Line(), len(in), seq.Line())
			}
			par.Close()
		}
	}
}

// errAfter fails with err once its data is read.
type errAfter struct {
	data string
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestParallelReaderReadErrorAndClose(t *testing.T) {
	boom := errors.New("disk gone")
	in := mixedEvents(1500)
	par := NewReader(&errAfter{data: in[:len(in)/2], err: boom}, KindEvents, FormatNDJSON)
	par.Parallel(2)
	rows := drain(par)
	if last := rows[len(rows)-1]; !errors.Is(last.Err, ErrRead) || !errors.Is(last.Err, boom) {
		t.Fatalf("last row: %+v, want the read error", last)
	}
	if _, ok := par.Next(); ok {
		t.Fatal("Next after the read error")
	}
	par.Close()
	// Stopping early ends the goroutines (the race detector and -count catch leftovers touching the chunks).
	early := NewReader(strings.NewReader(mixedEvents(5000)), KindEvents, FormatNDJSON)
	early.Parallel(3)
	for range 10 {
		early.Next()
	}
	early.Close()
	if _, ok := early.Next(); ok {
		t.Fatal("Next after Close")
	}
	// CSV is read sequentially.
	csv := NewReader(strings.NewReader("event_id,subject_id,type,ts,source,attrs\n"), KindEvents, FormatCSV)
	csv.Parallel(2)
	if csv.par != nil {
		t.Fatal("Parallel applied to CSV")
	}
}
