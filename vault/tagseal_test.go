package vault

import (
	"encoding/json"
	"testing"
)

// A sealed tag is encoded as json.Marshal encodes it, byte for byte (tag values and explanations hold
// Chinese text, yuan signs, quotes and angle brackets).
func FuzzSealedTagJSON(f *testing.F) {
	f.Add("25-34", "根据出生日期计算，年龄段为 25-34 岁", "From the birth date, the age band is 25-34", "profiling-2026.06-1")
	f.Add(`a"b\c`, "<b>&</b>", "\u2028 \x01 \xff", "")
	f.Fuzz(func(t *testing.T, v, zh, en, alg string) {
		st := sealedTag{Value: v, ZH: zh, EN: en, Algorithm: alg}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("appendJSON %s, json.Marshal %s", got, want)
		}
	})
}
