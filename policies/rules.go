package policies

import (
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/config"
	"github.com/casbin/casbin/v2/constant"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

// Rule is one allow or deny row of policy.csv.
type Rule struct {
	// Line is the 1-based line of the rule in policy.csv.
	Line int `json:"line"`
	// Role is the rule's subject: a role, or a name linked to roles by inheritance rows.
	Role string `json:"role"`
	// Purpose is a catalog purpose or "*" (every purpose, including none).
	Purpose string `json:"purpose"`
	// Object is a category, a single field ("field:city") or a resource.
	Object string `json:"object"`
	// Action is the action the rule is about.
	Action string `json:"action"`
	// Effect is allow or deny.
	Effect string `json:"effect"`
	// Mask is full or masked for allowed reads of categories and fields, "-" otherwise.
	Mask string `json:"mask"`
}

// Inheritance is one `g, ROLE, PARENT` row of policy.csv: Role has every rule of Parent.
type Inheritance struct {
	// Line is the 1-based line of the row in policy.csv.
	Line int `json:"line"`
	// Role inherits from Parent.
	Role string `json:"role"`
	// Parent is the inherited role.
	Parent string `json:"parent"`
}

// casbinRow returns the rule as a Casbin policy line (ptype first).
func (r Rule) casbinRow() []string {
	return []string{"p", r.Role, r.Purpose, r.Object, r.Action, r.Effect, r.Mask}
}

// isDataObject reports whether obj is a category or a single field.
func isDataObject(obj string) bool { return IsCategory(obj) || strings.HasPrefix(obj, FieldPrefix) }

// parsePolicy parses and validates policy.csv against the schema and the catalog.
func parsePolicy(data []byte, schema *Schema, catalog *Catalog) ([]Rule, []Inheritance, error) {
	var (
		rules    []Rule
		inherits []Inheritance
		seenRule = map[[5]string]int{}
		seenG    = map[[2]string]int{}
	)
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		lineNo := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, filePolicy, lineNo, fmt.Sprintf(format, args...))
		}
		r := csv.NewReader(strings.NewReader(line))
		r.TrimLeadingSpace = true
		r.FieldsPerRecord = -1
		tokens, err := r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, nil, bad("bad CSV: %v", err)
		}
		for j := range tokens {
			tokens[j] = strings.TrimSpace(tokens[j])
		}
		switch tokens[0] {
		case "p":
			if len(tokens) != 7 {
				return nil, nil, bad("a p rule has 6 columns (role, purpose, object, action, effect, mask), got %d", len(tokens)-1)
			}
			rule := Rule{Line: lineNo, Role: tokens[1], Purpose: tokens[2], Object: tokens[3], Action: tokens[4], Effect: tokens[5], Mask: tokens[6]}
			if err := validateRule(rule, schema, catalog); err != nil {
				return nil, nil, bad("%s", err.Error())
			}
			key := [5]string{rule.Role, rule.Purpose, rule.Object, rule.Action, rule.Effect}
			if prev, dup := seenRule[key]; dup {
				return nil, nil, bad("same role, purpose, object, action and effect as line %d", prev)
			}
			seenRule[key] = lineNo
			rules = append(rules, rule)
		case "g":
			if len(tokens) != 3 {
				return nil, nil, bad("a g row has 2 columns (role, parent role), got %d", len(tokens)-1)
			}
			g := Inheritance{Line: lineNo, Role: tokens[1], Parent: tokens[2]}
			if !validName(g.Role) || !validName(g.Parent) {
				return nil, nil, bad("role names must be 1-64 lower-case letters, digits, '_', '-' or '.'")
			}
			if g.Role == g.Parent {
				return nil, nil, bad("role %q inherits from itself", g.Role)
			}
			key := [2]string{g.Role, g.Parent}
			if prev, dup := seenG[key]; dup {
				return nil, nil, bad("repeats the g row of line %d", prev)
			}
			seenG[key] = lineNo
			inherits = append(inherits, g)
		case "g2":
			return nil, nil, bad("g2 rows (field to category) are generated from %s; remove this row", fileSchema)
		default:
			return nil, nil, bad("unknown rule type %q (want p or g)", tokens[0])
		}
	}
	if len(rules) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no rules", ErrInvalid, filePolicy)
	}
	if cyc := inheritanceCycle(inherits); cyc != "" {
		return nil, nil, fmt.Errorf("%w: %s: role inheritance cycle through %q", ErrInvalid, filePolicy, cyc)
	}
	if err := confineSubject(rules, inherits); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, filePolicy, err)
	}
	return rules, inherits, nil
}

// subjectResources are the resources the subject role may be given, for its own requests through /v1/me.
var subjectResources = []Object{ResourceConsents, ResourceObjections, ResourceRequests, ResourceSubjects}

// confineSubject keeps the data subject's role to its own data (API.md: "only their own data, through
// /v1/me"): its allow rules only for purpose data_subject_request and on data or its own requests'
// resources, and no inheritance to or from it. A reload took `g, subject, admin` and
// `p, subject, *, audit, read, allow, -`, after which a subject's token read the staff's trail.
func confineSubject(rules []Rule, inherits []Inheritance) error {
	for _, r := range rules {
		if r.Role != string(RoleSubject) || r.Effect != effectAllow {
			continue
		}
		if r.Purpose != string(PurposeDataSubjectRequest) {
			return fmt.Errorf("the subject role is allowed only for purpose %s (a rule for %q)", PurposeDataSubjectRequest, r.Purpose)
		}
		if !isDataObject(r.Object) && !slices.Contains(subjectResources, Object(r.Object)) {
			return fmt.Errorf("the subject role may not be given %q (only its own data, consents, objections, requests and erasure)", r.Object)
		}
	}
	for _, g := range inherits {
		if g.Role == string(RoleSubject) || g.Parent == string(RoleSubject) {
			return fmt.Errorf("no role inherits to or from the subject role (g, %s, %s)", g.Role, g.Parent)
		}
	}
	return nil
}

// validateRule checks one p rule; the error text is a bare reason.
func validateRule(r Rule, schema *Schema, catalog *Catalog) error {
	if !validName(r.Role) {
		return fmt.Errorf("role %q: names are 1-64 lower-case letters, digits, '_', '-' or '.'", r.Role)
	}
	if r.Purpose != AnyPurpose {
		if _, ok := catalog.Purpose(PurposeName(r.Purpose)); !ok {
			return fmt.Errorf("unknown purpose %q (not in %s; use * for every purpose)", r.Purpose, filePurposes)
		}
	}
	if name, ok := strings.CutPrefix(r.Object, FieldPrefix); ok {
		if _, ok := schema.Field(name); !ok {
			return fmt.Errorf("unknown field %q (not in %s)", name, fileSchema)
		}
	}
	acts := ActionsFor(r.Object)
	if acts == nil {
		return fmt.Errorf("unknown object %q (want a category, field:NAME or a resource)", r.Object)
	}
	if !slices.Contains(acts, r.Action) {
		return fmt.Errorf("action %q is not valid on %q (want one of %s)", r.Action, r.Object, strings.Join(acts, ", "))
	}
	if r.Effect != effectAllow && r.Effect != effectDeny {
		return fmt.Errorf("effect %q: want allow or deny", r.Effect)
	}
	if r.Effect == effectAllow && isDataObject(r.Object) && r.Action != string(ActCompute) {
		// A grant may not reach beyond what the purposes catalog lets the purpose process (PIPL Art. 6);
		// a grant for every purpose (*) only for a category every purpose processes.
		cat := r.Object
		if name, ok := strings.CutPrefix(cat, FieldPrefix); ok {
			f, _ := schema.Field(name)
			cat = f.Category
		}
		for _, p := range catalog.All() {
			if (r.Purpose == AnyPurpose || p.Name == PurposeName(r.Purpose)) && !p.Processes(cat) {
				return fmt.Errorf("purpose %q may not process %q (%s lists what it may): the rule grants beyond it", p.Name, cat, filePurposes)
			}
		}
	}
	if r.Effect == effectAllow && r.Action == string(ActRead) && isDataObject(r.Object) {
		if r.Mask != MaskFull && r.Mask != MaskMasked {
			return fmt.Errorf("mask %q: a read of a category or field is full or masked", r.Mask)
		}
	} else if r.Mask != maskNone {
		return fmt.Errorf("mask %q: only allowed reads of categories and fields have a mask; use -", r.Mask)
	}
	return nil
}

// inheritanceCycle returns a role on a cycle of g rows, or "".
func inheritanceCycle(gs []Inheritance) string {
	parents := map[string][]string{}
	for _, g := range gs {
		parents[g.Role] = append(parents[g.Role], g.Parent)
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(string) string
	visit = func(r string) string {
		switch state[r] {
		case visiting:
			return r
		case done:
			return ""
		}
		state[r] = visiting
		for _, p := range parents[r] {
			if c := visit(p); c != "" {
				return c
			}
		}
		state[r] = done
		return ""
	}
	roles := make([]string, 0, len(parents))
	for r := range parents {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		if c := visit(r); c != "" {
			return c
		}
	}
	return ""
}

// parsedModel is a validated model.conf.
type parsedModel struct {
	model model.Model
	// matcher is the raw matcher text of [matchers] m, prepared like Casbin prepares it.
	matcher string
}

// parseModel parses model.conf and checks that it has the shape this package relies on: the request
// (sub, pur, obj, act), the rule columns (sub, pur, obj, act, eft, mask), role definitions g and g2 without
// domains, the allow-and-deny effect, and a matcher.
func parseModel(text []byte) (*parsedModel, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, fileModel, fmt.Sprintf(format, args...))
	}
	m, err := model.NewModelFromString(string(text))
	if err != nil {
		return nil, bad("%v", err)
	}
	checkTokens := func(sec, key string, want []string) error {
		a, err := m.GetAssertion(sec, key)
		if err != nil {
			return bad("%v", err)
		}
		if !slices.Equal(a.Tokens, want) {
			return bad("%s must be %s", key, strings.Join(want, ", "))
		}
		return nil
	}
	if err := checkTokens("r", "r", []string{"r_sub", "r_pur", "r_obj", "r_act"}); err != nil {
		return nil, err
	}
	if err := checkTokens("p", "p", []string{"p_sub", "p_pur", "p_obj", "p_act", "p_eft", "p_mask"}); err != nil {
		return nil, err
	}
	for _, key := range []string{"g", "g2"} {
		a, err := m.GetAssertion("g", key)
		if err != nil {
			return nil, bad("role_definition %s = _, _ is required", key)
		}
		if len(a.Tokens) != 2 || len(a.ParamsTokens) != 0 {
			return nil, bad("role_definition %s must be _, _", key)
		}
	}
	e, err := m.GetAssertion("e", "e")
	if err != nil {
		return nil, bad("%v", err)
	}
	if e.Value != constant.AllowAndDenyEffect {
		return nil, bad("policy_effect e must be some(where (p.eft == allow)) && !some(where (p.eft == deny))")
	}
	if _, err := m.GetAssertion("m", "m"); err != nil {
		return nil, bad("%v", err)
	}
	cfg, err := config.NewConfigFromText(string(text))
	if err != nil {
		return nil, bad("%v", err)
	}
	matcher := cfg.String("matchers::m")
	if strings.Contains(matcher, "in") { // as model.AddDef does
		matcher = strings.NewReplacer("[", "(", "]", ")").Replace(matcher)
	}
	return &parsedModel{model: m, matcher: matcher}, nil
}

// memAdapter feeds already validated rows to Casbin; it cannot save.
type memAdapter struct{ rows [][]string }

var _ persist.Adapter = (*memAdapter)(nil)

// errReadOnly is returned by the saving methods of memAdapter.
var errReadOnly = errors.New("policies: the compiled policy is read-only")

// LoadPolicy adds every row to the model.
func (a *memAdapter) LoadPolicy(m model.Model) error {
	for _, r := range a.rows {
		if err := persist.LoadPolicyArray(r, m); err != nil {
			return err
		}
	}
	return nil
}

// SavePolicy refuses: policies are edited as files.
func (a *memAdapter) SavePolicy(model.Model) error { return errReadOnly }

// AddPolicy refuses: policies are edited as files.
func (a *memAdapter) AddPolicy(string, string, []string) error { return errReadOnly }

// RemovePolicy refuses: policies are edited as files.
func (a *memAdapter) RemovePolicy(string, string, []string) error { return errReadOnly }

// RemoveFilteredPolicy refuses: policies are edited as files.
func (a *memAdapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

// casbinRows returns every Casbin row: the p rules, the g rows, the generated g2 field-to-category rows,
// then extra rows (tests add synthetic users).
func casbinRows(rules []Rule, inherits []Inheritance, schema *Schema, extra ...[]string) [][]string {
	rows := make([][]string, 0, len(rules)+len(inherits)+len(schema.fields)+len(extra))
	for _, r := range rules {
		rows = append(rows, r.casbinRow())
	}
	for _, g := range inherits {
		rows = append(rows, []string{"g", g.Role, g.Parent})
	}
	for _, f := range schema.fields {
		rows = append(rows, []string{"g2", fieldObject(f.Name), f.Category})
	}
	return append(rows, extra...)
}

// newEnforcer builds a Casbin enforcer over a fresh parse of the model text and the given rows, and checks
// that the matcher evaluates.
func newEnforcer(modelText []byte, rows [][]string) (*casbin.Enforcer, *parsedModel, error) {
	pm, err := parseModel(modelText)
	if err != nil {
		return nil, nil, err
	}
	enf, err := casbin.NewEnforcer(pm.model, &memAdapter{rows: rows})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, filePolicy, err)
	}
	enf.EnableAutoSave(false)
	if _, err := enf.Enforce("-", NoPurpose, "-", "-"); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: matcher: %v", ErrInvalid, fileModel, err)
	}
	return enf, pm, nil
}
