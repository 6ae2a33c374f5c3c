package keys

import (
	"github.com/profilevault/profilevault/vault"
)

// VaultCrypto adapts the ring, the field cipher, the blind index and the pseudonymizer to the vault's
// Crypto and KeyRotator interfaces.
type VaultCrypto struct {
	ring   *Ring
	fields *FieldCipher
	index  *BlindIndex
	pseud  *Pseudonymizer
}

var (
	_ vault.Crypto     = (*VaultCrypto)(nil)
	_ vault.KeyRotator = (*VaultCrypto)(nil)
)

// NewVaultCrypto builds the adapter with a cache of up to cacheSize built ciphers.
func NewVaultCrypto(r *Ring, cacheSize int) (*VaultCrypto, error) {
	fc, err := NewFieldCipher(r, cacheSize)
	if err != nil {
		return nil, err
	}
	return &VaultCrypto{ring: r, fields: fc, index: r.BlindIndex(), pseud: r.Pseudonymizer()}, nil
}

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

// Seal implements vault.Crypto.
func (c *VaultCrypto) Seal(d vault.DEK, field string, plaintext []byte) ([]byte, error) {
	ref, w := refOf(d)
	return c.fields.Seal(ref, w, field, plaintext)
}

// Open implements vault.Crypto.
func (c *VaultCrypto) Open(d vault.DEK, field string, sealed []byte) ([]byte, error) {
	ref, w := refOf(d)
	return c.fields.Open(ref, w, field, sealed)
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

// Rotate implements vault.KeyRotator.
func (c *VaultCrypto) Rotate() (uint32, error) { return c.ring.Rotate() }

// Rewrap implements vault.KeyRotator.
func (c *VaultCrypto) Rewrap(d vault.DEK) (vault.DEK, error) {
	ref, w := refOf(d)
	nw, err := c.ring.Rewrap(ref, w)
	if err != nil {
		return vault.DEK{}, err
	}
	d.KEKVersion, d.Wrapped = nw.KEKVersion, nw.Ciphertext
	return d, nil
}

// Retire implements vault.KeyRotator.
func (c *VaultCrypto) Retire(inUse map[uint32]bool) ([]uint32, error) { return c.ring.Retire(inUse) }
