package sqlite

import (
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/storetest"
)

// The SQLite adapter passes the storers' conformance suite, with its record cache on and off. The suite
// tests behaviour, not latency: a commit may take its time under -race on a busy machine (the first of
// RunKeys writes 1,100 subjects and keys at once, which once outlasted the default 5 s).
func TestConformance(t *testing.T) {
	for name, cache := range map[string]int{"cache on": 0, "cache off": -1} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t testing.TB) storetest.Adapter {
				s := openTest(t, Options{RecordCache: cache, CommitTimeout: time.Minute})
				return storetest.Adapter{Store: s, Log: s.auditLog, Identity: s, Requests: s, Access: s, Audiences: s, Revocations: s,
					Keys: s, Policies: s, Incidents: s, Notes: s, Trail: s}
			})
		})
	}
}
