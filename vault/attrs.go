package vault

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// decodeAttrs decodes an event's opened attributes, in the binary encoding (attrbin.go) or, stored before
// it, JSON: every event a tag run, an export or an event read releases is decoded.
func decodeAttrs(b []byte) (map[string]any, error) {
	return decodeAttrsOf(b, nil)
}

// decodeAttrsOf is decodeAttrs keeping only the attributes (top-level keys) named in keep, or all when keep
// is nil: the others are read — a document decodeAttrs refuses is refused — but not built. It returns
// what decodeAttrs returns with the other keys deleted.
func decodeAttrsOf(b []byte, keep map[string]bool) (map[string]any, error) {
	if len(b) > 0 && b[0] == attrsBinary {
		return decodeBinaryAttrs(b, keep)
	}
	return decodeJSONAttrsOf(b, keep)
}

// decodeJSONAttrsOf decodes attributes stored as JSON exactly as json.Unmarshal into a map[string]any does
// (objects as map[string]any, arrays as []any, numbers as float64), but several times faster, keeping only
// the keys in keep (all when nil). What its fast path does not take — an escape or invalid UTF-8 in a
// string, a repeated key, a number out of range, anything malformed, a null document — goes to
// json.Unmarshal, so the value and the error are always encoding/json's.
func decodeJSONAttrsOf(b []byte, keep map[string]bool) (map[string]any, error) {
	d := attrDecoder{b: b}
	if m, ok := d.object(keep); ok {
		if d.space(); d.i == len(d.b) {
			return m, nil
		}
	}
	var m map[string]any
	err := json.Unmarshal(b, &m)
	if keep != nil {
		for k := range m {
			if !keep[k] {
				delete(m, k)
			}
		}
	}
	return m, err
}

// attrDecoder is the fast path of decodeAttrs: each method reports false on anything it does not take.
type attrDecoder struct {
	b []byte
	i int
}

func (d *attrDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c (consuming it if so).
func (d *attrDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads an object, with only the keys in keep (all when keep is nil).
func (d *attrDecoder) object(keep map[string]bool) (map[string]any, bool) {
	if !d.next('{') {
		return nil, false
	}
	m := make(map[string]any, 8)
	if d.next('}') {
		return m, true
	}
	var skipped []string // keys parsed but not kept: a repeated one goes to encoding/json too
	for {
		d.space()
		k, ok := d.key()
		if !ok || !d.next(':') {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		if keep == nil || keep[k] {
			if m[k], ok = d.value(); !ok {
				return nil, false
			}
		} else {
			if slices.Contains(skipped, k) {
				return nil, false
			}
			skipped = append(skipped, k)
			if !d.skip() {
				return nil, false
			}
		}
		if d.next('}') {
			return m, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

// skip reads a value as value does, building only what must be checked (a nested object's keys).
func (d *attrDecoder) skip() bool {
	d.space()
	if d.i == len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, ok := d.strBytes()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := d.number()
		return ok
	}
	_, ok := d.value()
	return ok
}

func (d *attrDecoder) array() ([]any, bool) {
	if !d.next('[') {
		return nil, false
	}
	a := []any{}
	if d.next(']') {
		return a, true
	}
	for {
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if d.next(']') {
			return a, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

func (d *attrDecoder) value() (any, bool) {
	d.space()
	if d.i == len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.str()
	case c == '{':
		return d.object(nil)
	case c == '[':
		return d.array()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	for _, lit := range [...]struct {
		text  string
		value any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(d.b)-d.i >= len(lit.text) && string(d.b[d.i:d.i+len(lit.text)]) == lit.text {
			d.i += len(lit.text)
			return lit.value, true
		}
	}
	return nil, false
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (d *attrDecoder) str() (string, bool) {
	b, ok := d.strBytes()
	return string(b), ok
}

// strBytes is str's bytes, in d's buffer.
func (d *attrDecoder) strBytes() ([]byte, bool) {
	if d.i == len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start, ascii := d.i+1, true
	for i := start; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.b[start:i]) {
				return nil, false
			}
			d.i = i + 1
			return d.b[start:i], true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// attrKeys are the attribute names of the event types (API.md), so that decoding an event does not
// allocate its keys: a tag run decodes about four of them for each of millions of events. Read only.
var attrKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"amount", "brand", "category", "channel", "coupon", "currency", "discount", "dwell_ms",
		"items", "lang", "order_id", "page", "price", "qty", "query", "rating", "reason", "return_id", "session_id",
		"sku", "store_id", "text", "ticket_id"} {
		m[k] = k
	}
	return m
}()

// key reads an object's key as str does, without allocating one of attrKeys.
func (d *attrDecoder) key() (string, bool) {
	b, ok := d.strBytes()
	if known, hit := attrKeys[string(b)]; hit && ok {
		return known, true
	}
	return string(b), ok
}

// number reads a number in JSON's grammar as a float64.
func (d *attrDecoder) number() (float64, bool) {
	start, i := d.i, d.i
	digits := func() bool {
		n := i
		for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(d.b) && d.b[i] == '-' {
		i++
	}
	if i < len(d.b) && d.b[i] == '0' {
		i++
	} else if !digits() {
		return 0, false
	}
	if i < len(d.b) && d.b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(d.b) && (d.b[i] == 'e' || d.b[i] == 'E') {
		i++
		if i < len(d.b) && (d.b[i] == '+' || d.b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:i]), 64)
	if err != nil {
		return 0, false
	}
	d.i = i
	return f, true
}
