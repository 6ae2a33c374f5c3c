package authn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/profilevault/profilevault/policies"
)

// ErrUnauthenticated is wrapped by every error that Verify and ParseBearer
// return; clients only ever see "unauthenticated".
var ErrUnauthenticated = errors.New("unauthenticated")

// Reasons a token is refused. Each error returned by Verify wraps
// ErrUnauthenticated and one or more of these (unexported: callers need only
// ErrUnauthenticated, and the text of the error for logs).
var (
	errTooLarge      = errors.New("token too large")
	errMalformed     = errors.New("malformed token")
	errAlgNotAllowed = errors.New("algorithm not allowed")
	errAlgMismatch   = errors.New("algorithm does not match the key's pinned algorithm")
	errMissingKID    = errors.New("missing kid")
	errUnknownKID    = errors.New("unknown kid")
	errCritHeader    = errors.New("unsupported crit header")
	errBadSignature  = errors.New("bad signature")
	errExpired       = errors.New("token expired")
	errNotYetValid   = errors.New("token not yet valid")
	errIssuedFuture  = errors.New("token issued in the future")
	errWrongIssuer   = errors.New("wrong issuer")
	errWrongAudience = errors.New("wrong audience")
	errMissingExp    = errors.New("missing exp")
	errMissingIss    = errors.New("missing iss")
	errMissingAud    = errors.New("missing aud")
	errMissingIat    = errors.New("missing iat")
	errMissingSub    = errors.New("missing sub")
	errLifetime      = errors.New("token lifetime exceeds the maximum")
	errBadLifetime   = errors.New("token expires before it was issued")
	errBadRoles      = errors.New("roles missing, empty or not an array of non-empty strings")
	errInvalid       = errors.New("invalid token")
)

// allowedAlgs are the algorithms a key may be pinned to.
var allowedAlgs = []string{AlgEdDSA, AlgES256, AlgRS256}

// Config for verification.
type Config struct {
	// Issuer is the required "iss" (default "vaultd").
	Issuer string
	// Audience must appear in "aud", a string or an array (default "profile-vault").
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// MaxTTL caps exp - iat, plus Leeway (default 24h); iat is required.
	MaxTTL time.Duration
	// Now is the injected clock (default time.Now).
	Now func() time.Time
	// CacheSize is the number of verified-token cache entries (default
	// 10000); a negative value disables the cache.
	CacheSize int
}

// cacheEntry is a verified token's principal with the times that bound it.
type cacheEntry struct {
	p         Principal
	notBefore time.Time // zero when the token had no nbf
}

// Verifier checks bearer tokens against a KeySet. It is safe for concurrent use.
type Verifier struct {
	keys   *KeySet
	cfg    Config
	parser *jwt.Parser
	cache  *lru.Cache[[sha256.Size]byte, cacheEntry] // nil when disabled
}

// NewVerifier returns a Verifier for keys, filling in Config defaults.
func NewVerifier(keys *KeySet, cfg Config) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("authn: nil KeySet")
	}
	if cfg.Leeway < 0 || cfg.MaxTTL < 0 {
		return nil, errors.New("authn: negative Leeway or MaxTTL")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	v := &Verifier{keys: keys, cfg: cfg}
	if cfg.CacheSize > 0 {
		c, err := lru.New[[sha256.Size]byte, cacheEntry](cfg.CacheSize)
		if err != nil {
			return nil, fmt.Errorf("authn: token cache: %w", err)
		}
		v.cache = c
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Config returns the verifier's configuration with defaults filled in.
func (v *Verifier) Config() Config { return v.cfg }

// Verify checks token and returns its Principal.
//
// Verify returns an error wrapping ErrUnauthenticated for: garbage, alg none,
// alg not the key's pinned alg (HS256 signed with the public key bytes = "key
// confusion"), missing/unknown kid, bad signature, expired (beyond leeway),
// not yet valid (nbf or iat in the future beyond leeway), wrong iss, wrong aud
// (aud may be string or array), missing exp/iss/aud/iat/sub, lifetime >
// MaxTTL, roles missing/empty/not an array of non-empty strings, token longer
// than 8 KiB. The error text names the reason but never echoes token contents
// or claim values.
//
// Verified tokens are cached (bounded LRU) keyed by the SHA-256 of the token
// until they expire; a cached entry is rechecked against Now on every hit.
func (v *Verifier) Verify(token string) (Principal, error) {
	if len(token) > MaxTokenSize {
		return Principal{}, reject(errTooLarge)
	}
	if token == "" {
		return Principal{}, reject(errMalformed)
	}
	var key [sha256.Size]byte
	if v.cache != nil {
		key = tokenHash(token)
		if e, ok := v.cache.Get(key); ok {
			now := v.cfg.Now()
			if !now.Before(e.p.ExpiresAt.Add(v.cfg.Leeway)) {
				v.cache.Remove(key)
				return Principal{}, reject(errExpired)
			}
			if !e.notBefore.IsZero() && now.Before(e.notBefore.Add(-v.cfg.Leeway)) {
				return Principal{}, reject(errNotYetValid)
			}
			if now.Before(e.p.IssuedAt.Add(-v.cfg.Leeway)) {
				return Principal{}, reject(errIssuedFuture)
			}
			return e.p.clone(), nil
		}
	}

	e, err := v.verify(token)
	if err != nil {
		return Principal{}, err
	}
	if v.cache != nil {
		v.cache.Add(key, e)
	}
	return e.p.clone(), nil
}

// hashBufs holds scratch buffers for tokenHash: converting the token with
// []byte(token) would allocate and copy on every call, which is most of the
// cost of a cache hit.
var hashBufs = sync.Pool{New: func() any { return new([MaxTokenSize]byte) }}

// tokenHash returns the SHA-256 of token, which must be at most MaxTokenSize
// bytes long.
func tokenHash(token string) [sha256.Size]byte {
	buf := hashBufs.Get().(*[MaxTokenSize]byte)
	n := copy(buf[:], token)
	sum := sha256.Sum256(buf[:n])
	hashBufs.Put(buf)
	return sum
}

// verify does the full, uncached check.
func (v *Verifier) verify(token string) (cacheEntry, error) {
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyfunc)
	if err != nil {
		return cacheEntry{}, classify(tok, &c, err)
	}
	if !tok.Valid {
		return cacheEntry{}, reject(errInvalid)
	}

	// Checks the jwt parser does not make (it has already checked exp, nbf,
	// iat-in-the-future, iss and aud).
	if c.Subject == "" {
		return cacheEntry{}, reject(errMissingSub)
	}
	if c.IssuedAt == nil {
		return cacheEntry{}, reject(errMissingIat)
	}
	if len(c.Roles) == 0 || slices.Contains(c.Roles, "") {
		return cacheEntry{}, reject(errBadRoles)
	}
	iat, exp := c.IssuedAt.Time, c.ExpiresAt.Time
	lifetime := exp.Sub(iat)
	if lifetime < 0 {
		return cacheEntry{}, reject(errBadLifetime)
	}
	if lifetime > v.cfg.MaxTTL+v.cfg.Leeway {
		return cacheEntry{}, reject(errLifetime)
	}

	e := cacheEntry{p: Principal{
		Subject:   c.Subject,
		Roles:     policies.Roles(c.Roles),
		Team:      c.Team,
		TokenID:   c.ID,
		IssuedAt:  iat,
		ExpiresAt: exp,
	}}
	if c.NotBefore != nil {
		e.notBefore = c.NotBefore.Time
	}
	return e, nil
}

// keyfunc finds the key named by the token's kid and refuses it unless the
// token's alg is the one the key is pinned to.
func (v *Verifier) keyfunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errMissingKID
	}
	vk, ok := v.keys.lookup(kid)
	if !ok {
		return nil, errUnknownKID
	}
	if t.Method == nil || t.Method.Alg() != vk.alg {
		return nil, errAlgMismatch
	}
	return vk.key, nil
}

// reject wraps reasons in ErrUnauthenticated.
func reject(reasons ...error) error {
	switch len(reasons) {
	case 0:
		return fmt.Errorf("%w: %w", ErrUnauthenticated, errInvalid)
	case 1:
		return fmt.Errorf("%w: %w", ErrUnauthenticated, reasons[0])
	}
	msgs := make([]string, len(reasons))
	for i, r := range reasons {
		msgs[i] = r.Error()
	}
	return &reasonsError{msg: ErrUnauthenticated.Error() + ": " + strings.Join(msgs, ", "), reasons: append([]error{ErrUnauthenticated}, reasons...)}
}

// reasonsError is an ErrUnauthenticated with several reasons.
type reasonsError struct {
	msg     string
	reasons []error
}

func (e *reasonsError) Error() string   { return e.msg }
func (e *reasonsError) Unwrap() []error { return e.reasons }

// classify turns a jwt parser error into one that names the reasons with
// fixed text only: the parser's own messages can quote header values or JSON
// fragments of the token, so they are never passed on.
func classify(tok *jwt.Token, c *claims, err error) error {
	var reasons []error
	add := func(r error) {
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	// Our own keyfunc errors come wrapped inside ErrTokenUnverifiable.
	for _, r := range []error{errCritHeader, errMissingKID, errUnknownKID, errAlgMismatch} {
		if errors.Is(err, r) {
			add(r)
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		add(errMalformed)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && !slices.Contains(allowedAlgs, tok.Method.Alg()) {
			add(errAlgNotAllowed)
		} else {
			add(errBadSignature)
		}
	case errors.Is(err, jwt.ErrTokenUnverifiable) && len(reasons) == 0:
		// alg missing or not a known algorithm.
		add(errAlgNotAllowed)
	}
	if errors.Is(err, jwt.ErrTokenInvalidClaims) {
		if errors.Is(err, jwt.ErrTokenExpired) {
			add(errExpired)
		}
		if errors.Is(err, jwt.ErrTokenNotValidYet) {
			add(errNotYetValid)
		}
		if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
			add(errIssuedFuture)
		}
		if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
			add(errWrongIssuer)
		}
		if errors.Is(err, jwt.ErrTokenInvalidAudience) {
			add(errWrongAudience)
		}
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			if c.ExpiresAt == nil {
				add(errMissingExp)
			}
			if c.Issuer == "" {
				add(errMissingIss)
			}
			if len(c.Audience) == 0 || len(c.Audience) == 1 && c.Audience[0] == "" {
				add(errMissingAud)
			}
		}
	}
	return reject(reasons...)
}
