// Package apptest starts the whole vault — real SQLite file in a temp dir, real keys, real JWTs, real
// Casbin policy, the real HTTP stack over httptest — for tests in other packages.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/app"
)

// Stack is a running vault under test.
type Stack struct {
	T      testing.TB
	App    *app.App
	Server *httptest.Server
	Dir    string
	logs   *SyncBuffer
	cfg    app.Config
}

// SyncBuffer is a goroutine-safe writer (the stack's log sink; tests use it for progress output too).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start opens a fresh vault in t.TempDir() and serves it. Everything is closed at the end of the test.
func Start(t testing.TB, mutate ...func(*app.Config)) *Stack {
	t.Helper()
	dir := t.TempDir()
	logs := &SyncBuffer{}
	cfg := app.Config{
		DataDir: dir,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notices: logs,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := app.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	srv := httptest.NewServer(a.HTTP)
	s := &Stack{T: t, App: a, Server: srv, Dir: dir, logs: logs, cfg: cfg}
	t.Cleanup(func() {
		s.Server.Close()
		if err := s.App.Close(); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return s
}

// Restart stops the server and the vault and opens them again on the same data dir, as a new process
// would: nothing cached survives (tokens minted before stay valid: the signing key is in the data dir).
func (s *Stack) Restart() { s.T.Helper(); s.RestartWith(nil) }

// RestartWith is Restart with offline runs between the stop and the start (nil: none): fn gets the data
// dir, which no process holds then.
func (s *Stack) RestartWith(fn func(dir string)) {
	s.T.Helper()
	s.Server.Close()
	if err := s.App.Close(); err != nil {
		s.T.Fatalf("close app: %v", err)
	}
	if fn != nil {
		fn(s.Dir)
	}
	a, err := app.Open(context.Background(), s.cfg)
	if err != nil {
		s.T.Fatalf("reopen app: %v", err)
	}
	s.App, s.Server = a, httptest.NewServer(a.HTTP)
}

// Logs returns everything the service logged so far.
func (s *Stack) Logs() string { return s.logs.String() }

// Token mints a token for sub with roles, valid for an hour.
func (s *Stack) Token(sub string, roles ...string) string {
	s.T.Helper()
	tok, err := s.App.Mint(sub, roles, "team-a", time.Hour)
	if err != nil {
		s.T.Fatalf("mint: %v", err)
	}
	return tok
}

// Response is a decoded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// ErrorCode returns error.code of a JSON error body.
func (r Response) ErrorCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// Do sends a request. body may be nil, a string (sent as is) or any value (sent as JSON).
func (s *Stack) Do(method, path, token, purpose string, body any) Response {
	s.T.Helper()
	return s.DoHeaders(method, path, token, purpose, body, nil)
}

// DoHeaders is Do with extra request headers.
func (s *Stack) DoHeaders(method, path, token, purpose string, body any, headers map[string]string) Response {
	s.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.Server.URL+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		req.Header.Set("X-Purpose", purpose)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.Server.Client().Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.T.Fatal(err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	_ = json.Unmarshal(raw, &out.JSON)
	return out
}

// CreateSubject creates a subject as a data steward and returns its id.
func (s *Stack) CreateSubject(fields map[string]any) string {
	s.T.Helper()
	r := s.Do("POST", "/v1/subjects", s.Token("steward-1", "data_steward"), "account_management", map[string]any{"fields": fields})
	if r.Status != http.StatusCreated {
		s.T.Fatalf("create subject: %d %s", r.Status, r.Body)
	}
	return r.JSON["id"].(string)
}
