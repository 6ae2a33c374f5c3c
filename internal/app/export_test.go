package app

import "time"

// SetPolicyCheckInterval sets how often nodes opened afterwards check the policy in force besides the
// notifications, until the test ends.
func SetPolicyCheckInterval(t interface{ Cleanup(func()) }, d time.Duration) {
	old := policyCheckInterval
	policyCheckInterval = d
	t.Cleanup(func() { policyCheckInterval = old })
}
