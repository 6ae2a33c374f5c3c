package vault

import (
	"encoding/json"
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
		got, err := decodeAttrsOf(b, keep)
		if keep == nil {
			got, err = decodeAttrs(b)
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q, keeping %v: error %v, encoding/json's %v", b, keep, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q, keeping %v: decoded %#v, encoding/json %#v", b, keep, got, want)
		}
	}
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

// BenchmarkDecodeAttrs decodes an order's attributes; compare BenchmarkDecodeAttrsEncodingJSON.
func BenchmarkDecodeAttrs(b *testing.B) {
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
