package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/policies"
)

// Cookie names. The session cookie holds only a random id; the bearer token stays on the server.
const (
	sessionCookie = "pv_session"
	// signinCookie carries the double-submit token of the sign-in forms, which come before any session.
	signinCookie = "pv_signin"
	langCookie   = "pv_lang"
)

// session is a signed-in browser: the bearer token pasted (or minted by the demo page) once, verified,
// and the CSRF token every state-changing request of that browser must repeat.
type session struct {
	token string
	csrf  string
	// principal is what the token said: subject, roles, its id and issue time (for revocation), and its
	// expiry — a session never outlives its token.
	principal authn.Principal
	created   time.Time
}

func (s *session) hasRole(r policies.Role) bool {
	for _, have := range s.principal.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// ErrTooManySessions refuses a sign-in while the session table is full of live sessions.
var ErrTooManySessions = errors.New("webui: too many open sessions")

// Sessions is the server-side session table, in memory: a restart signs everyone out, which is the safe
// failure. It is bounded (expired sessions are dropped when it fills).
type Sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	max int
	now func() time.Time
}

// maxPerSubject bounds the sessions one signed-in identity holds: a sign-in beyond it ends that identity's
// oldest session, so no one token — a customer's own — can fill the table and lock everyone out.
const maxPerSubject = 8

// NewSessions returns a table of at most max live sessions (default 10,000).
func NewSessions(max int, now func() time.Time) *Sessions {
	if max <= 0 {
		max = 10_000
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{m: map[string]*session{}, max: max, now: now}
}

// create opens a session for a verified token and returns its id.
func (t *Sessions) create(token string, p authn.Principal) (string, *session, error) {
	s := &session{token: token, csrf: randomToken(), principal: p, created: t.now()}
	id := randomToken()
	t.mu.Lock()
	defer t.mu.Unlock()
	var mine []string
	for k, v := range t.m {
		if v.principal.Subject == p.Subject {
			mine = append(mine, k)
		}
	}
	if len(mine) >= maxPerSubject {
		slices.SortFunc(mine, func(a, b string) int { return t.m[a].created.Compare(t.m[b].created) })
		for _, k := range mine[:len(mine)-maxPerSubject+1] {
			delete(t.m, k)
		}
	}
	if len(t.m) >= t.max {
		now := t.now()
		for k, v := range t.m {
			if !now.Before(v.principal.ExpiresAt) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= t.max {
			return "", nil, ErrTooManySessions
		}
	}
	t.m[id] = s
	return id, s, nil
}

// get returns the live session of id; an expired one is dropped.
func (t *Sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.m[id]
	if ok && !t.now().Before(s.principal.ExpiresAt) {
		delete(t.m, id)
		return nil, false
	}
	return s, ok
}

func (t *Sessions) delete(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

// Len is the number of sessions held (live or not yet dropped).
func (t *Sessions) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// fromRequest is the session of r's cookie.
func (t *Sessions) fromRequest(r *http.Request) (string, *session, bool) {
	c, err := cookie(r, sessionCookie)
	if err != nil {
		return "", nil, false
	}
	s, ok := t.get(c.Value)
	return c.Value, s, ok
}

// Lookup gives the HTTP API the bearer token of r's session cookie and the CSRF token that a
// state-changing request with that cookie must carry in X-CSRF-Token.
func (t *Sessions) Lookup(r *http.Request) (token, csrf string, ok bool) {
	_, s, ok := t.fromRequest(r)
	if !ok {
		return "", "", false
	}
	return s.token, s.csrf, true
}

// SameToken compares two CSRF tokens in constant time; an empty one never matches.
func SameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// errCookieConflict refuses a request that carries a cookie name twice: another site that can write this
// site's cookies (another port of the host, a sibling domain) planted one on a narrower path, to sign the
// browser into the planter's session.
var errCookieConflict = errors.New("webui: a cookie is set twice")

// cookie returns r's cookie of the given base name (see cookieName), refusing a name sent twice.
func cookie(r *http.Request, base string) (*http.Cookie, error) {
	name := cookieName(r, base)
	var found *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name != name {
			continue
		}
		if found != nil {
			return nil, errCookieConflict
		}
		found = c
	}
	if found == nil {
		return nil, http.ErrNoCookie
	}
	return found, nil
}

// cookieName is a cookie's name for r: with the __Host- prefix whenever the cookie is Secure, so that a
// browser refuses it from anyone but this origin (no Domain, path /, over HTTPS only).
func cookieName(r *http.Request, base string) string {
	if secure(r) {
		return "__Host-" + base
	}
	return base
}

// secure reports whether cookies for r are marked Secure: always, unless r came over plain http to a loopback
// address (a browser drops Secure cookies there; nothing leaves the machine) and says nothing of a TLS proxy
// in front (X-Forwarded-Proto: https — which a client can only use to make its own cookies stricter).
func secure(r *http.Request) bool {
	return !plainLoopback(r) || r.Header.Get("X-Forwarded-Proto") == "https"
}

// setCookie sets an HttpOnly, SameSite=Strict cookie on path /, Secure (and __Host- named) as secure says.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: cookieName(r, name), Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: secure(r)}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// plainLoopback reports a plain-http request to a loopback host.
func plainLoopback(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
