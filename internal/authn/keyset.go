package authn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Algorithms a key may be pinned to.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// minRSABits is the smallest RSA modulus accepted for RS256 keys.
const minRSABits = 2048

// ErrDuplicateKeyID reports an attempt to register a second, different key
// under a kid that is already in the KeySet.
var ErrDuplicateKeyID = errors.New("duplicate key id")

// verificationKey is a public key pinned to the one algorithm it may verify.
type verificationKey struct {
	alg string
	key any // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
}

// KeySet maps kid → verification key with its pinned algorithm. It is safe
// for concurrent use; keys can be added but never removed or replaced.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]verificationKey
}

// NewKeySet returns an empty KeySet.
func NewKeySet() *KeySet {
	return &KeySet{keys: make(map[string]verificationKey)}
}

// AddEd25519 registers an Ed25519 public key under kid, pinned to EdDSA.
// Adding the same key under the same kid again is a no-op; a different key
// under an existing kid fails with ErrDuplicateKeyID.
func (k *KeySet) AddEd25519(kid string, pub ed25519.PublicKey) error {
	if kid == "" {
		return fmt.Errorf("%w: empty kid", ErrMalformedKey)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: ed25519 public key has the wrong length", ErrMalformedKey)
	}
	return k.add(map[string]verificationKey{kid: {alg: AlgEdDSA, key: ed25519.PublicKey(bytes.Clone(pub))}})
}

// keysFile is the JSON layout of a VAULT_JWT_KEYS file.
type keysFile struct {
	Keys []struct {
		KID          string `json:"kid"`
		Alg          string `json:"alg"`
		PublicKeyPEM string `json:"public_key_pem"`
	} `json:"keys"`
}

// AddFromFile registers the keys of external identity providers from a JSON
// file (VAULT_JWT_KEYS) of the form
//
//	{"keys":[{"kid":"...","alg":"EdDSA|ES256|RS256","public_key_pem":"-----BEGIN PUBLIC KEY-----..."}]}
//
// Each key is pinned to its alg, and its type must match it (an Ed25519 key
// for EdDSA, a P-256 key for ES256, an RSA key of at least 2048 bits for
// RS256). The file is applied all or nothing.
func (k *KeySet) AddFromFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open jwt keys file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return fmt.Errorf("read jwt keys file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return fmt.Errorf("%w: jwt keys file %s is too large", ErrMalformedKey, path)
	}
	var kf keysFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return fmt.Errorf("%w: jwt keys file %s is not valid JSON of the form {\"keys\":[...]}", ErrMalformedKey, path)
	}
	if len(kf.Keys) == 0 {
		return fmt.Errorf("%w: jwt keys file %s lists no keys", ErrMalformedKey, path)
	}
	add := make(map[string]verificationKey, len(kf.Keys))
	for i, e := range kf.Keys {
		if e.KID == "" {
			return fmt.Errorf("%w: jwt keys file %s: key %d has no kid", ErrMalformedKey, path, i)
		}
		if _, dup := add[e.KID]; dup {
			return fmt.Errorf("%w: jwt keys file %s: kid of key %d appears twice", ErrDuplicateKeyID, path, i)
		}
		vk, err := parsePublicKey(e.Alg, e.PublicKeyPEM)
		if err != nil {
			return fmt.Errorf("jwt keys file %s: key %d: %w", path, i, err)
		}
		add[e.KID] = vk
	}
	if err := k.add(add); err != nil {
		return fmt.Errorf("jwt keys file %s: %w", path, err)
	}
	return nil
}

// parsePublicKey decodes a PEM "PUBLIC KEY" (PKIX) block and checks that the
// key suits alg.
func parsePublicKey(alg, pemText string) (verificationKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		return verificationKey{}, fmt.Errorf("%w: public_key_pem is not a PEM \"PUBLIC KEY\" block", ErrMalformedKey)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return verificationKey{}, fmt.Errorf("%w: public_key_pem is not a PKIX public key", ErrMalformedKey)
	}
	switch alg {
	case AlgEdDSA:
		if pub, ok := key.(ed25519.PublicKey); ok {
			return verificationKey{alg: alg, key: pub}, nil
		}
	case AlgES256:
		if pub, ok := key.(*ecdsa.PublicKey); ok && pub.Curve == elliptic.P256() {
			return verificationKey{alg: alg, key: pub}, nil
		}
	case AlgRS256:
		if pub, ok := key.(*rsa.PublicKey); ok {
			if pub.N.BitLen() < minRSABits {
				return verificationKey{}, fmt.Errorf("%w: RSA key shorter than %d bits", ErrMalformedKey, minRSABits)
			}
			return verificationKey{alg: alg, key: pub}, nil
		}
	default:
		return verificationKey{}, fmt.Errorf("%w: alg must be %s, %s or %s", ErrMalformedKey, AlgEdDSA, AlgES256, AlgRS256)
	}
	return verificationKey{}, fmt.Errorf("%w: key type does not match alg %s", ErrMalformedKey, alg)
}

// add registers all of keys or none of them.
func (k *KeySet) add(keys map[string]verificationKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for kid, vk := range keys {
		if old, ok := k.keys[kid]; ok && !sameKey(old, vk) {
			return fmt.Errorf("%w: a different key is already registered under that kid", ErrDuplicateKeyID)
		}
	}
	for kid, vk := range keys {
		k.keys[kid] = vk
	}
	return nil
}

// sameKey reports whether two pinned keys are identical.
func sameKey(a, b verificationKey) bool {
	if a.alg != b.alg {
		return false
	}
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	ea, ok := a.key.(equaler)
	return ok && ea.Equal(b.key)
}

// lookup returns the key registered under kid.
func (k *KeySet) lookup(kid string) (verificationKey, bool) {
	k.mu.RLock()
	vk, ok := k.keys[kid]
	k.mu.RUnlock()
	return vk, ok
}

// Len returns the number of keys in the set.
func (k *KeySet) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}
