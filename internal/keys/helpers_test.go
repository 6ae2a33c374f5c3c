package keys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// newTestRing creates a fresh ring in a new temporary directory.
func newTestRing(t testing.TB) *Ring {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys", "ring.json")
	r, created, err := LoadOrCreateRing(path)
	if err != nil {
		t.Fatalf("LoadOrCreateRing: %v", err)
	}
	if !created {
		t.Fatalf("LoadOrCreateRing: created = false for a new path")
	}
	return r
}

// newTestCipher returns a FieldCipher over r with the given cache size.
func newTestCipher(t testing.TB, r *Ring, size int) *FieldCipher {
	t.Helper()
	c, err := NewFieldCipher(r, size)
	if err != nil {
		t.Fatalf("NewFieldCipher: %v", err)
	}
	return c
}

// mustNewDEK wraps a new DEK for ref.
func mustNewDEK(t testing.TB, r *Ring, ref DEKRef) WrappedDEK {
	t.Helper()
	w, err := r.NewDEK(ref)
	if err != nil {
		t.Fatalf("NewDEK: %v", err)
	}
	return w
}

// mustSeal seals plaintext or fails the test.
func mustSeal(t testing.TB, c *FieldCipher, ref DEKRef, w WrappedDEK, field string, plaintext []byte) []byte {
	t.Helper()
	sealed, err := c.Seal(ref, w, field, plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// mustOpen opens sealed and compares it with want.
func mustOpen(t testing.TB, c *FieldCipher, ref DEKRef, w WrappedDEK, field string, sealed []byte, want string) {
	t.Helper()
	got, err := c.Open(ref, w, field, sealed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(got) != want {
		t.Fatalf("Open = %q, want %q", got, want)
	}
}

// wantErr fails the test unless err matches target.
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// ringFileKeys reads the raw key material of the ring file at path.
func ringFileKeys(t testing.TB, path string) ringFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read ring: %v", err)
	}
	var doc ringFile
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse ring: %v", err)
	}
	return doc
}

// writeFile writes data to path with the given mode, regardless of umask.
func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
}

// b64 is standard base64, as used in the ring file.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
