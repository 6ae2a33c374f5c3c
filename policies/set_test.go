package policies

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// tuple is one (purpose, object, action) request.
type tuple struct {
	purpose PurposeName
	obj     Object
	act     Act
}

// testTuples returns every purpose (catalog and NoPurpose) × object × action of the vocabulary — a superset
// of the compiled domain — plus unknown objects and actions, which must never be allowed.
func testTuples(s *Set) []tuple {
	objs := map[string][]string{}
	for _, f := range s.Schema().FieldNames() {
		objs[fieldObject(f)] = ActionsFor(fieldObject(f))
	}
	for _, c := range Categories() {
		objs[c] = ActionsFor(c)
	}
	for _, r := range Resources() {
		objs[r] = ActionsFor(r)
	}
	objs["field:nope"] = acts(ActRead)
	objs["nothing"] = acts(ActRead, "bogus")
	objs[CategoryContact] = append(objs[CategoryContact], "bogus")
	var out []tuple
	for _, pur := range append(s.Purposes().Names(), NoPurpose) {
		for _, obj := range slices.Sorted(maps.Keys(objs)) {
			for _, act := range objs[obj] {
				out = append(out, tuple{pur, Object(obj), Act(act)})
			}
		}
	}
	return out
}

// checkTableEqualsEnforce compares the compiled table with Casbin for every single role and tuple, and
// checks the read masks against an independent reading of the rules.
func checkTableEqualsEnforce(t *testing.T, s *Set) {
	t.Helper()
	roles := append(s.Roles(), "nobody")
	tuples := testTuples(s)
	n := 0
	for _, role := range roles {
		for _, tu := range tuples {
			want, err := s.Enforce(role, string(tu.purpose), string(tu.obj), string(tu.act))
			if err != nil {
				t.Fatal(err)
			}
			got := s.Allowed([]Role{Role(role)}, tu.purpose, tu.obj, tu.act)
			if got != want {
				t.Errorf("Allowed(%s, %s, %s, %s) = %v, Enforce = %v", role, tu.purpose, tu.obj, tu.act, got, want)
				continue
			}
			n++
			g, ok := s.Access([]Role{Role(role)}, tu.purpose, tu.obj, tu.act)
			if ok != got {
				t.Errorf("Access(%s, %v) allowed = %v, Allowed = %v", role, tu, ok, got)
			}
			if ok && tu.act == ActRead && isDataObject(string(tu.obj)) {
				if wantMask := oracleMask(s, role, string(tu.purpose), string(tu.obj)); g.Mask != wantMask {
					t.Errorf("Access(%s, %v) mask = %q, rules say %q", role, tu, g.Mask, wantMask)
				}
			} else if g.Mask != "" {
				t.Errorf("Access(%s, %v) mask = %q, want none", role, tu, g.Mask)
			}
		}
	}
	if n == 0 {
		t.Fatal("no tuple checked")
	}
}

// oracleMask reads the mask of an allowed read straight from the rules: the matching allow rules naming the
// object itself win over those naming its category; among them full wins over masked.
func oracleMask(s *Set, role, purpose, obj string) string {
	subjects := map[string]bool{role: true}
	for changed := true; changed; {
		changed = false
		for _, g := range s.Inheritances() {
			if subjects[g.Role] && !subjects[g.Parent] {
				subjects[g.Parent], changed = true, true
			}
		}
	}
	category := obj
	if name, ok := strings.CutPrefix(obj, FieldPrefix); ok {
		f, _ := s.Schema().Field(name)
		category = f.Category
	}
	var exact, viaCategory []string
	for _, r := range s.Rules() {
		if !subjects[r.Role] || (r.Purpose != purpose && r.Purpose != AnyPurpose) || r.Action != string(ActRead) || r.Effect != "allow" {
			continue
		}
		switch r.Object {
		case obj:
			exact = append(exact, r.Mask)
		case category:
			viaCategory = append(viaCategory, r.Mask)
		}
	}
	masks := exact
	if len(masks) == 0 {
		masks = viaCategory
	}
	if slices.Contains(masks, MaskFull) {
		return MaskFull
	}
	return MaskMasked
}

func TestTableEqualsEnforceSingleRole(t *testing.T) {
	t.Parallel()
	checkTableEqualsEnforce(t, loadEmbedded(t))
}

func TestTableEqualsEnforceRolePairs(t *testing.T) {
	t.Parallel()
	s := loadEmbedded(t)
	roles := s.Roles()
	var extra [][]string
	type pair struct{ a, b, user string }
	var pairs []pair
	for i, a := range roles {
		for _, b := range roles[i+1:] {
			user := "pair." + a + "." + b
			pairs = append(pairs, pair{a, b, user})
			extra = append(extra, []string{"g", user, a}, []string{"g", user, b})
		}
	}
	enf, _, err := newEnforcer(s.files[fileModel], casbinRows(s.rules, s.inherits, s.schema, extra...))
	if err != nil {
		t.Fatal(err)
	}
	tuples := testTuples(s)
	for _, p := range pairs {
		rs := []Role{Role(p.a), Role(p.b)}
		for _, tu := range tuples {
			want, err := enf.Enforce(p.user, string(tu.purpose), string(tu.obj), string(tu.act))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Allowed(rs, tu.purpose, tu.obj, tu.act); got != want {
				t.Errorf("Allowed(%v, %v) = %v, Enforce(user of both) = %v", rs, tu, got, want)
			}
			if strings.HasPrefix(string(tu.obj), FieldPrefix) && (tu.act == ActRead || tu.act == ActWrite) {
				_, got := s.FieldGrants(rs, tu.purpose, tu.act)[strings.TrimPrefix(string(tu.obj), FieldPrefix)]
				if got != want {
					t.Errorf("FieldGrants(%v, %s, %s) has %s = %v, Enforce = %v", rs, tu.purpose, tu.act, tu.obj, got, want)
				}
			}
		}
	}
}

// customPolicy exercises inheritance, field rules beating category rules, masks across roles and denies.
const customPolicy = `
p, reader, marketing, contact, read, allow, full
p, reader, marketing, field:phone, read, allow, masked
p, reader, marketing, identity, read, allow, masked
p, reader, marketing, field:name, read, allow, full
p, reader, marketing, address, read, allow, masked
p, reader, analytics, address, read, allow, masked
p, lead, marketing, contact, read, allow, masked
p, lead, marketing, address, read, allow, full
p, lead, marketing, field:email, write, allow, -
p, blocked, *, field:city, read, deny, -
p, blocked, marketing, address, read, allow, full
p, auditor, *, audit, read, allow, -
p, admin, *, policies, reload, allow, -
g, lead, reader
g, senior, lead
g, senior, auditor
`

func loadCustom(t *testing.T, files map[string]string) *Set {
	t.Helper()
	s, err := Load(writeDir(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCustomPolicy(t *testing.T) {
	s := loadCustom(t, map[string]string{filePolicy: customPolicy})
	checkTableEqualsEnforce(t, s)
	tests := []struct {
		roles   []Role
		purpose PurposeName
		act     Act
		want    map[string]Grant
	}{
		{[]Role{"reader"}, "marketing", "read", map[string]Grant{
			"phone": {"masked"}, "email": {"full"}, "name": {"full"}, "gender": {"masked"}, "birth_date": {"masked"},
			"province": {"masked"}, "city": {"masked"}, "district": {"masked"}, "address_line": {"masked"}}},
		{[]Role{"reader"}, "analytics", "read", map[string]Grant{
			"province": {"masked"}, "city": {"masked"}, "district": {"masked"}, "address_line": {"masked"}}},
		// lead inherits reader: its own address rule (full) and reader's (masked) are equally specific.
		{[]Role{"lead"}, "marketing", "read", map[string]Grant{
			"phone": {"masked"}, "email": {"full"}, "name": {"full"}, "gender": {"masked"}, "birth_date": {"masked"},
			"province": {"full"}, "city": {"full"}, "district": {"full"}, "address_line": {"full"}}},
		{[]Role{"lead"}, "marketing", "write", map[string]Grant{"email": {}}},
		{[]Role{"senior"}, "marketing", "write", map[string]Grant{"email": {}}},
		// A deny from one role removes the field from the union, full address from blocked notwithstanding.
		{[]Role{"reader", "blocked"}, "marketing", "read", map[string]Grant{
			"phone": {"masked"}, "email": {"full"}, "name": {"full"}, "gender": {"masked"}, "birth_date": {"masked"},
			"province": {"full"}, "district": {"full"}, "address_line": {"full"}}},
		{[]Role{"blocked"}, "marketing", "read", map[string]Grant{"province": {"full"}, "district": {"full"}, "address_line": {"full"}}},
		{[]Role{"auditor"}, "marketing", "read", nil},
		{[]Role{"nobody", "ghost"}, "marketing", "read", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.roles, tt.purpose, tt.act), func(t *testing.T) {
			got := s.FieldGrants(tt.roles, tt.purpose, tt.act)
			if !maps.Equal(got, tt.want) {
				t.Errorf("FieldGrants = %v, want %v", got, tt.want)
			}
			if s.HasFieldAccess(tt.roles, tt.purpose, tt.act) != (len(tt.want) > 0) {
				t.Errorf("HasFieldAccess disagrees")
			}
		})
	}
	if !s.Allowed([]Role{"senior"}, NoPurpose, "audit", "read") {
		t.Error("senior does not inherit auditor's rule for NoPurpose")
	}
	if s.Allowed([]Role{"senior"}, "bogus", "audit", "read") {
		t.Error("a purpose outside the catalog was allowed")
	}
	if g, ok := s.Access([]Role{"reader", "lead"}, "marketing", "field:phone", "read"); !ok || g.Mask != MaskMasked {
		t.Errorf("Access(reader+lead, phone) = %v, %v", g, ok)
	}
	if g, ok := s.Access([]Role{"reader", "blocked"}, "marketing", "address", "read"); !ok || g.Mask != MaskFull {
		t.Errorf("Access(reader+blocked, address) = %v, %v; full beats masked across roles", g, ok)
	}
}

// TestCustomMatcherCompilesFully checks that a model with a different matcher disables the structural
// shortcut, and that both compilations agree where they both apply.
func TestCustomMatcherCompilesFully(t *testing.T) {
	model := replaceOnce(t, embeddedText(t, fileModel),
		`m = g(r.sub, p.sub) && (r.pur == p.pur || p.pur == "*") && g2(r.obj, p.obj) && r.act == p.act`,
		`m = r.act == p.act && g2(r.obj, p.obj) && (p.pur == "*" || r.pur == p.pur) && g(r.sub, p.sub)`)
	for _, tt := range []struct {
		name, policy string
		exhaustive   bool // also compare with Enforce tuple by tuple and force a full compile of the built-in model
	}{
		{"built-in policy", embeddedText(t, filePolicy), false},
		{"custom policy", customPolicy, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reordered := loadCustom(t, map[string]string{fileModel: model, filePolicy: tt.policy})
			if reordered.pruned {
				t.Fatal("a custom matcher was compiled with the built-in shortcut")
			}
			pruned := loadCustom(t, map[string]string{filePolicy: tt.policy})
			if !pruned.pruned {
				t.Fatal("built-in matcher not pruned")
			}
			if !reflect.DeepEqual(pruned.table, reordered.table) || !reflect.DeepEqual(pruned.fieldGrants, reordered.fieldGrants) {
				t.Error("pruned and full compilations differ")
			}
			if !tt.exhaustive {
				return
			}
			checkTableEqualsEnforce(t, reordered)
			full, err := compile(pruned.Files(), true)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pruned.table, full.table) || !reflect.DeepEqual(pruned.fieldGrants, full.fieldGrants) {
				t.Error("pruned and forced full compilations differ")
			}
			if pruned.enforceCalls >= full.enforceCalls {
				t.Errorf("pruning made %d Casbin calls, the full compilation %d", pruned.enforceCalls, full.enforceCalls)
			}
			t.Logf("Casbin calls: pruned %d, full %d", pruned.enforceCalls, full.enforceCalls)
		})
	}
}

func TestDenyOverride(t *testing.T) {
	s := loadEmbedded(t)
	sensitive := []string{"id_number", "bank_account"}
	for _, pur := range append(s.Purposes().Names(), NoPurpose) {
		for _, roles := range [][]Role{{"marketing", "data_steward"}, {"data_steward", "marketing"}, {"subject", "marketing"}, {"marketing", "data_steward", "subject", "customer_service"}} {
			g := s.FieldGrants(roles, pur, ActRead)
			for _, f := range sensitive {
				if _, ok := g[f]; ok {
					t.Errorf("FieldGrants(%v, %s) grants %s", roles, pur, f)
				}
				if s.Allowed(roles, pur, FieldObject(f), ActRead) {
					t.Errorf("Allowed(%v, %s, %s)", roles, pur, f)
				}
			}
			for _, c := range []string{CategorySensitiveIdentity, CategorySensitiveFinancial} {
				if s.Allowed(roles, pur, CategoryObject(c), ActRead) {
					t.Errorf("Allowed(%v, %s, %s)", roles, pur, c)
				}
			}
		}
	}
	// Without marketing the same roles do read them.
	if g := s.FieldGrants([]Role{"data_steward"}, PurposeRiskControl, ActRead); g["id_number"] != (Grant{MaskFull}) {
		t.Errorf("data_steward/risk_control id_number = %v", g)
	}
	if g := s.FieldGrants([]Role{"data_steward", "marketing"}, PurposeRiskControl, ActRead); len(g) == 0 || g["name"] != (Grant{MaskFull}) {
		t.Errorf("deny removed more than the sensitive fields: %v", g)
	}
	// The deny is about reads only: data_steward+marketing still writes sensitive fields for account management.
	if !s.Allowed([]Role{"marketing", "data_steward"}, PurposeAccountManagement, "field:id_number", ActWrite) {
		t.Error("deny on reads blocked a write")
	}
}

func TestBuiltInTable(t *testing.T) {
	s := loadEmbedded(t)
	read := func(roles []Role, pur PurposeName) map[string]Grant { return s.FieldGrants(roles, pur, ActRead) }
	fieldsOf := func(g map[string]Grant) []string { return slices.Sorted(maps.Keys(g)) }

	t.Run("marketing/marketing", func(t *testing.T) {
		g := read([]Role{"marketing"}, PurposeMarketing)
		want := map[string]Grant{"phone": {"masked"}, "email": {"masked"}, "province": {"full"}, "city": {"full"},
			"occupation": {"full"}, "industry": {"full"}}
		if !maps.Equal(g, want) {
			t.Errorf("got %v, want %v", g, want)
		}
		phone, _ := s.Schema().Field("phone")
		if got := phone.MaskValue("+8613800001234"); got != "138****1234" {
			t.Errorf("phone masked = %q", got)
		}
		for _, ok := range []tuple{{PurposeMarketing, "tags", ActRead}, {PurposeMarketing, "audiences", ActWrite},
			{PurposePersonalization, "behavior", ActRead}, {PurposeAnalytics, "aggregates", ActRead}} {
			if !s.Allowed([]Role{"marketing"}, ok.purpose, ok.obj, ok.act) {
				t.Errorf("marketing not allowed %v", ok)
			}
		}
		if s.Allowed([]Role{"marketing"}, PurposeMarketing, "transactions", ActRead) {
			t.Error("marketing reads transactions")
		}
		if s.HasFieldAccess([]Role{"marketing"}, PurposePersonalization, ActRead) {
			t.Error("marketing reads fields for personalization")
		}
	})
	t.Run("analyst", func(t *testing.T) {
		for _, pur := range append(s.Purposes().Names(), NoPurpose) {
			for _, act := range []Act{ActRead, ActWrite, ActLookup} {
				if s.HasFieldAccess([]Role{"analyst"}, pur, act) {
					t.Errorf("analyst may %s fields for %s", act, pur)
				}
			}
		}
		if !s.Allowed([]Role{"analyst"}, PurposeAnalytics, "aggregates", ActRead) {
			t.Error("analyst cannot read aggregates")
		}
		if s.Allowed([]Role{"analyst"}, PurposeMarketing, "aggregates", ActRead) {
			t.Error("analyst reads aggregates for marketing")
		}
	})
	t.Run("no field values for staff without data roles", func(t *testing.T) {
		for _, role := range []string{"compliance_officer", "admin"} {
			for _, pur := range append(s.Purposes().Names(), NoPurpose) {
				for _, act := range []Act{ActRead, ActWrite, ActLookup} {
					if s.HasFieldAccess([]Role{Role(role)}, pur, act) {
						t.Errorf("%s may %s fields for %s", role, act, pur)
					}
				}
				for _, c := range Categories() {
					if s.Allowed([]Role{Role(role)}, pur, CategoryObject(c), ActRead) {
						t.Errorf("%s reads %s for %s", role, c, pur)
					}
				}
			}
		}
		allowed := []struct {
			role string
			tuple
		}{
			{"compliance_officer", tuple{PurposeComplianceAudit, "audit", ActRead}},
			{"compliance_officer", tuple{PurposeComplianceAudit, "requests", ActRead}},
			{"compliance_officer", tuple{PurposeComplianceAudit, "requests", ActTransition}},
			{"compliance_officer", tuple{NoPurpose, "policies", ActRead}},
			{"compliance_officer", tuple{NoPurpose, "audit", ActVerify}},
			{"admin", tuple{NoPurpose, "policies", ActRead}},
			{"admin", tuple{NoPurpose, "policies", ActReload}},
			{"admin", tuple{NoPurpose, "keys", ActRotate}},
			{"admin", tuple{NoPurpose, "audit", ActVerify}},
			{"admin", tuple{NoPurpose, "tags", ActCompute}},
			{"data_steward", tuple{NoPurpose, "tags", ActCompute}},
			{"customer_service", tuple{PurposeAccountManagement, "consents", ActWrite}},
			{"customer_service", tuple{PurposeAccountManagement, "consents", ActRead}},
			{"data_steward", tuple{PurposeAccountManagement, "subjects", ActCreate}},
			{"data_steward", tuple{PurposeAccountManagement, "contact", ActLookup}},
			{"data_steward", tuple{PurposeRiskControl, "field:id_number", ActLookup}},
			{"data_steward", tuple{PurposeOrderFulfillment, "transactions", ActWrite}},
			{"data_steward", tuple{PurposePersonalization, "behavior", ActWrite}},
		}
		for _, a := range allowed {
			if !s.Allowed([]Role{Role(a.role)}, a.purpose, a.obj, a.act) {
				t.Errorf("%s not allowed %v", a.role, a.tuple)
			}
		}
		denied := []struct {
			role string
			tuple
		}{
			{"compliance_officer", tuple{NoPurpose, "policies", ActReload}},
			{"compliance_officer", tuple{PurposeMarketing, "audit", ActRead}},
			{"customer_service", tuple{PurposeAccountManagement, "field:name", ActRead}},
			{"marketing", tuple{NoPurpose, "tags", ActCompute}},
			{"data_steward", tuple{PurposeMarketing, "contact", ActRead}},
			{"subject", tuple{PurposeMarketing, "identity", ActRead}},
		}
		for _, d := range denied {
			if s.Allowed([]Role{Role(d.role)}, d.purpose, d.obj, d.act) {
				t.Errorf("%s allowed %v", d.role, d.tuple)
			}
		}
	})
	t.Run("subject", func(t *testing.T) {
		g := read([]Role{"subject"}, PurposeDataSubjectRequest)
		if got, want := fieldsOf(g), slices.Sorted(slices.Values(s.Schema().FieldNames())); !slices.Equal(got, want) {
			t.Errorf("subject reads %v, want %v", got, want)
		}
		for f, gr := range g {
			if gr.Mask != MaskFull {
				t.Errorf("subject reads %s %s", f, gr.Mask)
			}
		}
		if w := s.FieldGrants([]Role{"subject"}, PurposeDataSubjectRequest, ActWrite); len(w) != len(s.Schema().Fields()) {
			t.Errorf("subject writes %v", fieldsOf(w))
		}
		for _, c := range Categories() {
			if !s.Allowed([]Role{"subject"}, PurposeDataSubjectRequest, CategoryObject(c), ActRead) {
				t.Errorf("subject cannot read %s", c)
			}
		}
		for _, tu := range []tuple{{PurposeDataSubjectRequest, "subjects", ActErase}, {PurposeDataSubjectRequest, "objections", ActWrite},
			{PurposeDataSubjectRequest, "requests", ActCreate}, {PurposeDataSubjectRequest, "consents", ActWrite}} {
			if !s.Allowed([]Role{"subject"}, tu.purpose, tu.obj, tu.act) {
				t.Errorf("subject not allowed %v", tu)
			}
		}
		for _, pur := range s.Purposes().Names() {
			if pur != PurposeDataSubjectRequest && s.HasFieldAccess([]Role{"subject"}, pur, ActRead) {
				t.Errorf("subject reads fields for %s", pur)
			}
		}
	})
	t.Run("customer_service", func(t *testing.T) {
		g := read([]Role{"customer_service"}, PurposeCustomerService)
		if got := fieldsOf(g); len(got) != 9 || slices.Contains(got, "id_number") || slices.Contains(got, "occupation") {
			t.Errorf("customer_service reads %v", got)
		}
		if g["phone"] != (Grant{MaskFull}) {
			t.Errorf("customer_service phone = %v", g["phone"])
		}
	})
	t.Run("data_steward", func(t *testing.T) {
		if got := fieldsOf(read([]Role{"data_steward"}, PurposeAccountManagement)); len(got) != 11 || slices.Contains(got, "id_number") {
			t.Errorf("data_steward/account_management reads %v", got)
		}
		if got := fieldsOf(s.FieldGrants([]Role{"data_steward"}, PurposeAccountManagement, ActWrite)); len(got) != 13 {
			t.Errorf("data_steward/account_management writes %v", got)
		}
		if got := fieldsOf(read([]Role{"data_steward"}, PurposeRiskControl)); !slices.Equal(got, []string{"birth_date", "gender", "id_number", "name"}) {
			t.Errorf("data_steward/risk_control reads %v", got)
		}
		if s.HasFieldAccess([]Role{"data_steward"}, PurposeCustomerService, ActRead) {
			t.Error("data_steward reads fields for customer_service")
		}
	})
}

func TestFieldGrantsSharedAndAllocationFree(t *testing.T) {
	s := loadEmbedded(t)
	one := []Role{"marketing"}
	a, b := s.FieldGrants(one, PurposeMarketing, ActRead), s.FieldGrants(one, PurposeMarketing, ActRead)
	if reflect.ValueOf(a).UnsafePointer() != reflect.ValueOf(b).UnsafePointer() {
		t.Error("single-role FieldGrants is not precomputed")
	}
	two := []Role{"marketing", "customer_service"}
	c, d := s.FieldGrants(two, PurposeCustomerService, ActRead), s.FieldGrants([]Role{"customer_service", "marketing", "marketing"}, PurposeCustomerService, ActRead)
	if reflect.ValueOf(c).UnsafePointer() != reflect.ValueOf(d).UnsafePointer() {
		t.Error("multi-role FieldGrants is not cached independently of order and repetition")
	}
	if n := testing.AllocsPerRun(100, func() { s.Allowed(two, PurposeMarketing, "field:phone", ActRead) }); n != 0 {
		t.Errorf("Allowed allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.FieldGrants(one, PurposeMarketing, ActRead) }); n != 0 {
		t.Errorf("single-role FieldGrants allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.FieldGrants(two, PurposeMarketing, ActRead) }); n != 0 {
		t.Errorf("cached multi-role FieldGrants allocates %v times", n)
	}
	if g := s.FieldGrants(two, "bogus", ActRead); g != nil {
		t.Errorf("unknown purpose granted %v", g)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := loadEmbedded(t)
	roleSets := [][]Role{{"marketing"}, {"marketing", "data_steward"}, {"customer_service", "subject"}, {"admin", "analyst", "marketing"}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				rs := roleSets[(i+j)%len(roleSets)]
				for _, pur := range s.Purposes().Names() {
					_ = s.FieldGrants(rs, pur, ActRead)
					_ = s.Allowed(rs, pur, "contact", ActRead)
				}
				if j%50 == 0 {
					if _, err := s.Enforce(string(rs[0]), string(PurposeMarketing), "contact", string(ActRead)); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestMatrix(t *testing.T) {
	s := loadEmbedded(t)
	cells := s.Matrix()
	if want := len(s.Roles()) * len(s.Purposes().Names()) * len(Categories()) * 2; len(cells) != want {
		t.Fatalf("Matrix has %d cells, want %d", len(cells), want)
	}
	find := func(role, pur, cat, act string) MatrixCell {
		t.Helper()
		for _, c := range cells {
			if c.Role == role && c.Purpose == pur && c.Category == cat && c.Action == act {
				return c
			}
		}
		t.Fatalf("no cell %s/%s/%s/%s", role, pur, cat, act)
		return MatrixCell{}
	}
	tests := []struct {
		cell MatrixCell
		want MatrixCell
	}{
		{find("marketing", "marketing", "contact", "read"), MatrixCell{Allowed: true, Mask: "masked", Fields: map[string]string{"phone": "masked", "email": "masked"}}},
		{find("marketing", "marketing", "address", "read"), MatrixCell{Allowed: false, Fields: map[string]string{"province": "full", "city": "full"}}},
		{find("marketing", "marketing", "identity", "read"), MatrixCell{}},
		{find("marketing", "marketing", "tags", "read"), MatrixCell{Allowed: true, Mask: "full"}},
		{find("data_steward", "account_management", "sensitive_identity", "write"), MatrixCell{Allowed: true, Fields: map[string]string{"id_number": ""}}},
		{find("data_steward", "account_management", "sensitive_identity", "read"), MatrixCell{}},
		{find("subject", "data_subject_request", "sensitive_financial", "read"), MatrixCell{Allowed: true, Mask: "full", Fields: map[string]string{"bank_account": "full"}}},
	}
	for _, tt := range tests {
		c := tt.cell
		if c.Allowed != tt.want.Allowed || c.Mask != tt.want.Mask || !maps.Equal(c.Fields, tt.want.Fields) {
			t.Errorf("%s/%s/%s/%s = %+v, want %+v", c.Role, c.Purpose, c.Category, c.Action, c, tt.want)
		}
	}
	for _, c := range cells {
		if (c.Role == "analyst" || c.Role == "admin" || c.Role == "compliance_officer") && (c.Allowed || c.Fields != nil) {
			t.Errorf("%+v grants personal data", c)
		}
		if c.Allowed != s.Allowed([]Role{Role(c.Role)}, PurposeName(c.Purpose), CategoryObject(c.Category), Act(c.Action)) {
			t.Errorf("%+v disagrees with Allowed", c)
		}
	}
}

func TestExplain(t *testing.T) {
	s := loadEmbedded(t)
	ex, err := s.Explain("marketing", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != len(s.Schema().Fields()) {
		t.Fatalf("Explain has %d entries", len(ex))
	}
	byField := map[string]FieldExplanation{}
	for i, e := range ex {
		if e.Field != s.Schema().Fields()[i].Name {
			t.Errorf("entry %d is %s, not in schema order", i, e.Field)
		}
		byField[e.Field] = e
	}
	want := map[string]FieldExplanation{
		"phone":     {Field: "phone", Category: "contact", Read: true, Mask: "masked", LegalBasis: "consent", ConsentKind: "general"},
		"city":      {Field: "city", Category: "address", Read: true, Mask: "full", LegalBasis: "consent", ConsentKind: "general"},
		"name":      {Field: "name", Category: "identity", LegalBasis: "consent", ConsentKind: "general"},
		"id_number": {Field: "id_number", Category: "sensitive_identity", LegalBasis: "consent", ConsentKind: "separate", Sensitive: true},
	}
	for f, w := range want {
		if byField[f] != w {
			t.Errorf("Explain marketing/marketing %s = %+v, want %+v", f, byField[f], w)
		}
	}
	ex, err = s.Explain("data_steward", "account_management")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		wantRead := !e.Sensitive
		wantLookup := e.Category == "contact"
		if e.Read != wantRead || !e.Write || e.Lookup != wantLookup || e.LegalBasis != "contract" || e.ConsentKind != "" {
			t.Errorf("Explain data_steward/account_management %+v", e)
		}
	}
	cats, err := s.ExplainCategories("marketing", "marketing")
	if err != nil {
		t.Fatal(err)
	}
	if len(cats) != len(Categories()) {
		t.Fatalf("ExplainCategories has %d entries", len(cats))
	}
	for _, c := range cats {
		switch c.Category {
		case "contact":
			if !c.Read || c.Mask != "masked" || !c.Processed {
				t.Errorf("%+v", c)
			}
		case "tags", "demographic":
			if !c.Read || c.Mask != "full" {
				t.Errorf("%+v", c)
			}
		case "sensitive_identity":
			if c.Read || c.Processed || !c.Sensitive {
				t.Errorf("%+v", c)
			}
		case "transactions":
			if c.Read || !c.Processed {
				t.Errorf("%+v", c)
			}
		}
	}
	if ex, err := s.Explain("admin", NoPurpose); err != nil || len(ex) != len(s.Schema().Fields()) || ex[0].Read || ex[0].LegalBasis != "" {
		t.Errorf("Explain(admin, NoPurpose) = %+v, %v", ex, err)
	}
	if _, err := s.Explain("intern", "marketing"); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := s.Explain("marketing", "advertising"); !errors.Is(err, ErrUnknownPurpose) {
		t.Errorf("unknown purpose: %v", err)
	}
	if _, err := s.ExplainCategories("marketing", "advertising"); !errors.Is(err, ErrUnknownPurpose) {
		t.Errorf("unknown purpose: %v", err)
	}
}

func TestVocabulary(t *testing.T) {
	for _, obj := range []string{"field:city", "contact", "tags", "subjects", "jobs"} {
		if len(ActionsFor(obj)) == 0 {
			t.Errorf("ActionsFor(%s) empty", obj)
		}
	}
	if ActionsFor("nothing") != nil {
		t.Error("ActionsFor(nothing) not nil")
	}
	if !slices.Contains(ActionsFor("tags"), string(ActCompute)) || slices.Contains(ActionsFor("field:city"), string(ActCompute)) {
		t.Error("compute is only for tags")
	}
	if len(Resources()) != 12 || len(Categories()) != 10 {
		t.Errorf("Resources %v, Categories %v", Resources(), Categories())
	}
	if !IsSensitiveCategory("sensitive_identity") || IsSensitiveCategory("identity") || IsSensitiveCategory("sensitive_x") {
		t.Error("IsSensitiveCategory")
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{{"data_steward", true}, {"a", true}, {"-", false}, {"*", false}, {"", false}, {"Admin", false}, {"a b", false}, {strings.Repeat("a", 65), false}} {
		if validName(tt.in) != tt.ok {
			t.Errorf("validName(%q) = %v", tt.in, !tt.ok)
		}
	}
	if len(allActions()) != 12 {
		t.Errorf("allActions = %v", allActions())
	}
}

// TestCasbinModelAssumptions pins the Casbin behaviour the model relies on: the extra mask column is carried
// through, g2(x, x) holds for equal names (category rules match category requests), g2 links fields to
// their categories, and a refusal caused by a deny rule is explained by that rule.
func TestCasbinModelAssumptions(t *testing.T) {
	s := loadEmbedded(t)
	s.enfMu.Lock()
	defer s.enfMu.Unlock()
	tests := []struct {
		name                 string
		role, pur, obj, act  string
		want                 bool
		wantEffect, wantMask string // of the explaining rule; "" when none
	}{
		{"g2(x, x) on categories", "marketing", "marketing", "contact", "read", true, "allow", "masked"},
		{"g2(x, x) on resources", "admin", string(NoPurpose), "keys", "rotate", true, "allow", "-"},
		{"g2 field to category", "marketing", "marketing", "field:phone", "read", true, "allow", "masked"},
		{"field rule", "marketing", "marketing", "field:city", "read", true, "allow", "full"},
		{"no category from a field rule", "marketing", "marketing", "address", "read", false, "", ""},
		{"deny explained", "marketing", "risk_control", "field:id_number", "read", false, "deny", "-"},
		{"no rule", "analyst", "marketing", "contact", "read", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, explain, err := s.enf.EnforceEx(tt.role, tt.pur, tt.obj, tt.act)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Errorf("EnforceEx = %v, want %v", ok, tt.want)
			}
			if tt.wantEffect == "" {
				if len(explain) != 0 {
					t.Errorf("explained by %v", explain)
				}
				return
			}
			if len(explain) != 6 || explain[4] != tt.wantEffect || explain[5] != tt.wantMask {
				t.Errorf("explained by %v, want effect %s mask %s", explain, tt.wantEffect, tt.wantMask)
			}
		})
	}
}
