package keys

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every secret-holding type prints, logs and marshals as.
const redacted = "[REDACTED]"

// secret is key material in memory. It formats, marshals and logs as "[REDACTED]".
type secret []byte

// String returns a redacted placeholder.
func (secret) String() string { return redacted }

// GoString returns a redacted placeholder.
func (secret) GoString() string { return redacted }

// Format writes a redacted placeholder for every verb.
func (secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns a redacted JSON string.
func (secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// LogValue returns a redacted slog value.
func (secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// wipe overwrites b with zeros.
func wipe(b []byte) { clear(b) }
