package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestArchitecture enforces the dependency rules of ARCHITECTURE.md on the real import graph: the domain
// packages know nothing of HTTP, SQL or JWT, and only the wiring opens the store or holds keys, so every
// data path goes through the vault's enforcement point.
func TestArchitecture(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "github.com/profilevault/profilevault/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/profilevault/profilevault/"
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		imports[strings.TrimPrefix(pkg, mod)] = strings.Split(deps, ",")
	}
	if len(imports) < 8 {
		t.Fatalf("only %d packages listed", len(imports))
	}
	domain := map[string]bool{"vault": true, "consent": true, "audit": true, "policies": true}
	forbiddenInDomain := []string{"net/http", "database/sql", "github.com/gin-gonic/gin", "github.com/golang-jwt/jwt/v5", "modernc.org/sqlite", mod + "internal/"}
	mayOpenStore := map[string]bool{"internal/app": true, "internal/sqlite": true}
	mayHoldKeys := map[string]bool{"internal/app": true, "internal/keys": true}
	for pkg, deps := range imports {
		for _, d := range deps {
			if domain[pkg] {
				for _, f := range forbiddenInDomain {
					if d == f || strings.HasSuffix(f, "/") && strings.HasPrefix(d, f) {
						t.Errorf("domain package %s imports %s", pkg, d)
					}
				}
			}
			if d == mod+"internal/sqlite" && !mayOpenStore[pkg] {
				t.Errorf("%s imports the store directly; go through vault.Service", pkg)
			}
			if d == mod+"internal/keys" && !mayHoldKeys[pkg] && pkg != "cmd/vaultd" {
				t.Errorf("%s imports internal/keys; only the wiring may hold keys", pkg)
			}
		}
	}
}
