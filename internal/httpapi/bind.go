package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/vault"
)

// bindJSON reads the whole (size-capped) body, insists on valid UTF-8 — encoding/json would silently
// replace bad bytes — and decodes it strictly into dst. Error messages never echo the body.
//
// A body is JSON whatever its Content-Type when the caller sent a bearer token (curl -d says
// application/x-www-form-urlencoded); a browser session's cookie is accepted only with a JSON type, which
// a cross-site form cannot send — a second guard beside the CSRF token.
func (s *Server) bindJSON(c *gin.Context, dst any) bool {
	if ct := c.ContentType(); !isJSONContentType(ct) && c.GetHeader("Authorization") == "" {
		s.abortCode(c, vault.CodeInvalidArgument, "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.Header("Connection", "close")
			s.abortCode(c, vault.CodePayloadTooLarge, "request body too large")
			return false
		}
		s.abortCode(c, vault.CodeInvalidArgument, "could not read the request body")
		return false
	}
	if !utf8.Valid(body) {
		s.abortCode(c, vault.CodeInvalidArgument, "request body is not valid UTF-8")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		s.abortCode(c, vault.CodeInvalidArgument, jsonProblem(err))
		return false
	}
	if dec.More() {
		s.abortCode(c, vault.CodeInvalidArgument, "request body must hold exactly one JSON object")
		return false
	}
	return true
}

// isJSONContentType reports whether ct (without parameters) says JSON, or nothing.
func isJSONContentType(ct string) bool {
	return ct == "" || ct == "application/json" || strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json")
}

// jsonProblem describes a decode error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var when *time.ParseError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &when): // a time member that is not RFC 3339 (it read "malformed JSON")
		return "a time is not RFC 3339 (like 2026-12-01T08:00:00Z)"
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "wrong type for " + typ.Field
		}
		return "wrong JSON type"
	case errors.Is(err, io.EOF):
		return "request body is empty"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown member in request body"
	}
	return "malformed JSON"
}

// fieldValues converts the raw "fields" object: a JSON string sets a field, null clears it, anything else
// is refused with the field's name.
func fieldValues(raw map[string]json.RawMessage) (map[string]*string, error) {
	out := make(map[string]*string, len(raw))
	for name, v := range raw {
		t := bytes.TrimSpace(v)
		if bytes.Equal(t, []byte("null")) {
			out[name] = nil
			continue
		}
		var str string
		if len(t) == 0 || t[0] != '"' || json.Unmarshal(t, &str) != nil {
			return nil, vault.Errorf(vault.CodeInvalidArgument, "field %q: must be a string", vault.SafeFieldName(name))
		}
		out[name] = &str
	}
	return out, nil
}

// bindFieldsBody binds a {"fields": {...}} body (PATCH /v1/subjects/{id}, PATCH /v1/me) and converts its
// values; it has answered the request when ok is false.
func (s *Server) bindFieldsBody(c *gin.Context) (map[string]*string, bool) {
	var req updateSubjectRequest
	if !s.bindJSON(c, &req) {
		return nil, false
	}
	fields, err := fieldValues(req.Fields)
	if err != nil {
		s.abortWith(c, err)
		return nil, false
	}
	return fields, true
}
