package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestFieldSealOpenRoundTrip(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 8)
	ref := DEKRef{Subject: "7f1c2e5a-subject", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	tests := []struct {
		name, field, value string
	}{
		{"ascii", "email", "lilei@example.cn"},
		{"chinese name", "name", "李雷"},
		{"chinese address", "address", "湖北省襄阳市樊城区人民路 88 号 3 单元 502 室"},
		{"emoji and mixed scripts", "note", "喜欢 🍵 and 咖啡 ☕, Ünïcödé"},
		{"empty value", "middle_name", ""},
		{"binary", "blob", "\x00\xff\x00\x01"},
		{"long", "review", strings.Repeat("很好，物流很快。", 500)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := mustSeal(t, c, ref, w, tt.field, []byte(tt.value))
			if got, want := len(sealed), 1+4+12+len(tt.value)+16; got != want {
				t.Errorf("sealed length = %d, want %d", got, want)
			}
			if sealed[0] != 1 || binary.BigEndian.Uint32(sealed[1:5]) != ref.Version {
				t.Errorf("header = % x, want format 1 and DEK version %d", sealed[:5], ref.Version)
			}
			if len(tt.value) >= 4 && bytes.Contains(sealed, []byte(tt.value)) {
				t.Error("sealed value contains the plaintext")
			}
			mustOpen(t, c, ref, w, tt.field, sealed, tt.value)
			again := mustSeal(t, c, ref, w, tt.field, []byte(tt.value))
			if bytes.Equal(again, sealed) {
				t.Error("sealing twice gave identical output (nonce reuse)")
			}
			if v, err := SealedDEKVersion(sealed); err != nil || v != ref.Version {
				t.Errorf("SealedDEKVersion = %d, %v", v, err)
			}
		})
	}
}

func TestFieldOpenRejectsMovedCiphertext(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 16)
	ref := DEKRef{Subject: "subj-a", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	sealed := mustSeal(t, c, ref, w, "phone", []byte("+8613800001234"))

	otherSubject := DEKRef{Subject: "subj-b", Class: "general", Version: 1}
	otherClass := DEKRef{Subject: "subj-a", Class: "transactions", Version: 1}
	otherVersion := DEKRef{Subject: "subj-a", Class: "general", Version: 2}
	wSubject := mustNewDEK(t, r, otherSubject)
	wClass := mustNewDEK(t, r, otherClass)
	wVersion := mustNewDEK(t, r, otherVersion)

	relabelled := bytes.Clone(sealed)
	binary.BigEndian.PutUint32(relabelled[1:5], 2)

	tests := []struct {
		name   string
		ref    DEKRef
		w      WrappedDEK
		field  string
		sealed []byte
		target error
	}{
		{"other field", ref, w, "email", sealed, ErrDecrypt},
		{"other subject with its own DEK", otherSubject, wSubject, "phone", sealed, ErrDecrypt},
		{"other subject presenting this DEK", otherSubject, w, "phone", sealed, ErrDecrypt},
		{"other class with its own DEK", otherClass, wClass, "phone", sealed, ErrDecrypt},
		{"other DEK version with its own DEK", otherVersion, wVersion, "phone", sealed, ErrDecrypt},
		{"header relabelled to other DEK version", otherVersion, wVersion, "phone", relabelled, ErrDecrypt},
		{"other DEK version presenting this DEK", otherVersion, w, "phone", relabelled, ErrDecrypt},
		{"wrong format byte", ref, w, "phone", append([]byte{2}, sealed[1:]...), ErrDecrypt},
		{"truncated below header+tag", ref, w, "phone", sealed[:32], ErrDecrypt},
		{"truncated tag", ref, w, "phone", sealed[:len(sealed)-1], ErrDecrypt},
		{"empty", ref, w, "phone", nil, ErrDecrypt},
		{"wrapped DEK under unknown KEK", ref, WrappedDEK{KEKVersion: 5, Ciphertext: w.Ciphertext}, "phone", sealed, ErrKEKUnavailable},
		{"empty field name", ref, w, "", sealed, ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := c.Open(tt.ref, tt.w, tt.field, tt.sealed)
			wantErr(t, err, tt.target)
			if pt != nil {
				t.Errorf("Open returned plaintext %q with an error", pt)
			}
			if strings.Contains(err.Error(), "138") {
				t.Errorf("error mentions the value: %v", err)
			}
		})
	}
	mustOpen(t, c, ref, w, "phone", sealed, "+8613800001234") // control
}

// TestFieldADBindsEveryPart checks the binding with one and the same DEK, so that a failure can
// only come from the associated data and not from a different key.
func TestFieldADBindsEveryPart(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 4)
	ref := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	aead, err := c.aead(ref, w)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 12)
	ct := aead.Seal(nil, nonce, []byte("value"), fieldAD(ref, "name"))
	for _, tt := range []struct {
		name  string
		ref   DEKRef
		field string
	}{
		{"subject", DEKRef{"t", "general", 1}, "name"},
		{"class", DEKRef{"s", "transactions", 1}, "name"},
		{"version", DEKRef{"s", "general", 2}, "name"},
		{"field", ref, "email"},
		{"shifted boundary", DEKRef{"s", "generaln", 1}, "ame"},
	} {
		if _, err := aead.Open(nil, nonce, ct, fieldAD(tt.ref, tt.field)); err == nil {
			t.Errorf("%s: opened with different associated data", tt.name)
		}
	}
	if _, err := aead.Open(nil, nonce, ct, fieldAD(ref, "name")); err != nil {
		t.Errorf("control: %v", err)
	}
}

func TestFieldOpenRejectsEveryBitFlip(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 4)
	ref := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	sealed := mustSeal(t, c, ref, w, "city", []byte("襄阳"))
	for i := range len(sealed) * 8 {
		bad := bytes.Clone(sealed)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := c.Open(ref, w, "city", bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("bit %d flipped: %v, want ErrDecrypt", i, err)
		}
	}
	mustOpen(t, c, ref, w, "city", sealed, "襄阳")
}

func TestFieldCipherCacheAndEvict(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 3)
	refA1 := DEKRef{Subject: "a", Class: "general", Version: 1}
	refA2 := DEKRef{Subject: "a", Class: "transactions", Version: 1}
	refB := DEKRef{Subject: "b", Class: "general", Version: 1}
	wA1, wA2, wB := mustNewDEK(t, r, refA1), mustNewDEK(t, r, refA2), mustNewDEK(t, r, refB)
	sA1 := mustSeal(t, c, refA1, wA1, "name", []byte("韩梅梅"))
	sA2 := mustSeal(t, c, refA2, wA2, "amount", []byte("199.00"))
	sB := mustSeal(t, c, refB, wB, "name", []byte("李雷"))
	if c.Len() != 0 {
		t.Fatalf("cache holds %d after one use of each DEK, want 0 (a DEK enters on its second miss)", c.Len())
	}
	// The second use of each admits it.
	mustOpen(t, c, refA1, wA1, "name", sA1, "韩梅梅")
	mustOpen(t, c, refA2, wA2, "amount", sA2, "199.00")
	mustOpen(t, c, refB, wB, "name", sB, "李雷")
	if c.Len() != 3 {
		t.Fatalf("cache holds %d, want 3", c.Len())
	}

	c.Evict("a")
	if c.Len() != 1 {
		t.Fatalf("after Evict(a) cache holds %d, want 1", c.Len())
	}
	// Open still works: the DEK unwraps again (twice, to enter the cache again).
	for range 2 {
		mustOpen(t, c, refA1, wA1, "name", sA1, "韩梅梅")
		mustOpen(t, c, refA2, wA2, "amount", sA2, "199.00")
	}
	mustOpen(t, c, refB, wB, "name", sB, "李雷")
	c.Evict("nobody")
	if c.Len() != 3 {
		t.Fatalf("cache holds %d, want 3", c.Len())
	}

	// The LRU is bounded and its eviction keeps the subject index right.
	refC := DEKRef{Subject: "c", Class: "general", Version: 1}
	wC := mustNewDEK(t, r, refC)
	mustSeal(t, c, refC, wC, "name", []byte("x"))
	mustSeal(t, c, refC, wC, "name", []byte("x"))
	if c.Len() != 3 {
		t.Fatalf("cache holds %d, want the bound 3", c.Len())
	}
	c.Evict("a")
	c.Evict("b")
	c.Evict("c")
	if c.Len() != 0 || len(c.bySubject) != 0 {
		t.Fatalf("after evicting all: len %d, index %d", c.Len(), len(c.bySubject))
	}

	// A cached AEAD serves only the wrapped DEK it came from.
	mustOpen(t, c, refA1, wA1, "name", sA1, "韩梅梅")
	mustOpen(t, c, refA1, wA1, "name", sA1, "韩梅梅")
	if c.Len() != 1 {
		t.Fatalf("cache holds %d, want A1 alone", c.Len())
	}
	forged := WrappedDEK{KEKVersion: wA1.KEKVersion, Ciphertext: bytes.Clone(wA1.Ciphertext)}
	forged.Ciphertext[20] ^= 1
	if _, err := c.Open(refA1, forged, "name", sA1); !errors.Is(err, ErrDecrypt) {
		t.Errorf("cached AEAD used for a different wrapped DEK: %v", err)
	}

	c.Purge()
	if c.Len() != 0 || len(c.bySubject) != 0 {
		t.Fatalf("after Purge: len %d, index %d", c.Len(), len(c.bySubject))
	}
	mustOpen(t, c, refA1, wA1, "name", sA1, "韩梅梅")
}

func TestFieldCipherEvictDuringUnwrapDoesNotCache(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 4)
	ref := DEKRef{Subject: "erased", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	sealed := mustSeal(t, c, ref, w, "name", []byte("v")) // the first miss: the second is admitted
	c.testHookAfterUnwrap = func() { c.Evict("erased") }
	mustOpen(t, c, ref, w, "name", sealed, "v")
	if c.Len() != 0 {
		t.Fatalf("AEAD cached although Evict ran during the unwrap (len %d)", c.Len())
	}
	c.testHookAfterUnwrap = nil
	mustOpen(t, c, ref, w, "name", sealed, "v")
	mustOpen(t, c, ref, w, "name", sealed, "v")
	if c.Len() != 1 {
		t.Fatalf("cache holds %d, want 1", c.Len())
	}
}

func TestFieldCipherConcurrentSealOpenEvict(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 3) // smaller than the subject set: constant LRU churn
	const subjects = 6
	refs := make([]DEKRef, subjects)
	ws := make([]WrappedDEK, subjects)
	for i := range subjects {
		refs[i] = DEKRef{Subject: fmt.Sprintf("subj-%d", i), Class: "general", Version: 1}
		ws[i] = mustNewDEK(t, r, refs[i])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				k := (g + i) % subjects
				val := fmt.Sprintf("值-%d-%d", g, i)
				sealed, err := c.Seal(refs[k], ws[k], "name", []byte(val))
				if err != nil {
					t.Errorf("Seal: %v", err)
					return
				}
				got, err := c.Open(refs[k], ws[k], "name", sealed)
				if err != nil || string(got) != val {
					t.Errorf("Open = %q, %v; want %q", got, err, val)
					return
				}
				if _, err := c.Open(refs[(k+1)%subjects], ws[(k+1)%subjects], "name", sealed); !errors.Is(err, ErrDecrypt) {
					t.Errorf("opened under another subject: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 600 {
			c.Evict(refs[i%subjects].Subject)
		}
	})
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	indexed := 0
	for subject, set := range c.bySubject {
		for ref := range set {
			indexed++
			if ref.Subject != subject || !c.lru.Contains(ref) {
				t.Errorf("index entry %v under %q not in the LRU", ref, subject)
			}
		}
	}
	if indexed != c.lru.Len() {
		t.Errorf("index holds %d refs, LRU %d", indexed, c.lru.Len())
	}
}

func TestNewFieldCipherValidation(t *testing.T) {
	r := newTestRing(t)
	for _, tt := range []struct {
		name string
		r    *Ring
		size int
	}{
		{"nil ring", nil, 4},
		{"zero size", r, 0},
		{"negative size", r, -1},
	} {
		if _, err := NewFieldCipher(tt.r, tt.size); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tt.name, err)
		}
	}
	c := newTestCipher(t, r, 1)
	ref := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	if _, err := c.Seal(ref, w, "", []byte("x")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty field: %v", err)
	}
	if _, err := c.Seal(DEKRef{Class: "general", Version: 1}, w, "f", []byte("x")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty subject: %v", err)
	}
	if _, err := SealedDEKVersion([]byte{1, 2, 3}); !errors.Is(err, ErrDecrypt) {
		t.Errorf("SealedDEKVersion of garbage: %v", err)
	}
}

// A scan that opens one field of each of many subjects, each DEK once, leaves the DEKs in use cached:
// without the doorkeeper every one of them would be pushed out of the LRU by DEKs never used again.
func TestFieldCipherScanKeepsTheCache(t *testing.T) {
	r := newTestRing(t)
	c := newTestCipher(t, r, 8)
	hot := DEKRef{Subject: "hot", Class: "general", Version: 1}
	wHot := mustNewDEK(t, r, hot)
	sHot := mustSeal(t, c, hot, wHot, "name", []byte("韩梅梅"))
	mustOpen(t, c, hot, wHot, "name", sHot, "韩梅梅")
	if c.Len() != 1 {
		t.Fatalf("cache holds %d, want the hot DEK", c.Len())
	}
	// The scanned values were sealed long before, elsewhere.
	sealer := newTestCipher(t, r, 8)
	type scanned struct {
		ref    DEKRef
		w      WrappedDEK
		sealed []byte
	}
	var scan []scanned
	for i := range 50 {
		ref := DEKRef{Subject: fmt.Sprintf("scanned-%d", i), Class: "general", Version: 1}
		w := mustNewDEK(t, r, ref)
		scan = append(scan, scanned{ref, w, mustSeal(t, sealer, ref, w, "name", []byte("x"))})
	}
	for _, sc := range scan {
		mustOpen(t, c, sc.ref, sc.w, "name", sc.sealed, "x")
	}
	c.mu.Lock()
	_, ok := c.lru.Peek(hot)
	c.mu.Unlock()
	if !ok || c.Len() != 1 {
		t.Fatalf("a scan of 50 DEKs used once each changed a cache of 8 (hot kept: %v, len %d)", ok, c.Len())
	}
}
