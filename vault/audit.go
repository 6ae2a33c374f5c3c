package vault

import (
	"context"

	"sort"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// newEntry starts the audit entry of one access. It never copies a personal data value: the subject is a
// keyed pseudonym, a data subject acting on their own data appears as their pseudonym, the justification
// only as a hash and the client address as a keyed hash.
func (s *Service) newEntry(a Access, pol *policies.Set, action, subjectID string) audit.Entry {
	e := audit.Entry{
		TS:                s.now().UTC(),
		RequestID:         a.RequestID,
		Purpose:           a.Purpose,
		JustificationHash: audit.HashText(a.Justification),
		Action:            action,
		PolicyHash:        pol.Hash(),
		Actor: audit.Actor{
			Roles:   append([]string(nil), a.Caller.Roles...),
			Team:    a.Caller.Team,
			TokenID: a.Caller.TokenID,
		},
	}
	if a.Caller.IsDataSubject() {
		e.Actor.Pseudonym = s.crypto.Pseudonym(a.Caller.Subject)
	} else {
		e.Actor.Sub = a.Caller.Subject
	}
	if subjectID != "" {
		e.SubjectRef = s.crypto.Pseudonym(subjectID)
	}
	if a.ClientAddr != "" {
		e.ClientRef = s.crypto.Pseudonym("client-address:" + a.ClientAddr)
	}
	return e
}

// deny records a refused access durably and returns the client error carrying the entry's sequence number.
func (s *Service) deny(ctx context.Context, e audit.Entry, status int, reason string, cerr *Error) error {
	e.Decision = audit.Deny
	e.Status = status
	e.Reason = reason
	e.FieldsWithheld = e.FieldsRequested
	seq, err := s.store.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return internalErr("audit deny", err)
	}
	cerr.AuditSeq = seq
	return cerr
}

func categoriesOf(schema *policies.Schema, fields []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fields {
		if fd, ok := schema.Field(f); ok && !seen[fd.Category] {
			seen[fd.Category] = true
			out = append(out, fd.Category)
		}
	}
	sort.Strings(out)
	return out
}
