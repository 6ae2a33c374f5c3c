// Package httpapi is the HTTP adapter of Profile Vault: the Gin engine, middleware (request ids, recovery,
// access log, body limits, authentication), handlers that bind a request, call the vault's enforcement
// point and render the result, the mapping of domain error codes to HTTP statuses, and the OpenAPI document.
// Handlers never touch the store or keys themselves.
package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/internal/tagrun"
	"github.com/profilevault/profilevault/internal/webui"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

// TokenVerifier checks a bearer token (internal/authn.Verifier implements it).
type TokenVerifier interface {
	Verify(token string) (authn.Principal, error)
}

// Sessions resolves a browser's session cookie to the bearer token it stands for and the CSRF token that
// a state-changing request with that cookie must carry in X-CSRF-Token (internal/webui implements it).
type Sessions interface {
	Lookup(r *http.Request) (token, csrf string, ok bool)
}

// Pages are the web consoles (internal/webui): an http.Handler and the routes it answers.
type Pages interface {
	http.Handler
	Routes() []webui.Route
}

// Config wires a Server.
type Config struct {
	Vault    *vault.Service
	Verifier TokenVerifier
	Logger   *slog.Logger
	// Registry receives the HTTP metrics and is served at /metrics; default a fresh registry with the Go
	// and process collectors.
	Registry *prometheus.Registry
	// Ready reports whether the store and audit writer are healthy (for /readyz).
	Ready func(context.Context) error
	// LoadPolicy loads the policy files again for POST /v1/policies/reload.
	LoadPolicy func() (*policies.Set, error)
	// Background outlives requests: key rotations started over HTTP run under it (and stop, resumable, when
	// it ends). Default context.Background().
	Background context.Context
	// MaxBody caps request bodies (default 1 MiB); MaxBulkBody caps POST /v1/events (default 64 MiB).
	MaxBody     int64
	MaxBulkBody int64
	// Jobs runs tag computations for POST /v1/tags/compute (nil: not offered by this process).
	Jobs *tagrun.Jobs
	// Pages and Sessions serve the web consoles; with Sessions, /v1 also accepts the session cookie.
	Pages    Pages
	Sessions Sessions
	// WriteStall cuts a streamed response (exports) whose client stops reading for this long (default
	// 60 s); the stream itself may last as long as the client keeps reading.
	WriteStall time.Duration
	// AuthTarpit holds each authentication failure refused beyond the auth-failure budget (429) this long
	// before answering it (default 1 s; negative: answer at once); AuthTarpitSlots bounds how many are held
	// at once (default 2,048), and one beyond them is answered at once with Connection: close.
	AuthTarpit      time.Duration
	AuthTarpitSlots int
}

// Server is the HTTP API.
type Server struct {
	engine     *gin.Engine
	vault      *vault.Service
	verifier   TokenVerifier
	log        *slog.Logger
	metrics    *httpMetrics
	registry   *prometheus.Registry
	ready      func(context.Context) error
	loadPolicy func() (*policies.Set, error)
	background context.Context
	maxBody    int64
	maxBulk    int64
	jobs       *tagrun.Jobs
	pages      Pages
	sessions   Sessions
	writeStall time.Duration
	tarpit     *tarpit
}

// New builds the Server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Vault == nil || cfg.Verifier == nil {
		return nil, errors.New("httpapi: Vault and Verifier are required")
	}
	s := &Server{
		vault: cfg.Vault, verifier: cfg.Verifier, log: cfg.Logger, registry: cfg.Registry,
		ready: cfg.Ready, loadPolicy: cfg.LoadPolicy, background: cfg.Background, maxBody: cfg.MaxBody, maxBulk: cfg.MaxBulkBody, jobs: cfg.Jobs,
		pages: cfg.Pages, sessions: cfg.Sessions, writeStall: cfg.WriteStall,
	}
	if cfg.AuthTarpit == 0 {
		cfg.AuthTarpit = time.Second
	}
	if cfg.AuthTarpitSlots <= 0 {
		cfg.AuthTarpitSlots = 2048
	}
	s.tarpit = newTarpit(cfg.AuthTarpit, cfg.AuthTarpitSlots)
	if s.writeStall <= 0 {
		s.writeStall = 60 * time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.maxBulk <= 0 {
		s.maxBulk = 64 << 20
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.background == nil {
		s.background = context.Background()
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	m, err := newHTTPMetrics(s.registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.engine = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Routes lists "METHOD path" of every registered route (for the OpenAPI test).
func (s *Server) Routes() []gin.RouteInfo { return s.engine.Routes() }

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	_ = r.SetTrustedProxies(nil)
	r.Use(withRequestID, s.accessLog, s.recovery)
	r.NoRoute(func(c *gin.Context) { s.abortCode(c, vault.CodeNotFound, "no such route") })
	r.NoMethod(func(c *gin.Context) {
		c.Header("Allow", allowedMethods(r, c.Request.URL.Path))
		// API.md's error codes are a closed list without one of its own for 405: the request is malformed
		// for the route, so invalid_argument, and the Allow header names the methods that are not.
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code: vault.CodeInvalidArgument, Message: "method not allowed on this route (see the Allow header)", RequestID: requestID(c)}})
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDocument) })
	r.GET("/v1/notice", s.getNotice) // public: the notice comes before any collection
	r.GET("/v1/notice/versions", s.getNoticeVersions)
	if s.pages != nil {
		// The pages get the request id and the client's address as this server decides them.
		pages := func(c *gin.Context) {
			c.Request = c.Request.WithContext(webui.WithClient(c.Request.Context(), requestID(c), c.ClientIP()))
			s.pages.ServeHTTP(c.Writer, c.Request)
		}
		for _, rt := range s.pages.Routes() {
			r.Handle(rt.Method, rt.Path, pages)
		}
	}

	logTiles := r.Group("/audit", limitBody(s.maxBody, s.maxBulk), s.authenticate)
	logTiles.GET("/checkpoint", s.getLogCheckpoint)
	logTiles.GET("/tile/*path", s.getLogTile)

	v1 := r.Group("/v1", noStore, limitBody(s.maxBody, s.maxBulk), s.authenticate)
	v1.POST("/events", s.requirePurpose, s.postEvents)
	subjects := v1.Group("/subjects", s.requirePurpose)
	subjects.POST("", s.createSubject)
	subjects.POST("/lookup", s.lookupSubject)
	subjects.GET("/:id", s.readSubject)
	subjects.PATCH("/:id", s.updateSubject)
	subjects.DELETE("/:id", s.eraseSubject)
	subjects.GET("/:id/consents", s.listConsents)
	subjects.POST("/:id/consents", s.grantConsent)
	subjects.DELETE("/:id/consents/:purpose", s.withdrawConsent)
	subjects.GET("/:id/tags", s.getSubjectTags)
	subjects.GET("/:id/events", s.getSubjectEvents)
	subjects.POST("/:id/requests", s.postRelativeRequest)

	me := v1.Group("/me")
	me.GET("", s.getMe)
	me.PATCH("", s.patchMe)
	me.DELETE("", s.deleteMe)
	me.GET("/export", s.getMeExport)
	me.PUT("/consents/:purpose", s.putMeConsent)
	me.POST("/objections", s.postObjection)
	me.DELETE("/objections/:kind", s.deleteObjection)
	me.DELETE("/restriction", s.deleteMeRestriction)
	me.GET("/notices", s.getMeNotices)
	me.DELETE("/tags/:key", s.deleteMeTag)
	me.PUT("/tags/:key", s.putMeTag)
	me.GET("/access-log", s.getMeAccessLog)
	me.GET("/explanation", s.getMeExplanation)
	me.POST("/requests", s.postMeRequest)
	me.GET("/requests", s.getMeRequests)
	me.DELETE("/requests/:id", s.deleteMeRequest)
	v1.GET("/identity/merges", s.requirePurpose, s.getMerges)
	v1.POST("/identity/merges/:id/revert", s.requirePurpose, s.postMergeRevert)
	v1.GET("/identity/reviews", s.requirePurpose, s.getReviews)
	v1.POST("/identity/reviews/:id/decision", s.requirePurpose, s.postReviewDecision)
	v1.GET("/imports", s.requirePurpose, s.getImportReports)
	v1.POST("/tags/compute", s.postTagsCompute)
	v1.GET("/jobs/:id", s.getJob)
	v1.GET("/insights/:kind", s.requirePurpose, s.getInsight)
	v1.GET("/requests", s.requirePurpose, s.getRequestQueue)
	v1.POST("/requests/:id/transition", s.requirePurpose, s.postTransition)

	v1.GET("/audit/events", s.requirePurpose, s.auditEvents)
	v1.GET("/audit/export", s.requirePurpose, s.auditExport)
	v1.GET("/audit/verify", s.auditVerify)
	v1.GET("/audit/checkpoint", s.auditCheckpoint)
	v1.GET("/audit/proof/:seq", s.auditProof)
	v1.GET("/audit/consistency", s.auditConsistency)
	v1.GET("/audit/reports/cross-border", s.requirePurpose, s.crossBorderReport)
	v1.GET("/audit/reports/activity", s.requirePurpose, s.activityReport)
	v1.GET("/audit/reports/consent-rates", s.requirePurpose, s.consentRates)
	v1.POST("/incidents", s.requirePurpose, s.postIncident)
	v1.GET("/incidents", s.requirePurpose, s.listIncidents)
	v1.GET("/incidents/:id", s.requirePurpose, s.getIncident)
	v1.POST("/incidents/:id/notify", s.requirePurpose, s.notifyIncident)

	v1.POST("/access-requests", s.requirePurpose, s.postAccessRequest)
	v1.GET("/access-requests", s.getAccessRequests)
	v1.GET("/access-requests/grantable", s.getGrantable)
	v1.POST("/access-requests/:id/decision", s.postAccessDecision)
	v1.POST("/access-requests/:id/revoke", s.postAccessRevoke)
	v1.GET("/grants/:id/rows", s.requirePurpose, s.getGrantRows)
	v1.POST("/audiences", s.requirePurpose, s.postAudience)
	v1.GET("/audiences", s.requirePurpose, s.getAudiences)
	v1.GET("/audiences/:id", s.requirePurpose, s.getAudience)
	v1.POST("/campaigns/plan", s.requirePurpose, s.postCampaignPlan)
	v1.GET("/audiences/:id/members", s.requirePurpose, s.getAudienceMembers)
	v1.GET("/audiences/:id/holdout", s.requirePurpose, s.getHoldoutRefs)
	v1.POST("/audiences/:id/outcomes", s.requirePurpose, s.postOutcomes)
	v1.GET("/audiences/:id/report", s.requirePurpose, s.getAudienceReport)

	v1.GET("/policies", s.getPolicies)
	v1.GET("/policies/matrix", s.getPolicyMatrix)
	v1.GET("/policies/history", s.getPolicyHistory)
	v1.GET("/policies/at", s.getPolicyAt)
	v1.POST("/policies/reload", s.reloadPolicies)
	v1.POST("/keys/rotate", s.rotateKeys)
	v1.POST("/tokens/revoke", s.revokeTokens)
	v1.GET("/keys", s.getKeys)
	return r
}

func (s *Server) readyz(c *gin.Context) {
	body := gin.H{"status": "ready"}
	if rep, ok := s.vault.Keys().LastKeyReport(); ok {
		// Counts only: which subjects are affected is for `vaultd keys check`, not for an open route.
		body["keys"] = gin.H{"ok": rep.OK(), "deks": rep.DEKs, "missing": rep.Missing, "corrupt": rep.Corrupt,
			"affected_subjects": rep.Affected, "checked_at": rep.CheckedAt}
	}
	if err := s.ready(c.Request.Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		body["status"] = "unavailable"
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	c.JSON(http.StatusOK, body)
}

//go:embed openapi.json
var openAPIDocument []byte

// allowedMethods lists the methods registered for path (for the Allow header of a 405).
func allowedMethods(r *gin.Engine, path string) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, ri := range r.Routes() {
			if ri.Method == m && routeMatches(ri.Path, path) {
				out = append(out, m)
				break
			}
		}
	}
	return strings.Join(out, ", ")
}

// routeMatches reports whether a concrete path fits a route template with :params.
func routeMatches(template, path string) bool {
	t, p := strings.Split(strings.Trim(template, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	if len(t) != len(p) {
		return false
	}
	for i := range t {
		if !strings.HasPrefix(t[i], ":") && t[i] != p[i] {
			return false
		}
	}
	return true
}
