package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/internal/authn"
)

func TestTokenRevocation(t *testing.T) {
	s := apptest.Start(t)
	admin := s.Token("root", "admin")
	mint := func(sub string, at time.Time) (string, string) {
		tok, err := s.App.Signer.Mint(authn.MintRequest{Subject: sub, Roles: []string{"compliance_officer"}, TTL: time.Hour,
			Issuer: s.App.Config.JWTIssuer, Audience: s.App.Config.JWTAudience, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.App.Verifier.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		return tok, p.TokenID
	}
	ok := func(tok string) int { return s.Do("GET", "/v1/policies", tok, "", nil).Status }
	now := time.Now()
	a1, jti1 := mint("co-1", now.Add(-time.Minute))
	a2, _ := mint("co-1", now.Add(-time.Minute))
	b, _ := mint("co-2", now.Add(-time.Minute))
	if ok(a1) != 200 || ok(a2) != 200 || ok(b) != 200 {
		t.Fatal("tokens should work before revocation")
	}
	if r := s.Do("POST", "/v1/tokens/revoke", s.Token("co", "compliance_officer"), "", map[string]any{"jti": jti1}); r.Status != 403 {
		t.Fatalf("a non-admin revoking: %d", r.Status)
	}
	if r := s.Do("POST", "/v1/tokens/revoke", admin, "", map[string]any{"jti": jti1}); r.Status != 200 {
		t.Fatalf("revoke by jti: %d %s", r.Status, r.Body)
	}
	r := s.Do("GET", "/v1/policies", a1, "", nil)
	if r.Status != 401 || r.Header.Get("X-Audit-Seq") == "" {
		t.Fatalf("the revoked token: %d", r.Status)
	}
	if ok(a2) != 200 {
		t.Fatal("revoking one jti must leave the subject's other tokens")
	}
	if r := s.Do("POST", "/v1/tokens/revoke", admin, "", map[string]any{"sub": "co-1"}); r.Status != 200 {
		t.Fatalf("revoke by sub: %d %s", r.Status, r.Body)
	}
	if ok(a2) != 401 || ok(b) != 200 {
		t.Fatal("revoking a subject's tokens must refuse them all, and only theirs")
	}
	fresh, _ := mint("co-1", time.Now().Add(2*time.Second))
	if ok(fresh) != 200 {
		t.Fatal("a token issued after the revocation must work")
	}
	if r := s.Do("POST", "/v1/tokens/revoke", admin, "", map[string]any{"sub": "a", "before": "notatime"}); r.Status != 400 || !strings.Contains(string(r.Body), "RFC 3339") {
		t.Fatalf("a bad time is not malformed JSON: %d %s", r.Status, r.Body)
	}
	// A revocation is never lifted: one "before" a future time was a permanent ban of every token to come.
	for _, body := range []map[string]any{{}, {"jti": "x", "sub": "y"}, {"jti": strings.Repeat("x", 200)}, {"jti": "call me on 13800000000"},
		{"sub": "agent-9", "before": "2099-01-01T00:00:00Z"}} {
		if r := s.Do("POST", "/v1/tokens/revoke", admin, "", body); r.Status != 400 {
			t.Fatalf("revoke %v: %d", body, r.Status)
		}
	}
	// Revocations survive a restart.
	s.Restart()
	if ok(a1) != 401 || ok(a2) != 401 || ok(fresh) != 200 {
		t.Fatal("after a restart the revocations must still hold")
	}
	// The trail names the refusals.
	ev := s.Do("GET", "/v1/audit/events?action=auth.failure", s.Token("co-9", "compliance_officer"), "compliance_audit", nil)
	if !strings.Contains(string(ev.Body), "token_revoked") {
		t.Fatalf("auth failures: %s", ev.Body)
	}
}
