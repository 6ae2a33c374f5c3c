package audit

import (
	"strings"
	"testing"
	"time"
)

func TestCanonicalIsDeterministic(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CST", 8*3600))
	a := Entry{Seq: 1, TS: ts, Action: "subject.read", Actor: Actor{Sub: "x", Roles: []string{"customer_service"}}, Decision: Allow, PrevHash: GenesisHash}
	b := a
	b.TS = ts.UTC()
	ca, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := b.Canonical()
	if string(ca) != string(cb) {
		t.Fatalf("same instant in two zones encodes differently:\n%s\n%s", ca, cb)
	}
	if !strings.Contains(string(ca), `"categories":[]`) || strings.Contains(string(ca), "null") {
		t.Errorf("nil slices must encode as []: %s", ca)
	}
	if ChainHash(ca) == ChainHash(append(ca[:len(ca):len(ca)], ' ')) {
		t.Error("hash ignores a byte")
	}
	c := a
	c.PrevHash = strings.Repeat("1", 64)
	cc, _ := c.Canonical()
	if ChainHash(cc) == ChainHash(ca) {
		t.Error("the chain hash does not cover the previous hash")
	}
}

func TestDecisionFor(t *testing.T) {
	for _, tc := range []struct {
		g, w int
		want Decision
	}{{3, 0, Allow}, {0, 0, Allow}, {1, 2, Partial}, {0, 2, Deny}} {
		if got := DecisionFor(tc.g, tc.w); got != tc.want {
			t.Errorf("DecisionFor(%d,%d) = %s", tc.g, tc.w, got)
		}
	}
}

func TestHashText(t *testing.T) {
	if HashText("") != "" || len(HashText("ticket-42")) != 64 || strings.Contains(HashText("ticket-42"), "ticket") {
		t.Fatal("HashText")
	}
}
