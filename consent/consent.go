package consent

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/policies/safetext"
)

// Kind is how a consent was given.
type Kind string

// Kinds of consent.
const (
	General  Kind = "general"
	Separate Kind = "separate" // a consent given on its own for one processing (PIPL Art. 14, 23, 29, 39)
	Written  Kind = "written"
	Guardian Kind = "guardian" // given by the parent or guardian of a subject under 14 (Art. 31)
)

// Status is the derived state of a consent record.
type Status string

// Statuses.
const (
	Granted   Status = "granted"
	Withdrawn Status = "withdrawn"
	Expired   Status = "expired"
)

// Actions of consent events.
const (
	ActionGrant    = "grant"
	ActionWithdraw = "withdraw"
)

// Event is one immutable entry of a subject's consent history: a grant, or the withdrawal of a grant.
// Evidence (free text from the collection point) is personal data and is kept sealed by the vault; this
// package only carries the sealed bytes.
type Event struct {
	ID             string               `json:"id"`
	Action         string               `json:"action"`
	Purpose        policies.PurposeName `json:"purpose"`
	Kind           Kind                 `json:"kind,omitempty"`
	NoticeVersion  string               `json:"notice_version,omitempty"`
	Method         string               `json:"method,omitempty"`
	EvidenceSealed []byte               `json:"evidence_sealed,omitempty"`
	Recipient      string               `json:"recipient,omitempty"`
	ExpiresAt      *time.Time           `json:"expires_at,omitempty"`
	At             time.Time            `json:"at"`
	RecordedBy     string               `json:"recorded_by"`
	// Withdraws is the grant a withdrawal ends.
	Withdraws string `json:"withdraws,omitempty"`
	// Channels: on a grant, the channels of commercial messages it covers (none named: all its notice
	// version names); on a withdrawal, the only channels it withdraws (none: the whole grant).
	Channels []string `json:"channels,omitempty"`
}

// Record is the current state of one grant, derived from the history.
type Record struct {
	ID             string
	Purpose        policies.PurposeName
	Kind           Kind
	NoticeVersion  string
	Method         string
	EvidenceSealed []byte
	Recipient      string
	GrantedAt      time.Time
	WithdrawnAt    *time.Time
	ExpiresAt      *time.Time
	RecordedBy     string
	// Channels are the channels the grant named (nil: all its notice version names); ChannelsWithdrawn
	// says when each channel withdrawn on its own was withdrawn (Advertising Law Art. 43).
	Channels          []string
	ChannelsWithdrawn map[string]time.Time
}

// ChannelsAt returns the channels the record covers at t: those it named (or its notice version named,
// noticeChannels) minus those withdrawn on their own by then; none once the record itself is not granted.
func (r Record) ChannelsAt(t time.Time, noticeChannels []string) []string {
	if r.StatusAt(t) != Granted {
		return nil
	}
	base := r.Channels
	if len(base) == 0 {
		base = noticeChannels
	}
	var out []string
	for _, c := range base {
		if at, ok := r.ChannelsWithdrawn[c]; ok && !at.After(t) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// StatusAt is the record's status at t.
func (r Record) StatusAt(t time.Time) Status {
	switch {
	case r.WithdrawnAt != nil && !r.WithdrawnAt.After(t):
		return Withdrawn
	case r.ExpiresAt != nil && !r.ExpiresAt.After(t):
		return Expired
	}
	return Granted
}

// Derive folds a history (any order) into records, oldest grant first. The history is never rewritten:
// a withdrawal only adds an event.
func Derive(events []Event) []Record {
	byID := map[string]int{}
	var out []Record
	evs := slices.Clone(events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	for _, e := range evs {
		switch e.Action {
		case ActionGrant:
			byID[e.ID] = len(out)
			out = append(out, Record{ID: e.ID, Purpose: e.Purpose, Kind: e.Kind, NoticeVersion: e.NoticeVersion, Method: e.Method,
				EvidenceSealed: e.EvidenceSealed, Recipient: e.Recipient, GrantedAt: e.At, ExpiresAt: e.ExpiresAt, RecordedBy: e.RecordedBy,
				Channels: e.Channels})
		case ActionWithdraw:
			i, ok := byID[e.Withdraws]
			switch {
			case !ok || out[i].WithdrawnAt != nil:
			case len(e.Channels) > 0: // one channel, or a few, withdrawn on their own
				if out[i].ChannelsWithdrawn == nil {
					out[i].ChannelsWithdrawn = map[string]time.Time{}
				}
				for _, c := range e.Channels {
					if _, done := out[i].ChannelsWithdrawn[c]; !done {
						out[i].ChannelsWithdrawn[c] = e.At
					}
				}
			default:
				at := e.At
				out[i].WithdrawnAt = &at
			}
		}
	}
	return out
}

// Active returns the records of purpose that are granted at t.
func Active(records []Record, purpose policies.PurposeName, t time.Time) []Record {
	var out []Record
	for _, r := range records {
		if r.Purpose == purpose && r.StatusAt(t) == Granted {
			out = append(out, r)
		}
	}
	return out
}

// Grant is a request to record a consent that a collection point captured.
type Grant struct {
	Purpose       policies.PurposeName
	Kind          Kind
	NoticeVersion string
	Method        string
	Evidence      string
	Recipient     string
	ExpiresAt     *time.Time
	// Channels narrows a marketing consent to some of the channels its notice version names (none: all).
	Channels []string
	// GrantedAt is when the collection point captured the consent, for records imported from another
	// system (nil: now). Behaviour is collected under a consent only from this time on.
	GrantedAt *time.Time
}

// MaxClockSkew is how far in the future a stated grant time may lie (a collection point's clock).
const MaxClockSkew = 5 * time.Minute

// ErrInvalid wraps every validation failure of a grant; messages name fields, never values.
var ErrInvalid = errors.New("invalid consent")

// Validate checks a grant against the purposes catalog at now.
func (g Grant) Validate(p policies.Purpose, now time.Time) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if !p.NeedsConsent() {
		return bad("purpose %s rests on %s, not on consent", p.Name, p.LegalBasis)
	}
	switch g.Kind {
	case General, Separate, Written, Guardian:
	default:
		return bad("kind must be general, separate, written or guardian")
	}
	if p.ConsentKind == string(Separate) && g.Kind == General {
		return bad("purpose %s needs a separate consent", p.Name)
	}
	if g.NoticeVersion != p.Notice.Version {
		return bad("notice_version must be the current notice of %s (%s)", p.Name, p.Notice.Version)
	}
	if g.Method == "" || utf8.RuneCountInString(g.Method) > 64 || strings.ContainsAny(g.Method, "\r\n") {
		return bad("method is required (at most 64 characters)")
	}
	if utf8.RuneCountInString(g.Evidence) > 1024 {
		return bad("evidence is at most 1024 characters")
	}
	if g.GrantedAt != nil {
		if g.GrantedAt.IsZero() || g.GrantedAt.After(now.Add(MaxClockSkew)) {
			return bad("granted_at must be a past time")
		}
		if g.ExpiresAt != nil && !g.ExpiresAt.After(*g.GrantedAt) {
			return bad("expires_at must be after granted_at")
		}
	}
	if len(p.Recipients) > 0 {
		if !slices.Contains(p.Recipients, g.Recipient) {
			return bad("purpose %s needs a recipient named in the catalog (%s)", p.Name, strings.Join(p.Recipients, ", "))
		}
	} else if g.Recipient != "" {
		return bad("purpose %s has no recipients", p.Name)
	}
	if g.ExpiresAt != nil && !g.ExpiresAt.After(now) {
		return bad("expires_at must be in the future")
	}
	notice := p.NoticeChannels(g.NoticeVersion)
	for _, c := range g.Channels {
		if !slices.Contains(notice, c) {
			return bad("channel %s is not one the notice %s asks consent for (%s)", safetext.Name(c), g.NoticeVersion, strings.Join(notice, ", "))
		}
	}
	return nil
}

// Store keeps consent histories and objections, inside the vault writer's transaction (vault.ConsentTx).
// Histories are append-only: a withdrawal is a new event, never an edit.
type Store interface {
	// ConsentEvents returns the subject's consent history as the transaction sees it.
	ConsentEvents(subject string) ([]Event, error)
	// AppendConsent adds an event to the subject's consent history (never rewritten).
	AppendConsent(subject string, e Event) error
	// SetObjection records (on) or removes (off) an objection; it reports whether anything changed.
	SetObjection(subject, kind string, on bool, at time.Time) (bool, error)
	// Objections returns the kinds of the subject's standing objections as the transaction sees them.
	Objections(subject string) ([]string, error)
}
