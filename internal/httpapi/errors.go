package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// statusOf maps each domain error code to its HTTP status. This is the only place that does.
var statusOf = map[vault.Code]int{
	vault.CodeInvalidArgument:         http.StatusBadRequest,
	vault.CodePurposeRequired:         http.StatusBadRequest,
	vault.CodeUnauthenticated:         http.StatusUnauthorized,
	vault.CodePermissionDenied:        http.StatusForbidden,
	vault.CodeGuardianConsentRequired: http.StatusForbidden,
	vault.CodeConsentRequired:         http.StatusForbidden,
	vault.CodeRestricted:              http.StatusForbidden,
	vault.CodeNotFound:                http.StatusNotFound,
	vault.CodeConflict:                http.StatusConflict,
	vault.CodeLegalHold:               http.StatusConflict,
	vault.CodePayloadTooLarge:         http.StatusRequestEntityTooLarge,
	vault.CodeRateLimited:             http.StatusTooManyRequests,
	vault.CodeRotationInProgress:      http.StatusConflict,
	vault.CodeUnavailable:             http.StatusServiceUnavailable,
	vault.CodeInternal:                http.StatusInternalServerError,
}

// errorBody is the JSON error shape of API.md.
type errorBody struct {
	Error errorDetail `json:"error"`
	// Receipt repeats error.receipt at the top level for a legal hold: the erasure did happen.
	Receipt *receiptDTO `json:"receipt,omitempty"`
}

type errorDetail struct {
	Code      vault.Code  `json:"code"`
	Message   string      `json:"message"`
	RequestID string      `json:"request_id"`
	Reason    string      `json:"reason,omitempty"`
	Position  *int        `json:"position,omitempty"`
	JobID     string      `json:"job_id,omitempty"` // rotation_in_progress: the running rotation's job
	Held      []holdDTO   `json:"held,omitempty"`
	Receipt   *receiptDTO `json:"receipt,omitempty"`
}

// abortWith renders err as the API's JSON error and stops the handler chain. Internal causes are logged
// (they never hold personal data: the domain's errors name fields, not values) and never sent.
func (s *Server) abortWith(c *gin.Context, err error) {
	err = s.recordRefusal(c, err)
	code := vault.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == vault.CodeRateLimited {
		retry := time.Second
		var ve *vault.Error
		if errors.As(err, &ve) && ve.RetryAfter > retry {
			retry = ve.RetryAfter
		}
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	}
	if seq := vault.AuditSeqOf(err); seq > 0 {
		c.Header("X-Audit-Seq", strconv.FormatInt(seq, 10))
	}
	if status >= 500 {
		var ve *vault.Error
		cause := err
		if errors.As(err, &ve) && ve.Err != nil {
			cause = ve.Err
		}
		s.log.Error("request failed", "request_id", requestID(c), "route", c.FullPath(), "code", string(code), "err", cause)
	}
	body := errorBody{Error: errorDetail{Code: code, Message: vault.ErrorMessage(err), RequestID: requestID(c), Reason: vault.ErrorReason(err), Position: vault.ErrorPosition(err)}}
	switch code { // the domain names no headers or routes; the wire does
	case vault.CodePurposeRequired:
		body.Error.Message += " in the X-Purpose header"
	case vault.CodeRotationInProgress:
		var ve *vault.Error
		if errors.As(err, &ve) && ve.Job != "" {
			body.Error.JobID = ve.Job
			body.Error.Message += "; follow it at GET /v1/jobs/" + ve.Job
		} else {
			body.Error.Message += "; it runs on another node or is starting: try again when it is done"
		}
	}
	c.AbortWithStatusJSON(status, body)
}

// erased answers an erasure: 200 with the receipt, or — when the law keeps part of the data — 409
// legal_hold with what is held, until when, and the receipt of what was erased (API.md).
func (s *Server) erased(c *gin.Context, rec vault.Receipt) {
	setAuditSeq(c, rec.AuditSeq)
	r := toReceiptDTO(rec)
	if len(rec.Held) == 0 {
		c.JSON(http.StatusOK, eraseResponse{Erased: true, Receipt: r})
		return
	}
	c.AbortWithStatusJSON(http.StatusConflict, errorBody{Error: errorDetail{Code: vault.CodeLegalHold, RequestID: requestID(c),
		Message: "transaction records are kept by law (E-Commerce Law Art. 31) until the hold ends; they are storage-only until then",
		Held:    r.Held, Receipt: &r}, Receipt: &r})
}

// recordRefusal records an authenticated request refused here for its form (bad JSON, a bad query
// parameter, a bad header) — the domain records what it refuses itself — and returns the error carrying
// the entry's sequence number.
func (s *Server) recordRefusal(c *gin.Context, err error) error {
	if vault.ErrorCode(err) != vault.CodeInvalidArgument || vault.AuditSeqOf(err) > 0 {
		return err
	}
	a, ok := accessOf(c)
	if !ok {
		return err
	}
	return s.vault.RefuseInvalidRequest(c.Request.Context(), a, c.Param("id"), err)
}

func (s *Server) abortCode(c *gin.Context, code vault.Code, msg string) {
	s.abortWith(c, &vault.Error{Code: code, Message: msg})
}
