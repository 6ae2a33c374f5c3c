// Package audit owns the audit trail's domain model: the Entry recorded for every access to personal data
// (allowed or denied), its canonical encoding, and the hash chain that links entries together.
//
// An Entry never holds a personal data value: subjects appear as keyed pseudonyms, fields and categories by
// name, free text (justifications) only as a hash. Storage lives in internal/sqlite; this package knows
// nothing of SQL or HTTP.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/profilevault/profilevault/audit/jsonenc"
)

// Decision is the outcome of an access as API.md defines it.
type Decision string

// Decisions.
const (
	// Allow means everything that was asked for was given.
	Allow Decision = "allow"
	// Partial means some of what was asked for was withheld.
	Partial Decision = "partial"
	// Deny means nothing was given.
	Deny Decision = "deny"
)

// DecisionFor derives the decision from how many items were granted and withheld.
func DecisionFor(granted, withheld int) Decision {
	switch {
	case withheld == 0:
		return Allow
	case granted == 0:
		return Deny
	default:
		return Partial
	}
}

// Actor is who acted: a staff member by their token subject, or a data subject by their pseudonym only.
type Actor struct {
	// Sub is the staff member's token subject; empty when the actor is a data subject.
	Sub string `json:"sub,omitempty"`
	// Pseudonym is set instead of Sub when a data subject acts on their own data.
	Pseudonym string `json:"pseudonym,omitempty"`
	// Roles are the roles claimed by the token.
	Roles []string `json:"roles"`
	// Team is the optional team claim.
	Team string `json:"team,omitempty"`
	// TokenID is the token's jti.
	TokenID string `json:"token_id,omitempty"`
}

// FormatVersion is the version of the entry format that new entries carry ("v"). Version 1 entries (the
// first format) carry none; version 2 added "v", "grant_id" and "recipient"; version 3 "intent".
const FormatVersion = 3

// Entry is one record of the audit trail. Field order is the canonical order.
type Entry struct {
	Seq int64 `json:"seq"`
	// Version is the entry format's version (FormatVersion for new entries; 0 in version 1 entries).
	Version           int       `json:"v,omitempty"`
	TS                time.Time `json:"ts"`
	RequestID         string    `json:"request_id"`
	Actor             Actor     `json:"actor"`
	Purpose           string    `json:"purpose"`
	JustificationHash string    `json:"justification_hash,omitempty"`
	Action            string    `json:"action"`
	SubjectRef        string    `json:"subject_ref,omitempty"`
	Categories        []string  `json:"categories"`
	FieldsRequested   []string  `json:"fields_requested"`
	FieldsGranted     []string  `json:"fields_granted"`
	FieldsWithheld    []string  `json:"fields_withheld"`
	// DecisionInputs names the fields the enforcement point decrypted to decide (the birth date for the
	// age rule, a name for a duplicate match) before this entry was durable. Never their values.
	DecisionInputs []string `json:"decision_inputs,omitempty"`
	Decision       Decision `json:"decision"`
	Reason         string   `json:"reason,omitempty"`
	ConsentIDs     []string `json:"consent_ids"`
	Status         int      `json:"status"`
	PolicyHash     string   `json:"policy_hash"`
	ClientRef      string   `json:"client_ref,omitempty"`
	// ClientRequestRef is a keyed hash of the client's own X-Request-Id (never its text).
	ClientRequestRef string `json:"client_request_ref,omitempty"`
	// GrantID names the access grant a read relied on (reserved for access requests; empty until then).
	GrantID string `json:"grant_id,omitempty"`
	// Recipient names who received the data, for purposes with recipients (reserved; empty until then).
	Recipient string `json:"recipient,omitempty"`
	// Intent marks the entry of a change as a write-ahead intent: the id (the sequence number of the first
	// entry of the group commit) that the store records with the change when it commits. An intent the
	// store never recorded is followed by an ActionAborted entry: the change did not happen.
	Intent   int64  `json:"intent,omitempty"`
	PrevHash string `json:"prev_hash"`
	// Note is free text (a justification) sealed by the vault; it is stored beside the entry, never in it.
	// Only its hash (JustificationHash) is part of the canonical entry.
	Note []byte `json:"-"`
}

// Canonical returns the deterministic encoding of e that is hashed into the chain: compact JSON in field
// order, times in UTC with nanoseconds, nil slices encoded as empty arrays. seq comes first and prev_hash
// last, so Canonical == Assemble(e.Seq, e.Body(), e.PrevHash).
func (e Entry) Canonical() ([]byte, error) {
	body, err := e.Body()
	if err != nil {
		return nil, err
	}
	return Assemble(e.Seq, body, e.PrevHash), nil
}

// Body is the canonical encoding without its first member (seq) and last member (prev_hash), which only the
// single writer knows. Requests encode their own bodies concurrently; the writer just splices.
//
// It is written by hand, member by member in field order, because every audited request encodes one; the
// bytes are those encoding/json gives the struct with HTML escaping off (FuzzEntryBody compares the two).
func (e Entry) Body() ([]byte, error) {
	ts := e.TS.UTC()
	if y := ts.Year(); y < 0 || y > 9999 {
		_, err := ts.MarshalJSON() // its error names the range
		return nil, err
	}
	v := e.Version
	if v == 0 {
		v = FormatVersion
	}
	b := make([]byte, 0, e.bodySize())
	b = append(b, `"v":`...)
	b = strconv.AppendInt(b, int64(v), 10)
	b = append(b, `,"ts":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendMember(b, "request_id", e.RequestID, false)
	b = append(b, `,"actor":{`...)
	a := len(b)
	b = appendMember(b, "sub", e.Actor.Sub, true)
	b = appendMember(b, "pseudonym", e.Actor.Pseudonym, true)
	b = appendList(b, "roles", e.Actor.Roles, false)
	b = appendMember(b, "team", e.Actor.Team, true)
	b = appendMember(b, "token_id", e.Actor.TokenID, true)
	b = append(b[:a], b[a+1:]...) // the actor's first member has no comma before it
	b = append(b, '}')
	b = appendMember(b, "purpose", e.Purpose, false)
	b = appendMember(b, "justification_hash", e.JustificationHash, true)
	b = appendMember(b, "action", e.Action, false)
	b = appendMember(b, "subject_ref", e.SubjectRef, true)
	b = appendList(b, "categories", e.Categories, false)
	b = appendList(b, "fields_requested", e.FieldsRequested, false)
	b = appendList(b, "fields_granted", e.FieldsGranted, false)
	b = appendList(b, "fields_withheld", e.FieldsWithheld, false)
	b = appendList(b, "decision_inputs", e.DecisionInputs, true)
	b = appendMember(b, "decision", string(e.Decision), false)
	b = appendMember(b, "reason", e.Reason, true)
	b = appendList(b, "consent_ids", e.ConsentIDs, false)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = appendMember(b, "policy_hash", e.PolicyHash, false)
	b = appendMember(b, "client_ref", e.ClientRef, true)
	b = appendMember(b, "client_request_ref", e.ClientRequestRef, true)
	b = appendMember(b, "grant_id", e.GrantID, true)
	b = appendMember(b, "recipient", e.Recipient, true)
	if e.Intent != 0 {
		b = append(b, `,"intent":`...)
		b = strconv.AppendInt(b, e.Intent, 10)
	}
	return b, nil
}

// bodySize is a close upper estimate of Body's length (members' names and punctuation, plus the values),
// so that Body allocates once.
func (e Entry) bodySize() int {
	n := 520 + len(e.RequestID) + len(e.Actor.Sub) + len(e.Actor.Pseudonym) + len(e.Actor.Team) + len(e.Actor.TokenID) +
		len(e.Purpose) + len(e.JustificationHash) + len(e.Action) + len(e.SubjectRef) + len(e.Reason) + len(e.PolicyHash) +
		len(e.ClientRef) + len(e.ClientRequestRef) + len(e.GrantID) + len(e.Recipient)
	for _, l := range [][]string{e.Actor.Roles, e.Categories, e.FieldsRequested, e.FieldsGranted, e.FieldsWithheld, e.DecisionInputs, e.ConsentIDs} {
		for _, v := range l {
			n += len(v) + 3
		}
	}
	return n
}

// appendMember appends `,"name":"value"` (nothing for an empty value when omitEmpty).
func appendMember(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendList appends `,"name":[...]`; a nil list is an empty array, or nothing when omitEmpty.
func appendList(b []byte, name string, values []string, omitEmpty bool) []byte {
	if omitEmpty && len(values) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string as a json.Encoder with SetEscapeHTML(false) writes it, so the
// bytes stay encoding/json's own.
func appendString(b []byte, s string) []byte { return jsonenc.AppendString(b, s, false) }

// Assemble builds canonical bytes from a body and the two members the writer assigns.
func Assemble(seq int64, body []byte, prevHash string) []byte {
	out := make([]byte, 0, len(body)+len(prevHash)+40)
	out = append(out, `{"seq":`...)
	out = strconv.AppendInt(out, seq, 10)
	out = append(out, ',')
	out = append(out, body...)
	out = append(out, `,"prev_hash":"`...)
	out = append(out, prevHash...)
	return append(out, `"}`...)
}

// GenesisHash is the PrevHash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainHash returns the hex hash that links an entry to the next one: its Merkle leaf hash, SHA-256 over
// 0x00 and the canonical bytes, which already include the previous entry's hash.
func ChainHash(canonical []byte) string {
	return HexHash(LeafHash(canonical))
}

// HashText returns the hex SHA-256 of free text (a justification) so the entry can commit to it without
// holding it.
func HashText(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ActionAborted records that the change of a write-ahead intent entry did not happen: the store never
// committed it (the process stopped, or the commit failed, after the intent was durable).
const ActionAborted = "audit.aborted"

// Aborted returns the entry that cancels intent, an entry whose change was never committed: it names the
// intent's sequence number and keeps its subject and purpose, so that a review of either finds both.
func Aborted(intent Entry, at time.Time) Entry {
	return Entry{TS: at.UTC(), RequestID: intent.RequestID, Actor: Actor{Sub: "vaultd", Roles: []string{}}, Purpose: intent.Purpose,
		Action: ActionAborted, SubjectRef: intent.SubjectRef, Decision: Deny, Status: 503, PolicyHash: intent.PolicyHash,
		Reason: "intent:" + strconv.FormatInt(intent.Seq, 10) + " not committed"}
}
