package keys

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// NoteSealer encrypts the free text kept beside audit entries (justifications), so that only its hash is in
// the tamper-evident leaf. Its AES-256-GCM key is derived with HKDF-SHA256 from the ring's index root key
// under its own label, so it is independent of the blind-index keys and of KEK rotation (old notes stay
// readable after a rotation). Sealed format: 12-byte nonce || ciphertext+tag; the associated data is
// supplied by the caller (the entry's justification hash).
type NoteSealer struct {
	aead cipher.AEAD
}

const notesInfo = "profile-vault audit-notes v1"

func newNoteSealer(root []byte) (*NoteSealer, error) {
	k, err := hkdf.Key(sha256.New, root, nil, notesInfo, keySize)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(k)
	if err != nil {
		return nil, err
	}
	return &NoteSealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to ad.
func (n *NoteSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, n.aead.NonceSize(), n.aead.NonceSize()+len(plaintext)+n.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return n.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts a note sealed by Seal with the same ad.
func (n *NoteSealer) Open(sealed, ad []byte) ([]byte, error) {
	ns := n.aead.NonceSize()
	if len(sealed) < ns+n.aead.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := n.aead.Open(nil, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return nil, errors.Join(ErrDecrypt, err)
	}
	return pt, nil
}

// String hides the key.
func (n *NoteSealer) String() string { return "keys.NoteSealer{REDACTED}" }
