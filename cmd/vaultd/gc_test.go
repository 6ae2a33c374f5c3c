package main

import (
	"runtime/debug"
	"testing"
)

// gcPercent returns the current GC percent without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestSetGCRaisesTargetUnlessTheEnvironmentSetsIt(t *testing.T) {
	before, beforeLimit := gcPercent(), debug.SetMemoryLimit(-1)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	restore := setGC(getenv, importGCPercent, importMemoryLimit)
	if got := gcPercent(); got != importGCPercent {
		t.Fatalf("GC percent = %d, want %d", got, importGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != importMemoryLimit {
		t.Fatalf("memory limit = %d, want %d", got, importMemoryLimit)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Fatalf("after restore GC percent = %d, want %d again", got, before)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Fatalf("after restore memory limit = %d, want %d again", got, beforeLimit)
	}

	env["GOMEMLIMIT"] = "3GiB" // the runtime read it at start; setGC must leave the limit alone
	restore = setGC(getenv, serveGCPercent, serveMemoryLimit)
	if got := gcPercent(); got != serveGCPercent {
		t.Fatalf("with GOMEMLIMIT set, GC percent = %d, want %d", got, serveGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Fatalf("with GOMEMLIMIT set, setGC changed the memory limit to %d", got)
	}
	restore()

	env["GOGC"] = "50"
	restore = setGC(getenv, tagsGCPercent, tagsMemoryLimit)
	if got := gcPercent(); got != before {
		t.Fatalf("with GOGC set, setGC changed the GC percent to %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Fatalf("with GOGC set, setGC changed the memory limit to %d", got)
	}
	restore()
}
