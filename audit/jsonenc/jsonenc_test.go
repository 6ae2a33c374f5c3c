package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendString holds AppendString and AppendStringMap to encoding/json's bytes, with and without HTML
// escaping, for any strings.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "张三", "a\"b\\c", "<&>", "line\nbreak\t", "\u2028\u2029", "\xff\xfe", "\x00\x1f", "\U0001F600", "1<2"} {
		f.Add(s, "k")
	}
	f.Fuzz(func(t *testing.T, s, k string) {
		for _, html := range []bool{false, true} {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(html)
			if err := enc.Encode(map[string]any{"s": s, "m": map[string]string{k: s, s: k}}); err != nil {
				t.Fatal(err)
			}
			got := []byte(`{"m":`)
			got = AppendStringMap(got, map[string]string{k: s, s: k}, html)
			got = append(got, `,"s":`...)
			got = AppendString(got, s, html)
			got = append(got, "}\n"...)
			if !bytes.Equal(got, buf.Bytes()) {
				t.Fatalf("html=%v:\n%s\nencoding/json:\n%s", html, got, buf.Bytes())
			}
		}
		if got, want := AppendStringMap(nil, nil, true), []byte("null"); !bytes.Equal(got, want) {
			t.Fatalf("nil map: %s", got)
		}
	})
}
