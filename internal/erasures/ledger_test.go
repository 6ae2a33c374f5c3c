package erasures

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLedgerKeepsRecordsAndSkipsOnlyATornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vol", "erasures.ledger")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, ref := range []string{"ref-a", "ref-b"} {
		if err := l.Record(context.Background(), ref, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Record(context.Background(), "", at); err == nil {
		t.Error("an empty reference was recorded")
	}
	l.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ledger mode %v %v", fi.Mode(), err)
	}
	// A crash cut the third record short: its erasure never ran.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"at":"2026-12-06T10:00:00Z","subj`)
	f.Close()
	recs, err := ReadFile(path)
	if err != nil || len(recs) != 2 || recs[0].SubjectRef != "ref-a" || !recs[1].At.Equal(at) {
		t.Fatalf("ReadFile = %+v, %v", recs, err)
	}
	// Reopened after the crash, the ledger drops the fragment and goes on with whole lines.
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), "ref-c", at); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if recs, err := ReadFile(path); err != nil || len(recs) != 3 || recs[2].SubjectRef != "ref-c" {
		t.Fatalf("after reopening: %+v, %v", recs, err)
	}
	// A damaged line in the middle is an error, not a skipped erasure.
	raw, _ := os.ReadFile(path)
	damaged := strings.Replace(string(raw), `"ref-a"`, `"ref-a`, 1)
	if _, err := Read(strings.NewReader(damaged)); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a damaged line read as %v", err)
	}
	// Copy adds what the target lacks, once.
	to := filepath.Join(t.TempDir(), "erasures.ledger")
	if n, err := Copy(path, to); err != nil || n != 3 {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if n, err := Copy(path, to); err != nil || n != 0 {
		t.Fatalf("second Copy = %d, %v", n, err)
	}
}
