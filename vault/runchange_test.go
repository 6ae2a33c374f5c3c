package vault

import (
	"errors"
	"strings"
	"testing"
)

// A change that panics fails alone, with an error, rather than taking a store's writer down; one that
// returns an error returns it unchanged.
func TestRunChangeTurnsAPanicIntoItsError(t *testing.T) {
	err := RunChange(func(Tx) error { panic("boom") }, nil)
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("a panicking change: %v", err)
	}
	want := errors.New("refused")
	if err := RunChange(func(Tx) error { return want }, nil); err != want {
		t.Fatalf("a failing change: %v", err)
	}
}
