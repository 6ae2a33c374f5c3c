package authn

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	const tok = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzIn0.c2ln"
	tests := []struct {
		name   string
		header string
		want   string // "" means an error is expected
	}{
		{"canonical", "Bearer " + tok, tok},
		{"lower-case scheme", "bearer " + tok, tok},
		{"upper-case scheme", "BEARER " + tok, tok},
		{"extra spaces", "Bearer    " + tok + "  ", tok},
		{"leading space", "  Bearer " + tok, tok},
		{"tab separator", "Bearer\t" + tok, tok},
		{"empty", "", ""},
		{"spaces only", "   ", ""},
		{"scheme only", "Bearer", ""},
		{"scheme and space", "Bearer ", ""},
		{"no separator", "Bearer" + tok, ""},
		{"basic auth", "Basic dXNlcjpwYXNz", ""},
		{"token without scheme", tok, ""},
		{"two tokens", "Bearer " + tok + " " + tok, ""},
		{"newline in token", "Bearer " + tok + "\nX", ""},
		{"over 8 KiB", "Bearer " + strings.Repeat("a", MaxTokenSize), ""},
		{"exactly 8 KiB", "Bearer " + strings.Repeat("a", MaxTokenSize-len("Bearer ")), strings.Repeat("a", MaxTokenSize-len("Bearer "))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBearer(tt.header)
			if tt.want == "" {
				if !errors.Is(err, ErrUnauthenticated) || got != "" {
					t.Fatalf("ParseBearer = %q, %v; want ErrUnauthenticated", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseBearer = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
