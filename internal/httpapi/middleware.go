package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/webui"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

const (
	ctxRequestID = "pv.request_id"
	// ctxClientRequestID is a client's own X-Request-Id, when it has the allowed shape.
	ctxClientRequestID = "pv.client_request_id"
	ctxPrincipal       = "pv.principal"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestID keeps a well-formed client X-Request-Id and otherwise makes one; every response carries it.
//
// The vault always uses its own id — in logs, error bodies and the audit trail (X-Vault-Request-Id). A client's
// X-Request-Id is echoed back only if it has the allowed shape, and reaches the trail only as a keyed hash:
// even a well-formed one can carry a phone number ("ZZ-8613912345678").
func withRequestID(c *gin.Context) {
	own := newRequestID()
	c.Set(ctxRequestID, own)
	c.Header("X-Vault-Request-Id", own)
	if client := c.GetHeader("X-Request-Id"); requestIDPattern.MatchString(client) {
		c.Set(ctxClientRequestID, client)
		c.Header("X-Request-Id", client)
	} else {
		c.Header("X-Request-Id", own)
	}
	c.Next()
}

// recovery turns a panic into a 500 JSON error without echoing anything about the request.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "request_id", requestID(c), "route", c.FullPath(), "panic", fmt.Sprint(r))
			s.abortWith(c, fmt.Errorf("panic"))
		}
	}()
	c.Next()
}

// accessLog writes one structured line per request. It logs the route template, never the raw path (which
// holds subject ids) nor the query, headers or bodies.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	status := c.Writer.Status()
	s.metrics.observe(c.Request.Method, route, status, elapsed)
	s.log.Info("http request", "request_id", requestID(c), "method", c.Request.Method, "route", route,
		"status", status, "duration_ms", float64(elapsed.Microseconds())/1000, "bytes", c.Writer.Size())
}

// noStore marks API responses as uncacheable: they may hold personal data.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// limitBody caps request bodies (the bulk routes have their own, larger cap: event ingestion, and campaign
// outcomes, whose batch of 10,000 full outcomes is about 1.6 MiB); the handler's read fails with
// payload_too_large past the cap.
func limitBody(normal, bulk int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		max := normal
		switch c.FullPath() {
		case "/v1/events", "/v1/audiences/:id/outcomes":
			max = bulk
		}
		if c.Request.ContentLength > max {
			c.Header("Connection", "close")
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errorBody{Error: errorDetail{
				Code: vault.CodePayloadTooLarge, Message: "request body too large", RequestID: requestID(c)}})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// authenticate verifies the bearer token: from the Authorization header, or else the one behind the web
// consoles' session cookie, which authenticates a state-changing request only with the session's CSRF token
// in X-CSRF-Token. A refusal is audited (auth.failure) and answered 401 with no hint of which check failed.
func (s *Server) authenticate(c *gin.Context) {
	header := c.GetHeader("Authorization")
	tok, err := authn.ParseBearer(header)
	if header == "" && s.sessions != nil {
		if token, csrf, ok := s.sessions.Lookup(c.Request); ok {
			tok, err = token, nil
			if !safeMethod(c.Request.Method) && !webui.SameToken(c.GetHeader("X-CSRF-Token"), csrf) {
				err = errCSRF
			}
		}
	}
	var p authn.Principal
	if err == nil {
		p, err = s.verifier.Verify(tok)
	}
	if err == nil && s.vault.TokenRevoked(p.TokenID, p.Subject, p.IssuedAt) {
		err = errRevoked
	}
	if err != nil {
		reason := authn.Reason(err)
		switch err {
		case errCSRF:
			reason = "csrf_token_invalid"
		case errRevoked:
			reason = "token_revoked"
		}
		seq, aerr := s.vault.RecordAuthFailure(c.Request.Context(), requestID(c), c.ClientIP(), reason)
		if vault.ErrorCode(aerr) == vault.CodeRateLimited {
			// A flood: folded into the address's next entry, logged by that entry's failure only, and
			// answered slowly (or by closing the connection) so it cannot take the cores.
			if !s.tarpit.hold(c.Request.Context()) {
				c.Header("Connection", "close")
			}
			s.abortWith(c, aerr)
			return
		}
		s.log.Info("authentication failed", "request_id", requestID(c), "route", c.FullPath(), "reason", reason)
		if aerr == nil {
			c.Header("X-Audit-Seq", strconv.FormatInt(seq, 10))
		}
		c.Header("WWW-Authenticate", `Bearer realm="profile-vault"`)
		msg := "missing or invalid bearer token"
		if err == errCSRF {
			msg = "a request signed in by session cookie needs the session's X-CSRF-Token on this method"
		}
		s.abortCode(c, vault.CodeUnauthenticated, msg)
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

// errRevoked refuses a token that was revoked (POST /v1/tokens/revoke).
var errRevoked = errors.New("revoked token")

// errCSRF refuses a state-changing request that a session cookie alone would have authenticated.
var errCSRF = errors.New("session cookie without its CSRF token")

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// access builds the domain's view of this request. Purpose checks (missing → purpose_required, unknown →
// invalid_argument) are the domain's; the justification is bounded here.
func (s *Server) access(c *gin.Context) (vault.Access, bool) {
	a, _ := accessOf(c)
	if utf8.RuneCountInString(a.Justification) > 256 || !utf8.ValidString(a.Justification) {
		s.abortCode(c, vault.CodeInvalidArgument, "X-Justification must be valid UTF-8 of at most 256 characters")
		return vault.Access{}, false
	}
	return a, true
}

// accessOf is the request's access as sent (unchecked); ok is false before authentication.
func accessOf(c *gin.Context) (vault.Access, bool) {
	p, ok := c.Get(ctxPrincipal)
	pr, _ := p.(authn.Principal)
	return vault.Access{
		Caller:          vault.Caller{Subject: pr.Subject, Roles: pr.Roles, Team: pr.Team, TokenID: pr.TokenID},
		Purpose:         policies.PurposeName(c.GetHeader("X-Purpose")),
		Justification:   c.GetHeader("X-Justification"),
		RequestID:       requestID(c),
		ClientRequestID: c.GetString(ctxClientRequestID),
		ClientAddr:      c.ClientIP(),
		Recipient:       c.GetHeader("X-Recipient"),
		Processor:       c.GetHeader("X-Processor"),
		Grant:           c.GetHeader("X-Access-Grant"),
	}, ok
}

// requirePurpose answers 400 purpose_required before anything else is decided when X-Purpose is missing.
// The refusal is recorded like every other.
func (s *Server) requirePurpose(c *gin.Context) {
	if c.GetHeader("X-Purpose") == "" {
		a, ok := s.access(c)
		if !ok {
			return
		}
		s.abortWith(c, s.vault.RefuseMissingPurpose(c.Request.Context(), a))
		return
	}
	c.Next()
}

// stallWriter moves the connection's write deadline before each write of a streamed response: the
// stream lasts as long as the client keeps reading (the server-wide WriteTimeout would cut a long export),
// and a client that stops reading is cut after stall.
type stallWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	stall time.Duration
}

func (s *Server) streaming(c *gin.Context) io.Writer {
	return stallWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), stall: s.writeStall}
}

// stallChunk bounds one write under one deadline, so a large write to a slow but steady reader is not
// cut: each chunk gets the whole stall to drain.
const stallChunk = 32 << 10

func (w stallWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), stallChunk)
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall)) // not every writer supports deadlines (tests' recorders)
		m, err := w.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
