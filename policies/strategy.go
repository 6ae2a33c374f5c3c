package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
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

// PersonalisedMarker is what every message sent to an audience carries (GB/T 35273 §7.5, PIPL Art. 24):
// a label that says the content was picked from the person's profile, and how to turn that off. Audiences
// are always built from profile tags, so every audience, member page and plan tier carries it.
type PersonalisedMarker struct {
	Label  map[string]string // by language: en, zh ("Personalised for you", "个性化推荐")
	OptOut map[string]string // by language: how to refuse personalised marketing or the channel
}

// parseStrategy reads strategy.json: each tier's rule must parse and its channel be known, and the
// personalised marker must have en and zh texts.
func parseStrategy(b []byte) ([]Tier, PersonalisedMarker, error) {
	var doc struct {
		Comment      string `json:"comment"`
		Personalised struct {
			Label  map[string]string `json:"label"`
			OptOut map[string]string `json:"opt_out"`
		} `json:"personalised"`
		Tiers []struct {
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
		return nil, PersonalisedMarker{}, fmt.Errorf("%w: %s: %v", ErrInvalid, fileStrategy, err)
	}
	marker := PersonalisedMarker{Label: doc.Personalised.Label, OptOut: doc.Personalised.OptOut}
	for _, texts := range []map[string]string{marker.Label, marker.OptOut} {
		if texts["en"] == "" || texts["zh"] == "" {
			return nil, PersonalisedMarker{}, fmt.Errorf("%w: %s: personalised needs a label and an opt_out, each in en and zh", ErrInvalid, fileStrategy)
		}
	}
	var out []Tier
	seen := map[string]bool{}
	for i, t := range doc.Tiers {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: tier %d: %s", ErrInvalid, fileStrategy, i+1, fmt.Sprintf(format, args...))
		}
		if !validName(t.Name) || seen[t.Name] {
			return nil, PersonalisedMarker{}, bad("name must be a unique lower-case name")
		}
		seen[t.Name] = true
		n, err := rule.Parse(t.Rule)
		if err != nil {
			return nil, PersonalisedMarker{}, bad("%v", err)
		}
		channels := t.Channels
		switch {
		case t.Channel != "" && len(channels) > 0:
			return nil, PersonalisedMarker{}, bad("give channel or channels, not both")
		case t.Channel != "":
			channels = []string{t.Channel}
		case len(channels) == 0:
			return nil, PersonalisedMarker{}, bad("no channel")
		}
		for k, c := range channels {
			if !slices.Contains(Channels, c) {
				return nil, PersonalisedMarker{}, bad("unknown channel %q", c)
			}
			if slices.Contains(channels[:k], c) {
				return nil, PersonalisedMarker{}, bad("channel %q listed twice", c)
			}
		}
		if t.Content["en"] == "" || t.Content["zh"] == "" {
			return nil, PersonalisedMarker{}, bad("content needs en and zh")
		}
		out = append(out, Tier{Name: t.Name, Rule: n, Channels: channels, Content: t.Content})
	}
	return out, marker, nil
}

// Strategy returns the tiers of the marketing strategy table, in priority order.
func (s *Set) Strategy() []Tier { return slices.Clone(s.strategy) }

// Personalised returns the marker every audience's messages carry (strategy.json "personalised").
func (s *Set) Personalised() PersonalisedMarker {
	return PersonalisedMarker{Label: maps.Clone(s.personalised.Label), OptOut: maps.Clone(s.personalised.OptOut)}
}
