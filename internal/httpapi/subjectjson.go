package httpapi

import (
	"slices"
	"strconv"

	"github.com/profilevault/profilevault/audit/jsonenc"
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
	b = jsonenc.AppendString(b, v.ID, true)
	b = append(b, `,"purpose":`...)
	b = jsonenc.AppendString(b, v.Purpose, true)
	b = append(b, `,"fields":`...)
	b = jsonenc.AppendStringMap(b, v.Fields, true)
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
			b = jsonenc.AppendString(b, w.Field, true)
			b = append(b, `,"reason":`...)
			b = jsonenc.AppendString(b, w.Reason, true)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"audit_seq":`...)
	b = strconv.AppendInt(b, v.AuditSeq, 10)
	return append(b, '}')
}
