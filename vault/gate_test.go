package vault

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decryptors are the only functions of gate.go that may call Crypto.Open: a release's open (after a durable
// entry) and the gate's decision-time opens (which name the field, or the tags, in the entry they decide).
var decryptors = map[string]bool{"release.open": true, "gate.decisionOpen": true, "gate.decisionTags": true}

// TestOnlyTheGateDecrypts checks on the package's syntax that the gate alone holds the Crypto: no file but
// gate.go touches a `crypto` field or calls Open on anything reached through one; the Crypto from Config
// goes straight into newGate; no struct but the gate and Config has a Crypto field; and inside gate.go
// only the decryptors call Open. Adding `s.gate.crypto.Open(…)` anywhere else fails this test.
func TestOnlyTheGateDecrypts(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		checkGateFile(t, fset, name, f)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
}

func checkGateFile(t *testing.T, fset *token.FileSet, name string, f *ast.File) {
	t.Helper()
	inGate := name == "gate.go"
	for _, decl := range f.Decls {
		fn, _ := decl.(*ast.FuncDecl)
		owner := ""
		if fn != nil {
			owner = fn.Name.Name
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				owner = recvName(fn.Recv.List[0].Type) + "." + owner
			}
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				switch x.Sel.Name {
				case "crypto":
					if !inGate {
						t.Errorf("%s: %s reaches a crypto field outside the gate", fset.Position(x.Pos()), owner)
					}
				case "Open":
					if inner, ok := x.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "crypto" && !decryptors[owner] {
						t.Errorf("%s: %s calls Crypto.Open; only %v may", fset.Position(x.Pos()), owner, keys(decryptors))
					}
				case "Crypto":
					if id, ok := x.X.(*ast.Ident); ok && id.Name == "cfg" && owner != "New" {
						t.Errorf("%s: %s reads Config.Crypto; only New may, to hand it to the gate", fset.Position(x.Pos()), owner)
					}
				}
			case *ast.CallExpr:
				// In New, Config.Crypto may only be an argument of newGate.
				if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "newGate" {
					return false
				}
				if owner == "New" {
					for _, arg := range x.Args {
						if sel, ok := arg.(*ast.SelectorExpr); ok && sel.Sel.Name == "Crypto" {
							t.Errorf("%s: New passes Config.Crypto to something other than newGate", fset.Position(sel.Pos()))
						}
					}
				}
			case *ast.KeyValueExpr:
				if sel, ok := x.Value.(*ast.SelectorExpr); ok && sel.Sel.Name == "Crypto" {
					t.Errorf("%s: Config.Crypto stored outside the gate", fset.Position(sel.Pos()))
				}
			case *ast.TypeSpec:
				st, ok := x.Type.(*ast.StructType)
				if !ok || x.Name.Name == "gate" || x.Name.Name == "release" || x.Name.Name == "Config" {
					return true
				}
				for _, field := range st.Fields.List {
					if id, ok := field.Type.(*ast.Ident); ok && id.Name == "Crypto" {
						t.Errorf("%s: struct %s holds a Crypto; only the gate may", fset.Position(field.Pos()), x.Name.Name)
					}
				}
			}
			return true
		})
	}
}

func recvName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return recvName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDomainTypesCarryNoWireFormat keeps the API's JSON shape in internal/httpapi's DTOs: no vault type
// has a struct tag, except the sealed encoding of a stored tag (a storage format, never sent).
func TestDomainTypesCarryNoWireFormat(t *testing.T) {
	fset := token.NewFileSet()
	for _, f := range sourceFiles(t, fset, "*.go") {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name == "sealedTag" {
				return true
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, field := range st.Fields.List {
					if field.Tag != nil {
						t.Errorf("%s: %s has a struct tag %s; the wire format belongs in internal/httpapi", fset.Position(field.Pos()), ts.Name.Name, field.Tag.Value)
					}
				}
			}
			return true
		})
	}
}

// sourceFiles parses the non-test Go files matching the globs, by path.
func sourceFiles(t *testing.T, fset *token.FileSet, globs ...string) map[string]*ast.File {
	t.Helper()
	out := map[string]*ast.File{}
	for _, g := range globs {
		names, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = f
		}
	}
	if len(out) < 5 {
		t.Fatalf("parsed only %d files", len(out))
	}
	return out
}
