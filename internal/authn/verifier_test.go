package authn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/profilevault/profilevault/policies"
)

func TestSignerVerifierRoundTrip(t *testing.T) {
	s := newTestSigner(t, "round trip")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)

	tests := []struct {
		name string
		req  MintRequest
	}{
		{"with team", MintRequest{Subject: "staff-1", Roles: []string{"support"}, Team: "emea", TTL: time.Hour, Now: t0}},
		{"without team, several roles", MintRequest{Subject: "svc-export", Roles: []string{"analyst", "dpo"}, TTL: 24 * time.Hour, Now: t0.Add(-time.Minute)}},
		{"explicit defaults", MintRequest{Subject: "u", Roles: []string{"data_subject"}, TTL: time.Minute, Issuer: DefaultIssuer, Audience: DefaultAudience, Now: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Mint(tt.req)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			p, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			now := tt.req.Now.Truncate(time.Second)
			if p.Subject != tt.req.Subject || !slices.Equal(policies.RoleNames(p.Roles), tt.req.Roles) || p.Team != tt.req.Team {
				t.Errorf("principal = %+v, want subject %q roles %v team %q", p, tt.req.Subject, tt.req.Roles, tt.req.Team)
			}
			if !p.IssuedAt.Equal(now) || !p.ExpiresAt.Equal(now.Add(tt.req.TTL)) {
				t.Errorf("iat/exp = %v/%v, want %v/%v", p.IssuedAt, p.ExpiresAt, now, now.Add(tt.req.TTL))
			}
			if len(p.TokenID) != 32 {
				t.Errorf("TokenID = %q, want 32 hex chars", p.TokenID)
			}
			for _, r := range tt.req.Roles {
				if !p.HasRole(policies.Role(r)) {
					t.Errorf("HasRole(%q) = false", r)
				}
			}
			if p.HasRole("admin") {
				t.Error("HasRole(admin) = true")
			}

			// The wire format is what the API documents.
			var header, payload map[string]any
			parts := strings.Split(tok, ".")
			for i, dst := range []*map[string]any{&header, &payload} {
				raw, err := jwt.NewParser().DecodeSegment(parts[i])
				if err != nil {
					t.Fatalf("decode segment %d: %v", i, err)
				}
				if err := json.Unmarshal(raw, dst); err != nil {
					t.Fatalf("unmarshal segment %d: %v", i, err)
				}
			}
			if header["alg"] != "EdDSA" || header["kid"] != s.KeyID() {
				t.Errorf("header = %v", header)
			}
			for _, claim := range []string{"sub", "roles", "iss", "aud", "exp", "iat", "nbf", "jti"} {
				if _, ok := payload[claim]; !ok {
					t.Errorf("claim %q missing from %v", claim, payload)
				}
			}
			if _, ok := payload["team"]; ok != (tt.req.Team != "") {
				t.Errorf("team present = %v, want %v", ok, tt.req.Team != "")
			}
		})
	}
}

func TestMintJTIUnique(t *testing.T) {
	s := newTestSigner(t, "jti")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, -1)
	seen := map[string]bool{}
	for range 50 {
		tok, err := s.Mint(MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p.TokenID] {
			t.Fatalf("duplicate jti %q", p.TokenID)
		}
		seen[p.TokenID] = true
	}
}

func TestMintRejectsBadRequests(t *testing.T) {
	s := newTestSigner(t, "mint")
	ok := MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour, Now: t0}
	tests := []struct {
		name   string
		mutate func(*MintRequest)
	}{
		{"empty subject", func(r *MintRequest) { r.Subject = "" }},
		{"no roles", func(r *MintRequest) { r.Roles = nil }},
		{"empty role list", func(r *MintRequest) { r.Roles = []string{} }},
		{"empty role", func(r *MintRequest) { r.Roles = []string{"support", ""} }},
		{"zero ttl", func(r *MintRequest) { r.TTL = 0 }},
		{"negative ttl", func(r *MintRequest) { r.TTL = -time.Hour }},
		{"ttl over 24h", func(r *MintRequest) { r.TTL = 24*time.Hour + time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.mutate(&req)
			if _, err := s.Mint(req); !errors.Is(err, ErrInvalidMintRequest) {
				t.Fatalf("Mint error = %v, want ErrInvalidMintRequest", err)
			}
		})
	}
}

// TestVerifyClaims covers every claim rule with correctly signed, hand-built tokens.
func TestVerifyClaims(t *testing.T) {
	s := newTestSigner(t, "claims")
	priv := deterministicKey("claims")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)
	unix := func(d time.Duration) int64 { return t0.Add(d).Unix() }

	tests := []struct {
		name   string
		mutate func(c map[string]any)
		want   error // nil: accepted
	}{
		{"valid", func(c map[string]any) {}, nil},
		{"aud as string", func(c map[string]any) { c["aud"] = DefaultAudience }, nil},
		{"aud array containing ours", func(c map[string]any) { c["aud"] = []string{"other-api", DefaultAudience} }, nil},
		{"no nbf, jti or team", func(c map[string]any) { delete(c, "nbf"); delete(c, "jti"); delete(c, "team") }, nil},
		{"expired within leeway", func(c map[string]any) { c["exp"] = unix(-10 * time.Second) }, nil},
		{"nbf in future within leeway", func(c map[string]any) { c["nbf"] = unix(10 * time.Second) }, nil},
		{"iat in future within leeway", func(c map[string]any) { c["iat"] = unix(10 * time.Second) }, nil},
		{"lifetime 24h plus less than leeway", func(c map[string]any) { c["iat"] = unix(-time.Hour); c["exp"] = unix(23*time.Hour + 20*time.Second) }, nil},
		{"fractional times", func(c map[string]any) { c["exp"] = float64(unix(time.Hour)) + 0.5 }, nil},

		{"expired", func(c map[string]any) { c["iat"] = unix(-2 * time.Hour); c["exp"] = unix(-time.Hour) }, errExpired},
		{"expired just beyond leeway", func(c map[string]any) { c["exp"] = unix(-31 * time.Second) }, errExpired},
		{"not yet valid (nbf)", func(c map[string]any) { c["nbf"] = unix(5 * time.Minute) }, errNotYetValid},
		{"issued in the future (iat)", func(c map[string]any) { c["iat"] = unix(5 * time.Minute); c["nbf"] = unix(5 * time.Minute) }, errIssuedFuture},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "someone-else" }, errWrongIssuer},
		{"wrong audience", func(c map[string]any) { c["aud"] = "other-api" }, errWrongAudience},
		{"audience array without ours", func(c map[string]any) { c["aud"] = []string{"a", "b"} }, errWrongAudience},
		{"missing exp", func(c map[string]any) { delete(c, "exp") }, errMissingExp},
		{"missing iss", func(c map[string]any) { delete(c, "iss") }, errMissingIss},
		{"empty iss", func(c map[string]any) { c["iss"] = "" }, errMissingIss},
		{"missing aud", func(c map[string]any) { delete(c, "aud") }, errMissingAud},
		{"empty aud array", func(c map[string]any) { c["aud"] = []string{} }, errMissingAud},
		{"missing iat", func(c map[string]any) { delete(c, "iat") }, errMissingIat},
		{"missing sub", func(c map[string]any) { delete(c, "sub") }, errMissingSub},
		{"lifetime 48h", func(c map[string]any) { c["iat"] = unix(-time.Hour); c["exp"] = unix(47 * time.Hour) }, errLifetime},
		{"exp before iat", func(c map[string]any) { c["iat"] = unix(20 * time.Second); c["exp"] = unix(10 * time.Second) }, errBadLifetime},
		{"roles missing", func(c map[string]any) { delete(c, "roles") }, errBadRoles},
		{"roles null", func(c map[string]any) { c["roles"] = nil }, errBadRoles},
		{"roles empty", func(c map[string]any) { c["roles"] = []string{} }, errBadRoles},
		{"roles with empty string", func(c map[string]any) { c["roles"] = []string{"support", ""} }, errBadRoles},
		{"roles with null element", func(c map[string]any) { c["roles"] = []any{"support", nil} }, errBadRoles},
		{"roles as a string", func(c map[string]any) { c["roles"] = "admin" }, errMalformed},
		{"roles with a number", func(c map[string]any) { c["roles"] = []any{"support", 7} }, errMalformed},
		{"roles as an object", func(c map[string]any) { c["roles"] = map[string]any{"admin": true} }, errMalformed},
		{"exp as a string", func(c map[string]any) { c["exp"] = "tomorrow" }, errMalformed},
		{"aud as a number", func(c map[string]any) { c["aud"] = 1 }, errMalformed},
		{"team as a number", func(c map[string]any) { c["team"] = 3 }, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims(t0)
			tt.mutate(c)
			tok := buildToken(t, edHeader(s), c, edSigner(priv))
			p, err := v.Verify(tok)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.Subject != "staff-42" {
					t.Fatalf("Subject = %q", p.Subject)
				}
				return
			}
			wantReason(t, err, tt.want)
			if p.Subject != "" || p.Roles != nil {
				t.Fatalf("rejected token returned principal %+v", p)
			}
		})
	}
}

// TestVerifyHeaderAndSignature covers algorithms, kids and signatures.
func TestVerifyHeaderAndSignature(t *testing.T) {
	s := newTestSigner(t, "headers")
	priv := deterministicKey("headers")
	other := deterministicKey("someone else")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)
	pubBytes := []byte(s.PublicKey())
	c := validClaims(t0)

	hs256 := func(key []byte) signFunc {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, key)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	with := func(kv ...any) map[string]any {
		h := clone(edHeader(s))
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(h, kv[i].(string))
			} else {
				h[kv[i].(string)] = kv[i+1]
			}
		}
		return h
	}
	pemBytes := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	valid := buildToken(t, edHeader(s), c, edSigner(priv))
	payloadFlipped := func() string {
		parts := strings.Split(valid, ".")
		c2 := clone(c)
		c2["roles"] = []string{"admin"}
		return parts[0] + "." + b64(mustJSON(t, c2)) + "." + parts[2]
	}()

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none, empty signature", buildToken(t, with("alg", "none"), c, nil), errAlgNotAllowed},
		{"alg none, no kid", buildToken(t, map[string]any{"alg": "none", "typ": "JWT"}, c, nil), errAlgNotAllowed},
		{"alg None (case)", buildToken(t, with("alg", "None"), c, nil), errAlgNotAllowed},
		{"HS256 with raw public key bytes (key confusion)", buildToken(t, with("alg", "HS256"), c, hs256(pubBytes)), errAlgNotAllowed},
		{"HS256 with PEM public key (key confusion)", buildToken(t, with("alg", "HS256"), c, hs256(pemBytes)), errAlgNotAllowed},
		{"ES256 header on EdDSA key", buildToken(t, with("alg", "ES256"), c, edSigner(priv)), errAlgMismatch},
		{"RS256 header on EdDSA key", buildToken(t, with("alg", "RS256"), c, edSigner(priv)), errAlgMismatch},
		{"unknown alg", buildToken(t, with("alg", "XX999"), c, edSigner(priv)), errAlgNotAllowed},
		{"missing alg", buildToken(t, with("alg", nil), c, edSigner(priv)), errAlgNotAllowed},
		{"missing kid", buildToken(t, with("kid", nil), c, edSigner(priv)), errMissingKID},
		{"empty kid", buildToken(t, with("kid", ""), c, edSigner(priv)), errMissingKID},
		{"numeric kid", buildToken(t, with("kid", 7), c, edSigner(priv)), errMissingKID},
		{"unknown kid", buildToken(t, with("kid", "0000000000000000"), c, edSigner(priv)), errUnknownKID},
		{"crit header", buildToken(t, with("crit", []string{"exp"}), c, edSigner(priv)), errCritHeader},
		{"signed by another key", buildToken(t, edHeader(s), c, edSigner(other)), errBadSignature},
		{"signature byte flipped", flipSignatureByte(t, valid), errBadSignature},
		{"payload changed", payloadFlipped, errBadSignature},
		{"signature truncated", truncateSignature(t, valid), errBadSignature},
		{"signature base64 truncated", valid[:len(valid)-4], errMalformed},
		{"signature removed", valid[:strings.LastIndexByte(valid, '.')+1], errBadSignature},
		{"padded base64", valid + "==", errMalformed},
	}
	if _, err := v.Verify(valid); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			wantReason(t, err, tt.want)
		})
	}
}

func TestVerifyGarbage(t *testing.T) {
	s := newTestSigner(t, "garbage")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)
	valid, err := s.Mint(MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", errMalformed},
		{"word", "hello", errMalformed},
		{"two segments", "a.b", errMalformed},
		{"three junk segments", "a.b.c", errMalformed},
		{"dots only", "..", errMalformed},
		{"four segments", valid + ".x", errMalformed},
		{"header not JSON", b64([]byte("not json")) + "." + b64([]byte("{}")) + ".", errMalformed},
		{"header JSON array", b64([]byte("[]")) + "." + b64([]byte("{}")) + ".", errMalformed},
		{"payload not JSON", b64([]byte(`{"alg":"EdDSA","kid":"`+s.KeyID()+`"}`)) + "." + b64([]byte("{")) + ".", errMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", errMalformed},
		{"whitespace inside", valid[:10] + " " + valid[10:], errMalformed},
		{"Bearer prefix left on", "Bearer " + valid, errMalformed},
		{"non-UTF-8", "\xff\xfe.\xfd.\xfc", errMalformed},
		{"over 8 KiB", strings.Repeat("a", MaxTokenSize+1), errTooLarge},
		{"valid token padded past 8 KiB", valid + strings.Repeat("A", MaxTokenSize), errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			wantReason(t, err, tt.want)
		})
	}
}

// TestVerifyErrorsDoNotEchoToken checks that error text never repeats token
// contents or claim values, even where the jwt library's own messages would.
func TestVerifyErrorsDoNotEchoToken(t *testing.T) {
	const secret = "LEAKME"
	s := newTestSigner(t, "leak")
	priv := deterministicKey("leak")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)
	c := validClaims(t0)
	with := func(k string, val any) map[string]any { m := clone(c); m[k] = val; return m }
	h := edHeader(s)
	hw := func(k string, val any) map[string]any { m := clone(h); m[k] = val; return m }

	tokens := map[string]string{
		"alg in header":       buildToken(t, hw("alg", secret), c, edSigner(priv)),
		"alg none-ish":        buildToken(t, hw("alg", "HS256"+secret), c, edSigner(priv)),
		"kid":                 buildToken(t, hw("kid", secret), c, edSigner(priv)),
		"issuer":              buildToken(t, h, with("iss", secret), edSigner(priv)),
		"audience":            buildToken(t, h, with("aud", []string{secret}), edSigner(priv)),
		"subject, bad sig":    buildToken(t, h, with("sub", secret), edSigner(deterministicKey("x"))),
		"role as number":      buildToken(t, h, with("roles", []any{secret, 1}), edSigner(priv)),
		"team, expired":       buildToken(t, h, with("exp", t0.Add(-time.Hour).Unix()), edSigner(priv)),
		"header json garbage": b64([]byte(`{"alg":`+secret)) + "." + b64([]byte("{}")) + ".",
		"claims json garbage": b64(mustJSON(t, h)) + "." + b64([]byte(`{"sub":`+secret+`}`)) + ".",
		"exp not a number":    buildToken(t, h, with("exp", secret), edSigner(priv)),
		"raw word":            secret,
		"raw segments":        secret + "." + secret + "." + secret,
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(tok)
			wantReason(t, err, nil)
			msg := err.Error()
			if strings.Contains(msg, secret) || strings.Contains(msg, "staff-42") || strings.Contains(msg, "emea") {
				t.Fatalf("error text echoes token contents: %q", msg)
			}
			for _, seg := range strings.Split(tok, ".") {
				if len(seg) > 3 && strings.Contains(msg, seg) {
					t.Fatalf("error text echoes a token segment: %q", msg)
				}
			}
		})
	}
}

func TestVerifyCacheHonoursExpiry(t *testing.T) {
	s := newTestSigner(t, "cache")
	clock := newTestClock(t0)
	v := newTestVerifier(t, s.KeySet(), clock.Now, 0)
	tok, err := s.Mint(MintRequest{Subject: "s", Roles: []string{"r1", "r2"}, TTL: time.Hour, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(tok))

	steps := []struct {
		name   string
		at     time.Time
		want   error
		cached bool // expected cache state after the call
	}{
		{"first use verifies and caches", t0, nil, true},
		{"hit", t0.Add(30 * time.Minute), nil, true},
		{"hit at exp, within leeway", t0.Add(time.Hour + 10*time.Second), nil, true},
		{"clock past exp plus leeway", t0.Add(time.Hour + 31*time.Second), errExpired, false},
		{"stays rejected (full check)", t0.Add(2 * time.Hour), errExpired, false},
	}
	for _, st := range steps {
		clock.Set(st.at)
		p, err := v.Verify(tok)
		if st.want == nil {
			if err != nil {
				t.Fatalf("%s: Verify: %v", st.name, err)
			}
			// Mutating the returned principal must not change the cached one.
			p.Roles[0] = "admin"
		} else {
			wantReason(t, err, st.want)
		}
		if got := v.cache.Contains(key); got != st.cached {
			t.Fatalf("%s: cached = %v, want %v", st.name, got, st.cached)
		}
	}
	if v.cache.Len() != 0 {
		t.Fatalf("cache len = %d, want 0", v.cache.Len())
	}

	// A clock moved back before the token's nbf/iat is refused on a hit too.
	tok2, err := s.Mint(MintRequest{Subject: "s", Roles: []string{"r1"}, TTL: time.Hour, Now: t0.Add(10 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(10 * time.Hour))
	p, err := v.Verify(tok2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Roles, []policies.Role{"r1"}) {
		t.Fatalf("roles = %v", p.Roles)
	}
	clock.Set(t0.Add(9 * time.Hour))
	_, err = v.Verify(tok2)
	wantReason(t, err, errNotYetValid)
}

func TestVerifyCacheDisabledAndBounded(t *testing.T) {
	s := newTestSigner(t, "bounded")
	tests := []struct {
		name      string
		cacheSize int
		wantLen   int
	}{
		{"disabled", -1, -1},
		{"size 2", 2, 2},
		{"default", 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, tt.cacheSize)
			for i := range 5 {
				tok, err := s.Mint(MintRequest{Subject: fmt.Sprint("s", i), Roles: []string{"r"}, TTL: time.Hour, Now: t0})
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if p, err := v.Verify(tok); err != nil || p.Subject != fmt.Sprint("s", i) {
						t.Fatalf("Verify = %+v, %v", p, err)
					}
				}
			}
			got := -1
			if v.cache != nil {
				got = v.cache.Len()
			}
			if got != tt.wantLen {
				t.Fatalf("cache len = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	s := newTestSigner(t, "concurrent")
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 8)
	var toks []string
	for i := range 16 {
		tok, err := s.Mint(MintRequest{Subject: fmt.Sprint("s", i), Roles: []string{"r"}, TTL: time.Hour, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				j := (g + i) % len(toks)
				p, err := v.Verify(toks[j])
				if err != nil || p.Subject != fmt.Sprint("s", j) {
					errs <- fmt.Errorf("token %d: %+v, %v", j, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	s := newTestSigner(t, "config")
	v, err := NewVerifier(s.KeySet(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := v.Config()
	if got.Issuer != DefaultIssuer || got.Audience != DefaultAudience || got.Leeway != DefaultLeeway ||
		got.MaxTTL != DefaultMaxTTL || got.CacheSize != DefaultCacheSize || got.Now == nil {
		t.Fatalf("defaults not applied: %+v", got)
	}
	bad := []struct {
		name string
		keys *KeySet
		cfg  Config
	}{
		{"nil keys", nil, Config{}},
		{"negative leeway", NewKeySet(), Config{Leeway: -time.Second}},
		{"negative max ttl", NewKeySet(), Config{MaxTTL: -time.Second}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.keys, tt.cfg); err == nil {
				t.Fatal("NewVerifier accepted a bad config")
			}
		})
	}

	// Custom issuer, audience and a shorter MaxTTL.
	v, err = NewVerifier(s.KeySet(), Config{Issuer: "idp", Audience: "vault-eu", MaxTTL: time.Hour, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  MintRequest
		want error
	}{
		{"custom iss/aud", MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour, Issuer: "idp", Audience: "vault-eu", Now: t0}, nil},
		{"default iss refused", MintRequest{Subject: "s", Roles: []string{"r"}, TTL: time.Hour, Audience: "vault-eu", Now: t0}, errWrongIssuer},
		{"over custom MaxTTL", MintRequest{Subject: "s", Roles: []string{"r"}, TTL: 2 * time.Hour, Issuer: "idp", Audience: "vault-eu", Now: t0}, errLifetime},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Mint(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(tok)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantReason(t, err, tt.want)
		})
	}
}

// writeKeysFile writes a VAULT_JWT_KEYS file and returns its path.
func writeKeysFile(t *testing.T, entries ...map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	data := mustJSON(t, map[string]any{"keys": entries})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// publicPEM encodes a public key as a PEM "PUBLIC KEY" block.
func publicPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwtSign signs claims with the jwt library (as an external IdP would).
func jwtSign(t *testing.T, m jwt.SigningMethod, kid string, c map[string]any, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jwt.MapClaims(c))
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeysFileExternalProviders(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edKey := deterministicKey("external ed")
	path := writeKeysFile(t,
		map[string]string{"kid": "idp-es", "alg": "ES256", "public_key_pem": publicPEM(t, &ecKey.PublicKey)},
		map[string]string{"kid": "idp-rs", "alg": "RS256", "public_key_pem": publicPEM(t, &rsaKey.PublicKey)},
		map[string]string{"kid": "idp-ed", "alg": "EdDSA", "public_key_pem": publicPEM(t, edKey.Public())},
	)
	ks := NewKeySet()
	if err := ks.AddFromFile(path); err != nil {
		t.Fatalf("AddFromFile: %v", err)
	}
	if ks.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ks.Len())
	}
	v := newTestVerifier(t, ks, func() time.Time { return t0 }, 0)
	c := validClaims(t0)
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"ES256 token verifies", jwtSign(t, jwt.SigningMethodES256, "idp-es", c, ecKey), nil},
		{"RS256 token verifies", jwtSign(t, jwt.SigningMethodRS256, "idp-rs", c, rsaKey), nil},
		{"EdDSA token verifies", jwtSign(t, jwt.SigningMethodEdDSA, "idp-ed", c, edKey), nil},
		{"EdDSA token under the ES256 kid", jwtSign(t, jwt.SigningMethodEdDSA, "idp-es", c, edKey), errAlgMismatch},
		{"ES256 token under the EdDSA kid", jwtSign(t, jwt.SigningMethodES256, "idp-ed", c, ecKey), errAlgMismatch},
		{"PS256 token under the RS256 kid", jwtSign(t, jwt.SigningMethodPS256, "idp-rs", c, rsaKey), errAlgNotAllowed},
		{"RS512 token under the RS256 kid", jwtSign(t, jwt.SigningMethodRS512, "idp-rs", c, rsaKey), errAlgNotAllowed},
		{"ES384 header under the ES256 kid", buildToken(t, map[string]any{"alg": "ES384", "kid": "idp-es"}, c, edSigner(edKey)), errAlgNotAllowed},
		{"HS256 with the ES256 key's DER", jwtSign(t, jwt.SigningMethodHS256, "idp-es", c, ecPubDER), errAlgNotAllowed},
		{"ES256 signed by another key", func() string {
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return jwtSign(t, jwt.SigningMethodES256, "idp-es", c, other)
		}(), errBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.Subject != "staff-42" || !slices.Equal(p.Roles, []policies.Role{"support", "analyst"}) || p.Team != "emea" {
					t.Fatalf("principal = %+v", p)
				}
				return
			}
			wantReason(t, err, tt.want)
		})
	}
}

func TestKeysFileRejectsBadInput(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub := deterministicKey("file ed").Public()
	good := map[string]string{"kid": "good", "alg": "ES256", "public_key_pem": publicPEM(t, &ecKey.PublicKey)}
	ecPrivDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	privatePEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecPrivDER}))

	write := func(content string) func(t *testing.T) string {
		return func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
	entries := func(e ...map[string]string) func(t *testing.T) string {
		return func(t *testing.T) string { return writeKeysFile(t, e...) }
	}
	tests := []struct {
		name string
		file func(t *testing.T) string
		want error
	}{
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.json") }, os.ErrNotExist},
		{"not JSON", write("kid=abc"), ErrMalformedKey},
		{"no keys", write(`{"keys":[]}`), ErrMalformedKey},
		{"wrong shape", write(`{"keys":{"kid":"a"}}`), ErrMalformedKey},
		{"too large", write(`{"keys":[` + strings.Repeat(" ", maxKeyFileSize) + `]}`), ErrMalformedKey},
		{"missing kid", entries(good, map[string]string{"alg": "ES256", "public_key_pem": good["public_key_pem"]}), ErrMalformedKey},
		{"unknown alg", entries(map[string]string{"kid": "a", "alg": "HS256", "public_key_pem": good["public_key_pem"]}), ErrMalformedKey},
		{"missing alg", entries(map[string]string{"kid": "a", "public_key_pem": good["public_key_pem"]}), ErrMalformedKey},
		{"ES256 label on Ed25519 key", entries(map[string]string{"kid": "a", "alg": "ES256", "public_key_pem": publicPEM(t, edPub)}), ErrMalformedKey},
		{"EdDSA label on EC key", entries(map[string]string{"kid": "a", "alg": "EdDSA", "public_key_pem": good["public_key_pem"]}), ErrMalformedKey},
		{"ES256 label on P-384 key", entries(map[string]string{"kid": "a", "alg": "ES256", "public_key_pem": publicPEM(t, &p384.PublicKey)}), ErrMalformedKey},
		{"RS256 with 1024-bit key", entries(map[string]string{"kid": "a", "alg": "RS256", "public_key_pem": publicPEM(t, &smallRSA.PublicKey)}), ErrMalformedKey},
		{"not PEM", entries(map[string]string{"kid": "a", "alg": "ES256", "public_key_pem": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}), ErrMalformedKey},
		{"private key PEM", entries(map[string]string{"kid": "a", "alg": "ES256", "public_key_pem": privatePEM}), ErrMalformedKey},
		{"duplicate kid in file", entries(good, good), ErrDuplicateKeyID},
		{"kid already registered with another key", entries(map[string]string{"kid": "existing", "alg": "EdDSA", "public_key_pem": publicPEM(t, edPub)}), ErrDuplicateKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := NewKeySet()
			if err := ks.AddEd25519("existing", deterministicKey("existing").Public().(ed25519.PublicKey)); err != nil {
				t.Fatal(err)
			}
			err := ks.AddFromFile(tt.file(t))
			if !errors.Is(err, tt.want) {
				t.Fatalf("AddFromFile error = %v, want %v", err, tt.want)
			}
			if ks.Len() != 1 {
				t.Fatalf("Len = %d after a failed load, want 1 (all or nothing)", ks.Len())
			}
		})
	}
}

func TestAddEd25519(t *testing.T) {
	pub := deterministicKey("add").Public().(ed25519.PublicKey)
	other := deterministicKey("add other").Public().(ed25519.PublicKey)
	ks := NewKeySet()
	steps := []struct {
		name string
		kid  string
		pub  ed25519.PublicKey
		want error
	}{
		{"add", "k1", pub, nil},
		{"same key again is a no-op", "k1", pub, nil},
		{"different key under same kid", "k1", other, ErrDuplicateKeyID},
		{"empty kid", "", pub, ErrMalformedKey},
		{"short key", "k2", pub[:31], ErrMalformedKey},
		{"second key", "k2", other, nil},
	}
	for _, st := range steps {
		if err := ks.AddEd25519(st.kid, st.pub); !errors.Is(err, st.want) {
			t.Fatalf("%s: error = %v, want %v", st.name, err, st.want)
		}
	}
	if ks.Len() != 2 {
		t.Fatalf("Len = %d, want 2", ks.Len())
	}
}
