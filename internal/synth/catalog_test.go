package synth

import (
	"testing"

	"github.com/profilevault/profilevault/policies"
)

// Every category of the synthetic catalogue is in the built-in taxonomy, so the demo's interest tags are not
// screened away.
func TestCatalogueInTaxonomy(t *testing.T) {
	pol, err := policies.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range categories {
		for _, name := range []string{c.key, c.zh} {
			if k, ok := pol.Taxonomy().Key(name); !ok || k != c.key {
				t.Errorf("%s maps to %q, %v", name, k, ok)
			}
		}
	}
}
