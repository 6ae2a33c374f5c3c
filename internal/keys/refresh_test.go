package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two processes on one ring file: a rotation by one reaches the other at its first DEK under the new
// version, which then becomes its active version too. A process holding a copy of the file refuses that
// DEK naming the version; a file replaced by another ring is refused and the ring kept.
func TestRingPicksUpAnotherProcesssRotation(t *testing.T) {
	a := newTestRing(t)
	b, err := OpenRing(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "kek.json")
	raw, err := os.ReadFile(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, copyPath, raw, 0o600)
	c, err := OpenRing(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	ref := DEKRef{Subject: "7f1c2e5a-subject", Class: "general", Version: 1}
	if v, err := a.Rotate(); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	w := mustNewDEK(t, a, ref)
	if w.KEKVersion != 2 {
		t.Fatalf("A wrapped under %d", w.KEKVersion)
	}
	if _, err := b.Unwrap(ref, w); err != nil {
		t.Fatalf("B on the shared file: %v", err)
	}
	if b.ActiveVersion() != 2 || mustNewDEK(t, b, ref).KEKVersion != 2 {
		t.Fatalf("B's active version after picking up the rotation: %d", b.ActiveVersion())
	}
	_, err = c.Unwrap(ref, w)
	if !errors.Is(err, ErrKEKUnavailable) || !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), "same ring file") {
		t.Fatalf("C on a copy: %v", err)
	}
	// Another ring written over the file: refused, and B keeps its versions.
	other := newTestRing(t)
	raw, err = os.ReadFile(other.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.Path(), append(raw, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.refresh(0); !errors.Is(err, ErrMalformedRing) {
		t.Fatalf("another ring over the file: %v", err)
	}
	if _, err := b.Unwrap(ref, w); err != nil || b.ActiveVersion() != 2 {
		t.Fatalf("B after refusing the other ring: %v, active %d", err, b.ActiveVersion())
	}
}
