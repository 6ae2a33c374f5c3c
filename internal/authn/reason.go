package authn

import "errors"

// reasonCodes maps each refusal reason to a short, stable class for audit entries and metrics.
var reasonCodes = []struct {
	err  error
	code string
}{
	{errNoCredentials, "missing_token"},
	{errBadHeader, "malformed_header"},
	{errHeaderTooBig, "header_too_large"},
	{errTooLarge, "token_too_large"},
	{errExpired, "expired"},
	{errNotYetValid, "not_yet_valid"},
	{errIssuedFuture, "not_yet_valid"},
	{errWrongIssuer, "wrong_issuer"},
	{errWrongAudience, "wrong_audience"},
	{errUnknownKID, "unknown_key"},
	{errMissingKID, "unknown_key"},
	{errBadSignature, "bad_signature"},
	{errAlgNotAllowed, "algorithm_not_allowed"},
	{errAlgMismatch, "algorithm_not_allowed"},
	{errLifetime, "lifetime_too_long"},
	{errBadRoles, "bad_claims"},
	{errMissingExp, "bad_claims"},
	{errMissingIss, "bad_claims"},
	{errMissingAud, "bad_claims"},
	{errMissingIat, "bad_claims"},
	{errMissingSub, "bad_claims"},
	{errBadLifetime, "bad_claims"},
}

// Reason returns a short class of why err refused a token ("expired", "bad_signature", …), fit for an
// audit entry or a metric label: it never holds token contents. Unknown errors give "invalid_token".
func Reason(err error) string {
	for _, r := range reasonCodes {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "invalid_token"
}
