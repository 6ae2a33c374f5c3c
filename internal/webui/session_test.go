package webui

import (
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/authn"
	"github.com/profilevault/profilevault/policies"
)

func TestSessionsEndWithTheirTokenAndAreBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tab := NewSessions(2, func() time.Time { return now })
	short := authn.Principal{Subject: "a", Roles: []policies.Role{policies.RoleSubject}, ExpiresAt: now.Add(time.Minute)}
	long := authn.Principal{Subject: "b", Roles: []policies.Role{policies.RoleSubject}, ExpiresAt: now.Add(time.Hour)}
	id1, _, err := tab.create("t1", short)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tab.create("t2", long); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tab.create("t3", long); err != ErrTooManySessions {
		t.Fatalf("a third live session in a table of two: %v", err)
	}
	if s, ok := tab.get(id1); !ok || s.token != "t1" || s.csrf == "" {
		t.Fatalf("live session: %v %v", s, ok)
	}
	now = now.Add(time.Minute) // the first token expires: so does its session
	if _, ok := tab.get(id1); ok {
		t.Fatal("a session outlived its token")
	}
	if _, _, err := tab.create("t3", long); err != nil {
		t.Fatalf("an expired session must make room: %v", err)
	}
	if _, ok := tab.get(""); ok {
		t.Fatal("the empty id found a session")
	}
}
