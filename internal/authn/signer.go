package authn

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults shared by the Signer and the Verifier.
const (
	// DefaultIssuer is the "iss" the server's own tokens carry and expect.
	DefaultIssuer = "vaultd"
	// DefaultAudience is the "aud" the server's own tokens carry and expect.
	DefaultAudience = "profile-vault"
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultMaxTTL is the longest lifetime (exp - iat) a token may have.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultCacheSize is the number of verified tokens kept in the cache.
	DefaultCacheSize = 10000
	// MaxTokenSize is the longest token (and Authorization header) accepted, in bytes.
	MaxTokenSize = 8 << 10
	// MaxMintTTL is the longest lifetime Signer.Mint will give a token.
	MaxMintTTL = 24 * time.Hour
)

// maxKeyFileSize caps how much of a key file is read.
const maxKeyFileSize = 1 << 20

var (
	// ErrInsecurePermissions reports a signing key file that group or other
	// users may read or write; it is refused rather than used.
	ErrInsecurePermissions = errors.New("key file has group or other permissions")
	// ErrMalformedKey reports a key file or key entry that cannot be parsed
	// or holds the wrong kind of key.
	ErrMalformedKey = errors.New("malformed key")
	// ErrInvalidMintRequest reports a MintRequest that Signer.Mint refuses.
	ErrInvalidMintRequest = errors.New("invalid mint request")
)

// Signer mints tokens with the server's own Ed25519 dev key (for `vaultd token` and `vaultd demo`).
type Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
}

// NewSigner returns a Signer for an existing Ed25519 private key.
func NewSigner(priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key has the wrong length", ErrMalformedKey)
	}
	priv = slices.Clone(priv)
	pub := slices.Clone(priv.Public().(ed25519.PublicKey))
	return &Signer{priv: priv, pub: pub, kid: KeyIDOf(pub)}, nil
}

// KeyIDOf returns the kid the package derives for an Ed25519 public key: the
// first 16 hex characters of the SHA-256 of the raw public key.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// LoadOrCreateSigner loads the PKCS#8 PEM Ed25519 private key at path, or, if
// no file exists there, generates one and writes it with mode 0600 (creating
// missing parent directories with mode 0700); created reports which happened.
// A file that group or other users may access is refused with
// ErrInsecurePermissions, and a file that cannot be parsed is reported with
// ErrMalformedKey; an existing file is never overwritten.
func LoadOrCreateSigner(path string) (s *Signer, created bool, err error) {
	s, err = loadSigner(path)
	if err == nil {
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	priv, err := generateKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the file first: use its key.
		s, err = loadSigner(path)
		return s, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s, err = NewSigner(priv)
	return s, err == nil, err
}

// loadSigner reads and checks an existing key file. A missing file yields an
// error wrapping fs.ErrNotExist.
func loadSigner(path string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat signing key: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: signing key %s is not a regular file", ErrMalformedKey, path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s has mode %04o, want 0600: %w", path, info.Mode().Perm(), ErrInsecurePermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: signing key %s is too large", ErrMalformedKey, path)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: signing key %s is not a PEM \"PRIVATE KEY\" block", ErrMalformedKey, path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key %s is not PKCS#8", ErrMalformedKey, path)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: signing key %s is not an Ed25519 key", ErrMalformedKey, path)
	}
	return NewSigner(priv)
}

// generateKeyFile writes a fresh key to path without ever replacing an
// existing file: the key goes to a temporary file in the same directory, which
// is then hard-linked into place (failing with fs.ErrExist if path appeared).
func generateKeyFile(path string) (ed25519.PrivateKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	tmp, err := os.CreateTemp(dir, ".jwt-key-*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sync signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close signing key: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		return nil, fmt.Errorf("install signing key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: make the new directory entry durable
		d.Close()
	}
	return priv, nil
}

// KeyID returns the key's kid: the first 16 hex characters of the SHA-256 of
// the raw public key.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the signer's Ed25519 public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return slices.Clone(s.pub) }

// KeySet returns a new KeySet holding only this signer's public key.
func (s *Signer) KeySet() *KeySet {
	ks := NewKeySet()
	_ = ks.AddEd25519(s.kid, s.pub) // cannot fail: valid key, empty set
	return ks
}

// MintRequest describes a token for Signer.Mint.
type MintRequest struct {
	// Subject becomes "sub"; it must not be empty.
	Subject string
	// Roles becomes "roles"; it needs at least one role and no empty role.
	Roles []string
	// Team becomes "team" and is omitted when empty.
	Team string
	// TTL is the token lifetime; it must be positive and at most 24h.
	TTL time.Duration
	// Issuer becomes "iss" (DefaultIssuer when empty).
	Issuer string
	// Audience becomes "aud" (DefaultAudience when empty).
	Audience string
	// Now is the issue time (time.Now when zero).
	Now time.Time
}

// claims is the JWT claim set the package reads and writes.
type claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
	Team  string   `json:"team,omitempty"`
}

// Mint returns a signed EdDSA token with header kid and claims sub, roles,
// team (omitted if empty), iss, aud, exp, iat, nbf and a random 128-bit hex
// jti. It fails with ErrInvalidMintRequest if the subject is empty, there are
// no roles or an empty role, or the TTL is not in (0, 24h].
func (s *Signer) Mint(req MintRequest) (string, error) {
	switch {
	case req.Subject == "":
		return "", fmt.Errorf("%w: empty subject", ErrInvalidMintRequest)
	case len(req.Roles) == 0:
		return "", fmt.Errorf("%w: no roles", ErrInvalidMintRequest)
	case slices.Contains(req.Roles, ""):
		return "", fmt.Errorf("%w: empty role", ErrInvalidMintRequest)
	case req.TTL <= 0:
		return "", fmt.Errorf("%w: ttl must be positive", ErrInvalidMintRequest)
	case req.TTL > MaxMintTTL:
		return "", fmt.Errorf("%w: ttl exceeds %s", ErrInvalidMintRequest, MaxMintTTL)
	}
	iss := cmp.Or(req.Issuer, DefaultIssuer)
	aud := cmp.Or(req.Audience, DefaultAudience)
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Truncate(time.Second)

	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Subject:   req.Subject,
			Audience:  jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(now.Add(req.TTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti[:]),
		},
		Roles: slices.Clone(req.Roles),
		Team:  req.Team,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}
