// Package keys owns the vault's envelope encryption: the versioned key-encryption-key (KEK) ring,
// per-subject data-encryption keys (DEKs) wrapped under a KEK, field-level AES-256-GCM sealing with
// those DEKs, deterministic blind-index tokens for lookups, keyed pseudonyms for audit subject
// references, and the sealer of audit notes. Values are put into canonical form before they are
// blind-indexed by internal/normalize.
//
// # Key hierarchy
//
//	Ring (one JSON file, 0600)
//	├── KEK v1, v2, … (AES-256; the highest is active, older ones only unwrap until retired)
//	│     └── wraps one DEK per subject and retention class (DEKRef{Subject, Class, Version})
//	│           └── seals every field value of that subject and class (FieldCipher)
//	├── index root key  ──HKDF──► one HMAC-SHA256 key per field (BlindIndex); never rotated with the KEK
//	└── pseudonym root key ──HKDF──► HMAC-SHA256 key for audit pseudonyms (Pseudonymizer); never rotated
//
// A KEK rotation only rewraps DEKs: field ciphertext binds the DEK version, never the KEK version.
// Erasing a subject means deleting its wrapped DEKs and calling FieldCipher.Evict, after which no
// copy of that subject's field ciphertext can be opened.
//
// # Ring file format
//
// The ring is persisted as one JSON document, written atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory) with mode 0600 in a directory created 0700:
//
//	{
//	  "format": 1,
//	  "active": 2,
//	  "keks": [
//	    {"version": 1, "key": "<standard base64 of 32 bytes>", "created_at": "2025-01-02T03:04:05Z"},
//	    {"version": 2, "key": "<standard base64 of 32 bytes>", "created_at": "2025-06-01T00:00:00Z"}
//	  ],
//	  "index_key": "<standard base64 of 32 bytes>",
//	  "pseudonym_key": "<standard base64 of 32 bytes>"
//	}
//
// Rules enforced on load (a violation is ErrMalformedRing, and the file is never overwritten):
// format is 1; unknown members and trailing data are rejected; versions are non-zero and unique;
// every key is exactly 32 bytes; created_at is set; active names a listed KEK and is the highest
// version. A file whose mode grants any permission to group or other is refused with
// ErrInsecurePermissions. Retired versions simply disappear from "keks".
//
// # Wrapped DEK format
//
// WrappedDEK.Ciphertext is nonce (12 bytes) || AES-256-GCM ciphertext of the 32-byte DEK || tag
// (16 bytes), 60 bytes in all, sealed under KEK WrappedDEK.KEKVersion with associated data
//
//	"pv-dek-v1" || u32be(len(subject)) || subject || u32be(len(class)) || class || u32be(dekVersion)
//
// so a wrapped DEK copied to another subject, class or DEK version does not unwrap.
//
// # Sealed field format
//
//	offset 0      1 byte   format version, always 1
//	offset 1      4 bytes  DEK version, big-endian
//	offset 5     12 bytes  random GCM nonce
//	offset 17     n+16     AES-256-GCM ciphertext of the n-byte value, followed by the 16-byte tag
//
// with associated data
//
//	"pv-field-v1" || u32be(len(subject)) || subject || u32be(len(class)) || class ||
//	u32be(len(field)) || field || u32be(dekVersion)
//
// Every variable-length part is length-prefixed, so no two (subject, class, field, version)
// tuples share an encoding. Random 96-bit nonces keep the usual GCM bound: do not seal more than
// 2^32 values under one DEK (rotate the subject's DEK version long before that).
//
// # Secrets in logs
//
// Ring, BlindIndex, Pseudonymizer and WrappedDEK implement fmt.Formatter, fmt.Stringer,
// fmt.GoStringer, json.Marshaler and slog.LogValuer with redacted output, so key material cannot
// be printed, logged or serialised by accident. Errors never contain key material or the values
// being sealed or normalised.
package keys
