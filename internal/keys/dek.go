package keys

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

const (
	// dekADLabel starts the associated data of a wrapped DEK.
	dekADLabel = "pv-dek-v1"
	// nonceSize is the GCM nonce size used everywhere in this package.
	nonceSize = 12
	// tagSize is the GCM tag size used everywhere in this package.
	tagSize = 16
	// wrappedSize is the length of WrappedDEK.Ciphertext: nonce || sealed DEK || tag.
	wrappedSize = nonceSize + keySize + tagSize
	// maxNameLen bounds subject ids, class names and field names (bytes).
	maxNameLen = 1024
)

// DEKRef names one data-encryption key: there is one DEK per subject and retention class
// ("general", "transactions", ...), and Version distinguishes successive DEKs of the same
// subject and class. Subject and Class must be non-empty and at most 1024 bytes.
type DEKRef struct {
	Subject string
	Class   string
	Version uint32
}

// validate reports ErrInvalidArgument for an unusable ref, without echoing its contents.
func (ref DEKRef) validate() error {
	switch {
	case ref.Subject == "" || len(ref.Subject) > maxNameLen:
		return fmt.Errorf("keys: DEKRef subject must be 1..%d bytes: %w", maxNameLen, ErrInvalidArgument)
	case ref.Class == "" || len(ref.Class) > maxNameLen:
		return fmt.Errorf("keys: DEKRef class must be 1..%d bytes: %w", maxNameLen, ErrInvalidArgument)
	}
	return nil
}

// appendLenPrefixed appends u32be(len(s)) || s.
func appendLenPrefixed(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// dekAD is the associated data binding a wrapped DEK to its ref:
// "pv-dek-v1" || u32be(len(subject)) || subject || u32be(len(class)) || class || u32be(version).
func dekAD(ref DEKRef) []byte {
	b := make([]byte, 0, len(dekADLabel)+12+len(ref.Subject)+len(ref.Class))
	b = append(b, dekADLabel...)
	b = appendLenPrefixed(b, ref.Subject)
	b = appendLenPrefixed(b, ref.Class)
	return binary.BigEndian.AppendUint32(b, ref.Version)
}

// WrappedDEK is a DEK sealed under one KEK version with AES-256-GCM: Ciphertext is
// nonce (12 bytes) || encrypted 32-byte DEK || tag (16 bytes), with the canonical encoding of its
// DEKRef as associated data, so a wrapped DEK moved to another subject, class or version fails
// to unwrap.
//
// WrappedDEK prints, logs and marshals to JSON in a redacted form; persist it explicitly from its
// fields or with MarshalBinary/UnmarshalBinary.
type WrappedDEK struct {
	KEKVersion uint32
	Ciphertext []byte
}

// NewDEK generates a fresh random 32-byte DEK for ref and returns it wrapped under the active KEK.
func (r *Ring) NewDEK(ref DEKRef) (WrappedDEK, error) {
	if err := ref.validate(); err != nil {
		return WrappedDEK{}, err
	}
	dek := randomKey()
	defer wipe(dek)
	_, _ = r.refresh(refreshEvery) // another process's rotation; a file that cannot be read keeps this ring
	r.mu.RLock()
	k := r.keks[r.active]
	r.mu.RUnlock()
	return wrap(k, ref, dek), nil
}

// wrap seals dek for ref under k.
func wrap(k *kek, ref DEKRef, dek []byte) WrappedDEK {
	out := make([]byte, nonceSize, wrappedSize)
	_, _ = rand.Read(out)
	out = k.aead.Seal(out, out[:nonceSize], dek, dekAD(ref))
	return WrappedDEK{KEKVersion: k.version, Ciphertext: out}
}

// Unwrap returns the 32-byte DEK that w holds for ref. It returns ErrKEKUnavailable if w names a
// KEK version the ring does not hold (unknown or purged; a retired version still unwraps) and ErrDecrypt if w fails
// authentication, including when w belongs to another subject, class or DEK version. The caller
// owns the returned slice and should clear it when done.
func (r *Ring) Unwrap(ref DEKRef, w WrappedDEK) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, err
	}
	r.mu.RLock()
	k := r.keks[w.KEKVersion]
	r.mu.RUnlock()
	if k == nil {
		// Rotated by another process sharing the ring file? Take its versions.
		if _, err := r.refresh(0); err != nil {
			return nil, fmt.Errorf("keys: unwrap DEK under KEK version %d, which this ring lacks; re-reading %s: %w", w.KEKVersion, r.path, err)
		}
		r.mu.RLock()
		k = r.keks[w.KEKVersion]
		r.mu.RUnlock()
	}
	if k == nil {
		return nil, fmt.Errorf("keys: unwrap DEK under KEK version %d, which %s does not hold (rotated by another node? give every node the same ring file): %w",
			w.KEKVersion, r.path, ErrKEKUnavailable)
	}
	if k.aead == nil {
		return nil, fmt.Errorf("keys: unwrap DEK under KEK version %d: %w", w.KEKVersion, ErrKEKUnavailable)
	}
	return unwrap(k, ref, w)
}

// unwrap opens w for ref under k.
func unwrap(k *kek, ref DEKRef, w WrappedDEK) ([]byte, error) {
	if len(w.Ciphertext) != wrappedSize {
		return nil, fmt.Errorf("keys: unwrap DEK: wrapped DEK has the wrong length: %w", ErrDecrypt)
	}
	ct := w.Ciphertext
	dek, err := k.aead.Open(make([]byte, 0, keySize+tagSize), ct[:nonceSize], ct[nonceSize:], dekAD(ref))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap DEK: %w", ErrDecrypt)
	}
	return dek, nil
}

// Rewrap unwraps w and wraps the same DEK under the active KEK, for moving DEKs off a KEK version
// before retiring it. If w is already under the active version it is verified and a copy is
// returned unchanged. Errors are those of Unwrap.
func (r *Ring) Rewrap(ref DEKRef, w WrappedDEK) (WrappedDEK, error) {
	if err := ref.validate(); err != nil {
		return WrappedDEK{}, err
	}
	r.mu.RLock()
	from, to := r.keks[w.KEKVersion], r.keks[r.active]
	r.mu.RUnlock()
	if from == nil || from.aead == nil {
		return WrappedDEK{}, fmt.Errorf("keys: rewrap DEK from KEK version %d: %w", w.KEKVersion, ErrKEKUnavailable)
	}
	dek, err := unwrap(from, ref, w)
	if err != nil {
		return WrappedDEK{}, err
	}
	defer wipe(dek)
	if from == to {
		return WrappedDEK{KEKVersion: w.KEKVersion, Ciphertext: append([]byte(nil), w.Ciphertext...)}, nil
	}
	return wrap(to, ref, dek), nil
}

// MarshalBinary encodes w as u32be(KEKVersion) || Ciphertext, for storing it in one column.
func (w WrappedDEK) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 4+len(w.Ciphertext))
	b = binary.BigEndian.AppendUint32(b, w.KEKVersion)
	return append(b, w.Ciphertext...), nil
}

// UnmarshalBinary decodes the encoding produced by MarshalBinary. It returns ErrInvalidArgument
// for an input shorter than the version prefix; authenticity is only checked by Unwrap.
func (w *WrappedDEK) UnmarshalBinary(data []byte) error {
	if len(data) < 4 {
		return fmt.Errorf("keys: wrapped DEK encoding too short: %w", ErrInvalidArgument)
	}
	w.KEKVersion = binary.BigEndian.Uint32(data)
	w.Ciphertext = append([]byte(nil), data[4:]...)
	return nil
}

// describe is the redacted description shared by String, GoString and Format.
func (w WrappedDEK) describe() string {
	return fmt.Sprintf("keys.WrappedDEK{KEKVersion: %d, Ciphertext: %s}", w.KEKVersion, redacted)
}

// String returns the KEK version with the ciphertext redacted.
func (w WrappedDEK) String() string { return w.describe() }

// GoString returns the KEK version with the ciphertext redacted.
func (w WrappedDEK) GoString() string { return w.describe() }

// Format writes the KEK version with the ciphertext redacted, whatever the verb.
func (w WrappedDEK) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, w.describe()) }

// MarshalJSON returns the KEK version with the ciphertext redacted, so a wrapped DEK cannot leak
// into an API response or log by accident. Use MarshalBinary to persist it.
func (w WrappedDEK) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		KEKVersion uint32 `json:"kek_version"`
		Ciphertext string `json:"ciphertext"`
	}{w.KEKVersion, redacted})
}

// LogValue returns the KEK version with the ciphertext redacted.
func (w WrappedDEK) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("kek_version", w.KEKVersion), slog.String("ciphertext", redacted))
}
