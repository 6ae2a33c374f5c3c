package vault

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/profilevault/profilevault/audit"
)

// gate is the enforcement point's hold on the data keys: the only value in the vault that holds its Crypto,
// and the only code that may call Crypto.Open (gate_test.go checks both on the package's syntax).
//
// Everything else asks the gate. Sealing, key creation, blind tokens and pseudonyms reveal nothing and are
// open to all. Decrypting is not: a release — which only authorize and commit create, and only once the
// audit entry that covers it is durable — opens what that entry released, for the subjects it names; and
// a decision-time open (the birth date for the age rule, a name for a duplicate match) names the field in
// the entry it decides, which the caller then appends whatever the decision.
type gate struct {
	crypto Crypto
	store  Sequencer
}

func newGate(c Crypto, st Sequencer) *gate { return &gate{crypto: c, store: st} }

// ErrNotReleased means code asked a release to open data of a subject the release does not cover (a bug).
var ErrNotReleased = errors.New("vault: no durable audit entry released this data")

// newDEK creates a fresh DEK wrapped under the active KEK.
func (g *gate) newDEK(subject, class string, version uint32) (DEK, error) {
	return g.crypto.NewDEK(subject, class, version)
}

// seal encrypts plaintext under d, bound to ad.
func (g *gate) seal(d DEK, ad string, plaintext []byte) ([]byte, error) {
	return g.crypto.Seal(d, ad, plaintext)
}

// blindToken is the search token of a normalised value.
func (g *gate) blindToken(field, normalized string) []byte {
	return g.crypto.BlindToken(field, normalized)
}

// pseudonym is the keyed pseudonym of an identifier.
func (g *gate) pseudonym(id string) string { return g.crypto.Pseudonym(id) }

// sealNote encrypts free text kept beside an audit entry.
func (g *gate) sealNote(plaintext, ad []byte) ([]byte, error) {
	return g.crypto.SealNote(plaintext, ad)
}

// openNote decrypts free text sealed by sealNote with the same ad.
func (g *gate) openNote(sealed, ad []byte) ([]byte, error) { return g.crypto.OpenNote(sealed, ad) }

// forget drops every cached key of subject (after erasure).
func (g *gate) forget(subject string) { g.crypto.Forget(subject) }

// release is the right to decrypt what one durable audit entry released: data of the subjects it names.
type release struct {
	crypto  Crypto
	seq     int64
	subject string              // the one subject of most releases
	batch   map[string]struct{} // the subjects of a batch release (tag inputs, queues)
}

// newRelease covers subjects under the durable entry seq.
func newRelease(c Crypto, seq int64, subjects []string) *release {
	r := &release{crypto: c, seq: seq}
	if len(subjects) == 1 {
		r.subject = subjects[0]
		return r
	}
	r.batch = make(map[string]struct{}, len(subjects))
	for _, s := range subjects {
		r.batch[s] = struct{}{}
	}
	return r
}

// covers reports whether the release covers subject.
func (r *release) covers(subject string) bool {
	if r.batch != nil {
		_, ok := r.batch[subject]
		return ok
	}
	return subject != "" && subject == r.subject
}

// authorize appends e — a decision that releases data of guard's subject — once the sequencer has checked,
// where the entry gets its place in the trail, that no change to the subject was ordered since guard was
// taken; then it returns the release. ErrSuperseded (nothing appended) means decide again.
func (g *gate) authorize(ctx context.Context, guard Guard, e audit.Entry) (*release, error) {
	seq, err := g.store.Release(ctx, guard, e)
	if err != nil {
		return nil, err
	}
	return newRelease(g.crypto, seq, []string{guard.Subject}), nil
}

// authorizeWith is authorize with a change committed with the entry (a grant's read count). The release
// is nil when change failed: the entry then recorded the refusal, and the change's error is returned.
func (g *gate) authorizeWith(ctx context.Context, guard Guard, change func(Tx) error, entry func(error) audit.Entry) (*release, error) {
	seq, err := g.store.ReleaseWith(ctx, guard, change, entry)
	if err != nil {
		return nil, err
	}
	return newRelease(g.crypto, seq, []string{guard.Subject}), nil
}

// commit runs change with its entry (Store.Commit) and, once both are durable, returns the release of
// subjects' data under that entry (nil when change failed: the entry then recorded the failure).
func (g *gate) commit(ctx context.Context, change func(Tx) error, entry func(error) audit.Entry, subjects ...string) (*release, int64, error) {
	seq, err := g.store.Commit(ctx, change, entry)
	if err != nil {
		return nil, seq, err
	}
	return newRelease(g.crypto, seq, subjects), seq, nil
}

// commitMany runs change with several entries (Store.CommitMany) and returns the release of subjects'
// data under the first entry (a page of rows: one entry per subject on it).
func (g *gate) commitMany(ctx context.Context, change func(Tx) error, entries func(error) []audit.Entry, subjects []string) (*release, error) {
	seq, err := g.store.CommitMany(ctx, change, entries)
	if err != nil {
		return nil, err
	}
	return newRelease(g.crypto, seq, subjects), nil
}

// decisionTags opens a subject's stored tags to decide on them (an audience rule), returning the values of
// each key; they never leave the decision, and e names each opened tag (tag:purpose:key) among its
// decision inputs.
func (g *gate) decisionTags(e *audit.Entry, rec SubjectRecord, stored []StoredTag) map[string][]string {
	out := map[string][]string{}
	d, ok := rec.DEKs[ClassGeneral]
	if !ok || len(stored) == 0 {
		return out
	}
	for _, t := range stored {
		ad := tagAD(t.Purpose, t.Key)
		if !slices.Contains(e.DecisionInputs, ad) {
			e.DecisionInputs = append(e.DecisionInputs, ad) // the tag's name, never its value
		}
		raw, err := g.crypto.Open(d, ad, t.Sealed)
		if err != nil {
			continue
		}
		var st sealedTag
		if json.Unmarshal(raw, &st) == nil {
			// A list-valued tag (top categories, top brands) is stored comma-joined: one value each.
			out[t.Key] = append(out[t.Key], strings.Split(st.Value, ",")...)
		}
	}
	return out
}

// open decrypts a value of one of the release's subjects.
func (r *release) open(d DEK, ad string, sealed []byte) ([]byte, error) {
	if r == nil || r.seq <= 0 || !r.covers(d.Subject) {
		return nil, ErrNotReleased
	}
	return r.crypto.Open(d, ad, sealed)
}

// field decrypts one field of rec (ok false if the subject has none, or it does not open).
func (r *release) field(rec SubjectRecord, name string) (string, bool) {
	pt, ok := openField(r.open, rec, name)
	return string(pt), ok
}

// decisionOpen decrypts field of rec to decide on it and names the field in e.DecisionInputs; the caller
// appends e whatever it decides. ok is false if the subject has no such field or it does not open. err is
// ErrKEKMissing, and nothing else, when the field's DEK is wrapped under a KEK version this node's ring
// lacks: the field is there, so the decision cannot be made here at all — deciding as if it were absent
// would, say, take an adult for someone of unknown age — and the caller answers 503 (keyUnavailable).
func (g *gate) decisionOpen(e *audit.Entry, rec SubjectRecord, field string) ([]byte, bool, error) {
	sf, has := rec.Fields[field]
	if !has {
		return nil, false, nil
	}
	if !slices.Contains(e.DecisionInputs, field) {
		e.DecisionInputs = append(e.DecisionInputs, field)
	}
	d, ok := rec.DEKs[sf.Class]
	if !ok {
		return nil, false, nil
	}
	pt, err := g.crypto.Open(d, field, sf.Value)
	switch {
	case errors.Is(err, ErrKEKMissing):
		return nil, false, err
	case err != nil:
		return nil, false, nil
	}
	return pt, true, nil
}

// opener decrypts one sealed value under a DEK: a release's open.
type opener func(d DEK, ad string, sealed []byte) ([]byte, error)

// openField decrypts one field of rec with open.
func openField(open opener, rec SubjectRecord, field string) ([]byte, bool) {
	sf, ok := rec.Fields[field]
	if !ok {
		return nil, false
	}
	d, ok := rec.DEKs[sf.Class]
	if !ok {
		return nil, false
	}
	pt, err := open(d, field, sf.Value)
	return pt, err == nil
}
