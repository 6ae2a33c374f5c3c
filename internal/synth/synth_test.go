package synth_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/keys"
	"github.com/profilevault/profilevault/internal/synth"
	"github.com/profilevault/profilevault/policies"
)

func TestProfilesAreDeterministicAndValid(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a, b := synth.Profiles(42, 300, now), synth.Profiles(42, 300, now)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different data")
	}
	if reflect.DeepEqual(a, synth.Profiles(43, 300, now)) {
		t.Fatal("different seeds, same data")
	}
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	minors := 0
	for _, p := range a {
		for name, v := range p.Fields {
			f, ok := pol.Schema().Field(name)
			if !ok {
				t.Fatalf("field %q not in the schema", name)
			}
			if err := f.Validate(v); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := keys.NormalizePhone(p.Fields["phone"]); err != nil {
			t.Errorf("phone invalid: %v", err)
		}
		if id, ok := p.Fields["id_number"]; ok {
			if _, err := keys.NormalizeIDNumber(id); err != nil {
				t.Errorf("id number invalid: %v", err)
			}
		}
		if bd, _ := time.Parse(time.DateOnly, p.Fields["birth_date"]); bd.AddDate(14, 0, 0).After(now) {
			minors++
		}
	}
	if minors == 0 {
		t.Error("no under-14 subjects: the guardian-consent rules would go untested")
	}
}
