package ingest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Kind is the kind of records a file holds.
type Kind string

// The record kinds `vaultd import` reads.
const (
	KindSubjects   Kind = "subjects"
	KindEvents     Kind = "events"
	KindConsents   Kind = "consents"
	KindObjections Kind = "objections"
)

// Formats a Reader reads.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// Kinds returns every record kind in the order an import applies them: subjects first, so that events,
// consents and objections can refer to the subjects of the same import.
func Kinds() []Kind { return []Kind{KindSubjects, KindEvents, KindConsents, KindObjections} }

// Valid reports whether k is one of the record kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindSubjects, KindEvents, KindConsents, KindObjections:
		return true
	}
	return false
}

// DetectKind returns the kind of records a file holds from its base name, which must start with
// "subjects", "events", "consents" or "objections" (case-insensitive) and end in .ndjson, .jsonl or
// .csv: "subjects-crm.csv", "events_2026-01.ndjson". Anything else wraps ErrUnknownKind or
// ErrUnknownFormat.
func DetectKind(path string) (Kind, error) {
	k, _, err := Detect(path)
	return k, err
}

// DetectFormat returns FormatNDJSON for a .ndjson or .jsonl file and FormatCSV for a .csv file
// (case-insensitive); anything else wraps ErrUnknownFormat.
func DetectFormat(path string) (string, error) {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(base, ".ndjson"), strings.HasSuffix(base, ".jsonl"):
		return FormatNDJSON, nil
	case strings.HasSuffix(base, ".csv"):
		return FormatCSV, nil
	}
	return "", fmt.Errorf("%w: %q (want .ndjson, .jsonl or .csv)", ErrUnknownFormat, filepath.Base(path))
}

// Detect returns both the kind (see DetectKind) and the format (see DetectFormat) of a file.
func Detect(path string) (Kind, string, error) {
	format, err := DetectFormat(path)
	if err != nil {
		return "", "", err
	}
	base := strings.ToLower(filepath.Base(path))
	for _, k := range Kinds() {
		if strings.HasPrefix(base, string(k)) {
			return k, format, nil
		}
	}
	return "", "", fmt.Errorf("%w: %q (the name must start with subjects, events, consents or objections)",
		ErrUnknownKind, filepath.Base(path))
}
