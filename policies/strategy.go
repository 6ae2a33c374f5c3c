package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/profilevault/profilevault/vault/rule"
)

// Tier is one row of the marketing strategy table (strategy.json): who (a rule over tags), through which
// channels, with which content.
type Tier struct {
	Name string
	Rule rule.Node
	// Channels are the tier's channels in order of preference (TAGS.md: "wecom, email"; "any consented"):
	// a person is reached on the first one their consent covers and they can be reached on.
	Channels []string
	Content  map[string]string // by language: en, zh
}

// parseStrategy reads strategy.json: each tier's rule must parse and its channel be known.
func parseStrategy(b []byte) ([]Tier, error) {
	var doc struct {
		Comment string `json:"comment"`
		Tiers   []struct {
			Name     string            `json:"name"`
			Rule     string            `json:"rule"`
			Channel  string            `json:"channel"`
			Channels []string          `json:"channels"`
			Content  map[string]string `json:"content"`
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
		channels := t.Channels
		switch {
		case t.Channel != "" && len(channels) > 0:
			return nil, bad("give channel or channels, not both")
		case t.Channel != "":
			channels = []string{t.Channel}
		case len(channels) == 0:
			return nil, bad("no channel")
		}
		for k, c := range channels {
			if !slices.Contains(Channels, c) {
				return nil, bad("unknown channel %q", c)
			}
			if slices.Contains(channels[:k], c) {
				return nil, bad("channel %q listed twice", c)
			}
		}
		if t.Content["en"] == "" || t.Content["zh"] == "" {
			return nil, bad("content needs en and zh")
		}
		out = append(out, Tier{Name: t.Name, Rule: n, Channels: channels, Content: t.Content})
	}
	return out, nil
}

// Strategy returns the tiers of the marketing strategy table, in priority order.
func (s *Set) Strategy() []Tier { return slices.Clone(s.strategy) }
