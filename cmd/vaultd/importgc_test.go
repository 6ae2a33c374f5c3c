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

func TestImportGCRaisesTargetUnlessGOGCSet(t *testing.T) {
	before, beforeLimit := gcPercent(), debug.SetMemoryLimit(-1)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := importGC()
	if got := gcPercent(); got != importGCPercent {
		t.Fatalf("during the import GC percent = %d, want %d", got, importGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != importMemoryLimit {
		t.Fatalf("during the import memory limit = %d, want %d", got, importMemoryLimit)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Fatalf("after the import GC percent = %d, want %d again", got, before)
	}
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Fatalf("after the import memory limit = %d, want %d again", got, beforeLimit)
	}
	t.Setenv("GOGC", "50")
	restore = importGC()
	if got := gcPercent(); got != before {
		t.Fatalf("with GOGC set the import changed the GC percent to %d", got)
	}
	restore()
}
