package consent

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/profilevault/profilevault/policies"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func purposes(t testing.TB) *policies.Catalog {
	t.Helper()
	set, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return set.Purposes()
}

func grant(id string, purpose policies.PurposeName, kind Kind, notice string, at time.Time) Event {
	return Event{ID: id, Action: ActionGrant, Purpose: purpose, Kind: kind, NoticeVersion: notice, Method: "app_checkbox", At: at, RecordedBy: "t"}
}

func TestDeriveKeepsHistoryAndWithdrawals(t *testing.T) {
	evs := []Event{
		grant("g1", "marketing", General, "2026-01", now.Add(-3*time.Hour)),
		{ID: "w1", Action: ActionWithdraw, Purpose: "marketing", Withdraws: "g1", At: now.Add(-2 * time.Hour)},
		grant("g2", "marketing", General, "2026-01", now.Add(-1*time.Hour)),
		{ID: "w9", Action: ActionWithdraw, Purpose: "marketing", Withdraws: "nope", At: now},
	}
	recs := Derive(evs)
	if len(recs) != 2 || recs[0].StatusAt(now) != Withdrawn || recs[1].StatusAt(now) != Granted {
		t.Fatalf("%+v", recs)
	}
	if recs[0].StatusAt(now.Add(-150*time.Minute)) != Granted {
		t.Error("status before the withdrawal should be granted")
	}
	exp := now.Add(time.Hour)
	r := Record{ExpiresAt: &exp}
	if r.StatusAt(now) != Granted || r.StatusAt(exp) != Expired {
		t.Error("expiry")
	}
}

// expected is the test's own statement of the rules (PIPL Art. 13, 14, 23, 29, 31, 39), written from the
// design documents, against which Evaluate is checked for every combination.
func expected(p policies.Purpose, sensitive, minor, ageUnknown bool, recipient string, r *Record) (bool, string) {
	if !p.NeedsConsent() {
		return true, ""
	}
	needSeparate := sensitive || p.ConsentKind == "separate"
	fallback := "consent_required"
	// A purpose that profiles individuals needs an age: unknown is unverified, treated as a child.
	if ageUnknown && p.Tags == policies.TagsSubject {
		minor = true
		fallback = "age_verification_required"
	} else if minor {
		fallback = "guardian_consent_required"
	} else if needSeparate {
		fallback = "separate_consent_required"
	}
	if r == nil || r.Purpose != p.Name || r.StatusAt(now) != Granted || !p.ConsentCounts(r.NoticeVersion) {
		return false, fallback
	}
	if len(p.Recipients) > 0 && (recipient == "" || r.Recipient != recipient) {
		if minor {
			return false, fallback
		}
		return false, "separate_consent_required"
	}
	if minor {
		return r.Kind == Guardian, fallback
	}
	if needSeparate {
		return r.Kind == Separate || r.Kind == Written, fallback
	}
	return true, ""
}

func TestEvaluateMatrix(t *testing.T) {
	cat := purposes(t)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	states := map[string]func(p policies.Purpose) *Record{
		"none": func(policies.Purpose) *Record { return nil },
	}
	for _, k := range []Kind{General, Separate, Written, Guardian} {
		k := k
		states["granted/"+string(k)] = func(p policies.Purpose) *Record {
			return &Record{ID: "c1", Purpose: p.Name, Kind: k, NoticeVersion: p.Notice.Version, GrantedAt: past, Recipient: first(p.Recipients)}
		}
	}
	states["withdrawn"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: p.Notice.Version, GrantedAt: past, WithdrawnAt: &past, Recipient: first(p.Recipients)}
	}
	states["expired"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: p.Notice.Version, GrantedAt: past, ExpiresAt: &past, Recipient: first(p.Recipients)}
	}
	states["expires later"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: p.Notice.Version, GrantedAt: past, ExpiresAt: &future, Recipient: first(p.Recipients)}
	}
	states["older notice"] = func(p policies.Purpose) *Record {
		v := "2025-06"
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: v, GrantedAt: past, Recipient: first(p.Recipients)}
	}
	states["unknown notice"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: "1999", GrantedAt: past, Recipient: first(p.Recipients)}
	}
	states["other purpose"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: "analytics-x", Kind: Separate, NoticeVersion: p.Notice.Version, GrantedAt: past}
	}
	states["wrong recipient"] = func(p policies.Purpose) *Record {
		return &Record{ID: "c1", Purpose: p.Name, Kind: Separate, NoticeVersion: p.Notice.Version, GrantedAt: past, Recipient: "someone_else"}
	}
	n := 0
	for _, p := range cat.All() {
		for name, state := range states {
			for _, cats := range []string{"contact", "sensitive_identity"} {
				for _, age := range []string{"adult", "minor", "unknown"} {
					minor, unknown := age == "minor", age == "unknown"
					for _, recipient := range []string{"", first(p.Recipients)} {
						r := state(p)
						var recs []Record
						if r != nil {
							recs = []Record{*r}
						}
						sens := cats == "sensitive_identity"
						got := Evaluate(Query{Purpose: p, Categories: []string{cats}, Sensitive: map[string]bool{cats: sens}, Minor: minor,
							AgeUnknown: unknown, Recipient: recipient, Records: recs, Now: now})[cats]
						wantOK, wantReason := expected(p, sens, minor, unknown, recipient, r)
						n++
						if got.OK != wantOK || (!wantOK && got.Reason != wantReason) {
							t.Errorf("%s, %s, %s, age %s, recipient=%q: got %+v, want ok=%v reason=%q", p.Name, name, cats, age, recipient, got, wantOK, wantReason)
						}
						if got.OK && p.NeedsConsent() && (len(got.ConsentIDs) != 1 || got.ConsentIDs[0] != "c1") {
							t.Errorf("%s, %s: consent ids %v", p.Name, name, got.ConsentIDs)
						}
					}
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestNoFieldWithoutLegalBasis draws random histories and checks that whatever Evaluate grants under a
// consent purpose is backed by a record that is granted now, for a notice that counts, of a fitting kind.
func TestNoFieldWithoutLegalBasis(t *testing.T) {
	cat := purposes(t)
	all := cat.All()
	r := rand.New(rand.NewPCG(7, 11))
	kinds := []Kind{General, Separate, Written, Guardian}
	for i := 0; i < 20000; i++ {
		p := all[r.IntN(len(all))]
		var evs []Event
		for j := 0; j < r.IntN(5); j++ {
			purpose := p.Name
			if r.IntN(4) == 0 {
				purpose = all[r.IntN(len(all))].Name
			}
			notice := []string{p.Notice.Version, "2025-06", "2020-01"}[r.IntN(3)]
			g := grant(fmt.Sprintf("g%d", j), purpose, kinds[r.IntN(4)], notice, now.Add(-time.Duration(r.IntN(1000))*time.Minute))
			if r.IntN(3) == 0 {
				exp := now.Add(time.Duration(r.IntN(200)-100) * time.Minute)
				g.ExpiresAt = &exp
			}
			if len(p.Recipients) > 0 && r.IntN(3) > 0 {
				g.Recipient = p.Recipients[0]
			}
			evs = append(evs, g)
			if r.IntN(3) == 0 {
				evs = append(evs, Event{ID: fmt.Sprintf("w%d", j), Action: ActionWithdraw, Purpose: purpose, Withdraws: g.ID,
					At: now.Add(-time.Duration(r.IntN(500)) * time.Minute)})
			}
		}
		recs := Derive(evs)
		minor := r.IntN(4) == 0
		sens := r.IntN(2) == 0
		recipient := ""
		if len(p.Recipients) > 0 && r.IntN(2) == 0 {
			recipient = p.Recipients[0]
		}
		res := Evaluate(Query{Purpose: p, Categories: []string{"c"}, Sensitive: map[string]bool{"c": sens}, Minor: minor, Recipient: recipient, Records: recs, Now: now})["c"]
		if !res.OK || !p.NeedsConsent() {
			continue
		}
		backed := false
		for _, id := range res.ConsentIDs {
			for _, rec := range recs {
				if rec.ID != id || rec.Purpose != p.Name || rec.StatusAt(now) != Granted || !p.ConsentCounts(rec.NoticeVersion) {
					continue
				}
				kindOK := (minor && rec.Kind == Guardian) || (!minor && (!(sens || p.ConsentKind == "separate") || rec.Kind == Separate || rec.Kind == Written))
				recipientOK := len(p.Recipients) == 0 || (recipient != "" && rec.Recipient == recipient)
				backed = backed || (kindOK && recipientOK)
			}
		}
		if !backed {
			t.Fatalf("granted without a legal basis: purpose %s minor=%v sensitive=%v records %+v result %+v", p.Name, minor, sens, recs, res)
		}
	}
}

func TestGrantValidation(t *testing.T) {
	cat := purposes(t)
	mk, _ := cat.Purpose("marketing")
	share, _ := cat.Purpose("third_party_sharing")
	acct, _ := cat.Purpose("account_management")
	past := now.Add(-time.Hour)
	ok := Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version, Method: "app_checkbox"}
	if err := ok.Validate(mk, now); err != nil {
		t.Fatal(err)
	}
	imported := ok
	imported.GrantedAt = &past
	if err := imported.Validate(mk, now); err != nil {
		t.Fatalf("an imported grant with its past time: %v", err)
	}
	for name, tc := range map[string]struct {
		g Grant
		p policies.Purpose
	}{
		"contract purpose":       {Grant{Purpose: "account_management", Kind: General, NoticeVersion: "2026-01", Method: "m"}, acct},
		"bad kind":               {Grant{Purpose: "marketing", Kind: "verbal", NoticeVersion: mk.Notice.Version, Method: "m"}, mk},
		"old notice":             {Grant{Purpose: "marketing", Kind: General, NoticeVersion: "2025-06", Method: "m"}, mk},
		"no method":              {Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version}, mk},
		"past expiry":            {Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version, Method: "m", ExpiresAt: &past}, mk},
		"sharing general":        {Grant{Purpose: "third_party_sharing", Kind: General, NoticeVersion: share.Notice.Version, Method: "m", Recipient: share.Recipients[0]}, share},
		"sharing no recipient":   {Grant{Purpose: "third_party_sharing", Kind: Separate, NoticeVersion: share.Notice.Version, Method: "m"}, share},
		"recipient not allowed":  {Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version, Method: "m", Recipient: "x"}, mk},
		"granted in the future":  {Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version, Method: "m", GrantedAt: ptr(now.Add(time.Hour))}, mk},
		"expires before granted": {Grant{Purpose: "marketing", Kind: General, NoticeVersion: mk.Notice.Version, Method: "m", GrantedAt: ptr(now.Add(-time.Hour)), ExpiresAt: ptr(now.Add(-2 * time.Hour))}, mk},
	} {
		if err := tc.g.Validate(tc.p, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }
