package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/profilevault/profilevault/"

// goList runs go list over the module with a template and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestArchitecture enforces the dependency rules of ARCHITECTURE.md on the real import graph, transitively
// and without exemptions:
//
//   - the domain packages (vault, consent, audit, policies) reach nothing of HTTP, SQL, JWT or internal/;
//   - no package reaches a store (internal/sqlite, modernc.org/sqlite, internal/postgres) or the keys (internal/keys) except
//     through internal/app, which wires them and exposes only services — so every data path goes through
//     the vault's enforcement point, from cmd/vaultd and bench/ too;
//   - internal/webui reaches neither vault nor internal/httpapi (its pages fetch data from /v1);
//   - no non-test code outside internal/app calls App.Internals.
func TestArchitecture(t *testing.T) {
	imports := map[string][]string{}
	for _, line := range goList(t, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, mod+"...") {
		pkg, deps, _ := strings.Cut(line, ":")
		imports[strings.TrimPrefix(pkg, mod)] = strings.Split(deps, ",")
	}
	if len(imports) < 8 {
		t.Fatalf("only %d packages listed", len(imports))
	}
	for _, pkg := range []string{"vault", "consent", "audit", "policies"} {
		for _, d := range goList(t, "-deps", mod+pkg) {
			switch {
			case d == "net/http", d == "database/sql", strings.HasPrefix(d, "github.com/gin-gonic/"),
				strings.HasPrefix(d, "github.com/golang-jwt/"), strings.HasPrefix(d, "modernc.org/sqlite"),
				strings.HasPrefix(d, mod+"internal/"):
				t.Errorf("domain package %s reaches %s", pkg, d)
			}
		}
	}
	// The web consoles show and change data only through the browser's calls to /v1: the page package
	// reaches neither the enforcement point nor the HTTP API.
	for _, d := range goList(t, "-deps", mod+"internal/webui") {
		if d == mod+"vault" || d == mod+"internal/httpapi" {
			t.Errorf("internal/webui reaches %s; its pages must get data from /v1 in the browser", d)
		}
	}
	guarded := map[string]bool{mod + "internal/sqlite": true, mod + "internal/keys": true, "modernc.org/sqlite": true, mod + "internal/postgres": true}
	owners := map[string]bool{"internal/app": true, "internal/sqlite": true, "internal/keys": true, "internal/postgres": true}
	for pkg := range imports {
		if owners[pkg] {
			continue
		}
		// Walk the module's packages from pkg, never through internal/app.
		seen := map[string]bool{}
		var walk func(p string, path []string)
		walk = func(p string, path []string) {
			for _, d := range imports[p] {
				if guarded[d] {
					t.Errorf("%s reaches %s (via %s); only internal/app may wire it", pkg, d, strings.Join(append(path, d), " → "))
					continue
				}
				local := strings.TrimPrefix(d, mod)
				if local == d || local == "internal/app" || seen[local] {
					continue
				}
				seen[local] = true
				walk(local, append(path, local))
			}
		}
		walk(pkg, []string{pkg})
	}
	for _, line := range goList(t, "-f", `{{.Dir}}:{{join .GoFiles ","}}`, mod+"...") {
		dir, files, _ := strings.Cut(line, ":")
		if strings.HasSuffix(dir, filepath.Join("internal", "app")) || files == "" {
			continue
		}
		for _, f := range strings.Split(files, ",") {
			src, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(src), ".Internals()") {
				t.Errorf("%s calls App.Internals outside a test", filepath.Join(dir, f))
			}
		}
	}
}

// policyDecisions are the calls that decide on the policy: their objects, actions and purposes are named
// values (policies.ResourceSubjects, policies.ActRead, a declared purpose), never string literals — an
// untyped literal would silently convert to policies.Object or policies.Act, so the compiler alone cannot
// refuse it.
var policyDecisions = map[string]bool{"Allowed": true, "Access": true, "FieldGrants": true, "HasFieldAccess": true,
	"AuthorizeRole": true, "mayRole": true, "consentPreamble": true}

// TestPolicyDecisionsUseNamedValues parses every non-test file of the module and fails on a string literal
// passed to a policy decision, or written as a caller's purpose or role (Purpose: "marketing",
// Roles: []policies.Role{"admin"}): purposes and roles are named (policies.PurposeMarketing, policies.RoleAdmin).
func TestPolicyDecisionsUseNamedValues(t *testing.T) {
	fset := token.NewFileSet()
	calls := 0
	for _, line := range goList(t, "-f", `{{.Dir}}:{{join .GoFiles ","}}`, mod+"...") {
		dir, files, _ := strings.Cut(line, ":")
		if files == "" {
			continue
		}
		for _, name := range strings.Split(files, ",") {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if kv, ok := n.(*ast.KeyValueExpr); ok {
					checkNamedField(t, fset, kv)
					return true
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !policyDecisions[sel.Sel.Name] {
					return true
				}
				calls++
				for _, arg := range call.Args {
					if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						t.Errorf("%s: %s(…, %s, …): name the policy value, not a literal", fset.Position(lit.Pos()), sel.Sel.Name, lit.Value)
					}
				}
				return true
			})
		}
	}
	if calls < 40 {
		t.Fatalf("found only %d policy decisions", calls)
	}
}

// checkNamedField fails on a Purpose or Roles field set from a non-empty string literal.
func checkNamedField(t *testing.T, fset *token.FileSet, kv *ast.KeyValueExpr) {
	t.Helper()
	key, ok := kv.Key.(*ast.Ident)
	if !ok || (key.Name != "Purpose" && key.Name != "Roles") {
		return
	}
	lits := []ast.Expr{kv.Value}
	if cl, ok := kv.Value.(*ast.CompositeLit); ok {
		lits = cl.Elts
	}
	for _, e := range lits {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value != `""` {
			t.Errorf("%s: %s: %s: name the purpose or role, not a literal", fset.Position(lit.Pos()), key.Name, lit.Value)
		}
	}
}

// TestCIFuzzesEveryTarget: every fuzz target of the module is run by .ci/run for a bounded time.
func TestCIFuzzesEveryTarget(t *testing.T) {
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(filepath.Join("..", ".."), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Fuzz") && fn.Recv == nil {
				n++
				pkg := "./" + filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, filepath.Join("..", "..")+string(filepath.Separator))))
				if !strings.Contains(string(ci), pkg+":"+fn.Name.Name) {
					t.Errorf("%s:%s is not fuzzed in .ci/run", pkg, fn.Name.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found only %d fuzz targets", n)
	}
}
