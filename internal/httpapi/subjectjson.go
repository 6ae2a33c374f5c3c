package httpapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendSubjectView appends v exactly as encoding/json marshals it (keys of fields sorted, HTML characters
// escaped, as gin's c.JSON writes it), without reflection or sorting through reflect.Value: the audited
// read's response is the hottest path of the service. FuzzSubjectView holds it to encoding/json's bytes.
func appendSubjectView(b []byte, v subjectView) []byte {
	size := 80 + len(v.ID) + len(v.Purpose)
	for k, x := range v.Fields {
		size += len(k) + len(x) + 6
	}
	for _, w := range v.Withheld {
		size += len(w.Field) + len(w.Reason) + 24
	}
	b = slices.Grow(b, size)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"purpose":`...)
	b = appendJSONString(b, v.Purpose)
	b = append(b, `,"fields":`...)
	if v.Fields == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(v.Fields))
		for k := range v.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v.Fields[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"withheld":`...)
	if v.Withheld == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, w := range v.Withheld {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = appendJSONString(b, w.Field)
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, w.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"audit_seq":`...)
	b = strconv.AppendInt(b, v.AuditSeq, 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Valid UTF-8 without anything encoding/json escapes — control
// characters, quote, backslash, the HTML characters <, > and &, U+2028 and U+2029 — is copied as it is (Chinese
// names and addresses included); anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshalled(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return appendMarshalled(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshalled(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
