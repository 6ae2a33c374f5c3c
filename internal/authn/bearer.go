package authn

import (
	"errors"
	"fmt"
	"strings"
)

var (
	errNoCredentials = errors.New("missing bearer token")
	errBadHeader     = errors.New("malformed authorization header")
	errHeaderTooBig  = errors.New("authorization header too large")
)

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>". The scheme is matched case-insensitively, extra
// spaces around the token are tolerated, and headers longer than 8 KiB are
// refused. Every error wraps ErrUnauthenticated.
func ParseBearer(header string) (string, error) {
	if len(header) > MaxTokenSize {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, errHeaderTooBig)
	}
	h := strings.Trim(header, " \t")
	if h == "" {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, errNoCredentials)
	}
	const scheme = "bearer"
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) || (h[len(scheme)] != ' ' && h[len(scheme)] != '\t') {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, errBadHeader)
	}
	tok := strings.TrimLeft(h[len(scheme):], " \t")
	if tok == "" {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, errNoCredentials)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, errBadHeader)
	}
	return tok, nil
}
