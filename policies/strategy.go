package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/profilevault/profilevault/vault/rule"
)

// Tier is one row of the marketing strategy table (strategy.json): who (a rule over tags), through which
// channel, with which content.
type Tier struct {
	Name    string
	Rule    rule.Node
	Channel string
	Content map[string]string // by language: en, zh
}

// parseStrategy reads strategy.json: each tier's rule must parse and its channel be known.
func parseStrategy(b []byte) ([]Tier, error) {
	var doc struct {
		Comment string `json:"comment"`
		Tiers   []struct {
			Name    string            `json:"name"`
			Rule    string            `json:"rule"`
			Channel string            `json:"channel"`
			Content map[string]string `json:"content"`
		} `json:"tiers"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, fileStrategy, err)
	}
	var out []Tier
	seen := map[string]bool{}
	for i, t := range doc.Tiers {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: tier %d: %s", ErrInvalid, fileStrategy, i+1, fmt.Sprintf(format, args...))
		}
		if !validName(t.Name) || seen[t.Name] {
			return nil, bad("name must be a unique lower-case name")
		}
		seen[t.Name] = true
		n, err := rule.Parse(t.Rule)
		if err != nil {
			return nil, bad("%v", err)
		}
		if !slices.Contains(Channels, t.Channel) {
			return nil, bad("unknown channel %q", t.Channel)
		}
		if t.Content["en"] == "" || t.Content["zh"] == "" {
			return nil, bad("content needs en and zh")
		}
		out = append(out, Tier{Name: t.Name, Rule: n, Channel: t.Channel, Content: t.Content})
	}
	return out, nil
}

// Strategy returns the tiers of the marketing strategy table, in priority order.
func (s *Set) Strategy() []Tier { return slices.Clone(s.strategy) }
