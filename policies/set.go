package policies

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/config"
)

// Grant is what a role set may do with one field or category for a purpose and action.
type Grant struct {
	// Mask is "full" or "masked" for reads; empty for other actions.
	Mask string `json:"mask"`
}

// decision is the compiled tri-state outcome of one (role, purpose, object, action) tuple.
type decision uint8

const (
	decNone  decision = iota // no rule matched
	decAllow                 // an allow rule matched and no deny rule did
	decDeny                  // a deny rule matched
)

// cell is one compiled table entry.
type cell struct {
	dec  decision
	full bool // for allowed reads of categories and fields: the mask is full (else masked)
}

// tupleKey keys the compiled table.
type tupleKey struct{ role, purpose, obj, act string }

// grantKey keys the precomputed single-role field grants.
type grantKey struct{ role, purpose, act string }

// multiKey keys the cache of multi-role field grants: roles as a bit set over the sorted role list.
type multiKey struct {
	roles        uint64
	purpose, act string
}

// Set is one loaded, validated, compiled policy version. It is immutable and safe for concurrent use;
// reload by calling [Load] again and swapping the pointer.
type Set struct {
	files   map[string][]byte
	hash    string
	schema  *Schema
	catalog *Catalog
	// inferences is the sensitive-inference lexicon (inferences.json); taxonomy the product categories
	// interest tags may name (taxonomy.json).
	inferences *Inferences
	taxonomy   *Taxonomy
	rules      []Rule
	inherits   []Inheritance
	// grantable is what roles may ask for beyond their baseline (grants.json); strategy the marketing
	// tiers and personalised the marker their messages carry (strategy.json).
	grantable    []Grantable
	strategy     []Tier
	personalised PersonalisedMarker

	roles     []string       // sorted
	roleIndex map[string]int // position in roles
	purposes  []string       // catalog names in file order, then NoPurpose
	objects   []string       // fields (field:x, schema order), categories, resources used by rules (sorted)
	actions   map[string][]string
	dataActs  []string // actions used on categories and fields, sorted
	pruned    bool     // compiled with the structural shortcut of the built-in matcher
	// enforceCalls counts the Casbin evaluations the compilation made.
	enforceCalls int

	table       map[tupleKey]cell
	fieldGrants map[grantKey]map[string]Grant

	multiMu sync.RWMutex
	multi   map[multiKey]map[string]Grant

	enfMu sync.Mutex
	enf   *casbin.Enforcer
}

// Load reads the four policy files — each from dir if it holds a file of that name, otherwise the embedded
// one; dir "" means embedded only — validates them, builds the Casbin enforcer and compiles its decisions.
// A dir that does not exist is an error. Any invalid file yields an error wrapping [ErrInvalid] that names
// the file and the line or entry at fault, and no Set: nothing is partially applied.
func Load(dir string) (*Set, error) {
	files, err := readFiles(dir)
	if err != nil {
		return nil, err
	}
	return compile(files, false)
}

// FromFiles builds a Set from the files of a recorded policy version (Set.Files, by name), as Load does from
// a directory: a node of a shared database adopts the version another node put in force. A file missing
// from files is an error, never silently the embedded one: the result must be the version recorded.
func FromFiles(files map[string][]byte) (*Set, error) {
	for _, name := range FileNames() {
		if _, ok := files[name]; !ok {
			return nil, fmt.Errorf("%w: policy version without %s", ErrInvalid, name)
		}
	}
	return compile(files, false)
}

// compile validates the files and builds a Set. forceFull disables the pruned compilation (for tests).
func compile(files map[string][]byte, forceFull bool) (*Set, error) {
	schema, err := parseSchema(files[fileSchema])
	if err != nil {
		return nil, err
	}
	catalog, err := parsePurposes(files[filePurposes])
	if err != nil {
		return nil, err
	}
	rules, inherits, err := parsePolicy(files[filePolicy], schema, catalog)
	if err != nil {
		return nil, err
	}
	inferences, err := parseInferences(files[fileInferences])
	if err != nil {
		return nil, err
	}
	taxonomy, err := parseTaxonomy(files[fileTaxonomy], inferences)
	if err != nil {
		return nil, err
	}
	enf, pm, err := newEnforcer(files[fileModel], casbinRows(rules, inherits, schema))
	if err != nil {
		return nil, err
	}
	s := &Set{
		files:      files,
		hash:       hashFiles(files),
		schema:     schema,
		catalog:    catalog,
		inferences: inferences,
		taxonomy:   taxonomy,
		rules:      rules,
		inherits:   inherits,
		enf:        enf,
		multi:      map[multiKey]map[string]Grant{},
	}
	s.enumerate()
	if s.grantable, err = parseGrants(files[fileGrants], schema, catalog); err != nil {
		return nil, err
	}
	if s.strategy, s.personalised, err = parseStrategy(files[fileStrategy]); err != nil {
		return nil, err
	}
	s.pruned = !forceFull && sameMatcher(pm.matcher, embeddedMatcher())
	c := &compiler{
		enf:       enf,
		exact:     "(" + pm.matcher + `) && (p.eft != "allow" || p.obj == r.obj)`,
		exactFull: "(" + pm.matcher + `) && (p.eft != "allow" || (p.obj == r.obj && p.mask == "full"))`,
		anyFull:   "(" + pm.matcher + `) && (p.eft != "allow" || p.mask == "full")`,
		table:     map[tupleKey]cell{},
	}
	if s.pruned {
		err = s.compilePruned(c)
	} else {
		err = s.compileFull(c)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, fileModel, err)
	}
	s.table = c.table
	s.enforceCalls = c.calls
	s.buildFieldGrants()
	if !s.Allowed([]Role{RoleAdmin}, NoPurpose, ResourcePolicies, ActReload) {
		// Loaded by a reload, such a policy locked out every later reload (the fix too) until a restart.
		return nil, fmt.Errorf("%w: %s: the admin role must keep policies reload (p, admin, *, policies, reload, allow, -): without it no later reload could undo this one", ErrInvalid, filePolicy)
	}
	return s, nil
}

// enumerate fills the role, purpose, object and action domains of the compiled table.
func (s *Set) enumerate() {
	roleSet := map[string]bool{}
	resActs := map[string]map[string]bool{}
	dataActs := map[string]bool{}
	for _, r := range s.rules {
		roleSet[r.Role] = true
		if isDataObject(r.Object) {
			dataActs[r.Action] = true
			continue
		}
		if resActs[r.Object] == nil {
			resActs[r.Object] = map[string]bool{}
		}
		resActs[r.Object][r.Action] = true
	}
	for _, g := range s.inherits {
		roleSet[g.Role] = true
		roleSet[g.Parent] = true
	}
	s.roles = slices.Sorted(maps.Keys(roleSet))
	s.roleIndex = make(map[string]int, len(s.roles))
	for i, r := range s.roles {
		s.roleIndex[r] = i
	}
	s.purposes = Texts(append(s.catalog.Names(), NoPurpose))
	s.dataActs = slices.Sorted(maps.Keys(dataActs))
	s.actions = map[string][]string{}
	for _, f := range s.schema.fields {
		obj := fieldObject(f.Name)
		s.objects = append(s.objects, obj)
		s.actions[obj] = s.dataActs
	}
	for _, c := range categoryOrder {
		s.objects = append(s.objects, c)
		s.actions[c] = s.dataActs
	}
	for _, res := range slices.Sorted(maps.Keys(resActs)) {
		s.objects = append(s.objects, res)
		s.actions[res] = slices.Sorted(maps.Keys(resActs[res]))
	}
}

// compiler evaluates tuples through Casbin.
type compiler struct {
	enf                       *casbin.Enforcer
	exact, exactFull, anyFull string
	table                     map[tupleKey]cell
	calls                     int
}

// decide evaluates one tuple and records it in the table unless no rule matched.
func (c *compiler) decide(role, purpose, obj, act string) error {
	ok, explain, err := c.enf.EnforceEx(role, purpose, obj, act)
	c.calls++
	if err != nil {
		return err
	}
	if !ok {
		// With the allow-and-deny effect Casbin explains a refusal only by the deny rule that caused it.
		if len(explain) == 6 && explain[4] == effectDeny {
			c.table[tupleKey{role, purpose, obj, act}] = cell{dec: decDeny}
		}
		return nil
	}
	ce := cell{dec: decAllow}
	if act == string(ActRead) && isDataObject(obj) {
		// The mask of the most specific matching allow rule: a rule naming this very object beats one
		// reaching it through g2 (field → category); among equally specific rules, full beats masked.
		exact, err := c.enf.EnforceWithMatcher(c.exact, role, purpose, obj, act)
		if err != nil {
			return err
		}
		m := c.anyFull
		if exact {
			m = c.exactFull
		}
		if ce.full, err = c.enf.EnforceWithMatcher(m, role, purpose, obj, act); err != nil {
			return err
		}
		c.calls += 2
	}
	c.table[tupleKey{role, purpose, obj, act}] = ce
	return nil
}

// compileFull evaluates every tuple of the domain (used when model.conf has a custom matcher).
func (s *Set) compileFull(c *compiler) error {
	for _, role := range s.roles {
		for _, pur := range s.purposes {
			for _, obj := range s.objects {
				for _, act := range s.actions[obj] {
					if err := c.decide(role, pur, obj, act); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// compilePruned evaluates only the tuples that some rule could match under the built-in matcher
// (g(r.sub, p.sub) && purpose equal or "*" && g2(r.obj, p.obj) && r.act == p.act): the rule's subject is
// the role or one it inherits, and the rule names the object or the category of the field. Every other
// tuple cannot match any rule, so Casbin would answer "no rule" for it; the tests check this against
// Enforce for every tuple.
func (s *Set) compilePruned(c *compiler) error {
	parents := map[string][]string{}
	for _, g := range s.inherits {
		parents[g.Role] = append(parents[g.Role], g.Parent)
	}
	type oa struct{ obj, act string }
	for _, role := range s.roles {
		subjects := closure(role, parents)
		for _, pur := range s.purposes {
			var todo []oa
			seen := map[oa]bool{}
			add := func(obj, act string) {
				if k := (oa{obj, act}); !seen[k] {
					seen[k] = true
					todo = append(todo, k)
				}
			}
			for _, r := range s.rules {
				if !subjects[r.Role] || (r.Purpose != pur && r.Purpose != AnyPurpose) {
					continue
				}
				add(r.Object, r.Action)
				if IsCategory(r.Object) {
					for _, f := range s.schema.fields {
						if f.Category == r.Object {
							add(fieldObject(f.Name), r.Action)
						}
					}
				}
			}
			for _, t := range todo {
				if err := c.decide(role, pur, t.obj, t.act); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// closure returns role and every role it inherits, transitively.
func closure(role string, parents map[string][]string) map[string]bool {
	out := map[string]bool{role: true}
	stack := []string{role}
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range parents[r] {
			if !out[p] {
				out[p] = true
				stack = append(stack, p)
			}
		}
	}
	return out
}

// embeddedMatcher returns the matcher of the built-in model.conf.
func embeddedMatcher() string {
	cfg, err := config.NewConfigFromText(string(Embedded(fileModel)))
	if err != nil {
		return ""
	}
	return cfg.String("matchers::m")
}

// sameMatcher compares two matchers ignoring white space.
func sameMatcher(a, b string) bool {
	strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
	return a != "" && strip(a) == strip(b)
}

// buildFieldGrants precomputes the field grants of every single role.
func (s *Set) buildFieldGrants() {
	s.fieldGrants = map[grantKey]map[string]Grant{}
	for _, role := range s.roles {
		for _, pur := range s.purposes {
			for _, act := range s.dataActs {
				var g map[string]Grant
				for _, f := range s.schema.fields {
					ce := s.table[tupleKey{role, pur, fieldObject(f.Name), act}]
					if ce.dec != decAllow {
						continue
					}
					if g == nil {
						g = map[string]Grant{}
					}
					g[f.Name] = grantOf(act, ce.full)
				}
				if g != nil {
					s.fieldGrants[grantKey{role, pur, act}] = g
				}
			}
		}
	}
}

// grantOf returns the grant of an allowed tuple.
func grantOf(act string, full bool) Grant {
	switch {
	case act != string(ActRead):
		return Grant{}
	case full:
		return Grant{Mask: MaskFull}
	default:
		return Grant{Mask: MaskMasked}
	}
}

// Hash returns the policy version: the hex SHA-256 of the four files, each contributing, in sorted name
// order, its name, "\n", its length in decimal, "\n" and its bytes.
func (s *Set) Hash() string { return s.hash }

// Schema returns the field schema.
func (s *Set) Schema() *Schema { return s.schema }

// Purposes returns the purposes catalog.
func (s *Set) Purposes() *Catalog { return s.catalog }

// Roles returns every role the policy mentions (rule subjects and both sides of inheritance rows), sorted.
func (s *Set) Roles() []string { return slices.Clone(s.roles) }

// HasRole reports whether the policy mentions the role.
func (s *Set) HasRole(role string) bool {
	_, ok := s.roleIndex[role]
	return ok
}

// Rules returns the allow and deny rules of policy.csv in file order.
func (s *Set) Rules() []Rule { return slices.Clone(s.rules) }

// Inheritances returns the role inheritance rows of policy.csv in file order.
func (s *Set) Inheritances() []Inheritance { return slices.Clone(s.inherits) }

// Files returns a copy of the four files this Set was compiled from, by name.
func (s *Set) Files() map[string][]byte {
	out := make(map[string][]byte, len(s.files))
	for k, v := range s.files {
		out[k] = slices.Clone(v)
	}
	return out
}

// Allowed reports whether a token with these roles may do act on obj for purpose: some role's rules allow
// it and none of the roles' rules deny it. obj is a category, a single field ("field:city") or a resource;
// routes without a declared purpose use [NoPurpose]. Purposes outside the catalog, unknown roles, objects
// and actions are never allowed. It does not allocate.
func (s *Set) Allowed(roles []Role, purpose PurposeName, obj Object, act Act) bool {
	allowed := false
	for _, r := range roles {
		switch s.table[tupleKey{string(r), string(purpose), string(obj), string(act)}].dec {
		case decDeny:
			return false
		case decAllow:
			allowed = true
		}
	}
	return allowed
}

// Access is [Set.Allowed] with the grant: for reads of categories and fields, the mask is full when any
// allowing role has it full, else masked.
func (s *Set) Access(roles []Role, purpose PurposeName, obj Object, act Act) (Grant, bool) {
	allowed, full := false, false
	for _, r := range roles {
		ce := s.table[tupleKey{string(r), string(purpose), string(obj), string(act)}]
		switch ce.dec {
		case decDeny:
			return Grant{}, false
		case decAllow:
			allowed = true
			full = full || ce.full
		}
	}
	if !allowed {
		return Grant{}, false
	}
	if act != ActRead || !isDataObject(string(obj)) {
		return Grant{}, true
	}
	return grantOf(string(act), full), true
}

// Denied reports whether an explicit deny rule of one of the roles matches (purpose, obj, act): a refusal
// nothing lifts, not even an approved access request (a token with several roles gets their union, and an
// explicit deny wins).
func (s *Set) Denied(roles []Role, purpose PurposeName, obj Object, act Act) bool {
	for _, r := range roles {
		if s.table[tupleKey{string(r), string(purpose), string(obj), string(act)}].dec == decDeny {
			return true
		}
	}
	return false
}

// FieldGrants returns every schema field the role set may act on for purpose, with its grant. For reads
// the mask is that of the most specific matching allow rule (a field: rule beats a category rule); across
// several roles the result is their union, full beating masked, and an explicit deny from any role for a
// field wins over the others' allows. The returned map is shared and read-only: callers must not modify
// it. It is nil when nothing is granted.
func (s *Set) FieldGrants(roles []Role, purpose PurposeName, act Act) map[string]Grant {
	if len(roles) == 1 {
		return s.fieldGrants[grantKey{string(roles[0]), string(purpose), string(act)}]
	}
	var bits uint64
	known, first := 0, ""
	for _, r := range roles {
		i, ok := s.roleIndex[string(r)]
		if !ok {
			continue
		}
		if i < 64 {
			if bits&(1<<i) != 0 {
				continue // repeated role
			}
			bits |= 1 << i
		}
		if known == 0 {
			first = string(r)
		}
		known++
	}
	switch {
	case known == 0:
		return nil
	case known == 1:
		return s.fieldGrants[grantKey{first, string(purpose), string(act)}]
	case len(s.roles) > 64:
		return s.unionGrants(roles, purpose, act)
	}
	if !slices.Contains(s.purposes, string(purpose)) || !slices.Contains(s.dataActs, string(act)) {
		return nil
	}
	key := multiKey{bits, string(purpose), string(act)}
	s.multiMu.RLock()
	g, ok := s.multi[key]
	s.multiMu.RUnlock()
	if ok {
		return g
	}
	g = s.unionGrants(roles, purpose, act)
	s.multiMu.Lock()
	s.multi[key] = g
	s.multiMu.Unlock()
	return g
}

// unionGrants computes the field grants of several roles.
func (s *Set) unionGrants(roles []Role, purpose PurposeName, act Act) map[string]Grant {
	var out map[string]Grant
	for _, f := range s.schema.fields {
		if g, ok := s.Access(roles, purpose, FieldObject(f.Name), act); ok {
			if out == nil {
				out = map[string]Grant{}
			}
			out[f.Name] = g
		}
	}
	return out
}

// HasFieldAccess reports whether the role set may act on at least one schema field for purpose.
func (s *Set) HasFieldAccess(roles []Role, purpose PurposeName, act Act) bool {
	return len(s.FieldGrants(roles, purpose, act)) > 0
}

// Enforce asks Casbin directly, bypassing the compiled table: for tests, explanations and diagnostics.
// It is slow (tens of microseconds) and serialised.
func (s *Set) Enforce(role, purpose, obj, act string) (bool, error) {
	s.enfMu.Lock()
	defer s.enfMu.Unlock()
	return s.enf.Enforce(role, purpose, obj, act)
}
