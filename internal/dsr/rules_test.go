package dsr

import (
	"errors"
	"testing"
	"time"
)

// Deadlines and the holiday calendar come from files (GB/T 35273 §8.7: keep them configurable).
func TestLoadRules(t *testing.T) {
	received := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday, no PRC holiday near
	def, err := LoadRules(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := def.DueAt("access", received), NewRules().DueAt("access", received); !got.Equal(want) {
		t.Fatalf("defaults: %v, want %v", got, want)
	}
	r, err := LoadRules([]byte(`{"default": 10, "per_type": {"access": 5}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	access, deletion := r.DueAt("access", received), r.DueAt("deletion", received)
	if !access.Equal(PRC().AddWorkingDays(received, 5)) || !deletion.Equal(PRC().AddWorkingDays(received, 10)) {
		t.Fatalf("access due %v, deletion due %v", access, deletion)
	}
	// A calendar with a holiday inside the window moves the deadline a working day on.
	cal := []byte(`{"name":"test","timezone":"Asia/Shanghai","years":{"2026":{"holidays":["2026-03-04"],"workdays":[],"source":"test"}}}`)
	withHoliday, err := LoadRules([]byte(`{"default": 5}`), cal)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := LoadRules([]byte(`{"default": 5}`), []byte(`{"name":"test","timezone":"Asia/Shanghai","years":{"2026":{"holidays":[],"workdays":[],"source":"test"}}}`))
	if a, b := withHoliday.DueAt("access", received), plain.DueAt("access", received); !a.After(b) {
		t.Fatalf("a holiday did not move the deadline: %v against %v", a, b)
	}
	for name, tc := range map[string]struct {
		deadlines, calendar string
		want                error
	}{
		"unknown type":      {`{"default": 15, "per_type": {"gossip": 3}}`, "", ErrInvalidDeadline},
		"unknown field":     {`{"days": 15}`, "", ErrInvalidDeadline},
		"too long":          {`{"default": 400}`, "", ErrInvalidDeadline},
		"per type zero":     {`{"per_type": {"access": 0}}`, "", ErrInvalidDeadline},
		"not JSON":          {`fifteen`, "", ErrInvalidDeadline},
		"calendar timezone": {"", `{"name":"x","timezone":"Mars/Olympus","years":{}}`, ErrInvalidCalendar},
	} {
		var d, c []byte
		if tc.deadlines != "" {
			d = []byte(tc.deadlines)
		}
		if tc.calendar != "" {
			c = []byte(tc.calendar)
		}
		if _, err := LoadRules(d, c); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
