package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreateRingCreatesAndReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "ring.json")

	r, created, err := LoadOrCreateRing(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created {
		t.Fatal("created = false, want true")
	}
	if got := r.Path(); got != path {
		t.Errorf("Path = %q, want %q", got, path)
	}
	if got := r.ActiveVersion(); got != 1 {
		t.Errorf("ActiveVersion = %d, want 1", got)
	}
	if got := r.Versions(); !slices.Equal(got, []uint32{1}) {
		t.Errorf("Versions = %v, want [1]", got)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %#o, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode = %#o, want 0700", perm)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	doc := ringFileKeys(t, path)
	if doc.Format != 2 || doc.Active != 1 || len(doc.KEKs) != 1 || doc.KEKs[0].Version != 1 ||
		len(doc.KEKs[0].Key) != 32 || len(doc.IndexKey) != 32 || len(doc.PseudonymKey) != 32 ||
		doc.KEKs[0].CreatedAt.IsZero() {
		t.Errorf("unexpected ring document: format=%d active=%d keks=%d", doc.Format, doc.Active, len(doc.KEKs))
	}
	if bytes.Equal(doc.IndexKey, doc.PseudonymKey) || bytes.Equal(doc.IndexKey, doc.KEKs[0].Key) {
		t.Error("root keys are not independent")
	}
	raw, _ := os.ReadFile(path)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "active", "keks", "index_key", "pseudonym_key"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("ring file lacks member %q", k)
		}
	}
	created0 := generic["keks"].([]any)[0].(map[string]any)["created_at"].(string)
	if _, err := time.Parse(time.RFC3339, created0); err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", created0, err)
	}

	ref := DEKRef{Subject: "s1", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	r2, created, err := LoadOrCreateRing(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if created {
		t.Error("created = true on reload")
	}
	if _, err := r2.Unwrap(ref, w); err != nil {
		t.Errorf("reloaded ring cannot unwrap: %v", err)
	}
	if a, b := r.Pseudonymizer().Pseudonym("s1"), r2.Pseudonymizer().Pseudonym("s1"); a != b {
		t.Error("pseudonym changed across reload")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(raw, after) {
		t.Error("loading rewrote the ring file")
	}
}

func TestLoadOrCreateRingConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.json")
	const n = 8
	rings := make([]*Ring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], _, errs[i] = LoadOrCreateRing(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	want := rings[0].Pseudonymizer().Pseudonym("x")
	for i, r := range rings {
		if got := r.Pseudonymizer().Pseudonym("x"); got != want {
			t.Errorf("ring %d has different keys from ring 0", i)
		}
	}
}

func TestLoadOrCreateRingInsecurePermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606, 0o611} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newTestRing(t)
			before, _ := os.ReadFile(r.Path())
			if err := os.Chmod(r.Path(), mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateRing(r.Path())
			wantErr(t, err, ErrInsecurePermissions)
			after, _ := os.ReadFile(r.Path())
			if !bytes.Equal(before, after) {
				t.Error("ring file was modified")
			}
		})
	}
	t.Run("0400 is fine", func(t *testing.T) {
		r := newTestRing(t)
		if err := os.Chmod(r.Path(), 0o400); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateRing(r.Path()); err != nil {
			t.Errorf("0400: %v", err)
		}
	})
}

func TestLoadOrCreateRingRejectsMalformed(t *testing.T) {
	key := b64(bytes.Repeat([]byte{7}, 32))
	short := b64(bytes.Repeat([]byte{7}, 16))
	kek := func(v int, k string) string {
		return `{"version":` + itoa(v) + `,"key":"` + k + `","created_at":"2025-01-02T03:04:05Z"}`
	}
	doc := func(format, active int, keks, index, pseudo string) string {
		return `{"format":` + itoa(format) + `,"active":` + itoa(active) + `,"keks":[` + keks +
			`],"index_key":"` + index + `","pseudonym_key":"` + pseudo + `"}`
	}
	valid := doc(1, 1, kek(1, key), key, key)
	tests := []struct {
		name, content string
	}{
		{"empty file", ""},
		{"not JSON", "hello"},
		{"truncated", valid[:len(valid)/2]},
		{"JSON array", "[]"},
		{"empty object", "{}"},
		{"format 3", doc(3, 1, kek(1, key), key, key)},
		{"active retired", doc(2, 2, kek(1, key)+`,{"version":2,"key":"`+key+`","created_at":"2025-01-02T03:04:05Z","retired_at":"2025-02-02T03:04:05Z"}`, key, key)},
		{"purged with key", doc(2, 2, `{"version":1,"key":"`+key+`","created_at":"2025-01-02T03:04:05Z","retired_at":"2025-02-02T03:04:05Z","purged_at":"2025-02-03T03:04:05Z"},`+kek(2, key), key, key)},
		{"purged never retired", doc(2, 2, `{"version":1,"created_at":"2025-01-02T03:04:05Z","purged_at":"2025-02-03T03:04:05Z"},`+kek(2, key), key, key)},
		{"no KEKs", doc(1, 1, "", key, key)},
		{"active missing", doc(1, 2, kek(1, key), key, key)},
		{"active not highest", doc(1, 1, kek(1, key)+","+kek(2, key), key, key)},
		{"version 0", doc(1, 0, kek(0, key), key, key)},
		{"duplicate version", doc(1, 1, kek(1, key)+","+kek(1, key), key, key)},
		{"short KEK", doc(1, 1, kek(1, short), key, key)},
		{"short index key", doc(1, 1, kek(1, key), short, key)},
		{"short pseudonym key", doc(1, 1, kek(1, key), key, short)},
		{"bad base64", doc(1, 1, kek(1, "!!not base64!!"), key, key)},
		{"missing created_at", strings.Replace(valid, `,"created_at":"2025-01-02T03:04:05Z"`, "", 1)},
		{"unknown member", strings.Replace(valid, `"format":1`, `"format":1,"extra":true`, 1)},
		{"trailing data", valid + " {}"},
		{"wrong type", strings.Replace(valid, `"active":1`, `"active":"1"`, 1)},
	}
	t.Run("valid control", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ring.json")
		writeFile(t, path, []byte(valid), 0o600)
		if _, _, err := LoadOrCreateRing(path); err != nil {
			t.Fatalf("valid document rejected: %v", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ring.json")
			writeFile(t, path, []byte(tt.content), 0o600)
			r, created, err := LoadOrCreateRing(path)
			wantErr(t, err, ErrMalformedRing)
			if r != nil || created {
				t.Errorf("got ring %v, created %v, want nil, false", r, created)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), short) {
				t.Errorf("error reveals key material: %v", err)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tt.content {
				t.Error("malformed ring file was overwritten")
			}
		})
	}
}

func TestLoadOrCreateRingRejectsNonRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateRing(path)
	if err == nil {
		t.Fatal("a directory was accepted as a ring")
	}
	if _, _, err := LoadOrCreateRing(""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty path: %v, want ErrInvalidArgument", err)
	}
}

func TestRotateRetireAndReload(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 16)
	ref := DEKRef{Subject: "subj-1", Class: "general", Version: 1}
	w1 := mustNewDEK(t, r, ref)
	if w1.KEKVersion != 1 {
		t.Fatalf("KEKVersion = %d, want 1", w1.KEKVersion)
	}
	sealed := mustSeal(t, c, ref, w1, "name", []byte("李雷"))

	v, err := r.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if v != 2 || r.ActiveVersion() != 2 || !slices.Equal(r.Versions(), []uint32{1, 2}) {
		t.Fatalf("after Rotate: v=%d active=%d versions=%v", v, r.ActiveVersion(), r.Versions())
	}
	// Old wrapped DEK still opens data sealed before the rotation, through a fresh cache too.
	mustOpen(t, c, ref, w1, "name", sealed, "李雷")
	mustOpen(t, newTestCipher(t, r, 4), ref, w1, "name", sealed, "李雷")

	w2, err := r.Rewrap(ref, w1)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if w2.KEKVersion != 2 || bytes.Equal(w2.Ciphertext, w1.Ciphertext) {
		t.Fatalf("Rewrap did not move the DEK to version 2")
	}
	mustOpen(t, c, ref, w2, "name", sealed, "李雷")
	mustOpen(t, newTestCipher(t, r, 4), ref, w2, "name", sealed, "李雷")
	d1, _ := r.Unwrap(ref, w1)
	d2, _ := r.Unwrap(ref, w2)
	if !bytes.Equal(d1, d2) {
		t.Fatal("Rewrap changed the DEK")
	}
	if w := mustNewDEK(t, r, DEKRef{Subject: "subj-2", Class: "general", Version: 1}); w.KEKVersion != 2 {
		t.Errorf("new DEK wrapped under %d, want 2", w.KEKVersion)
	}
	// Rewrap under the active version is a verified copy.
	w2b, err := r.Rewrap(ref, w2)
	if err != nil || w2b.KEKVersion != 2 || !bytes.Equal(w2b.Ciphertext, w2.Ciphertext) {
		t.Fatalf("Rewrap of an active-version DEK: %v", err)
	}
	w2b.Ciphertext[0] ^= 1
	if w2.Ciphertext[0] == w2b.Ciphertext[0] {
		t.Fatal("Rewrap returned an aliased ciphertext")
	}

	// Reload after rotation.
	r2, created, err := LoadOrCreateRing(r.Path())
	if err != nil || created {
		t.Fatalf("reload: %v created=%v", err, created)
	}
	if r2.ActiveVersion() != 2 || !slices.Equal(r2.Versions(), []uint32{1, 2}) {
		t.Fatalf("reloaded: active=%d versions=%v", r2.ActiveVersion(), r2.Versions())
	}
	c2 := newTestCipher(t, r2, 4)
	mustOpen(t, c2, ref, w1, "name", sealed, "李雷")
	mustOpen(t, c2, ref, w2, "name", sealed, "李雷")

	// Rotate once more: versions 1, 2, 3. Retire 2: it is marked, keeps unwrapping, and never wraps.
	if v, err := r2.Rotate(); err != nil || v != 3 {
		t.Fatalf("Rotate: %d, %v", v, err)
	}
	if err := r2.Retire([]uint32{2}); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if !slices.Equal(r2.Versions(), []uint32{1, 3}) {
		t.Fatalf("live versions after Retire(2) = %v, want [1 3]", r2.Versions())
	}
	mustOpen(t, newTestCipher(t, r2, 4), ref, w2, "name", sealed, "李雷")
	if w, err := r2.Rewrap(ref, w2); err != nil || w.KEKVersion != 3 {
		t.Fatalf("Rewrap from a retired version: %v (version %d), want a move to 3", err, w.KEKVersion)
	}
	// The active version is never retired, an unknown one is refused, and a refusal changes nothing.
	for _, vs := range [][]uint32{{3}, {1, 3}, {9}} {
		if err := r2.Retire(vs); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Retire(%v) = %v, want ErrInvalidArgument", vs, err)
		}
	}
	if !slices.Equal(r2.Versions(), []uint32{1, 3}) {
		t.Fatalf("a refused Retire changed the ring: %v", r2.Versions())
	}
	// Purge destroys only retired versions.
	if err := r2.Purge([]uint32{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Purge of a live version = %v, want ErrInvalidArgument", err)
	}
	if err := r2.Purge([]uint32{2}); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	// The copy of the ring before the purge (PATH.prev) still holds the purged key, until ForgetPrevious
	// (which the vault's purge calls) makes it the purged ring too.
	if cur, _ := os.ReadFile(r2.Path()); bytes.Equal(cur, must(os.ReadFile(r2.Path()+prevSuffix))) {
		t.Fatal("the ring's previous copy is the purged ring before ForgetPrevious")
	}
	if err := r2.ForgetPrevious(); err != nil {
		t.Fatal(err)
	}
	if cur, _ := os.ReadFile(r2.Path()); len(cur) == 0 {
		t.Fatal("no ring file")
	} else if prev, err := os.ReadFile(r2.Path() + prevSuffix); err != nil || !bytes.Equal(prev, cur) {
		t.Fatalf("the ring's previous copy after a purge differs from the purged ring (%v)", err)
	}
	if _, err := r2.Unwrap(ref, w2); !errors.Is(err, ErrKEKUnavailable) {
		t.Errorf("Unwrap under a purged version: %v, want ErrKEKUnavailable", err)
	}
	if _, err := r2.Rewrap(ref, w2); !errors.Is(err, ErrKEKUnavailable) {
		t.Errorf("Rewrap from a purged version: %v, want ErrKEKUnavailable", err)
	}
	if err := r2.Purge([]uint32{2}); err != nil {
		t.Errorf("Purge of a purged version: %v, want no-op", err)
	}

	r3, _, err := LoadOrCreateRing(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if r3.ActiveVersion() != 3 || !slices.Equal(r3.Versions(), []uint32{1, 3}) {
		t.Fatalf("reloaded after Purge: active=%d versions=%v", r3.ActiveVersion(), r3.Versions())
	}
	infos := r3.KEKs()
	if len(infos) != 3 || infos[1].Version != 2 || infos[1].RetiredAt.IsZero() || infos[1].PurgedAt.IsZero() || !infos[2].Active {
		t.Fatalf("reloaded KEKs = %+v, want 2 retired and purged, 3 active", infos)
	}
	if _, err := r3.Unwrap(ref, w2); !errors.Is(err, ErrKEKUnavailable) {
		t.Errorf("purged version survived reload: %v", err)
	}
	mustOpen(t, newTestCipher(t, r3, 4), ref, w1, "name", sealed, "李雷")
	if v, err := r3.Rotate(); err != nil || v != 4 {
		t.Errorf("Rotate after Purge: %d, %v; want 4", v, err)
	}
	if fi, err := os.Stat(r.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ring file mode after rewrite: %v %v", fi.Mode(), err)
	}
}

// TestRingKeepsPreviousFile checks that every write leaves the file it replaced beside it, and that a ring
// whose file is gone but whose previous copy exists is never silently recreated.
func TestRingKeepsPreviousFile(t *testing.T) {
	r := newTestRing(t)
	first, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	prev, err := os.ReadFile(r.Path() + ".prev")
	if err != nil || !bytes.Equal(prev, first) {
		t.Fatalf("after Rotate, .prev is not the file it replaced: %v", err)
	}
	second, _ := os.ReadFile(r.Path())
	if err := r.Retire([]uint32{1}); err != nil {
		t.Fatal(err)
	}
	if prev, _ = os.ReadFile(r.Path() + ".prev"); !bytes.Equal(prev, second) {
		t.Fatal("after Retire, .prev is not the file it replaced")
	}
	if fi, err := os.Stat(r.Path() + ".prev"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf(".prev mode: %v %v", fi, err)
	}
	// The ring file lost (say, by a restore gone wrong): no new ring over the old one's data.
	if err := os.Remove(r.Path()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateRing(r.Path()); !errors.Is(err, ErrMalformedRing) {
		t.Fatalf("LoadOrCreateRing with only .prev present = %v, want a refusal", err)
	}
	if _, err := os.Stat(r.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a new ring was written over the lost one")
	}
	if _, err := OpenRing(r.Path()); err == nil {
		t.Fatal("OpenRing of a missing file succeeded")
	}
	// Restoring the previous file brings back every version it had.
	if err := os.WriteFile(r.Path(), prev, 0o600); err != nil {
		t.Fatal(err)
	}
	r2, err := OpenRing(r.Path())
	if err != nil || r2.ActiveVersion() != 2 || !slices.Equal(r2.Versions(), []uint32{1, 2}) {
		t.Fatalf("restored ring: %v active=%d versions=%v", err, r2.ActiveVersion(), r2.Versions())
	}
}

// TestRingReadsFormat1 keeps rings written before retirement marks readable.
func TestRingReadsFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.json")
	key := bytes.Repeat([]byte{7}, keySize)
	doc := map[string]any{"format": 1, "active": 2, "index_key": key, "pseudonym_key": key, "keks": []map[string]any{
		{"version": 1, "key": key, "created_at": "2026-01-01T00:00:00Z"},
		{"version": 2, "key": key, "created_at": "2026-02-01T00:00:00Z"},
	}}
	data, _ := json.Marshal(doc)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(path)
	if err != nil || r.ActiveVersion() != 2 || !slices.Equal(r.Versions(), []uint32{1, 2}) {
		t.Fatalf("format 1 ring: %v active=%d versions=%v", err, r.ActiveVersion(), r.Versions())
	}
	// Its next write is format 2 and reads back the same.
	if err := r.Retire([]uint32{1}); err != nil {
		t.Fatal(err)
	}
	r2, err := OpenRing(path)
	if err != nil || !slices.Equal(r2.Versions(), []uint32{2}) || r2.KEKs()[0].RetiredAt.IsZero() {
		t.Fatalf("rewritten ring: %v versions=%v", err, r2.Versions())
	}
}

func TestRotateAndRetireLeaveRingUnchangedOnPersistFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	r, _, err := LoadOrCreateRing(filepath.Join(dir, "ring.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(); err == nil {
		t.Fatal("Rotate succeeded without a directory")
	}
	if r.ActiveVersion() != 2 || !slices.Equal(r.Versions(), []uint32{1, 2}) {
		t.Fatalf("failed Rotate changed the ring: active=%d versions=%v", r.ActiveVersion(), r.Versions())
	}
	if err := r.Retire([]uint32{1}); err == nil {
		t.Fatal("Retire succeeded without a directory")
	}
	if !slices.Equal(r.Versions(), []uint32{1, 2}) {
		t.Fatalf("failed Retire changed the ring: versions=%v", r.Versions())
	}
}

func TestConcurrentRotateAndUse(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 8)
	ref := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	sealed := mustSeal(t, c, ref, w, "f", []byte("v"))
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 5 {
			if _, err := r.Rotate(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for range 200 {
				nw, err := r.Rewrap(ref, w)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.Open(ref, nw, "f", sealed)
				if err != nil || string(got) != "v" {
					t.Errorf("Open after Rewrap: %q, %v", got, err)
					return
				}
				_ = r.Versions()
			}
		})
	}
	wg.Wait()
	if r.ActiveVersion() != 6 {
		t.Errorf("ActiveVersion = %d, want 6", r.ActiveVersion())
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
