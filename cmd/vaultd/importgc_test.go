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
	before := gcPercent()
	t.Setenv("GOGC", "")
	restore := importGC()
	if got := gcPercent(); got != importGCPercent {
		t.Fatalf("during the import GC percent = %d, want %d", got, importGCPercent)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Fatalf("after the import GC percent = %d, want %d again", got, before)
	}
	t.Setenv("GOGC", "50")
	restore = importGC()
	if got := gcPercent(); got != before {
		t.Fatalf("with GOGC set the import changed the GC percent to %d", got)
	}
	restore()
}
