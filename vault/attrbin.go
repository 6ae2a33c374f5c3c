package vault

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"unicode/utf8"
)

// An event's attributes are sealed in a binary encoding: decoding it is several times faster than parsing
// JSON, and a tag run decodes millions of events. Events stored before it are JSON; decodeAttrsOf reads both,
// and ResealEvents re-seals the old ones in the new encoding.
//
//	document := attrsBinary object
//	object   := uvarint(n) n × (uvarint(len) key-bytes  value)
//	value    := 0x00 null | 0x01 false | 0x02 true
//	          | 0x03 zigzag-varint    (a whole number of magnitude ≤ 2^53, not -0: read as float64)
//	          | 0x04 8 bytes          (any other finite float64, IEEE 754 little-endian)
//	          | 0x05 uvarint(len) UTF-8 bytes
//	          | 0x06 uvarint(n) n × value
//	          | 0x07 object
//
// A document decodes to exactly what its JSON encoding decodes to with encoding/json: objects as
// map[string]any, arrays as []any, numbers as float64, invalid UTF-8 replaced as encoding/json replaces it.
const attrsBinary = 0x01 // a JSON document never starts with this byte

// Value tags of the binary encoding.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagArray
	tagObject
)

// maxAttrsEncoded bounds an event's encoded attributes. The API's limit — 4 KiB of compact JSON — is checked
// where events come in (ingest.ValidateEvent); a number takes at most 9 bytes here against at least 2 in
// JSON, so a document within that limit always fits in three times it.
const maxAttrsEncoded = 3 * 4096

// maxWhole is the largest magnitude of a whole float64 encoded as an integer (every integer up to it is exact).
const maxWhole = 1 << 53

// errAttrs means encoded attributes are malformed.
var errAttrs = errors.New("vault: malformed event attributes")

// encodeEventAttrs encodes the attributes of the events collected (a test stores JSON, as before the binary
// encoding, through SetJSONAttrs).
var encodeEventAttrs = encodeAttrs

// encodeAttrs encodes attrs in the binary encoding. It fails where json.Marshal fails (a NaN or an infinity).
func encodeAttrs(attrs map[string]any) ([]byte, error) {
	b := make([]byte, 1, 128)
	b[0] = attrsBinary
	return appendObject(b, attrs)
}

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendText(b, k)
		var err error
		if b, err = appendValue(b, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case bool:
		if v {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case float64:
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, errors.New("vault: an attribute is not a finite number")
		case v == math.Trunc(v) && math.Abs(v) <= maxWhole && !(v == 0 && math.Signbit(v)):
			return binary.AppendVarint(append(b, tagInt), int64(v)), nil
		}
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(v)), nil
	case string:
		return appendText(append(b, tagString), v), nil
	case []any:
		b = binary.AppendUvarint(append(b, tagArray), uint64(len(v)))
		for _, e := range v {
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		return appendObject(append(b, tagObject), v)
	}
	// Any other Go value is encoded as what its JSON encoding decodes to, so that it reads back as it did
	// when attributes were stored as JSON.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	return appendValue(b, generic)
}

// appendText appends s's length and bytes, with invalid UTF-8 replaced byte by byte by U+FFFD as
// json.Marshal does.
func appendText(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		return append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	valid := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			valid = utf8.AppendRune(valid, utf8.RuneError)
		} else {
			valid = append(valid, s[i:i+n]...)
		}
		i += n
	}
	return append(binary.AppendUvarint(b, uint64(len(valid))), valid...)
}

// binDecoder reads the binary encoding; every method fails with errAttrs on anything malformed.
type binDecoder struct {
	b []byte
	i int
	s string // b as a string
}

// decodeBinaryAttrs decodes a binary document (b[0] == attrsBinary), keeping only the top-level keys in
// keep (all when keep is nil).
func decodeBinaryAttrs(b []byte, keep map[string]bool) (map[string]any, error) {
	d := binDecoder{b: b, i: 1, s: string(b)} // one copy: every string decoded is a slice of it
	m, err := d.object(keep, 0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.b) {
		return nil, errAttrs
	}
	return m, nil
}

// smallWholes are the numbers 0 to 255 as values, boxed once. Read only.
var smallWholes = func() (a [256]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

// maxAttrsDepth bounds nesting, as encoding/json bounds it.
const maxAttrsDepth = 10000

func (d *binDecoder) uvarint() (uint64, error) {
	n, w := binary.Uvarint(d.b[d.i:])
	if w <= 0 {
		return 0, errAttrs
	}
	d.i += w
	return n, nil
}

// count reads a length or a count that must fit in what is left of the document (each element takes a byte
// at least).
func (d *binDecoder) count() (int, error) {
	n, err := d.uvarint()
	if err != nil || n > uint64(len(d.b)-d.i) {
		return 0, errAttrs
	}
	return int(n), nil
}

// text reads a key or a string, which the encoder wrote in valid UTF-8.
func (d *binDecoder) text() ([]byte, error) {
	n, err := d.count()
	if err != nil {
		return nil, err
	}
	s := d.b[d.i : d.i+n]
	if !utf8.Valid(s) {
		return nil, errAttrs
	}
	d.i += n
	return s, nil
}

func (d *binDecoder) object(keep map[string]bool, depth int) (map[string]any, error) {
	if depth > maxAttrsDepth {
		return nil, errAttrs
	}
	n, err := d.count()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, min(n, 16))
	for range n {
		kb, err := d.text()
		if err != nil {
			return nil, err
		}
		k, known := attrKeys[string(kb)]
		if !known {
			k = string(kb)
		}
		if keep != nil && !keep[k] {
			if err := d.skip(depth + 1); err != nil {
				return nil, err
			}
			continue
		}
		if m[k], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (d *binDecoder) value(depth int) (any, error) {
	if d.i == len(d.b) || depth > maxAttrsDepth {
		return nil, errAttrs
	}
	tag := d.b[d.i]
	d.i++
	switch tag {
	case tagNull:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		v, w := binary.Varint(d.b[d.i:])
		if w <= 0 || v > maxWhole || v < -maxWhole {
			return nil, errAttrs
		}
		d.i += w
		if v >= 0 && v < int64(len(smallWholes)) {
			return smallWholes[v], nil // a quantity, a rating: no allocation
		}
		return float64(v), nil
	case tagFloat:
		if len(d.b)-d.i < 8 {
			return nil, errAttrs
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.i:]))
		d.i += 8
		return f, nil
	case tagString:
		s, err := d.text()
		if err != nil {
			return nil, err
		}
		return d.s[d.i-len(s) : d.i], nil // text ends at d.i
	case tagArray:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case tagObject:
		return d.object(nil, depth)
	}
	return nil, errAttrs
}

// skip reads a value without building it.
func (d *binDecoder) skip(depth int) error {
	if d.i == len(d.b) || depth > maxAttrsDepth {
		return errAttrs
	}
	switch d.b[d.i] {
	case tagNull, tagFalse, tagTrue:
		d.i++
		return nil
	case tagFloat:
		if len(d.b)-d.i < 9 {
			return errAttrs
		}
		d.i += 9
		return nil
	case tagString:
		d.i++
		_, err := d.text()
		return err
	}
	_, err := d.value(depth)
	return err
}
