// Package authn owns caller authentication for Profile Vault: it verifies the
// bearer JWTs presented on every /v1 route and turns them into a Principal,
// and it mints tokens with the server's own Ed25519 development key for
// `vaultd token` and `vaultd demo`.
//
// Verification pins every key to one algorithm (EdDSA, ES256 or RS256), so
// "alg: none" and algorithm-confusion tokens (for example HS256 signed with
// the bytes of a public key) are rejected. Issuer, audience, expiry,
// not-before and issued-at are checked with a small leeway, token lifetimes
// are capped, and the roles claim must be a non-empty array of non-empty
// strings. Every failure wraps ErrUnauthenticated; the error text names the
// reason for server logs but never repeats the token or any claim value.
//
// Verified tokens are kept in a bounded LRU cache keyed by the SHA-256 of the
// token string, so a repeated token costs a hash and a map lookup instead of a
// signature check; a cached entry is still rechecked for expiry on every hit.
//
// The package knows nothing of HTTP: the middleware that reads the
// Authorization header lives elsewhere and calls ParseBearer and
// Verifier.Verify.
package authn
