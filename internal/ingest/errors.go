package ingest

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors of the package; errors returned by it wrap one of these with %w.
var (
	// ErrUnknownKind reports a file name that does not say which kind of records it holds, or a Kind
	// outside the vocabulary.
	ErrUnknownKind = errors.New("ingest: unknown record kind")
	// ErrUnknownFormat reports a file extension or format name other than NDJSON or CSV.
	ErrUnknownFormat = errors.New("ingest: unknown file format")
	// ErrRead reports an I/O error while reading an input stream.
	ErrRead = errors.New("ingest: read failed")
)

// Reason codes of a RowError (see the package documentation). A reason is one of these, optionally
// followed by ":" and a name from a fixed vocabulary.
const (
	ReasonMalformedJSON  = "malformed_json"
	ReasonBadCSV         = "bad_csv"
	ReasonBadHeader      = "bad_header"
	ReasonBadEncoding    = "bad_encoding"
	ReasonLineTooLong    = "line_too_long"
	ReasonMissingField   = "missing_field"
	ReasonUnknownField   = "unknown_field"
	ReasonBadValue       = "bad_value"
	ReasonBadSubjectRef  = "bad_subject_ref"
	ReasonUnknownType    = "unknown_type"
	ReasonBadTime        = "bad_time"
	ReasonFutureTime     = "future_time"
	ReasonBadAttrs       = "bad_attrs"
	ReasonAttrsTooLarge  = "attrs_too_large"
	reasonSchemaNotReady = "schema_unavailable"
)

// RowError is why one record was rejected. Reason is a stable code that never contains a value taken
// from the record; Line is the record's 1-based starting line number (0 when the record did not come
// from a file, e.g. a single event validated for the API).
type RowError struct {
	Line   int
	Reason string
}

// Error returns "ingest: line N: reason" (or "ingest: reason" when Line is 0).
func (e RowError) Error() string {
	if e.Line <= 0 {
		return "ingest: " + e.Reason
	}
	return "ingest: line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Code returns the reason without its ":<name>" detail ("bad_value:phone" → "bad_value").
func (e RowError) Code() string {
	code, _, _ := strings.Cut(e.Reason, ":")
	return code
}

// As lets errors.As find a RowError with a *RowError target as well as a RowError one, so that
// both `var re ingest.RowError` and `var re *ingest.RowError` work with errors.As(row.Err, &re).
func (e RowError) As(target any) bool {
	if p, ok := target.(**RowError); ok {
		c := e
		*p = &c
		return true
	}
	return false
}

// rowErr returns a *RowError with no line for reason, detailed by name when name is not empty.
func rowErr(reason, name string) *RowError {
	if name != "" {
		reason += ":" + name
	}
	return &RowError{Reason: reason}
}

// AsRowError reports whether err is (or wraps) a RowError or a non-nil *RowError and returns it.
func AsRowError(err error) (RowError, bool) {
	var re RowError
	if errors.As(err, &re) {
		return re, true
	}
	var pre *RowError
	if errors.As(err, &pre) && pre != nil {
		return *pre, true
	}
	return RowError{}, false
}
