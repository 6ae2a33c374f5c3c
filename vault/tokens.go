package vault

import (
	"context"
	"maps"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Token revocation: a token is refused from the request after it is revoked, by its id (jti) or as one of
// a subject's tokens issued before a time (a leaked account, a person leaving). Revocations are stored, so
// they survive restarts, and checked on every request from memory; the nodes of a shared database read
// them again whenever one of them records one (LoadRevocations).

// ActionTokenRevoke records a revocation.
const ActionTokenRevoke Action = "token.revoke"

// Revocation revokes the token TokenID, or every token of Subject issued before Before.
type Revocation struct {
	TokenID string
	Subject string
	Before  time.Time
	At      time.Time
	By      string
}

// RevocationStore reads every revocation.
type RevocationStore interface {
	Revocations(ctx context.Context) ([]Revocation, error)
}

// RevocationTx stores a revocation.
type RevocationTx interface {
	PutRevocation(r Revocation) error
}

// tokenIDPattern is what a jti named in a revocation may hold (empty when the revocation names a sub).
var tokenIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)

// revocations is the in-memory view every request is checked against.
type revocations struct {
	tokens   map[string]bool
	subjects map[string]time.Time // tokens issued before the time are revoked
}

// with is a copy of r with x added: the published view is never changed in place.
func (r *revocations) with(x ...Revocation) *revocations {
	out := &revocations{tokens: map[string]bool{}, subjects: map[string]time.Time{}}
	if r != nil {
		maps.Copy(out.tokens, r.tokens)
		maps.Copy(out.subjects, r.subjects)
	}
	for _, x := range x {
		if x.TokenID != "" {
			out.tokens[x.TokenID] = true
		}
		if x.Subject != "" && x.Before.After(out.subjects[x.Subject]) {
			out.subjects[x.Subject] = x.Before
		}
	}
	return out
}

// LoadRevocations reads the stored revocations into the view requests are checked against: at start, and
// on a node of a shared database whenever another node records one. Revocations are only ever added, so
// the view takes the union: one this node published while the read was in flight is never dropped.
func (s *Service) LoadRevocations(ctx context.Context) error {
	if s.stores.revocations == nil {
		return nil
	}
	rows, err := s.stores.revocations.Revocations(ctx)
	if err != nil {
		return internalErr("read revocations", err)
	}
	s.publishRevocations(rows...)
	return nil
}

// publishRevocations adds revocations to the view later requests see.
func (s *Service) publishRevocations(x ...Revocation) {
	for {
		old := s.revoked.Load()
		if s.revoked.CompareAndSwap(old, old.with(x...)) {
			return
		}
	}
}

// TokenRevoked reports whether a verified token has been revoked: its id, or its subject's tokens issued at
// or before a revocation's time (issue times have whole seconds: a token from the revocation's own second is
// revoked too). A token without an issue time counts as issued at the epoch.
func (s *Service) TokenRevoked(tokenID, subject string, issuedAt time.Time) bool {
	r := s.revoked.Load()
	if r == nil {
		return false
	}
	if tokenID != "" && r.tokens[tokenID] {
		return true
	}
	before, ok := r.subjects[subject]
	return ok && !issuedAt.After(before)
}

// RevokeTokens revokes a token by id, or a subject's tokens issued before a time (zero: now); admin only.
// It takes effect for the very next request.
func (s *Service) RevokeTokens(ctx context.Context, a Access, x Revocation) (int64, error) {
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionTokenRevoke, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceTokens, policies.ActRevoke) {
		return 0, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not revoke tokens"))
	}
	switch {
	case (x.TokenID == "") == (x.Subject == ""):
		return 0, s.refuseInvalid(ctx, a, ActionTokenRevoke, "", Errorf(CodeInvalidArgument, "name either a jti or a sub"))
	case len(x.TokenID) > 128 || len(x.Subject) > 256 || !utf8.ValidString(x.TokenID+x.Subject):
		return 0, s.refuseInvalid(ctx, a, ActionTokenRevoke, "", Errorf(CodeInvalidArgument, "jti or sub too long"))
	case !tokenIDPattern.MatchString(x.TokenID):
		// The jti goes into the revocation's entry as it is: only a token id's characters, never free text.
		return 0, s.refuseInvalid(ctx, a, ActionTokenRevoke, "", Errorf(CodeInvalidArgument, "a jti has only letters, digits and . _ : -"))
	case x.Before.After(s.now().Add(time.Minute)):
		// Revocations are never lifted: a future time would refuse every token the subject is issued
		// until then, with no way back.
		return 0, s.refuseInvalid(ctx, a, ActionTokenRevoke, "", Errorf(CodeInvalidArgument, "before may not be in the future (revocations are permanent)"))
	}
	now := s.now().UTC()
	if x.Subject != "" && x.Before.IsZero() {
		x.Before = now
	}
	x.At, x.By = now, a.Caller.Subject
	// The entry names the revoked token's id or a keyed reference of the subject, never a name.
	e.Decision, e.Status = audit.Allow, statusOK
	if x.TokenID != "" {
		e.Reason = "jti:" + x.TokenID
	} else {
		e.Reason = "sub_ref:" + s.gate.pseudonym("token-subject:"+x.Subject) + " before:" + x.Before.Format(time.RFC3339)
	}
	seq, err := s.seq.Commit(ctx, func(tx Tx) error { return tx.PutRevocation(x) }, func(cerr error) audit.Entry { return finish(e, cerr, nil) })
	if err != nil {
		return 0, internalErr("record revocation", err)
	}
	s.publishRevocations(x)
	return seq, nil
}
