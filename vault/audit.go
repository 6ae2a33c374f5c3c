package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sort"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// newEntry starts the audit entry of one access. It never copies a personal data value: the subject is a
// keyed pseudonym, a data subject acting on their own data appears as their pseudonym, the justification
// only as a hash and the client address as a keyed hash.
func (s *core) newEntry(ctx context.Context, a Access, pol *policies.Set, action Action, subjectID string) audit.Entry {
	e := audit.Entry{
		TS:                s.now().UTC(),
		RequestID:         a.RequestID,
		Purpose:           string(a.Purpose),
		JustificationHash: audit.HashText(a.Justification),
		Action:            string(action),
		PolicyHash:        pol.Hash(),
		Actor: audit.Actor{
			Roles:   policies.RoleNames(a.Caller.Roles),
			Team:    a.Caller.Team,
			TokenID: a.Caller.TokenID,
		},
	}
	if a.Caller.IsDataSubject() {
		e.Actor.Pseudonym = s.subjectRef(ctx, a.Caller.Subject)
	} else {
		e.Actor.Sub = a.Caller.Subject
	}
	if subjectID != "" {
		e.SubjectRef = s.subjectRef(ctx, subjectID)
	}
	if a.Recipient != "" {
		// The recipient a purpose provides data to (a catalog name, never client text), for the
		// cross-border report.
		if p, ok := pol.Purposes().Purpose(a.Purpose); ok && slices.Contains(p.Recipients, a.Recipient) {
			e.Recipient = a.Recipient
		}
	}
	if _, ok := pol.Purposes().Processor(a.Processor); ok && a.Processor != "" {
		e.Recipient = a.Processor // a catalog name: the processor the data goes to
	}
	if a.Justification != "" {
		// Free text stays out of the leaf: sealed beside the entry, bound to its hash.
		if sealed, err := s.gate.sealNote([]byte(a.Justification), []byte(e.JustificationHash)); err == nil {
			e.Note = sealed
		} else {
			s.log.Error("sealing a justification failed; only its hash is kept", "err", err)
		}
	}
	if a.ClientAddr != "" {
		e.ClientRef = s.gate.pseudonym("client-address:" + a.ClientAddr)
	}
	if a.ClientRequestID != "" {
		e.ClientRequestRef = s.gate.pseudonym("client-request-id:" + a.ClientRequestID)
	}
	return e
}

// subjectRef is the audit pseudonym of a subject id: an HMAC keyed by the vault's pseudonym key over the
// subject's own random salt and id. A compliance officer filters by subject id and the server derives the
// reference; when the subject is erased the salt is destroyed with the DEK, so nobody can derive it again
// and the subject's old entries become unlinkable while the chain stays intact. Ids without a salt
// (unknown or erased subjects) get a pseudonym of the bare id, so attempts on them are still grouped.
func (s *core) subjectRef(ctx context.Context, id string) string {
	if plausibleID(id) {
		if rec, err := s.records.Subject(ctx, id); err == nil {
			return recordRef(s.gate, rec)
		}
	}
	return refFor(s.gate, id, nil)
}

// recordRef is subjectRef of a record already read.
func recordRef(g *gate, rec SubjectRecord) string {
	if rec.State == StateActive && len(rec.RefSalt) > 0 {
		return refFor(g, rec.ID, rec.RefSalt)
	}
	return refFor(g, rec.ID, nil)
}

// entryFor is the entry of one subject of a batch decision (an audience's candidates): a copy of tmpl —
// newEntry's for the batch, naming no subject — with its own time and the pseudonym of rec, a record
// already read, so that a page of subjects is not read twice.
func (s *core) entryFor(tmpl audit.Entry, rec SubjectRecord) audit.Entry {
	e := tmpl
	e.TS = s.now().UTC()
	e.SubjectRef = recordRef(s.gate, rec)
	return e
}

func refFor(g *gate, id string, salt []byte) string {
	if len(salt) == 0 {
		return g.pseudonym("subject-without-salt:" + id)
	}
	return g.pseudonym("subject:" + hex.EncodeToString(salt) + ":" + id)
}

func newRefSalt() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

// deny records a refused access durably and returns the client error carrying the entry's sequence number.
func (s *core) deny(ctx context.Context, e audit.Entry, status int, reason string, cerr *Error) error {
	e.Decision = audit.Deny
	e.Status = status
	e.Reason = reason
	e.FieldsWithheld = e.FieldsRequested
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return internalErr("audit deny", err)
	}
	cerr.AuditSeq = seq
	return cerr
}

// keyUnavailable records an access that could not be decided on this node because a field the decision
// needs is sealed under a KEK version its ring lacks (err, ErrKEKMissing), and returns the 503 carrying
// the entry's sequence number. The answer names no key, version or subject.
func (s *core) keyUnavailable(ctx context.Context, e audit.Entry, err error) error {
	return s.deny(ctx, e, statusUnavailable, reasonKeyUnavailable, &Error{Code: CodeUnavailable, Message: kekMissingMessage, Err: err})
}

// refuseInvalid records a request refused for its input (400) and returns the client error carrying the
// entry's sequence number. The entry names the operation, the caller and the subject, never the input; a
// declared purpose the catalog does not know is client text and is left out too.
func (s *core) refuseInvalid(ctx context.Context, a Access, action Action, subjectID string, err error) error {
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Code != CodeInvalidArgument {
		return err
	}
	pol := s.Policy()
	if _, ok := pol.Purposes().Purpose(a.Purpose); !ok {
		a.Purpose = ""
	}
	e := s.newEntry(ctx, a, pol, action, subjectID)
	return s.deny(ctx, e, statusBadRequest, reasonInvalidArgument, cerr)
}

// releasedCategories returns the categories an allowed entry released, not those asked for: a read of
// fields names the categories of the fields granted (an id number withheld was not provided); other entries
// (events, tags, collections) name theirs.
func releasedCategories(schema *policies.Schema, x audit.Entry) []string {
	if len(x.FieldsRequested)+len(x.FieldsGranted)+len(x.FieldsWithheld) > 0 {
		return categoriesOf(schema, x.FieldsGranted)
	}
	return x.Categories
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
