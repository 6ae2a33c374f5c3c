package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNewDEKUnwrapRoundTrip(t *testing.T) {
	r := newTestRing(t)
	ref := DEKRef{Subject: "subj", Class: "general", Version: 1}
	w1 := mustNewDEK(t, r, ref)
	w2 := mustNewDEK(t, r, ref)
	if len(w1.Ciphertext) != 60 {
		t.Fatalf("wrapped DEK is %d bytes, want 60", len(w1.Ciphertext))
	}
	d1, err := r.Unwrap(ref, w1)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	d2, err := r.Unwrap(ref, w2)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if len(d1) != 32 || bytes.Equal(d1, d2) {
		t.Fatalf("DEKs: len %d, equal %v; want 32 random bytes each", len(d1), bytes.Equal(d1, d2))
	}
}

func TestUnwrapRejectsMovedWrappedDEK(t *testing.T) {
	r := newTestRing(t)
	ref := DEKRef{Subject: "subj", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	tests := []struct {
		name string
		ref  DEKRef
	}{
		{"other subject", DEKRef{Subject: "subj2", Class: "general", Version: 1}},
		{"other class", DEKRef{Subject: "subj", Class: "transactions", Version: 1}},
		{"other DEK version", DEKRef{Subject: "subj", Class: "general", Version: 2}},
		{"length-shifted subject/class", DEKRef{Subject: "subjg", Class: "eneral", Version: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Unwrap(tt.ref, w)
			wantErr(t, err, ErrDecrypt)
			_, err = r.Rewrap(tt.ref, w)
			wantErr(t, err, ErrDecrypt)
		})
	}
}

func TestUnwrapRejectsTampering(t *testing.T) {
	r := newTestRing(t)
	ref := DEKRef{Subject: "subj", Class: "general", Version: 1}
	w := mustNewDEK(t, r, ref)
	for i := range len(w.Ciphertext) * 8 {
		bad := WrappedDEK{KEKVersion: w.KEKVersion, Ciphertext: bytes.Clone(w.Ciphertext)}
		bad.Ciphertext[i/8] ^= 1 << (i % 8)
		if _, err := r.Unwrap(ref, bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("bit %d flipped: %v, want ErrDecrypt", i, err)
		}
	}
	tests := []struct {
		name   string
		w      WrappedDEK
		target error
	}{
		{"truncated", WrappedDEK{KEKVersion: 1, Ciphertext: w.Ciphertext[:59]}, ErrDecrypt},
		{"extended", WrappedDEK{KEKVersion: 1, Ciphertext: append(bytes.Clone(w.Ciphertext), 0)}, ErrDecrypt},
		{"empty", WrappedDEK{KEKVersion: 1}, ErrDecrypt},
		{"unknown KEK version", WrappedDEK{KEKVersion: 9, Ciphertext: w.Ciphertext}, ErrKEKUnavailable},
		{"KEK version 0", WrappedDEK{KEKVersion: 0, Ciphertext: w.Ciphertext}, ErrKEKUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Unwrap(ref, tt.w)
			wantErr(t, err, tt.target)
		})
	}
	// A KEK version relabel to another live version fails authentication.
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Unwrap(ref, WrappedDEK{KEKVersion: 2, Ciphertext: w.Ciphertext})
	wantErr(t, err, ErrDecrypt)
}

func TestDEKRefValidation(t *testing.T) {
	r := newTestRing(t)
	good := DEKRef{Subject: "s", Class: "general", Version: 1}
	w := mustNewDEK(t, r, good)
	for _, ref := range []DEKRef{
		{Subject: "", Class: "general", Version: 1},
		{Subject: "s", Class: "", Version: 1},
		{Subject: strings.Repeat("s", 1025), Class: "general", Version: 1},
		{Subject: "s", Class: strings.Repeat("c", 1025), Version: 1},
	} {
		if _, err := r.NewDEK(ref); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NewDEK(%d-byte subject, %d-byte class): %v", len(ref.Subject), len(ref.Class), err)
		}
		if _, err := r.Unwrap(ref, w); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Unwrap: %v", err)
		}
		if _, err := r.Rewrap(ref, w); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Rewrap: %v", err)
		}
	}
}

func TestWrappedDEKBinaryRoundTrip(t *testing.T) {
	r := newTestRing(t)
	ref := DEKRef{Subject: "s", Class: "general", Version: 3}
	w := mustNewDEK(t, r, ref)
	enc, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got WrappedDEK
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if got.KEKVersion != w.KEKVersion || !bytes.Equal(got.Ciphertext, w.Ciphertext) {
		t.Fatal("binary round trip changed the wrapped DEK")
	}
	if _, err := r.Unwrap(ref, got); err != nil {
		t.Fatalf("Unwrap after binary round trip: %v", err)
	}
	if err := got.UnmarshalBinary([]byte{1, 2}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("short encoding: %v", err)
	}
}

func TestADEncodingIsUnambiguous(t *testing.T) {
	refs := []struct {
		ref   DEKRef
		field string
	}{
		{DEKRef{"ab", "c", 1}, "d"},
		{DEKRef{"a", "bc", 1}, "d"},
		{DEKRef{"a", "b", 1}, "cd"},
		{DEKRef{"a", "bcd", 1}, ""},
		{DEKRef{"a", "b", 2}, "cd"},
		{DEKRef{"a", "b", 1 << 8}, "cd"},
	}
	seenField := map[string]int{}
	seenDEK := map[string]int{}
	for i, x := range refs {
		if j, ok := seenField[string(fieldAD(x.ref, x.field))]; ok {
			t.Errorf("fieldAD collision between cases %d and %d", i, j)
		}
		seenField[string(fieldAD(x.ref, x.field))] = i
		if x.field == "" {
			continue
		}
		k := string(dekAD(x.ref))
		if j, ok := seenDEK[k]; ok && refs[j].ref != x.ref {
			t.Errorf("dekAD collision between cases %d and %d", i, j)
		}
		seenDEK[k] = i
	}
	want := "pv-field-v1\x00\x00\x00\x02ab\x00\x00\x00\x01c\x00\x00\x00\x01d\x00\x00\x00\x01"
	if got := string(fieldAD(DEKRef{"ab", "c", 1}, "d")); got != want {
		t.Errorf("fieldAD = %q, want %q", got, want)
	}
	want = "pv-dek-v1\x00\x00\x00\x02ab\x00\x00\x00\x01c\x00\x00\x00\x07"
	if got := string(dekAD(DEKRef{"ab", "c", 7})); got != want {
		t.Errorf("dekAD = %q, want %q", got, want)
	}
}
