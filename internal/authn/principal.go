package authn

import (
	"context"
	"slices"
	"time"

	"github.com/profilevault/profilevault/policies"
)

// Principal is the authenticated caller.
type Principal struct {
	// Subject is the token's "sub" claim: the staff member, service or data
	// subject the token was issued to.
	Subject string
	// Roles is the token's "roles" claim; it is never empty in a verified token.
	Roles []policies.Role
	// Team is the token's optional "team" claim.
	Team string
	// TokenID is the token's "jti" claim, empty when the issuer did not set one.
	TokenID string
	// IssuedAt is the token's "iat" claim.
	IssuedAt time.Time
	// ExpiresAt is the token's "exp" claim.
	ExpiresAt time.Time
}

// HasRole reports whether the principal holds the named role.
func (p Principal) HasRole(role policies.Role) bool {
	return slices.Contains(p.Roles, role)
}

// clone returns a copy of p that shares no mutable memory with it.
func (p Principal) clone() Principal {
	p.Roles = slices.Clone(p.Roles)
	return p
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored in ctx by NewContext, and whether
// there was one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
