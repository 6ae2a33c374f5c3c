package vault_test

import (
	"context"
	"testing"
	"time"

	"github.com/profilevault/profilevault/vault"
)

// An entrusted processor receives nothing once its contract has ended (the built-in one runs to
// 2028-12-31, UTC+8), nor before it was signed, whatever else would allow the read.
func TestProcessorContractBoundsTheRead(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, 100)
	c, err := svc.Profiles().Create(ctx, steward, vault.NewSubject{Fields: map[string]*string{"phone": str("+8613800004444"), "birth_date": str("1990-01-01")}})
	if err != nil {
		t.Fatal(err)
	}
	// The customer updates their profile late in 2028, so customer service's retention clock still runs.
	late, _ := time.Parse(time.RFC3339, "2028-12-01T00:00:00Z")
	if _, err := svc.WithClock(func() time.Time { return late }).Profiles().Update(ctx, steward, c.ID, map[string]*string{"phone": str("+8613800004445")}); err != nil {
		t.Fatal(err)
	}
	forProcessor := agent
	forProcessor.Processor = "contact_centre_hz"
	phone := func(at time.Time) string {
		t.Helper()
		v, err := svc.WithClock(func() time.Time { return at }).Profiles().Read(ctx, forProcessor, c.ID, []string{"phone"})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Withheld) > 0 {
			return v.Withheld[0].Reason
		}
		return "granted"
	}
	for at, want := range map[string]string{
		"2028-12-15T00:00:00Z": "granted",
		"2028-12-31T15:00:00Z": "granted",
		"2028-12-31T16:00:00Z": vault.ReasonNotEntrusted, // 2029-01-01 00:00 in UTC+8
		"2025-12-01T00:00:00Z": vault.ReasonNotEntrusted,
	} {
		ts, _ := time.Parse(time.RFC3339, at)
		if got := phone(ts); got != want {
			t.Errorf("at %s: %s, want %s", at, got, want)
		}
	}
}
