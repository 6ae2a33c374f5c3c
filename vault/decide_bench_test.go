package vault

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/consent"
	"github.com/profilevault/profilevault/policies"
)

// stubCrypto opens every value as a fixed adult birth date: enough for the age rule, no key setup.
type stubCrypto struct{ Crypto }

func (stubCrypto) Open(DEK, string, []byte) ([]byte, error) { return []byte("1990-04-01"), nil }

// BenchmarkDecide is the full decision for a read of every schema field (13): compiled policy, retention,
// the subject's age from the sealed birth date, and consent evaluation over the cached consent state.
func BenchmarkDecide(b *testing.B) {
	pol, err := policies.Load("")
	if err != nil {
		b.Fatal(err)
	}
	s := &Profiles{core: &core{gate: newGate(stubCrypto{}, nil), now: time.Now, policy: &atomic.Pointer[policies.Set]{}}}
	s.policy.Store(pol)
	purpose, _ := pol.Purposes().Purpose("marketing")
	now := time.Now()
	rec := SubjectRecord{ID: "sub_x", UpdatedAt: now,
		DEKs:   map[string]DEK{ClassGeneral: {Class: ClassGeneral, Version: 1}},
		Fields: map[string]SealedField{"birth_date": {Name: "birth_date", Class: ClassGeneral, DEKVersion: 1}},
		Consents: consent.Derive([]consent.Event{
			{ID: "c1", Action: consent.ActionGrant, Purpose: "marketing", Kind: consent.General, NoticeVersion: "2026-01", At: now.Add(-time.Hour)},
			{ID: "c2", Action: consent.ActionGrant, Purpose: "personalization", Kind: consent.General, NoticeVersion: "2026-01", At: now.Add(-time.Hour)},
		})}
	var fields []string
	for _, f := range pol.Schema().Fields() {
		fields = append(fields, f.Name)
	}
	a := Access{Caller: Caller{Subject: "mk", Roles: []policies.Role{"marketing"}}, Purpose: "marketing"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		grants := pol.FieldGrants(a.Caller.Roles, a.Purpose, "read")
		var e audit.Entry
		granted, _, ids, err := s.decide(&e, pol, purpose, grants, rec, a, fields)
		if err != nil || len(granted) == 0 || len(ids) != 1 {
			b.Fatalf("granted %v ids %v", granted, ids)
		}
	}
}
