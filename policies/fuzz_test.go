package policies

import (
	"errors"
	"testing"
)

// FuzzPolicyFile loads the policy with one file replaced by arbitrary bytes: it is refused with ErrInvalid
// or accepted, never a panic, and an accepted set is hashed over exactly its files.
func FuzzPolicyFile(f *testing.F) {
	names := FileNames()
	for i, name := range names {
		f.Add(uint8(i), Embedded(name))
	}
	f.Add(uint8(4), []byte(`{"purposes":[]}`))
	f.Add(uint8(6), []byte(`{"personalised":{"label":{"en":"P","zh":"个"},"opt_out":{"en":"o","zh":"退"}},"tiers":[{"name":"x","rule":"a == 1","channel":"sms","content":{"en":"e","zh":"z"}}]}`))
	f.Add(uint8(0), []byte(`{"grantable":[{"role":"r","purpose":"analytics","categories":["behavior"],"max_duration":"1d","approvers":["a"]}]}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		files, err := readFiles("")
		if err != nil {
			t.Fatal(err)
		}
		files[names[int(which)%len(names)]] = data
		s, err := compile(files, false)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error outside ErrInvalid: %v", err)
			}
			return
		}
		if s.Hash() != hashFiles(files) {
			t.Fatal("hash does not cover the files")
		}
	})
}
