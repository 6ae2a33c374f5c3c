package authn

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fixed "now" of most tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testClock is an injectable, settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock(now time.Time) *testClock { return &testClock{now: now} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// deterministicKey derives an Ed25519 key from a label.
func deterministicKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// newTestSigner returns a Signer over a deterministic key.
func newTestSigner(t testing.TB, label string) *Signer {
	t.Helper()
	s, err := NewSigner(deterministicKey(label))
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

// newTestVerifier returns a Verifier over keys whose clock is clock.
func newTestVerifier(t testing.TB, keys *KeySet, clock func() time.Time, cacheSize int) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys, Config{Now: clock, CacheSize: cacheSize})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// validClaims returns a claim set our default Verifier accepts at now.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"sub":   "staff-42",
		"roles": []string{"support", "analyst"},
		"team":  "emea",
		"iss":   DefaultIssuer,
		"aud":   DefaultAudience,
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"jti":   "0123456789abcdef0123456789abcdef",
	}
}

// b64 is base64url without padding, as JWTs use it.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mustJSON marshals v or fails the test.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// signFunc signs a JWT signing input (header.payload).
type signFunc func(signingInput []byte) []byte

// edSigner signs with an Ed25519 private key.
func edSigner(priv ed25519.PrivateKey) signFunc {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

// buildToken assembles a compact JWT by hand so that tests can make it as
// malformed as they like. A nil sign leaves the signature empty.
func buildToken(t testing.TB, header, claims map[string]any, sign signFunc) string {
	t.Helper()
	in := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + b64(sig)
}

// edHeader is the header of a token signed by s.
func edHeader(s *Signer) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": s.KeyID()}
}

// clone copies a JSON object map (shallowly).
func clone(m map[string]any) map[string]any { return maps.Clone(m) }

// wantReason checks that err is an ErrUnauthenticated carrying reason (when
// reason is not nil).
func wantReason(t *testing.T, err, reason error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", reason)
	}
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("error %q does not wrap ErrUnauthenticated", err)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Fatalf("error %q does not carry reason %q", err, reason)
	}
}

// flipSignatureByte returns tok with one byte of its decoded signature changed.
func flipSignatureByte(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) == 0 {
		t.Fatalf("decode signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + b64(sig)
}

// truncateSignature returns tok with the last 3 bytes of its decoded
// signature removed (still valid base64url).
func truncateSignature(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) < 3 {
		t.Fatalf("decode signature: %v", err)
	}
	return tok[:i+1] + b64(sig[:len(sig)-3])
}
