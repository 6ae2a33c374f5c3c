package vault

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// attrSamples are attribute documents as events carry them, and the edge cases of the fast path.
var attrSamples = []string{
	`{"category":"diapers","dwell_ms":16538,"page":"product","session_id":"s_529a8439d7499c5b","sku":"SKU-DP-2-016"}`,
	`{"amount":170.43,"coupon":"CP21","currency":"CNY","discount":45.5,"items":[{"brand":"海盐","category":"home_goods","price":46.9,"qty":2,"sku":"SKU-H"}],"order_id":"o-1"}`,
	`{"rating":5,"text":"质量很好，会回购"}`,
	`{}`,
	` { "a" : [ ] , "b" : { } , "c" : [1, -2.5e-3, 0, true, false, null, "x"] } `,
	`{"text":"he said \"no\""}`,       // an escape: encoding/json decodes it
	`{"text":"\u003cb\u003e"}`,        // escaped HTML characters, as json.Marshal writes them
	"{\"text\":\"bad \xff utf-8\"}",   // invalid UTF-8: replaced by encoding/json
	`{"a":1,"a":2}`,                   // a repeated key
	`{"n":1e400}`,                     // out of range
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, // not JSON numbers
	`{"a":1,}`, `{"a" 1}`, `{"a":1} x`, // malformed
	`null`, `[]`, `"x"`, ``, `{"a":tru}`, // not an object
}

// TestDecodeAttrsMatchesEncodingJSON: decodeAttrs gives what json.Unmarshal gives, value and error.
func TestDecodeAttrsMatchesEncodingJSON(t *testing.T) {
	for _, s := range attrSamples {
		t.Run(s, func(t *testing.T) { sameAsEncodingJSON(t, []byte(s)) })
	}
}

// TestDecodeAttrsFastPath: the documents events carry take the fast path (no fallback to encoding/json).
func TestDecodeAttrsFastPath(t *testing.T) {
	for _, s := range attrSamples[:5] {
		d := attrDecoder{b: []byte(s)}
		if _, ok := d.object(nil); !ok {
			t.Errorf("%s: left the fast path", s)
		}
	}
}

func FuzzDecodeAttrs(f *testing.F) {
	for _, s := range attrSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsEncodingJSON)
}

// sameAsEncodingJSON checks decodeAttrs against json.Unmarshal, and decodeAttrsOf, for a few sets of
// attributes to keep, against json.Unmarshal's map without the others.
func sameAsEncodingJSON(t *testing.T, b []byte) {
	for _, keep := range []map[string]bool{nil, {}, {"category": true}, {"a": true, "items": true, "text": true, "n": true}} {
		var want map[string]any
		wantErr := json.Unmarshal(b, &want)
		for k := range want {
			if keep != nil && !keep[k] {
				delete(want, k)
			}
		}
		got, err := decodeJSONAttrsOf(b, keep)
		if keep == nil && (len(b) == 0 || b[0] != attrsBinary) {
			got, err = decodeAttrs(b) // a JSON document as stored before the binary encoding
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q, keeping %v: error %v, encoding/json's %v", b, keep, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q, keeping %v: decoded %#v, encoding/json %#v", b, keep, got, want)
		}
		if wantErr != nil || want == nil {
			continue
		}
		// The same attributes in the binary encoding read back as the JSON did.
		var all map[string]any
		if err := json.Unmarshal(b, &all); err != nil {
			t.Fatal(err)
		}
		enc, err := encodeAttrs(all)
		if err != nil {
			t.Fatalf("%q: encode: %v", b, err)
		}
		if got, err := decodeAttrsOf(enc, keep); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q, keeping %v: binary decoded %#v (%v), encoding/json %#v", b, keep, got, err, want)
		}
	}
}

// TestEncodeAttrsAsJSONWould: whatever Go values a caller puts in attributes, the binary encoding reads
// back what their JSON encoding read back, and fails where json.Marshal fails.
func TestEncodeAttrsAsJSONWould(t *testing.T) {
	type pair struct{ A, B int }
	for _, attrs := range []map[string]any{
		{"int": 7, "int64": int64(-1 << 60), "uint8": uint8(200), "f32": float32(0.1), "f": 0.1},
		{"zero": 0.0, "negzero": math.Copysign(0, -1), "big": 1e300, "edge": float64(1 << 53), "past": float64(1<<53) + 2, "neg": -float64(1 << 53)},
		{"strs": []string{"a", "b"}, "ints": []int{1, 2}, "nested": map[string]string{"k": "v"}, "struct": pair{1, 2}},
		{"bad": "a\xffb\xc0", "bad\xfe key": true, "empty": "", "nil": nil, "list": []any{nil, false, []any{}, map[string]any{}}},
		{"html": "<b>&</b>", "unicode": "质量很好\u2028"},
	} {
		raw, err := json.Marshal(attrs)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		enc, err := encodeAttrs(attrs)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got, err := decodeAttrs(enc); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: binary read back %#v (%v), JSON %#v", raw, got, err, want)
		}
		if neg, ok := attrs["negzero"]; ok {
			got, _ := decodeAttrs(enc)
			if !math.Signbit(got["negzero"].(float64)) || !math.Signbit(neg.(float64)) {
				t.Error("-0 lost its sign")
			}
		}
	}
	for _, bad := range []map[string]any{{"nan": math.NaN()}, {"inf": []any{math.Inf(1)}}, {"ch": make(chan int)}} {
		if _, err := json.Marshal(bad); err == nil {
			t.Fatal("json.Marshal took it")
		}
		if _, err := encodeAttrs(bad); err == nil {
			t.Errorf("%v: encoded", bad)
		}
	}
}

// TestEncodeAttrsIsSmaller: the attributes events carry take fewer bytes than their JSON (and so fit the
// limit that bounds the JSON).
func TestEncodeAttrsIsSmaller(t *testing.T) {
	for _, s := range attrSamples[:3] {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		enc, err := encodeAttrs(m)
		if err != nil {
			t.Fatal(err)
		}
		compact, _ := json.Marshal(m)
		if len(enc) >= len(compact) {
			t.Errorf("%s: %d bytes, JSON %d", s, len(enc), len(compact))
		}
	}
	// The worst case the limit allows for: numbers packed as tightly as JSON can write them.
	var worst []any
	for len(worst)*4 < 4096 {
		worst = append(worst, 0.5)
	}
	raw, _ := json.Marshal(map[string]any{"n": worst})
	enc, err := encodeAttrs(map[string]any{"n": worst})
	if err != nil || len(enc) > maxAttrsEncoded || len(raw) < 4096 {
		t.Fatalf("%d bytes of JSON took %d (%v), limit %d", len(raw), len(enc), err, maxAttrsEncoded)
	}
}

// FuzzDecodeBinaryAttrs: any bytes after the binary tag decode without panicking, and what decodes encodes
// back to a document that decodes the same.
func FuzzDecodeBinaryAttrs(f *testing.F) {
	for _, s := range attrSamples[:5] {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			enc, _ := encodeAttrs(m)
			f.Add(enc[1:])
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 'a', tagArray, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		doc := append([]byte{attrsBinary}, body...)
		m, err := decodeAttrs(doc)
		if err != nil {
			return
		}
		if _, err := decodeAttrsOf(doc, map[string]bool{"a": true}); err != nil {
			t.Fatalf("decodes whole but not in part: %v", err)
		}
		enc, err := encodeAttrs(m)
		if err != nil {
			return // a NaN or an infinity, which no encoder wrote
		}
		again, err := decodeAttrs(enc)
		if err != nil || !reflect.DeepEqual(fmt.Sprint(again), fmt.Sprint(m)) {
			t.Fatalf("re-encoded %#v read back %#v (%v)", m, again, err)
		}
	})
}

// TestDecodeAttrsOfFastPath: keeping some attributes, the documents events carry still take the fast path,
// and only the attributes kept are built.
func TestDecodeAttrsOfFastPath(t *testing.T) {
	keep := map[string]bool{"category": true, "items": true}
	for _, s := range attrSamples[:5] {
		d := attrDecoder{b: []byte(s)}
		m, ok := d.object(keep)
		if !ok {
			t.Errorf("%s: left the fast path", s)
		}
		for k := range m {
			if !keep[k] {
				t.Errorf("%s: %s decoded", s, k)
			}
		}
	}
}

// BenchmarkDecodeAttrs decodes an order's attributes in the binary encoding; compare
// BenchmarkDecodeAttrsJSON (as stored before it) and BenchmarkDecodeAttrsEncodingJSON.
func BenchmarkDecodeAttrs(b *testing.B) {
	var m map[string]any
	if err := json.Unmarshal([]byte(attrSamples[1]), &m); err != nil {
		b.Fatal(err)
	}
	raw, err := encodeAttrs(m)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := decodeAttrs(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAttrsJSON(b *testing.B) {
	raw := []byte(attrSamples[1])
	for b.Loop() {
		if _, err := decodeAttrs(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAttrsEncodingJSON(b *testing.B) {
	raw := []byte(attrSamples[1])
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeAttrs encodes an order's attributes as collection does; compare
// BenchmarkEncodeAttrsJSON (json.Marshal, as before the binary encoding).
func BenchmarkEncodeAttrs(b *testing.B) {
	var m map[string]any
	if err := json.Unmarshal([]byte(attrSamples[1]), &m); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := encodeAttrs(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAttrsJSON(b *testing.B) {
	var m map[string]any
	if err := json.Unmarshal([]byte(attrSamples[1]), &m); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
