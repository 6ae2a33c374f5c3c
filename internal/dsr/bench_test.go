package dsr

import (
	"testing"
	"time"
)

// BenchmarkAddWorkingDays15 computes one 15-working-day due date across the 2026 Spring Festival
// (the longest holiday stretch in the data); one op is one due date.
func BenchmarkAddWorkingDays15(b *testing.B) {
	c := PRC()
	received := time.Date(2026, 2, 13, 3, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.AddWorkingDays(received, 15)
	}
}
