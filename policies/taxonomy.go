package policies

import (
	"fmt"
	"strings"
)

// Taxonomy is the allow list of product categories that interest tags may name (taxonomy.json): an item's
// category maps to a key by the key itself, its Chinese or English name or an alias, case and surrounding
// space ignored; a category outside it feeds no interest tag, so free product names (a medicine, a
// religious item) never become a tag value.
type Taxonomy struct {
	byName map[string]string
	keys   []string
}

type taxonomyFile struct {
	About      string `json:"about"`
	Categories []struct {
		Key     string   `json:"key"`
		ZH      string   `json:"zh"`
		EN      string   `json:"en"`
		Aliases []string `json:"aliases,omitempty"`
	} `json:"categories"`
}

// parseTaxonomy decodes and validates taxonomy.json; every name must be free of sensitive inferences.
func parseTaxonomy(raw []byte, inf *Inferences) (*Taxonomy, error) {
	var f taxonomyFile
	if err := decodeStrict(fileTaxonomy, raw, &f); err != nil {
		return nil, err
	}
	if len(f.Categories) == 0 {
		return nil, fmt.Errorf("%w: %s: no categories", ErrInvalid, fileTaxonomy)
	}
	t := &Taxonomy{byName: map[string]string{}}
	for i, c := range f.Categories {
		if !validName(c.Key) || c.ZH == "" || c.EN == "" {
			return nil, fmt.Errorf("%w: %s: categories[%d]: a key (lower-case name), zh and en are required", ErrInvalid, fileTaxonomy, i)
		}
		for _, n := range append([]string{c.Key, c.ZH, c.EN}, c.Aliases...) {
			if cat, bad := inf.Match(n); bad {
				return nil, fmt.Errorf("%w: %s: %q lets one infer %s (inferences.json)", ErrInvalid, fileTaxonomy, c.Key, cat)
			}
			k := strings.ToLower(strings.TrimSpace(n))
			if prev, dup := t.byName[k]; dup && prev != c.Key {
				return nil, fmt.Errorf("%w: %s: %q names both %s and %s", ErrInvalid, fileTaxonomy, n, prev, c.Key)
			}
			t.byName[k] = c.Key
		}
		t.keys = append(t.keys, c.Key)
	}
	return t, nil
}

// Key maps a product category name to its taxonomy key; ok is false outside the allow list.
func (t *Taxonomy) Key(name string) (string, bool) {
	k, ok := t.byName[strings.ToLower(strings.TrimSpace(name))]
	return k, ok
}

// Keys returns the taxonomy's keys in file order.
func (t *Taxonomy) Keys() []string { return append([]string(nil), t.keys...) }

// Taxonomy returns the product-category allow list in force.
func (s *Set) Taxonomy() *Taxonomy { return s.taxonomy }
