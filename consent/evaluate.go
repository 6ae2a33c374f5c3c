package consent

import (
	"time"

	"github.com/profilevault/profilevault/policies"
)

// Reasons a category is withheld (API.md).
const (
	ReasonConsentRequired         = "consent_required"
	ReasonSeparateConsentRequired = "separate_consent_required"
	ReasonGuardianConsentRequired = "guardian_consent_required"
	// ReasonAgeVerificationRequired withholds a purpose that needs an age (policies.Purpose.NeedsAge) from a
	// subject whose birth date is unknown, unless a guardian consented.
	ReasonAgeVerificationRequired = "age_verification_required"
)

// Query asks whether a purpose has a legal basis for a subject's categories at Now.
type Query struct {
	Purpose    policies.Purpose
	Categories []string
	Sensitive  map[string]bool // categories that are sensitive (PIPL Art. 28)
	Minor      bool            // under 14 at Now, from birth_date
	// AgeUnknown says that the subject's birth date is unknown (or unreadable): for a purpose that needs
	// an age only a guardian's consent counts, as for a minor.
	AgeUnknown bool
	Recipient  string // for sharing and cross-border purposes: who receives the data
	Records    []Record
	Now        time.Time
}

// Result is the answer for one category.
type Result struct {
	OK         bool
	Reason     string
	ConsentIDs []string
}

// Evaluate decides each category. Under a non-consent basis (contract, legal obligation) the policy alone
// decides and every category passes. Under consent, a category passes only with a record that is granted
// now, for a notice version that still counts, of a kind that fits: guardian for a minor, separate (or
// written) for a sensitive category or a purpose that needs one, naming the recipient where the purpose
// has recipients. A subject of unknown age is treated as a minor by a purpose that needs an age.
func Evaluate(q Query) map[string]Result {
	out := make(map[string]Result, len(q.Categories))
	if !q.Purpose.NeedsConsent() {
		for _, c := range q.Categories {
			out[c] = Result{OK: true}
		}
		return out
	}
	active := Active(q.Records, q.Purpose.Name, q.Now)
	for _, c := range q.Categories {
		out[c] = decide(q, active, q.Sensitive[c])
	}
	return out
}

func decide(q Query, active []Record, sensitive bool) Result {
	unverified := q.AgeUnknown && q.Purpose.NeedsAge()
	if unverified {
		q.Minor = true
	}
	needSeparate := sensitive || q.Purpose.ConsentKind == string(Separate)
	var ids []string
	reason := ReasonConsentRequired
	for _, r := range active {
		if !q.Purpose.ConsentCounts(r.NoticeVersion) {
			continue
		}
		if len(q.Purpose.Recipients) > 0 && (q.Recipient == "" || r.Recipient != q.Recipient) {
			reason = ReasonSeparateConsentRequired
			continue
		}
		switch {
		case q.Minor && r.Kind != Guardian:
			reason = ReasonGuardianConsentRequired
			continue
		case !q.Minor && needSeparate && r.Kind != Separate && r.Kind != Written:
			reason = ReasonSeparateConsentRequired
			continue
		}
		ids = append(ids, r.ID)
	}
	if len(ids) > 0 {
		return Result{OK: true, ConsentIDs: ids}
	}
	if unverified {
		reason = ReasonAgeVerificationRequired
	} else if q.Minor {
		reason = ReasonGuardianConsentRequired
	} else if needSeparate && reason == ReasonConsentRequired {
		reason = ReasonSeparateConsentRequired
	}
	return Result{Reason: reason}
}

// IsMinor reports whether someone born on birth is under 14 at now (PIPL Art. 31).
func IsMinor(birth, now time.Time) bool {
	return birth.AddDate(14, 0, 0).After(now)
}
