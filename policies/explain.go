package policies

import "fmt"

// MatrixCell is one cell of the policy matrix: may Role do Action (read or write) on Category for Purpose.
type MatrixCell struct {
	Role     string `json:"role"`
	Purpose  string `json:"purpose"`
	Category string `json:"category"`
	Action   string `json:"action"`
	// Allowed is the decision for the category as a whole; Decision says it as API.md does: allow or deny.
	Allowed  bool   `json:"allowed"`
	Decision string `json:"decision"`
	// Mask is full or masked for allowed reads, empty otherwise.
	Mask string `json:"mask"`
	// Fields maps each field of the category the role may act on to its mask ("" for writes). It shows
	// field-level rules (marketing reads field:city without the rest of address); nil when none.
	Fields map[string]string `json:"fields,omitempty"`
}

// decisionWord is a matrix cell's decision in API.md's words.
func decisionWord(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

// Matrix returns the decision for every role × catalog purpose × category × {read, write}, in the order
// of Roles, the catalog and the category vocabulary.
func (s *Set) Matrix() []MatrixCell {
	var out []MatrixCell
	for _, role := range s.roles {
		rs := []Role{Role(role)}
		for _, pur := range s.catalog.Names() {
			for _, cat := range categoryOrder {
				for _, act := range []Act{ActRead, ActWrite} {
					g, ok := s.Access(rs, pur, CategoryObject(cat), act)
					cellOut := MatrixCell{Role: role, Purpose: string(pur), Category: cat, Action: string(act), Allowed: ok, Decision: decisionWord(ok), Mask: g.Mask}
					grants := s.FieldGrants(rs, pur, act)
					for _, f := range s.schema.fields {
						if f.Category != cat {
							continue
						}
						if fg, ok := grants[f.Name]; ok {
							if cellOut.Fields == nil {
								cellOut.Fields = map[string]string{}
							}
							cellOut.Fields[f.Name] = fg.Mask
						}
					}
					out = append(out, cellOut)
				}
			}
		}
	}
	return out
}

// FieldExplanation says what one role may do with one field for one purpose, and which legal basis the
// access relies on.
type FieldExplanation struct {
	Field    string `json:"field"`
	Category string `json:"category"`
	// Read is true when the role may read the field; Mask is then full or masked.
	Read bool   `json:"read"`
	Mask string `json:"mask"`
	// Write and Lookup are true when the role may write the field or look subjects up by it.
	Write  bool `json:"write"`
	Lookup bool `json:"lookup"`
	// LegalBasis is the purpose's legal basis (contract, legal_obligation or consent; empty for NoPurpose).
	LegalBasis string `json:"legal_basis"`
	// ConsentKind is the consent the access needs under a consent basis: the purpose's kind, raised to
	// separate for sensitive fields (PIPL Art. 29); empty under other bases. Minors under 14 additionally
	// need a guardian's consent, which depends on the subject and is not shown here.
	ConsentKind string `json:"consent_kind"`
	// Sensitive marks sensitive personal information.
	Sensitive bool `json:"sensitive"`
}

// CategoryExplanation says what one role may do with one category for one purpose.
type CategoryExplanation struct {
	Category string `json:"category"`
	// Read is true when the role may read the category as a whole; Mask is then full or masked.
	Read   bool   `json:"read"`
	Mask   string `json:"mask"`
	Write  bool   `json:"write"`
	Lookup bool   `json:"lookup"`
	// Processed is true when the purposes catalog lets the purpose process the category.
	Processed bool `json:"processed"`
	Sensitive bool `json:"sensitive"`
}

// explainTarget resolves a role and purpose for Explain.
func (s *Set) explainTarget(role string, purpose PurposeName) (Purpose, error) {
	if !s.HasRole(role) {
		return Purpose{}, fmt.Errorf("%w: %q", ErrUnknownRole, role)
	}
	if purpose == NoPurpose {
		return Purpose{Name: NoPurpose}, nil
	}
	p, ok := s.catalog.Purpose(purpose)
	if !ok {
		return Purpose{}, fmt.Errorf("%w: %q", ErrUnknownPurpose, purpose)
	}
	return p, nil
}

// Explain lists, for every schema field in file order, what role may do with it for purpose (as printed by
// `vaultd policy explain`). It fails with [ErrUnknownRole] or [ErrUnknownPurpose].
func (s *Set) Explain(role string, purpose PurposeName) ([]FieldExplanation, error) {
	p, err := s.explainTarget(role, purpose)
	if err != nil {
		return nil, err
	}
	rs := []Role{Role(role)}
	out := make([]FieldExplanation, 0, len(s.schema.fields))
	for _, f := range s.schema.fields {
		obj := FieldObject(f.Name)
		g, read := s.Access(rs, purpose, obj, ActRead)
		e := FieldExplanation{
			Field:      f.Name,
			Category:   f.Category,
			Read:       read,
			Mask:       g.Mask,
			Write:      s.Allowed(rs, purpose, obj, ActWrite),
			Lookup:     s.Allowed(rs, purpose, obj, ActLookup),
			LegalBasis: p.LegalBasis,
			Sensitive:  f.Sensitive,
		}
		if p.LegalBasis == BasisConsent {
			e.ConsentKind = p.ConsentKind
			if f.Sensitive {
				e.ConsentKind = ConsentSeparate
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// ExplainCategories lists, for every category in canonical order, what role may do with it for purpose.
// It fails with [ErrUnknownRole] or [ErrUnknownPurpose].
func (s *Set) ExplainCategories(role string, purpose PurposeName) ([]CategoryExplanation, error) {
	p, err := s.explainTarget(role, purpose)
	if err != nil {
		return nil, err
	}
	rs := []Role{Role(role)}
	out := make([]CategoryExplanation, 0, len(categoryOrder))
	for _, c := range categoryOrder {
		g, read := s.Access(rs, purpose, CategoryObject(c), ActRead)
		out = append(out, CategoryExplanation{
			Category:  c,
			Read:      read,
			Mask:      g.Mask,
			Write:     s.Allowed(rs, purpose, CategoryObject(c), ActWrite),
			Lookup:    s.Allowed(rs, purpose, CategoryObject(c), ActLookup),
			Processed: p.Processes(c),
			Sensitive: IsSensitiveCategory(c),
		})
	}
	return out, nil
}
