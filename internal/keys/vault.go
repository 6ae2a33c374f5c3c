package keys

import (
	"errors"
	"fmt"

	"github.com/profilevault/profilevault/vault"
)

// VaultCrypto adapts the ring, the field cipher, the blind index and the pseudonymizer to the vault's
// Crypto and KeyRing interfaces.
type VaultCrypto struct {
	ring   *Ring
	fields *FieldCipher
	index  *BlindIndex
	pseud  *Pseudonymizer
}

var (
	_ vault.Crypto  = (*VaultCrypto)(nil)
	_ vault.KeyRing = (*VaultCrypto)(nil)
)

// NewVaultCrypto builds the adapter with a cache of up to cacheSize built ciphers.
func NewVaultCrypto(r *Ring, cacheSize int) (*VaultCrypto, error) {
	fc, err := NewFieldCipher(r, cacheSize)
	if err != nil {
		return nil, err
	}
	return &VaultCrypto{ring: r, fields: fc, index: r.BlindIndex(), pseud: r.Pseudonymizer()}, nil
}

// CachedDEKs is how many unwrapped DEKs (built AEADs) are cached.
func (c *VaultCrypto) CachedDEKs() int { return c.fields.Cached() }

func refOf(d vault.DEK) (DEKRef, WrappedDEK) {
	return DEKRef{Subject: d.Subject, Class: d.Class, Version: d.Version}, WrappedDEK{KEKVersion: d.KEKVersion, Ciphertext: d.Wrapped}
}

// NewDEK implements vault.Crypto.
func (c *VaultCrypto) NewDEK(subject, class string, version uint32) (vault.DEK, error) {
	w, err := c.ring.NewDEK(DEKRef{Subject: subject, Class: class, Version: version})
	if err != nil {
		return vault.DEK{}, err
	}
	return vault.DEK{Subject: subject, Class: class, Version: version, KEKVersion: w.KEKVersion, Wrapped: w.Ciphertext}, nil
}

// Seal implements vault.Crypto: vault.ErrKEKMissing if d is wrapped under a KEK version the ring lacks.
func (c *VaultCrypto) Seal(d vault.DEK, field string, plaintext []byte) ([]byte, error) {
	ref, w := refOf(d)
	out, err := c.fields.Seal(ref, w, field, plaintext)
	return out, vaultKeyErr(err)
}

// Open implements vault.Crypto: vault.ErrKEKMissing if d is wrapped under a KEK version the ring lacks (a
// node with a copy of a ring rotated elsewhere), which the vault answers as unavailable, not internal.
func (c *VaultCrypto) Open(d vault.DEK, field string, sealed []byte) ([]byte, error) {
	ref, w := refOf(d)
	out, err := c.fields.Open(ref, w, field, sealed)
	return out, vaultKeyErr(err)
}

// Forget implements vault.Crypto.
func (c *VaultCrypto) Forget(subject string) { c.fields.Evict(subject) }

// BlindToken implements vault.Crypto.
func (c *VaultCrypto) BlindToken(field, normalized string) []byte {
	return c.index.Token(field, normalized)
}

// Pseudonym implements vault.Crypto.
func (c *VaultCrypto) Pseudonym(id string) string { return c.pseud.Pseudonym(id) }

// SealNote implements vault.Crypto.
func (c *VaultCrypto) SealNote(plaintext, ad []byte) ([]byte, error) {
	return c.ring.NoteSealer().Seal(plaintext, ad)
}

// OpenNote implements vault.Crypto.
func (c *VaultCrypto) OpenNote(sealed, ad []byte) ([]byte, error) {
	return c.ring.NoteSealer().Open(sealed, ad)
}

// Rotate implements vault.KeyRing.
func (c *VaultCrypto) Rotate() (uint32, error) { return c.ring.Rotate() }

// ActiveVersion implements vault.KeyRing.
func (c *VaultCrypto) ActiveVersion() uint32 { return c.ring.ActiveVersion() }

// KEKs implements vault.KeyRing.
func (c *VaultCrypto) KEKs() []vault.KEKState {
	infos := c.ring.KEKs()
	out := make([]vault.KEKState, len(infos))
	for i, k := range infos {
		out[i] = kekState(k)
	}
	return out
}

// kekState converts a ring version's description to the vault's.
func kekState(k KEKInfo) vault.KEKState {
	st := vault.KEKState{Version: k.Version, Active: k.Active, CreatedAt: k.CreatedAt}
	if !k.RetiredAt.IsZero() {
		t := k.RetiredAt
		st.RetiredAt = &t
	}
	if !k.PurgedAt.IsZero() {
		t := k.PurgedAt
		st.PurgedAt = &t
	}
	return st
}

// Rewrap implements vault.KeyRing.
func (c *VaultCrypto) Rewrap(d vault.DEK) (vault.DEK, error) {
	ref, w := refOf(d)
	nw, err := c.ring.Rewrap(ref, w)
	if err != nil {
		return vault.DEK{}, vaultKeyErr(err)
	}
	d.KEKVersion, d.Wrapped = nw.KEKVersion, nw.Ciphertext
	return d, nil
}

// CheckDEK implements vault.KeyRing.
func (c *VaultCrypto) CheckDEK(d vault.DEK) error {
	ref, w := refOf(d)
	dek, err := c.ring.Unwrap(ref, w)
	if err != nil {
		return vaultKeyErr(err)
	}
	wipe(dek)
	return nil
}

// vaultKeyErr marks a missing KEK version with vault.ErrKEKMissing, keeping the ring's error (nil stays nil).
func vaultKeyErr(err error) error {
	if errors.Is(err, ErrKEKUnavailable) {
		return fmt.Errorf("%w: %w", vault.ErrKEKMissing, err)
	}
	return err
}

// Retire implements vault.KeyRing.
func (c *VaultCrypto) Retire(versions []uint32) error { return c.ring.Retire(versions) }

// Purge implements vault.KeyRing.
//
// The ring's previous copy is made the purged ring too (Ring.ForgetPrevious): the vault purges only
// versions no DEK uses, and what it destroys must not stay in a file beside the ring.
func (c *VaultCrypto) Purge(versions []uint32) error {
	if err := c.ring.Purge(versions); err != nil {
		return err
	}
	return c.ring.ForgetPrevious()
}
