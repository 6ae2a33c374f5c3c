package keys

import "errors"

// Sentinel errors returned (wrapped with %w) by this package. Compare with errors.Is.
var (
	// ErrDecrypt means a ciphertext or wrapped DEK failed authentication: it was tampered with,
	// truncated, or presented with the wrong subject, class, field, DEK version or key.
	ErrDecrypt = errors.New("keys: decryption failed")

	// ErrKEKUnavailable means the KEK version a wrapped DEK names is unknown to the ring or retired.
	ErrKEKUnavailable = errors.New("keys: KEK version unavailable")

	// ErrInsecurePermissions means the ring file is accessible to group or other users.
	ErrInsecurePermissions = errors.New("keys: ring file permissions are too open")

	// ErrMalformedRing means the ring file exists but is not a valid ring document.
	ErrMalformedRing = errors.New("keys: malformed ring file")

	// ErrInvalidArgument means a DEKRef, field name, cache size or path argument is unusable
	// (for example an empty subject, class or field name).
	ErrInvalidArgument = errors.New("keys: invalid argument")
)
