package authn

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzKeyLabel names the deterministic key the seeds in testdata/fuzz/FuzzVerify
// are signed with; several seeds carry genuine signatures but fail on claims
// (expired, wrong issuer, empty roles), so mutations start deep in the checks.
const fuzzKeyLabel = "authn fuzz key"

// FuzzVerify checks that arbitrary token strings never panic and are never
// accepted, and that ParseBearer never panics on them either.
func FuzzVerify(f *testing.F) {
	s := newTestSigner(f, fuzzKeyLabel)
	v := newTestVerifier(f, s.KeySet(), func() time.Time { return t0 }, 0)
	for _, seed := range []string{
		"",
		"a.b.c",
		"..",
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.e30.AAAA",
		strings.Repeat("A", MaxTokenSize+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(token)
		if err == nil {
			t.Fatalf("Verify accepted a fuzzed token: %+v", p)
		}
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Verify error %q does not wrap ErrUnauthenticated", err)
		}
		if p.Subject != "" || p.Roles != nil {
			t.Fatalf("rejected token returned principal %+v", p)
		}
		if _, err := ParseBearer("Bearer " + token); err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("ParseBearer error %q does not wrap ErrUnauthenticated", err)
		}
	})
}

// TestFuzzSeedsFailForTheirReason keeps the checked-in fuzz seeds meaningful:
// each must fail for the reason its file is named after, so that the
// genuinely signed ones exercise the claim checks rather than the signature.
func TestFuzzSeedsFailForTheirReason(t *testing.T) {
	s := newTestSigner(t, fuzzKeyLabel)
	v := newTestVerifier(t, s.KeySet(), func() time.Time { return t0 }, 0)
	tests := []struct {
		file string
		want error
	}{
		{"expired", errExpired},
		{"wrong_issuer", errWrongIssuer},
		{"empty_roles", errBadRoles},
		{"lifetime_48h", errLifetime},
		{"alg_none", errAlgNotAllowed},
		{"hs256_confusion", errAlgNotAllowed},
		{"unknown_kid", errUnknownKID},
		{"garbage", errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
				!strings.HasPrefix(lines[1], "string(") || !strings.HasSuffix(lines[1], ")") {
				t.Fatalf("unexpected corpus file format")
			}
			tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(tok)
			wantReason(t, err, tt.want)
		})
	}
}
