package main

import "runtime/debug"

// The garbage collector's settings per command. Each of them allocates much short-lived memory (parsed lines,
// batches, request and audit-entry buffers) over a small live heap, so the collector runs at 4× the live heap
// instead of 1× (GOGC=400), under a soft limit on the runtime's memory that makes it collect harder before the
// heap passes what the command is meant to take.
const (
	// serveGCPercent and serveMemoryLimit: measured under bench/wrk.sh's load (1,000 subjects, 64
	// connections), 8 % less CPU a request and 7–10 % more requests a second than GOGC=100, for 250 → 400 MB
	// of RSS. The limit is above what any request needs; set GOMEMLIMIT to fit a smaller container.
	serveGCPercent   = 400
	serveMemoryLimit = 2 << 30

	// importGCPercent and importMemoryLimit: collecting at 4× the live heap saves about a tenth of an
	// import's CPU (measured on the 10k-subject shop: 405 → 626 MiB peak RSS); the limit keeps the heap
	// under 1 GiB (the 100k shop's import peaked at 1.9 GB without).
	importGCPercent   = 400
	importMemoryLimit = 1 << 30

	// tagsGCPercent and tagsMemoryLimit: a full tag run holds every subject's features until the
	// population is fitted; the limit keeps the 100,000-subject shop's peak RSS under 1.5 GiB (the process
	// also holds SQLite's page caches and the mapped database outside the Go heap).
	tagsGCPercent   = 400
	tagsMemoryLimit = 1100 << 20
)

// setGC sets the collector's target to percent unless GOGC is set, and its soft memory limit to limit unless
// GOMEMLIMIT is set (GOGC alone leaves both to the environment), and returns the function that restores them.
func setGC(getenv func(string) string, percent int, limit int64) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	oldLimit := int64(-1)
	if getenv("GOMEMLIMIT") == "" {
		oldLimit = debug.SetMemoryLimit(limit)
	}
	old := debug.SetGCPercent(percent)
	return func() {
		debug.SetGCPercent(old)
		if oldLimit >= 0 {
			debug.SetMemoryLimit(oldLimit)
		}
	}
}
