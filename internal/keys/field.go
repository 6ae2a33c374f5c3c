package keys

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

const (
	// fieldFormatV1 is the first byte of every sealed field value.
	fieldFormatV1 = 1
	// fieldHeaderSize is format byte + DEK version + nonce.
	fieldHeaderSize = 1 + 4 + nonceSize
	// fieldADLabel starts the associated data of a sealed field value.
	fieldADLabel = "pv-field-v1"
)

// fieldAD is the associated data of a sealed field value:
// "pv-field-v1" || u32be(len(subject)) || subject || u32be(len(class)) || class ||
// u32be(len(field)) || field || u32be(dekVersion).
func fieldAD(ref DEKRef, field string) []byte {
	b := make([]byte, 0, len(fieldADLabel)+16+len(ref.Subject)+len(ref.Class)+len(field))
	b = append(b, fieldADLabel...)
	b = appendLenPrefixed(b, ref.Subject)
	b = appendLenPrefixed(b, ref.Class)
	b = appendLenPrefixed(b, field)
	return binary.BigEndian.AppendUint32(b, ref.Version)
}

// cachedDEK is a built AEAD together with the wrapped DEK it was unwrapped from; it is only used
// for a request presenting that exact wrapped DEK.
type cachedDEK struct {
	kekVersion uint32
	wrapped    []byte
	aead       cipher.AEAD
}

// FieldCipher seals and opens single field values with a subject's DEK using AES-256-GCM with a
// random 12-byte nonce. The associated data binds the subject id, retention class, field name and
// DEK version, but not the KEK version, so a KEK rotation only rewraps DEKs. See the package
// documentation for the sealed format.
//
// Unwrapped DEKs are kept as built AEADs in a bounded LRU keyed by DEKRef, because unwrapping and
// building a cipher per field is far slower than sealing a short value. A cached AEAD is used
// only when the caller presents the same wrapped DEK it was built from. A DEK enters the cache on
// its second miss within a window of the cache's size (a doorkeeper, as in TinyLFU): a scan that
// opens one field of each of 100,000 subjects would otherwise push every DEK in use out of the
// cache, paying an insertion and an eviction for each DEK it never uses again. FieldCipher is safe
// for concurrent use.
type FieldCipher struct {
	ring *Ring

	mu        sync.Mutex
	lru       *simplelru.LRU[DEKRef, *cachedDEK]
	bySubject map[string]map[DEKRef]struct{} // index for Evict, maintained by the evict callback
	gen       uint64                         // bumped by Evict; fills started before a bump are dropped
	// missed holds the DEKs missed once since it was last cleared (when it reached the cache's size):
	// a second miss admits a DEK to the cache.
	missed map[DEKRef]struct{}
	window int

	// testHookAfterUnwrap, if set, runs between unwrapping a DEK and caching its AEAD (tests only).
	testHookAfterUnwrap func()
}

// NewFieldCipher returns a FieldCipher that unwraps DEKs with r and caches up to cacheSize built
// AEADs. It returns ErrInvalidArgument if r is nil or cacheSize is not positive.
func NewFieldCipher(r *Ring, cacheSize int) (*FieldCipher, error) {
	if r == nil {
		return nil, fmt.Errorf("keys: field cipher needs a ring: %w", ErrInvalidArgument)
	}
	if cacheSize <= 0 {
		return nil, fmt.Errorf("keys: field cipher cache size %d must be positive: %w", cacheSize, ErrInvalidArgument)
	}
	c := &FieldCipher{ring: r, bySubject: make(map[string]map[DEKRef]struct{}), missed: make(map[DEKRef]struct{}), window: cacheSize}
	lru, err := simplelru.NewLRU(cacheSize, c.onEvict)
	if err != nil {
		return nil, fmt.Errorf("keys: build DEK cache: %w", err)
	}
	c.lru = lru
	return c, nil
}

// Cached is how many built AEADs the cache holds.
func (c *FieldCipher) Cached() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// onEvict keeps bySubject in step with the LRU. It runs with c.mu held.
func (c *FieldCipher) onEvict(ref DEKRef, _ *cachedDEK) {
	refs := c.bySubject[ref.Subject]
	delete(refs, ref)
	if len(refs) == 0 {
		delete(c.bySubject, ref.Subject)
	}
}

// aead returns the AEAD of the DEK that w wraps for ref, from the cache or by unwrapping.
func (c *FieldCipher) aead(ref DEKRef, w WrappedDEK) (cipher.AEAD, error) {
	c.mu.Lock()
	if e, ok := c.lru.Get(ref); ok && e.kekVersion == w.KEKVersion && bytes.Equal(e.wrapped, w.Ciphertext) {
		c.mu.Unlock()
		return e.aead, nil
	}
	gen := c.gen
	c.mu.Unlock()

	if err := ref.validate(); err != nil {
		return nil, err
	}
	dek, err := c.ring.Unwrap(ref, w)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dek) // the AES key schedule is a copy
	wipe(dek)
	if err != nil {
		return nil, err
	}

	if c.testHookAfterUnwrap != nil {
		c.testHookAfterUnwrap()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.admit(ref) {
		return aead, nil
	}
	if c.gen == gen { // no Evict ran while we were unwrapping: safe to cache
		c.lru.Add(ref, &cachedDEK{
			kekVersion: w.KEKVersion,
			wrapped:    append([]byte(nil), w.Ciphertext...),
			aead:       aead,
		})
		refs := c.bySubject[ref.Subject]
		if refs == nil {
			refs = make(map[DEKRef]struct{}, 2)
			c.bySubject[ref.Subject] = refs
		}
		refs[ref] = struct{}{}
	}
	return aead, nil
}

// admit is the doorkeeper: it reports whether ref, just missed, enters the cache — on its second miss
// within the window. It runs with c.mu held.
func (c *FieldCipher) admit(ref DEKRef) bool {
	if _, again := c.missed[ref]; again {
		delete(c.missed, ref)
		return true
	}
	if len(c.missed) >= c.window {
		clear(c.missed)
	}
	c.missed[ref] = struct{}{}
	return false
}

// Seal encrypts plaintext as the value of field for the subject and class of ref, using the DEK
// that w wraps. It returns ErrInvalidArgument for an empty or over-long field name or an invalid
// ref, and the errors of Ring.Unwrap if the DEK cannot be unwrapped.
func (c *FieldCipher) Seal(ref DEKRef, w WrappedDEK, field string, plaintext []byte) ([]byte, error) {
	if field == "" || len(field) > maxNameLen {
		return nil, fmt.Errorf("keys: field name must be 1..%d bytes: %w", maxNameLen, ErrInvalidArgument)
	}
	aead, err := c.aead(ref, w)
	if err != nil {
		return nil, err
	}
	out := make([]byte, fieldHeaderSize, fieldHeaderSize+len(plaintext)+tagSize)
	out[0] = fieldFormatV1
	binary.BigEndian.PutUint32(out[1:5], ref.Version)
	nonce := out[5:fieldHeaderSize]
	_, _ = rand.Read(nonce)
	return aead.Seal(out, nonce, plaintext, fieldAD(ref, field)), nil
}

// Open decrypts a value sealed by Seal for the same ref and field. It returns ErrDecrypt if the
// value was tampered with or truncated, has an unknown format, or was sealed for another subject,
// class, field or DEK version; and the errors of Ring.Unwrap if the DEK cannot be unwrapped.
func (c *FieldCipher) Open(ref DEKRef, w WrappedDEK, field string, sealed []byte) ([]byte, error) {
	if field == "" || len(field) > maxNameLen {
		return nil, fmt.Errorf("keys: field name must be 1..%d bytes: %w", maxNameLen, ErrInvalidArgument)
	}
	if len(sealed) < fieldHeaderSize+tagSize || sealed[0] != fieldFormatV1 ||
		binary.BigEndian.Uint32(sealed[1:5]) != ref.Version {
		return nil, fmt.Errorf("keys: open field %q: %w", field, ErrDecrypt)
	}
	aead, err := c.aead(ref, w)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, sealed[5:fieldHeaderSize], sealed[fieldHeaderSize:], fieldAD(ref, field))
	if err != nil {
		return nil, fmt.Errorf("keys: open field %q: %w", field, ErrDecrypt)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// SealedDEKVersion returns the DEK version recorded in a sealed value's header, so a caller can
// pick the wrapped DEK to open it with. It returns ErrDecrypt if the value is too short or of an
// unknown format; the version is authenticated only by Open.
func SealedDEKVersion(sealed []byte) (uint32, error) {
	if len(sealed) < fieldHeaderSize+tagSize || sealed[0] != fieldFormatV1 {
		return 0, fmt.Errorf("keys: sealed value header: %w", ErrDecrypt)
	}
	return binary.BigEndian.Uint32(sealed[1:5]), nil
}

// Evict drops every cached AEAD of subject, for use on erasure: delete the subject's wrapped
// DEKs first, then call Evict. A Seal or Open that was unwrapping while Evict ran does not cache
// its AEAD. A call made after Evict by a caller that still holds a wrapped DEK unwraps (and may
// cache) again, but a cached AEAD only ever serves callers presenting that identical wrapped
// DEK, so it grants nothing to anyone who can no longer read the wrapped DEK from the store.
func (c *FieldCipher) Evict(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for ref := range c.bySubject[subject] {
		c.lru.Remove(ref) // onEvict updates bySubject
	}
	delete(c.bySubject, subject)
}

// Purge drops every cached AEAD.
func (c *FieldCipher) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Purge()
	clear(c.bySubject)
	clear(c.missed)
}

// Len returns the number of cached AEADs.
func (c *FieldCipher) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
