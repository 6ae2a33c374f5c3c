package keys

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzDecodeRing feeds arbitrary bytes to the ring file parser: it never panics, and whatever it accepts
// encodes back to a document that decodes to the same versions and states.
func FuzzDecodeRing(f *testing.F) {
	key := `"` + b64(bytes.Repeat([]byte{7}, 32)) + `"`
	f.Add([]byte(`{"format":2,"active":2,"keks":[{"version":1,"created_at":"2026-01-01T00:00:00Z","retired_at":"2026-02-01T00:00:00Z","purged_at":"2026-03-01T00:00:00Z"},{"version":2,"key":` + key + `,"created_at":"2026-02-01T00:00:00Z"}],"index_key":` + key + `,"pseudonym_key":` + key + `}`))
	f.Add([]byte(`{"format":1,"active":1,"keks":[{"version":1,"key":` + key + `,"created_at":"2026-01-01T00:00:00Z"}],"index_key":` + key + `,"pseudonym_key":` + key + `}`))
	f.Add([]byte(`{"format":2,"active":1,"keks":[]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRing("ring.json", data)
		if err != nil {
			return
		}
		r.mu.RLock()
		enc, err := r.encodeLocked(r.active, r.keks)
		r.mu.RUnlock()
		if err != nil {
			t.Fatalf("an accepted ring does not encode: %v", err)
		}
		r2, err := decodeRing("ring.json", enc)
		if err != nil {
			t.Fatalf("an accepted ring's encoding does not decode: %v", err)
		}
		if r2.ActiveVersion() != r.ActiveVersion() || !slices.EqualFunc(r2.KEKs(), r.KEKs(), func(a, b KEKInfo) bool {
			return a.Version == b.Version && a.Active == b.Active && a.CreatedAt.Equal(b.CreatedAt) &&
				a.RetiredAt.Equal(b.RetiredAt) && a.PurgedAt.Equal(b.PurgedAt)
		}) {
			t.Fatalf("round trip changed the ring: %+v → %+v", r.KEKs(), r2.KEKs())
		}
	})
}
