package app

import "time"

// SetPolicyCheckInterval sets how often nodes opened afterwards check the policy in force besides the
// notifications, until the test ends.
func SetPolicyCheckInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := policyCheckInterval
	policyCheckInterval = d
	t.Cleanup(func() { policyCheckInterval = old })
}

// MigratedTables lists the SQLite tables vaultd migrate copies and those it leaves, with why (tests only).
func MigratedTables() (copied []string, skipped map[string]string) {
	for _, t := range migrateTables {
		copied = append(copied, t.source)
	}
	return copied, notMigrated
}
