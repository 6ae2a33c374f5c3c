package ingest

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Row is one record read from a file: exactly one of Subject, Event, Consent and Objection is set (the
// one of Kind) when Err is nil. When Err is a RowError the record was rejected and reading goes on;
// any other Err is an I/O or setup error and the stream has ended.
type Row struct {
	// Line is the 1-based line number the record starts on.
	Line      int
	Kind      Kind
	Subject   *SubjectRow
	Event     *EventRow
	Consent   *ConsentRow
	Objection *ObjectionRow
	Err       error
}

// SubjectRow is one subject record: its identity in a source system and its profile fields by schema
// field name. Fields holds only non-empty values as read; Cleaner.Subject checks and standardises them.
type SubjectRow struct {
	ExternalID, Source string
	Fields             map[string]string
}

// ConsentRow is one consent a collection point captured (API.md, Consent).
type ConsentRow struct {
	SubjectRef, Purpose, NoticeVersion, Method, Kind, Evidence, Recipient string
	GrantedAt                                                             time.Time
	ExpiresAt                                                             *time.Time
}

// ObjectionRow is one objection a subject raised (PIPL Art. 24), e.g. kind "personalized_marketing".
// Files may name the subject column subject_ref instead of subject_id.
type ObjectionRow struct {
	SubjectRef, Kind string
}

// Consent kinds (API.md).
var consentKinds = []string{"general", "separate", "written", "guardian"}

// Limits of free-text consent fields.
const (
	maxTokenBytes    = 64
	maxEvidenceBytes = 1024
)

// ValidateSubjectEnvelope checks the parts of a subject record that do not depend on the schema:
// external_id (ValidExternalID) and source (Sources) are required. Field values are checked by
// Cleaner.Subject.
func ValidateSubjectEnvelope(s *SubjectRow) *RowError {
	switch {
	case s.ExternalID == "":
		return rowErr(ReasonMissingField, "external_id")
	case !validIdent(s.ExternalID):
		return rowErr(ReasonBadValue, "external_id")
	case s.Source == "":
		return rowErr(ReasonMissingField, "source")
	case !ValidSource(s.Source):
		return rowErr(ReasonBadValue, "source")
	}
	return nil
}

// ValidateConsent checks a consent record as of now: subject_id a valid reference; purpose, method
// and notice_version tokens (1-64 bytes of lower-case letters, digits, '_', '-' or '.'; the vault checks
// the purpose against its catalog); kind one of general, separate, written, guardian; granted_at set and
// at most MaxClockSkew after now; expires_at, when set, after granted_at; recipient at most 128 bytes and
// evidence at most 1,024 bytes of text without control characters.
func ValidateConsent(c *ConsentRow, now time.Time) *RowError {
	switch {
	case c.SubjectRef == "":
		return rowErr(ReasonMissingField, "subject_id")
	case c.Purpose == "":
		return rowErr(ReasonMissingField, "purpose")
	case c.NoticeVersion == "":
		return rowErr(ReasonMissingField, "notice_version")
	case c.Method == "":
		return rowErr(ReasonMissingField, "method")
	case c.Kind == "":
		return rowErr(ReasonMissingField, "kind")
	case c.GrantedAt.IsZero():
		return rowErr(ReasonMissingField, "granted_at")
	}
	if _, ok := ParseSubjectRef(c.SubjectRef); !ok {
		return rowErr(ReasonBadSubjectRef, "")
	}
	switch {
	case !validToken(c.Purpose):
		return rowErr(ReasonBadValue, "purpose")
	case !validToken(strings.ToLower(c.NoticeVersion)):
		return rowErr(ReasonBadValue, "notice_version")
	case !validToken(c.Method):
		return rowErr(ReasonBadValue, "method")
	case !contains(consentKinds, c.Kind):
		return rowErr(ReasonBadValue, "kind")
	case c.GrantedAt.After(now.Add(MaxClockSkew)):
		return rowErr(ReasonFutureTime, "")
	case c.ExpiresAt != nil && !c.ExpiresAt.After(c.GrantedAt):
		return rowErr(ReasonBadValue, "expires_at")
	case c.Recipient != "" && !validText(c.Recipient, MaxIDBytes):
		return rowErr(ReasonBadValue, "recipient")
	case c.Evidence != "" && !validText(c.Evidence, maxEvidenceBytes):
		return rowErr(ReasonBadValue, "evidence")
	}
	return nil
}

// ValidateObjection checks an objection record: subject_id a valid reference and kind a token (the
// vault checks it against the objection kinds it knows).
func ValidateObjection(o *ObjectionRow) *RowError {
	switch {
	case o.SubjectRef == "":
		return rowErr(ReasonMissingField, "subject_id")
	case o.Kind == "":
		return rowErr(ReasonMissingField, "kind")
	}
	if _, ok := ParseSubjectRef(o.SubjectRef); !ok {
		return rowErr(ReasonBadSubjectRef, "")
	}
	if !validToken(o.Kind) {
		return rowErr(ReasonBadValue, "kind")
	}
	return nil
}

// validToken reports whether s is 1-64 bytes of lower-case ASCII letters, digits, '_', '-' or '.'.
func validToken(s string) bool {
	if s == "" || len(s) > maxTokenBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validText reports whether s is at most max bytes of valid UTF-8 without control characters.
func validText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
