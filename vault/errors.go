package vault

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, client-visible error code (API.md "HTTP conventions"). The HTTP layer maps each code to
// a status in one place.
type Code string

// Error codes of the external contract.
const (
	CodeInvalidArgument         Code = "invalid_argument"
	CodePurposeRequired         Code = "purpose_required"
	CodeUnauthenticated         Code = "unauthenticated"
	CodePermissionDenied        Code = "permission_denied"
	CodeNotFound                Code = "not_found"
	CodeConflict                Code = "conflict"
	CodeConsentRequired         Code = "consent_required"
	CodeGuardianConsentRequired Code = "guardian_consent_required"
	CodeLegalHold               Code = "legal_hold"
	CodeRestricted              Code = "restricted" // the subject restricted processing (PIPL Art. 44)
	CodePayloadTooLarge         Code = "payload_too_large"
	CodeRateLimited             Code = "rate_limited"
	CodeRotationInProgress      Code = "rotation_in_progress"
	CodeUnavailable             Code = "unavailable"
	CodeInternal                Code = "internal"
)

// Error is the one error type the domain returns to callers. Message is safe to show to a client: it never
// holds a personal data value. Err, when set, is the internal cause for server logs and is never rendered.
type Error struct {
	Code    Code
	Message string
	// Reason refines a refusal for clients (error.reason): outside_grant, grant_expired.
	Reason string
	// Position is the byte position of what a rule could not parse (error.position).
	Position *int
	// AuditSeq is the sequence number of the durable audit entry that recorded this refusal, if any.
	AuditSeq int64
	// RetryAfter accompanies CodeRateLimited: how long until the caller may try again (0: soon).
	RetryAfter time.Duration
	// Job names the running job a refusal is about (CodeRotationInProgress: the rotation), if known.
	Job string
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorPosition returns the Position of the first *Error in err's chain (nil if none).
func ErrorPosition(err error) *int {
	var e *Error
	if errors.As(err, &e) {
		return e.Position
	}
	return nil
}

// ErrorReason returns the Reason of the first *Error in err's chain ("" if none).
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrorCode returns the code of err: the code of the first *Error in its chain, CodeNotFound for
// ErrNotFound, and CodeInternal for anything else.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrNotFound) {
		return CodeNotFound
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrKEKMissing) {
		return CodeUnavailable
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; internal errors get a generic text.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	switch ErrorCode(err) {
	case CodeNotFound:
		return "not found"
	case CodeUnavailable:
		if errors.Is(err, ErrKEKMissing) {
			return kekMissingMessage
		}
		return "the audit trail is unavailable; no data was returned"
	}
	return "internal error"
}

// AuditSeqOf returns the audit sequence number recorded for err, or 0.
func AuditSeqOf(err error) int64 {
	var e *Error
	if errors.As(err, &e) {
		return e.AuditSeq
	}
	return 0
}

// Sentinel errors returned by Store implementations.
var (
	// ErrNotFound means the subject does not exist or was erased.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable means the store could not make the audit entry durable in time.
	ErrUnavailable = errors.New("audit store unavailable")
	// ErrLocked means another process holds the data directory.
	ErrLocked = errors.New("data directory is locked by another process")
)

// Statuses recorded in audit entries: the HTTP status the access was (or would be) answered with, kept as
// plain numbers so the domain does not depend on net/http.
const (
	statusOK              = 200
	statusBadRequest      = 400
	statusCreated         = 201
	statusUnauthorized    = 401
	statusForbidden       = 403
	statusNotFound        = 404
	statusConflict        = 409
	statusTooManyRequests = 429
	statusInternal        = 500
	statusUnavailable     = 503
)
