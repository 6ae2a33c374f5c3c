package vault

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// txViews says which views of the writer's transaction each file's domain may call: its own, and
// SubjectTx (the subject's liveness and key, which every change needs). What one domain's change does to
// another's data goes through the owning service (s.tags.inputsChanged(tx, id)), which takes the narrow
// view it needs. Files not listed may call none.
var txViews = map[string][]string{
	"subjects.go":    {"SubjectTx", "ProfileTx", "ErasureTx", "ImportTx"},
	"namekeys.go":    {"SubjectTx", "ProfileTx"},
	"consents.go":    {"SubjectTx", "ConsentTx"},
	"events.go":      {"SubjectTx", "EventTx", "IdentityTx"},
	"reseal.go":      {"EventTx"},
	"identity.go":    {"SubjectTx", "EventTx", "IdentityTx"},
	"stewardship.go": {"SubjectTx", "IdentityTx"},
	"requests.go":    {"SubjectTx", "RequestTx"},
	"tags.go":        {"SubjectTx", "TagTx"},
	"keys.go":        {"KeyTx"},
	"admin.go":       {"PolicyTx"},
	"incidents.go":   {"IncidentTx"},
	"access.go":      {"AccessTx"},
	"audiences.go":   {"AudienceTx"},
	"uplift.go":      {"AudienceTx"},
	"plan.go":        {"AudienceTx"},
	"tokens.go":      {"RevocationTx"},
	"keycheck.go":    {"KeyTx"},
}

// serviceFields are the fields through which one domain service calls another; storerFields are the
// fields that hold a domain's own storer.
var (
	serviceFields = map[string]bool{"profiles": true, "subjects": true, "consents": true, "tags": true, "ingestion": true,
		"stewardship": true, "requests": true, "review": true, "keys": true, "access": true, "audiences": true}
	storerFields = map[string]bool{"store": true, "events": true, "trail": true, "identity": true, "rules": true, "keyStore": true, "ring": true,
		"incidents": true, "policies": true}
)

// TestEachDomainKeepsToItsOwnData checks on the package's syntax that
//   - every parameter of a transaction view type (Tx, SubjectTx, ConsentTx, …) is named tx;
//   - each file calls on tx only the methods of its domain's views (txViews): a consent change cannot
//     delete tags itself, it asks the tag service;
//   - no service reaches another service's storer (s.profiles.store): it calls the other service.
//
// Calling tx.DeleteTags from consents.go, or s.profiles.store.SubjectIDs from tags.go, fails it.
func TestEachDomainKeepsToItsOwnData(t *testing.T) {
	fset := token.NewFileSet()
	// consent.Store is the vault's ConsentTx (an alias): its methods belong to that view.
	parsed := sourceFiles(t, fset, "*.go", "../consent/*.go")
	// The transaction views and the view that declares each method.
	views, declaredIn := map[string]bool{"Tx": true}, map[string]string{}
	for _, f := range parsed {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range g.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok {
					continue
				}
				view := ts.Name.Name
				if f.Name.Name == "consent" && view == "Store" {
					view = "ConsentTx"
				}
				if !strings.HasSuffix(view, "Tx") {
					continue
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok {
					continue
				}
				views[view] = true
				for _, m := range it.Methods.List {
					for _, n := range m.Names {
						if prev, dup := declaredIn[n.Name]; dup {
							t.Fatalf("%s is declared by both %s and %s", n.Name, prev, view)
						}
						declaredIn[n.Name] = view
					}
				}
			}
		}
	}
	if len(declaredIn) < 30 || !views["SubjectTx"] || !views["TagTx"] {
		t.Fatalf("found only %d transaction methods in %d views", len(declaredIn), len(views))
	}
	calls := 0
	for name, f := range parsed {
		if f.Name.Name != "vault" {
			continue
		}
		allowed := txViews[name]
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncType:
				for _, p := range n.Params.List {
					id, ok := p.Type.(*ast.Ident)
					if !ok || !views[id.Name] {
						continue
					}
					for _, pn := range p.Names {
						if pn.Name != "tx" && pn.Name != "_" {
							t.Errorf("%s: parameter %s of type %s must be named tx", fset.Position(pn.Pos()), pn.Name, id.Name)
						}
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "tx" {
					view, known := declaredIn[sel.Sel.Name]
					calls++
					if known && !slices.Contains(allowed, view) {
						t.Errorf("%s: tx.%s belongs to %s, which %s may not call: ask the service that owns it", fset.Position(n.Pos()), sel.Sel.Name, view, name)
					}
				}
			case *ast.SelectorExpr:
				// s.<service>.<storer>
				inner, ok := n.X.(*ast.SelectorExpr)
				if ok && serviceFields[inner.Sel.Name] && storerFields[n.Sel.Name] {
					t.Errorf("%s: %s.%s reaches another service's storer: call the service", fset.Position(n.Pos()), inner.Sel.Name, n.Sel.Name)
				}
			}
			return true
		})
	}
	if calls < 40 {
		t.Fatalf("checked only %d transaction calls", calls)
	}
}
