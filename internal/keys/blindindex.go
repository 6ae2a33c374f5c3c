package keys

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
)

const (
	// blindIndexInfo prefixes the HKDF info of every per-field blind-index key.
	blindIndexInfo = "profile-vault blind-index v1 "
	// pseudonymInfo is the HKDF info of the pseudonym HMAC key.
	pseudonymInfo = "profile-vault pseudonym v1"
	// maxCachedFields bounds the per-field key cache of a BlindIndex; keys of further fields are
	// derived on every call.
	maxCachedFields = 256
	// pseudonymPrefix starts every pseudonym.
	pseudonymPrefix = "ps_"
	// pseudonymBytes is how much of the HMAC a pseudonym keeps (160 bits, 32 base32 characters).
	pseudonymBytes = 20
)

// lowerBase32 is RFC 4648 base32 with a lower-case alphabet and no padding.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// hmacPool hands out reusable HMAC-SHA256 states for one key.
type hmacPool struct {
	key  secret
	pool sync.Pool
}

func newHMACPool(key []byte) *hmacPool {
	p := &hmacPool{key: key}
	p.pool.New = func() any { return hmac.New(sha256.New, p.key) }
	return p
}

// sum returns HMAC-SHA256(key, msg).
func (p *hmacPool) sum(msg string) []byte {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, msg)
	out := h.Sum(make([]byte, 0, sha256.Size))
	p.pool.Put(h)
	return out
}

// deriveKey runs HKDF-SHA256 over root with no salt and the given info.
func deriveKey(root []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, root, nil, info, keySize)
	if err != nil {
		// Only possible for an output longer than 255 hash blocks.
		panic("keys: HKDF: " + err.Error())
	}
	return k
}

// BlindIndex computes deterministic search tokens for exact-match lookups of encrypted fields:
// HMAC-SHA256 of the normalised value under a per-field key derived with HKDF-SHA256 from the
// ring's index root key (info "profile-vault blind-index v1 " + field). The index root key is
// independent of KEK rotation, so tokens stay valid across rotations. Normalise values (for
// example with normalize.Phone) before computing tokens. BlindIndex is safe for concurrent use and
// never reveals key material through fmt, encoding/json or log/slog.
type BlindIndex struct {
	s *blindIndexState
}

type blindIndexState struct {
	root   secret
	mu     sync.RWMutex
	fields map[string]*hmacPool
}

func newBlindIndex(root []byte) (*BlindIndex, error) {
	if len(root) != keySize {
		return nil, fmt.Errorf("keys: index key is not %d bytes: %w", keySize, ErrInvalidArgument)
	}
	return &BlindIndex{s: &blindIndexState{root: root, fields: make(map[string]*hmacPool)}}, nil
}

// fieldPool returns the HMAC pool of field, deriving its key on first use.
func (b *BlindIndex) fieldPool(field string) *hmacPool {
	s := b.s
	s.mu.RLock()
	p := s.fields[field]
	s.mu.RUnlock()
	if p != nil {
		return p
	}
	p = newHMACPool(deriveKey(s.root, blindIndexInfo+field))
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.fields[field]; q != nil {
		return q
	}
	if len(s.fields) < maxCachedFields {
		s.fields[field] = p
	}
	return p
}

// Token returns the 32-byte blind-index token of a normalised value of field. Equal inputs give
// equal tokens; the same value under different field names gives unrelated tokens.
func (b *BlindIndex) Token(field, normalized string) []byte {
	return b.fieldPool(field).sum(normalized)
}

// String returns a redacted placeholder.
func (b *BlindIndex) String() string { return "keys.BlindIndex{" + redacted + "}" }

// GoString returns a redacted placeholder.
func (b *BlindIndex) GoString() string { return b.String() }

// Format writes a redacted placeholder, whatever the verb.
func (b *BlindIndex) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, b.String()) }

// MarshalJSON returns a redacted JSON string.
func (b *BlindIndex) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// LogValue returns a redacted slog value.
func (b *BlindIndex) LogValue() slog.Value { return slog.StringValue(b.String()) }

// Pseudonymizer derives stable pseudonyms for data subjects, for audit entries that must refer to
// a subject without naming it: a keyed HMAC-SHA256 under a key derived with HKDF-SHA256 from the
// ring's pseudonym root key, which KEK rotation never changes. It is safe for concurrent use and
// never reveals key material through fmt, encoding/json or log/slog.
type Pseudonymizer struct {
	s *pseudonymState
}

type pseudonymState struct {
	root secret
	mac  *hmacPool
}

func newPseudonymizer(root []byte) (*Pseudonymizer, error) {
	if len(root) != keySize {
		return nil, fmt.Errorf("keys: pseudonym key is not %d bytes: %w", keySize, ErrInvalidArgument)
	}
	return &Pseudonymizer{s: &pseudonymState{root: root, mac: newHMACPool(deriveKey(root, pseudonymInfo))}}, nil
}

// Pseudonym returns "ps_" followed by the first 20 bytes of HMAC-SHA256(subjectID) in lower-case
// base32 without padding (35 characters in all). The same subject always gets the same pseudonym
// under one ring.
func (p *Pseudonymizer) Pseudonym(subjectID string) string {
	sum := p.s.mac.sum(subjectID)
	return pseudonymPrefix + lowerBase32.EncodeToString(sum[:pseudonymBytes])
}

// String returns a redacted placeholder.
func (p *Pseudonymizer) String() string { return "keys.Pseudonymizer{" + redacted + "}" }

// GoString returns a redacted placeholder.
func (p *Pseudonymizer) GoString() string { return p.String() }

// Format writes a redacted placeholder, whatever the verb.
func (p *Pseudonymizer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// MarshalJSON returns a redacted JSON string.
func (p *Pseudonymizer) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// LogValue returns a redacted slog value.
func (p *Pseudonymizer) LogValue() slog.Value { return slog.StringValue(p.String()) }
