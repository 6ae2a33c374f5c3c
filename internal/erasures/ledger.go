// Package erasures owns the erasure ledger: an append-only file, kept apart from the data and left out of
// backups, that records every erasure before it happens. A restore from a backup taken before an erasure
// reads the ledger and erases that person again, so restoring never brings an erased person back.
//
// A record names the subject only by its audit reference (a keyed hash over the subject's secret salt and
// id, the same reference the audit trail carries): the ledger holds no personal data, and only a vault
// holding that subject's salt — the live one, or a restored backup taken before the erasure — can tell
// whom a record names.
package erasures

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/profilevault/profilevault/internal/datadir"
)

// Record is one erasure as the ledger keeps it.
type Record struct {
	Version    int       `json:"v"`
	At         time.Time `json:"at"`
	SubjectRef string    `json:"subject_ref"`
}

const version = 1

// Ledger appends records to the ledger file; one Ledger per file and process.
type Ledger struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// Open opens (creating, mode 0600) the ledger at path.
func Open(path string) (*Ledger, error) {
	_, statErr := os.Stat(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("erasure ledger: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("erasure ledger: %w", err)
	}
	if err := cutTornTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("erasure ledger: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := datadir.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("erasure ledger: %w", err)
		}
	}
	return &Ledger{f: f, path: path}, nil
}

// Path is the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Record appends the erasure of the subject with this audit reference and returns once it is on disk.
func (l *Ledger) Record(_ context.Context, subjectRef string, at time.Time) error {
	if subjectRef == "" {
		return errors.New("erasure ledger: empty subject reference")
	}
	line, err := json.Marshal(Record{Version: version, At: at.UTC(), SubjectRef: subjectRef})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("erasure ledger: closed")
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("erasure ledger: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("erasure ledger: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ReadFile reads every record of the ledger at path. A last line without its newline is a record whose
// write a crash cut short: its Record call never returned, so its erasure never ran, and it is skipped.
// Any other line that does not parse is an error: a damaged ledger must be looked at, not half-applied.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("erasure ledger: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// Read reads ledger records from r (see ReadFile).
func Read(r io.Reader) ([]Record, error) {
	br := bufio.NewReader(r)
	var out []Record
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil // a torn last line (or none)
		}
		if err != nil {
			return nil, fmt.Errorf("erasure ledger: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil || rec.Version != version || rec.SubjectRef == "" || rec.At.IsZero() {
			return nil, fmt.Errorf("erasure ledger: line %d is not a version-%d record", n, version)
		}
		out = append(out, rec)
	}
}

// Copy appends every record of the ledger at from that the ledger at to does not hold yet (by subject
// reference), so a restored data dir's own ledger carries the erasures the restore applied from another.
func Copy(from, to string) (int, error) {
	src, err := ReadFile(from)
	if err != nil {
		return 0, err
	}
	have := map[string]bool{}
	if dst, err := ReadFile(to); err == nil {
		for _, r := range dst {
			have[r.SubjectRef] = true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	l, err := Open(to)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	n := 0
	for _, r := range src {
		if have[r.SubjectRef] {
			continue
		}
		if err := l.Record(context.Background(), r.SubjectRef, r.At); err != nil {
			return n, err
		}
		have[r.SubjectRef] = true
		n++
	}
	return n, nil
}

// cutTornTail removes a last line a crash cut short, so the next record starts on a line of its own.
// Records are short lines: the file's last 64 KiB always hold the last newline of an undamaged ledger.
func cutTornTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tail := min(fi.Size(), 64<<10)
	buf := make([]byte, tail)
	if _, err := f.ReadAt(buf, fi.Size()-tail); err != nil {
		return err
	}
	nl := bytes.LastIndexByte(buf, '\n')
	if nl == len(buf)-1 || tail == 0 {
		return nil
	}
	if nl < 0 && tail < fi.Size() {
		return errors.New("no line ends in the last 64 KiB: the file is not an erasure ledger")
	}
	if err := f.Truncate(fi.Size() - tail + int64(nl+1)); err != nil {
		return err
	}
	return f.Sync()
}
