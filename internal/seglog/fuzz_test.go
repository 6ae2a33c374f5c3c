package seglog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecover opens a log whose only segment holds arbitrary bytes right after valid frames: recovery never
// panics, keeps every valid leading frame, cuts the rest off, and the log then takes appends.
func FuzzRecover(f *testing.F) {
	f.Add([]byte{}, 3)
	f.Add([]byte{0, 0, 0, 5, '{', '"', 'a', '"', '}', 0, 0, 0, 0}, 1)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 2)
	f.Add([]byte{0, 0}, 0)
	f.Fuzz(func(t *testing.T, tail []byte, n int) {
		n = max(0, min(n, 5))
		dir := t.TempDir()
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := l.Append(context.Background(), entry(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.log"))
		if len(segs) == 0 {
			if len(tail) == 0 {
				return
			}
			segs = []string{filepath.Join(dir, "segments", "00000000000000000001.log")}
		}
		if n == 0 {
			if err := os.WriteFile(segs[0], nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		writeAfterLastFrame(t, segs[0], tail) // over the zero fill, as a torn write would land
		l, err = Open(dir, Options{})
		if err != nil {
			t.Fatalf("recovery failed: %v", err)
		}
		defer l.Close()
		if l.Size() < int64(n) {
			t.Fatalf("recovery lost valid entries: %d of %d", l.Size(), n)
		}
		if _, err := l.Append(context.Background(), entry(99), nil); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}
