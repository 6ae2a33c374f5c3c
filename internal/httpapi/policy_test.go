package httpapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/profilevault/profilevault/internal/app"
	"github.com/profilevault/profilevault/internal/apptest"
	"github.com/profilevault/profilevault/policies"
)

func TestPolicyReloadIsAtomicAndAudited(t *testing.T) {
	dir := t.TempDir()
	for _, name := range policies.FileNames() {
		if err := os.WriteFile(filepath.Join(dir, name), policies.Embedded(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := apptest.Start(t, func(c *app.Config) { c.PolicyDir = dir })
	id := s.CreateSubject(map[string]any{"name": "李雷", "phone": "+8613800001234"})
	admin, cs := s.Token("root", "admin"), s.Token("cs", "customer_service")
	read := func() int {
		return s.Do("GET", "/v1/subjects/"+id+"?fields=name", cs, "customer_service", nil).Status
	}
	if read() != 200 {
		t.Fatal("baseline read failed")
	}
	hash := s.Do("GET", "/v1/policies", admin, "", nil).JSON["hash"]

	// A broken file is refused and the old policy stays in force.
	csv := filepath.Join(dir, "policy.csv")
	orig, _ := os.ReadFile(csv)
	if err := os.WriteFile(csv, append(orig, []byte("p, customer_service, customer_service\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.Do("POST", "/v1/policies/reload", admin, "", nil)
	if r.Status != 400 || !strings.Contains(string(r.Body), "policy.csv") {
		t.Fatalf("broken reload: %d %s", r.Status, r.Body)
	}
	if read() != 200 || s.Do("GET", "/v1/policies", admin, "", nil).JSON["hash"] != hash {
		t.Fatal("a refused reload changed the policy in force")
	}
	// The refusal is a refused policy.reload in the trail (it was a generic api.refuse).
	if e := s.Do("GET", "/v1/audit/events?action=policy.reload&decision=deny&min_seq="+r.Header.Get("X-Audit-Seq"), s.Token("co", "compliance_officer"), "compliance_audit", nil); e.Status != 200 || len(e.JSON["events"].([]any)) != 1 {
		t.Fatalf("the refused reload in the trail: %d %s", e.Status, e.Body)
	}
	// A file the server cannot read is refused without its path or the OS error in the answer.
	schema := filepath.Join(dir, "schema.json")
	saved, _ := os.ReadFile(schema)
	if err := os.Remove(schema); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("POST", "/v1/policies/reload", admin, "", nil); r.Status != 400 || strings.Contains(string(r.Body), dir) {
		t.Fatalf("unreadable reload: %d %s", r.Status, r.Body)
	}
	if err := os.WriteFile(schema, saved, 0o600); err != nil {
		t.Fatal(err)
	}

	// A valid change takes effect at once: customer service loses its reads.
	var kept []string
	for _, line := range strings.Split(string(orig), "\n") {
		if !strings.HasPrefix(line, "p, customer_service, customer_service,") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(csv, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("POST", "/v1/policies/reload", cs, "", nil); r.Status != 403 {
		t.Fatalf("customer service reloaded policy: %d", r.Status)
	}
	r = s.Do("POST", "/v1/policies/reload", admin, "", nil)
	if r.Status != 200 || r.Header.Get("X-Audit-Seq") == "" || r.JSON["hash"] == hash {
		t.Fatalf("reload: %d %s", r.Status, r.Body)
	}
	if got := read(); got != 403 {
		t.Fatalf("read after the policy removed it: %d", got)
	}
	m := s.Do("GET", "/v1/policies/matrix", s.Token("co", "compliance_officer"), "", nil)
	if m.Status != 200 || len(m.JSON["matrix"].([]any)) == 0 {
		t.Fatalf("matrix: %d", m.Status)
	}
	// Each cell says allow or deny with its mask (API.md); marketing reads contact masked for marketing.
	var sawAllow, sawDeny bool
	for _, x := range m.JSON["matrix"].([]any) {
		c := x.(map[string]any)
		switch d := c["decision"]; {
		case d == "allow" && c["allowed"] == true:
			sawAllow = true
		case d == "deny" && c["allowed"] == false:
			sawDeny = true
		default:
			t.Fatalf("matrix cell %v", c)
		}
		if c["role"] == "marketing" && c["purpose"] == "marketing" && c["category"] == "contact" && c["action"] == "read" &&
			(c["decision"] != "allow" || c["mask"] != "masked") {
			t.Fatalf("marketing's contact cell: %v", c)
		}
	}
	if !sawAllow || !sawDeny {
		t.Fatal("the matrix lacks allow or deny cells")
	}
	if s.Do("GET", "/v1/policies", cs, "", nil).Status != 403 {
		t.Fatal("customer service read the policy set")
	}
}
