// Package vault owns the profile domain and the one enforcement point: every read or write of personal data
// checks the declared purpose against the compiled policy and the subject's legal basis, appends a durable
// audit entry (fail closed), and only then decrypts and masks what may be returned — through the gate
// (gate.go), the only holder of the Crypto. The domain services (Profiles, DataSubjects, ConsentRecords,
// Tags, Ingestion, Stewardship, Requests, Review, Keys) share one core (sequencer, gate, subject records);
// each holds only its own small storer and calls the others explicitly where one domain's change reaches
// another's data; Service builds them and keeps the policy. The package knows nothing of HTTP, SQL or
// JWT: storage and cryptography come in through the Store and Crypto interfaces.
package vault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// Crypto seals field values under per-subject DEKs and derives blind-index tokens and pseudonyms.
// internal/keys implements it.
type Crypto interface {
	// NewDEK creates a fresh DEK for (subject, class, version), wrapped under the active KEK.
	NewDEK(subject, class string, version uint32) (DEK, error)
	// Seal encrypts plaintext as the value of field, bound to the DEK's subject, class and version.
	Seal(d DEK, field string, plaintext []byte) ([]byte, error)
	// Open decrypts a value sealed by Seal; it fails if the value was moved to another subject or field.
	Open(d DEK, field string, sealed []byte) ([]byte, error)
	// Forget drops every cached key of subject (after erasure).
	Forget(subject string)
	// BlindToken is the deterministic search token of a normalised value of field.
	BlindToken(field, normalized string) []byte
	// Pseudonym is the keyed pseudonym of an identifier, used in the audit trail.
	Pseudonym(id string) string
	// SealNote encrypts free text kept beside an audit entry, bound to ad; OpenNote decrypts it.
	SealNote(plaintext, ad []byte) ([]byte, error)
	OpenNote(sealed, ad []byte) ([]byte, error)
}

// Normalizer returns the canonical form of a value of a typed field (E.164 phones, lower-case emails,
// upper-case id numbers), or an error that does not echo the value.
type Normalizer func(fieldType, value string) (string, error)

// Withheld reasons (API.md).
const (
	ReasonNotPermitted            = "not_permitted_for_purpose"
	ReasonConsentRequired         = consent.ReasonConsentRequired
	ReasonSeparateConsentRequired = consent.ReasonSeparateConsentRequired
	ReasonGuardianConsentRequired = consent.ReasonGuardianConsentRequired
	ReasonObjection               = "objection"
	ReasonRestricted              = "restricted"
	// ReasonNotEntrusted withholds a field from a read for an entrusted processor (X-Processor) whose
	// contract does not cover it now: unknown processor, another purpose, a category outside the
	// contract, or a contract not in force (PIPL Art. 21).
	ReasonNotEntrusted     = "not_entrusted"
	ReasonRetentionExpired = "retention_expired"
	ReasonLegalHold        = "legal_hold"
	reasonNoPolicy         = "no_policy_for_purpose"
	reasonSubjectNotFound  = "subject_not_found"
	reasonInvalidArgument  = "invalid_argument"
	reasonUnavailable      = "store_unavailable"
	reasonErasureLedger    = "erasure_ledger_unavailable"
	// reasonKeyUnavailable: a field the decision needs is sealed under a DEK whose KEK version this node's
	// ring lacks (ErrKEKMissing); nothing was decided or released.
	reasonKeyUnavailable           = "key_unavailable"
	reasonInternal                 = "internal_error"
	defaultLookupsPerSecondPerUser = 5
	defaultLookupBurst             = 50
)

// Action names what an audit entry records (API.md: subject.read, consent.withdraw, …).
type Action string

// Caller is the authenticated principal as the domain sees it.
type Caller struct {
	Subject string
	Roles   []policies.Role
	Team    string
	TokenID string
}

// IsDataSubject reports whether the caller acts as a data subject on their own data.
func (c Caller) IsDataSubject() bool {
	return len(c.Roles) == 1 && c.Roles[0] == RoleSubject
}

// RoleSubject is the role of a data subject acting on their own data.
const RoleSubject = policies.RoleSubject

// Access describes one request for personal data: who asks, for which declared purpose, and why.
type Access struct {
	Caller        Caller
	Purpose       policies.PurposeName
	Justification string // optional ticket id or short reason; only its hash enters the audit entry
	RequestID     string
	// ClientRequestID is a client's own request id; only a keyed hash of it is recorded.
	ClientRequestID string
	ClientAddr      string
	// Recipient names who receives the data, for purposes with recipients (sharing, cross-border): the
	// subject's separate consent must name the same recipient.
	Recipient string
	// Processor names the entrusted processor (PIPL Art. 21) the read is for (X-Processor): it receives only
	// what its contract in the catalog covers, and the entry names it.
	Processor string
	// Grant names an approved access request's grant the read relies on (X-Access-Grant): it widens the
	// caller's reads for the grant's subjects and purpose (access.go).
	Grant string
	// self marks a data subject acting on their own data through /v1/me (set by meAccess only).
	self bool
}

// Config holds the Service's dependencies.
type Config struct {
	Store Store
	// Trail reads the audit trail for review, export, verification and proofs.
	Trail audit.Store
	// Requests reads data-subject requests; Rules is their workflow (internal/dsr).
	Requests RequestStore
	Rules    RequestRules
	// Identity reads merges, the steward's review queue and import reports.
	Identity IdentityStore
	// Policies reads the history of the policy in force (nil: not kept).
	Policies PolicyStore
	// Incidents reads incident records (nil: not kept).
	Incidents IncidentStore
	// Access reads access requests and their grants.
	Access AccessStore
	// Audiences reads built audiences and their members.
	Audiences AudienceStore
	// Revocations reads token revocations (nil: none are kept).
	Revocations RevocationStore
	// Erasures records every erasure before it happens, apart from the data (nil: not kept; erasures.go).
	Erasures ErasureLedger
	// Checkpoints is the checkpoint signing key (only its verifier is used here).
	Checkpoints *audit.Signer
	Crypto      Crypto
	// KeyRing and KeyStore serve key rotation, purge and the key check (nil: not offered by this process).
	KeyRing  KeyRing
	KeyStore KeyStore
	// ExclusiveStore says that this process alone uses the store (the SQLite data dir is locked), so a
	// rotation lease left by another process is known to be dead and is taken over at once.
	ExclusiveStore bool
	Normalize      Normalizer
	Policy         *policies.Set
	Logger         *slog.Logger // default slog.Default()
	// TransactionHold is how long transaction records are kept after the transaction completed (its last
	// order, cancellation, return or purchase event) before an erasure can shred them. Zero is the law's
	// three calendar years (E-Commerce Law Art. 31); negative disables holds.
	TransactionHold time.Duration
	// NameSimilarity scores two names in [0, 1] for identity resolution (internal/ingest provides one);
	// without it, a shared phone is never enough to merge.
	NameSimilarity func(a, b string) float64
	Now            func() time.Time
	// LookupsPerSecond and LookupBurst rate-limit blind-index lookups per caller (phone numbers are a
	// small space). Defaults 5/s with a burst of 50.
	LookupsPerSecond float64
	LookupBurst      int
	// RequestsPerDay caps the data-subject requests one subject may file in 24 hours (default 20): more are
	// refused with rate_limited and the time until the oldest leaves the window.
	RequestsPerDay int
	// MaxConcurrentExports bounds the exports running at once, one per subject at most (default 4); more
	// are refused with rate_limited.
	MaxConcurrentExports int
	// ExportsPerHour caps one subject's exports (default 60 an hour, as a bucket of that size refilling
	// evenly; negative: no cap): more are refused with rate_limited and when the next one may start.
	ExportsPerHour int
}

// Service is the enforcement point: it builds the domain services on their shared core (Profiles(),
// DataSubjects(), ConsentRecords(), Tags(), Ingestion(), Stewardship(), Requests(), Review(), Keys()) and
// itself answers for the policy (reload, role checks) and the refusals that precede any domain.
type Service struct {
	*core
	stores stores
	// The domain services, each holding only its own storer and calling the others explicitly where one
	// domain's change reaches another's data (a withdrawal deleting the tags that relied on it).
	profiles    *Profiles
	subjects    *DataSubjects
	consents    *ConsentRecords
	tags        *Tags
	ingestion   *Ingestion
	stewardship *Stewardship
	requests    *Requests
	review      *Review
	access      *AccessRequests
	audiences   *Audiences
}

// stores are the read storers of the domains, each handed to the service that owns it. Every change goes
// through the core's sequencer instead.
type stores struct {
	profiles    ProfileStore
	events      EventStore
	tags        TagStore
	trail       audit.Store
	requests    RequestStore
	rules       RequestRules
	identity    IdentityStore
	policies    PolicyStore   // nil: no policy history
	incidents   IncidentStore // nil: no incident records
	access      AccessStore
	audiences   AudienceStore
	revocations RevocationStore
}

// core is what the enforcement point's services share: the sequencer, the subject records every decision
// rests on, the gate, the policy, the clock, the log, and the helpers that decide and record an access.
// Each domain service embeds it; no domain's storer lives here.
type core struct {
	// seq is the single ordered writer: every change and every release goes through it.
	seq Sequencer
	// records reads the subject records that decisions rest on (consents, state, age).
	records recordReader
	signer  *audit.Signer
	// gate alone holds the Crypto (see gate.go).
	gate *gate
	// keys is key management (keys.go), a service of its own.
	keys      *Keys
	normalize Normalizer
	log       *slog.Logger
	now       func() time.Time
	policy    *atomic.Pointer[policies.Set] // shared by WithClock copies, so a reload reaches them
	lookups   *rateLimiter
	similar   func(a, b string) float64
	// purges tracks background deletions of shredded events.
	purges *sync.WaitGroup
	// authFails budgets and folds the recording of authentication failures (authfail.go).
	authFails *authFolder
	// requestsPerDay caps a subject's requests per 24 hours (Config.RequestsPerDay).
	requestsPerDay int
	// transactionHold is how long transaction records survive an erasure.
	transactionHold time.Duration
	// erasures is the erasure ledger (Config.Erasures; nil: none).
	erasures ErasureLedger
	// revoked is the in-memory set of token revocations (tokens.go), shared by WithClock copies.
	revoked *atomic.Pointer[revocations]
	// exports bounds concurrent exports (me.go).
	exports *exportSlots
	// exportRate caps each subject's exports per hour (nil: no cap; Config.ExportsPerHour).
	exportRate *rateLimiter
	// tagVocabulary is what stored tags' keys and values, rules and tag refusals are checked against (nil:
	// unchecked).
	tagVocabulary *atomic.Pointer[TagVocabulary]
	// tagAttributes are the event attributes tag inputs carry (nil: all).
	tagAttributes *atomic.Pointer[map[string]bool]
}

// recordReader reads subjects' records: what every decision rests on (ProfileStore.Subject and Subjects).
type recordReader interface {
	Subject(ctx context.Context, id string) (SubjectRecord, error)
	Subjects(ctx context.Context, ids []string, fields []string) (map[string]SubjectRecord, error)
}

// New builds a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Trail == nil || cfg.Checkpoints == nil || cfg.Crypto == nil || cfg.Policy == nil || cfg.Normalize == nil ||
		cfg.Requests == nil || cfg.Rules == nil || cfg.Identity == nil || cfg.Access == nil || cfg.Audiences == nil {
		return nil, errors.New("vault: Store, Trail, Requests, Rules, Identity, Access, Audiences, Checkpoints, Crypto, Normalize and Policy are required")
	}
	c := &core{
		seq:             cfg.Store,
		records:         cfg.Store,
		signer:          cfg.Checkpoints,
		gate:            newGate(cfg.Crypto, cfg.Store),
		normalize:       cfg.Normalize,
		similar:         cfg.NameSimilarity,
		transactionHold: cfg.TransactionHold,
		erasures:        cfg.Erasures,
		requestsPerDay:  cfg.RequestsPerDay,
		purges:          &sync.WaitGroup{},
		log:             cfg.Logger,
		now:             cfg.Now,
		tagVocabulary:   &atomic.Pointer[TagVocabulary]{},
		tagAttributes:   &atomic.Pointer[map[string]bool]{},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.requestsPerDay <= 0 {
		c.requestsPerDay = 20
	}
	rps, burst := cfg.LookupsPerSecond, cfg.LookupBurst
	if rps <= 0 {
		rps = defaultLookupsPerSecondPerUser
	}
	if burst <= 0 {
		burst = defaultLookupBurst
	}
	c.lookups = newRateLimiter(rps, burst, c.now)
	c.authFails = newAuthFolder(c.now)
	c.policy = &atomic.Pointer[policies.Set]{}
	c.revoked = &atomic.Pointer[revocations]{}
	maxExports := cfg.MaxConcurrentExports
	if maxExports <= 0 {
		maxExports = 4
	}
	c.exports = &exportSlots{busy: map[string]bool{}, max: maxExports}
	if n := cmp.Or(cfg.ExportsPerHour, 60); n > 0 {
		c.exportRate = newRateLimiter(float64(n)/3600, n, c.now)
	}
	c.policy.Store(cfg.Policy)
	c.keys = newKeys(c, cfg)
	return build(c, stores{profiles: cfg.Store, events: cfg.Store, tags: cfg.Store, trail: cfg.Trail,
		requests: cfg.Requests, rules: cfg.Rules, identity: cfg.Identity, policies: cfg.Policies, incidents: cfg.Incidents, access: cfg.Access, audiences: cfg.Audiences, revocations: cfg.Revocations}), nil
}

// build wires the domain services on c: each gets its own storer and the services it calls.
func build(c *core, st stores) *Service {
	s := &Service{core: c, stores: st}
	s.access = &AccessRequests{core: c, store: st.access, audiences: st.audiences}
	s.profiles = &Profiles{core: c, store: st.profiles, access: s.access}
	s.review = &Review{core: c, trail: st.trail, incidents: st.incidents, profiles: s.profiles, access: s.access, policies: st.policies}
	s.ingestion = &Ingestion{core: c, events: st.events, profiles: s.profiles, access: s.access}
	s.tags = &Tags{core: c, store: st.tags, profiles: s.profiles, ingestion: s.ingestion}
	s.profiles.tags, s.ingestion.tags = s.tags, s.tags
	s.profiles.ingestion = s.ingestion
	s.consents = &ConsentRecords{core: c, tags: s.tags, ingestion: s.ingestion}
	s.tags.consents = s.consents
	s.requests = &Requests{core: c, store: st.requests, rules: st.rules, consents: s.consents, profiles: s.profiles, review: s.review}
	s.audiences = &Audiences{core: c, store: st.audiences, tags: s.tags, profiles: s.profiles}
	s.stewardship = &Stewardship{core: c, identity: st.identity, profiles: s.profiles, tags: s.tags}
	s.subjects = &DataSubjects{core: c, profiles: s.profiles, consents: s.consents, tags: s.tags,
		ingestion: s.ingestion, requests: s.requests, review: s.review}
	return s
}

// Keys is key management: rotation, retirement, purge and the key check.
func (s *Service) Keys() *Keys { return s.keys }

// WithClock returns a copy of the service that reads time from now (for retention runs and tests that
// need another "now"); it shares the store, keys and policy.
func (s *Service) WithClock(now func() time.Time) *Service {
	c := *s.core
	c.now = now
	return build(&c, s.stores)
}

// Policy returns the policy in force.
func (s *core) Policy() *policies.Set { return s.policy.Load() }

// checkPurpose validates the declared purpose and returns its catalog entry.
func (s *core) checkPurpose(ctx context.Context, pol *policies.Set, a Access, action Action) (policies.Purpose, error) {
	if a.Purpose == "" {
		return policies.Purpose{}, s.refusePurpose(ctx, pol, a, action, reasonPurposeRequired,
			Errorf(CodePurposeRequired, "declare the purpose of this access"))
	}
	p, ok := pol.Purposes().Purpose(a.Purpose)
	if !ok {
		return policies.Purpose{}, s.refusePurpose(ctx, pol, a, action, reasonUnknownPurpose,
			Errorf(CodeInvalidArgument, "unknown purpose"))
	}
	return p, nil
}

const (
	reasonPurposeRequired = "purpose_required"
	reasonUnknownPurpose  = "unknown_purpose"
)

// refusePurpose records a request refused for its declared purpose (missing or unknown). The entry names
// no purpose: an unknown one is the client's free text.
func (s *core) refusePurpose(ctx context.Context, pol *policies.Set, a Access, action Action, reason string, cerr *Error) error {
	a.Purpose = ""
	e := s.newEntry(ctx, a, pol, action, "")
	return s.deny(ctx, e, statusBadRequest, reason, cerr)
}

// ActionRefuse records a call refused before any operation was chosen: a missing purpose at the door, a
// body or a query parameter that does not parse. Actions are dotted names (API.md).
const ActionRefuse Action = "api.refuse"

// RefuseMissingPurpose records, and returns as an error, a request to a route that needs a declared purpose
// but came without one.
func (s *Service) RefuseMissingPurpose(ctx context.Context, a Access) error {
	return s.refusePurpose(ctx, s.Policy(), a, ActionRefuse, reasonPurposeRequired, Errorf(CodePurposeRequired, "declare the purpose of this access"))
}

// RefuseInvalidRequest records, and returns as an error carrying the entry's sequence number, a request
// refused before any operation for its form (bad JSON, a bad query parameter). subjectID is the subject the
// route names, if any. Only invalid_argument errors are recorded; others are returned as they are.
func (s *Service) RefuseInvalidRequest(ctx context.Context, a Access, subjectID string, err error) error {
	return s.refuseInvalid(ctx, a, ActionRefuse, subjectID, err)
}

func internalErr(op string, err error) *Error {
	if errors.Is(err, ErrUnavailable) {
		return &Error{Code: CodeUnavailable, Message: "the audit trail is unavailable; no data was returned", Err: err}
	}
	if errors.Is(err, audit.ErrIndexBehind) {
		return &Error{Code: CodeUnavailable, Message: "the audit review index has not reached the requested entry yet; retry", Err: err}
	}
	if errors.Is(err, ErrKEKMissing) {
		return &Error{Code: CodeUnavailable, Message: kekMissingMessage, Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}
