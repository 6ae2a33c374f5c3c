package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSubjectView holds the hand-written encoding of a read's response to encoding/json's bytes for the same
// view (what c.JSON wrote before): any id, purpose, field names and values, withheld entries and sequence.
func FuzzSubjectView(f *testing.F) {
	f.Add("sub_1", "customer_service", "name", "张三", "phone", "+8613800000000", "email", "no_consent", int64(7), false)
	f.Add("a\"b", "<script>", "x&y", "line\nbreak\u2028", "", "\xff\xfe", "f", "r\\", int64(-1), true)
	f.Add("", "", "", "", "k", "tab\there", "", "", int64(0), false)
	f.Add("1<2", "a>b", "k", "x&y", "\u2029", "\x00", "\u00e9", "\U0001F600", int64(1), false)
	f.Fuzz(func(t *testing.T, id, purpose, k1, v1, k2, v2, field, reason string, seq int64, nilLists bool) {
		v := subjectView{ID: id, Purpose: purpose, Fields: map[string]string{k1: v1, k2: v2},
			Withheld: []withheldDTO{{Field: field, Reason: reason}, {Field: reason, Reason: field}}, AuditSeq: seq}
		if nilLists {
			v.Fields, v.Withheld = nil, nil
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSubjectView(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("hand-written:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

func BenchmarkSubjectView(b *testing.B) {
	v := subjectView{ID: "sub_01HZX3", Purpose: "customer_service", AuditSeq: 123456, Withheld: []withheldDTO{{Field: "id_number", Reason: "not_permitted"}},
		Fields: map[string]string{"name": "张三", "phone": "+8613800138000", "email": "zhang.san@example.com", "city": "上海", "address": "上海市浦东新区世纪大道100号", "gender": "male", "birth_date": "1990-01-01"}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			appendSubjectView(nil, v)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(v)
		}
	})
}
