// Package jsonenc appends JSON strings and string maps without reflection, byte for byte as encoding/json
// writes them, for the hot paths that encode by hand: the audit entry's canonical body (audit) and the
// audited read's response (internal/httpapi).
package jsonenc

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// AppendString appends s as a JSON string exactly as encoding/json encodes it, with its HTML escaping (<, >
// and & as \u003c, \u003e, \u0026, as json.Marshal and gin's c.JSON do) when html is set, without it (as a
// json.Encoder with SetEscapeHTML(false)) otherwise. Valid UTF-8 that needs no escape — names, ids, hashes,
// Chinese text — is copied; anything else goes through encoding/json.
func AppendString(b []byte, s string, html bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || html && (c == '<' || c == '>' || c == '&') {
				return appendEncoded(b, s, html)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return appendEncoded(b, s, html)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendStringMap appends m as a JSON object with sorted keys, as encoding/json encodes a map[string]string
// (null for a nil map); html as for AppendString.
func AppendStringMap(b []byte, m map[string]string, html bool) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k, html)
		b = append(b, ':')
		b = AppendString(b, m[k], html)
	}
	return append(b, '}')
}

// appendEncoded appends s as encoding/json encodes it.
func appendEncoded(b []byte, s string, html bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}
