package authn

import (
	"fmt"
	"testing"
	"time"
)

// mintN mints n distinct tokens valid at t0.
func mintN(b *testing.B, s *Signer, n int) []string {
	b.Helper()
	toks := make([]string, n)
	for i := range toks {
		tok, err := s.Mint(MintRequest{Subject: fmt.Sprint("staff-", i), Roles: []string{"support", "analyst"}, Team: "emea", TTL: time.Hour, Now: t0})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	return toks
}

// BenchmarkVerifyUncached measures a full verification (parse, Ed25519
// signature check, claims): a one-entry cache and distinct tokens mean every
// call misses.
func BenchmarkVerifyUncached(b *testing.B) {
	s := newTestSigner(b, "bench")
	v := newTestVerifier(b, s.KeySet(), func() time.Time { return t0 }, 1)
	toks := mintN(b, s, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyCached measures a cache hit: hash, LRU lookup, expiry recheck.
func BenchmarkVerifyCached(b *testing.B) {
	s := newTestSigner(b, "bench")
	v := newTestVerifier(b, s.KeySet(), func() time.Time { return t0 }, 0)
	tok := mintN(b, s, 1)[0]
	if _, err := v.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel measures cache hits from all cores at once
// (the LRU takes a lock on every hit).
func BenchmarkVerifyCachedParallel(b *testing.B) {
	s := newTestSigner(b, "bench")
	v := newTestVerifier(b, s.KeySet(), func() time.Time { return t0 }, 0)
	toks := mintN(b, s, 64)
	for _, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkVerifyRejectGarbage measures how cheaply obvious garbage is refused.
func BenchmarkVerifyRejectGarbage(b *testing.B) {
	s := newTestSigner(b, "bench")
	v := newTestVerifier(b, s.KeySet(), func() time.Time { return t0 }, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify("not.a.jwt"); err == nil {
			b.Fatal("accepted garbage")
		}
	}
}
