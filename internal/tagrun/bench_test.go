package tagrun_test

import "testing"

// BenchmarkOneSubject measures incremental recomputation of one subject's tags with the frozen models:
// release (one durable audit entry), extract, compute both purposes, seal and store (another).
func BenchmarkOneSubject(b *testing.B) {
	s, r := shop(b, 120)
	ids, err := s.App.Internals().Store.SubjectIDs(b.Context(), "", 1000)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := r.One(b.Context(), ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
