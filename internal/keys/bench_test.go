package keys

import (
	"fmt"
	"testing"
)

// profile20 is a profile of 20 fields of about 24 bytes each.
func profile20() (fields []string, values [][]byte) {
	for i := range 20 {
		fields = append(fields, fmt.Sprintf("field_%02d", i))
		values = append(values, []byte(fmt.Sprintf("湖北省襄阳市 value %03d", i))) // 24 bytes
	}
	return fields, values
}

// BenchmarkSealProfile20 seals the 20 fields of one profile with a cached cipher; one op is one
// profile.
func BenchmarkSealProfile20(b *testing.B) {
	r := newTestRing(b)
	c := newTestCipher(b, r, 1024)
	ref := DEKRef{Subject: "7f1c2e5a-subject", Class: "general", Version: 1}
	w := mustNewDEK(b, r, ref)
	fields, values := profile20()
	mustSeal(b, c, ref, w, fields[0], values[0]) // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		for i, f := range fields {
			if _, err := c.Seal(ref, w, f, values[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkOpenProfile20 opens the 20 fields of one profile with a cached cipher; one op is one
// profile.
func BenchmarkOpenProfile20(b *testing.B) {
	r := newTestRing(b)
	c := newTestCipher(b, r, 1024)
	ref := DEKRef{Subject: "7f1c2e5a-subject", Class: "general", Version: 1}
	w := mustNewDEK(b, r, ref)
	fields, values := profile20()
	sealed := make([][]byte, len(fields))
	for i, f := range fields {
		sealed[i] = mustSeal(b, c, ref, w, f, values[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, f := range fields {
			if _, err := c.Open(ref, w, f, sealed[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSealUncached seals one 24-byte field per op with a cache of size 1 and two alternating
// subjects, so every op unwraps the DEK and builds a new AES-GCM cipher. Compare with
// BenchmarkSealProfile20/20 to see what the cache saves.
func BenchmarkSealUncached(b *testing.B) {
	r := newTestRing(b)
	c := newTestCipher(b, r, 1)
	refs := [2]DEKRef{
		{Subject: "subject-a", Class: "general", Version: 1},
		{Subject: "subject-b", Class: "general", Version: 1},
	}
	ws := [2]WrappedDEK{mustNewDEK(b, r, refs[0]), mustNewDEK(b, r, refs[1])}
	value := []byte("湖北省襄阳市 value 001")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i & 1
		i++
		if _, err := c.Seal(refs[k], ws[k], "name", value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlindIndexToken computes one phone-number token.
func BenchmarkBlindIndexToken(b *testing.B) {
	bi := newTestRing(b).BlindIndex()
	bi.Token("phone", "+8613800001234")
	b.ReportAllocs()
	for b.Loop() {
		bi.Token("phone", "+8613800001234")
	}
}

// BenchmarkPseudonym computes one audit pseudonym.
func BenchmarkPseudonym(b *testing.B) {
	p := newTestRing(b).Pseudonymizer()
	b.ReportAllocs()
	for b.Loop() {
		p.Pseudonym("7f1c2e5a-4b7d-4c1e-9f0a-2d3b4c5d6e7f")
	}
}
