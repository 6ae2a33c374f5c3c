package policies

import (
	"maps"
	"slices"
)

// Event types and their categories (API.md "Ingestion"): the one definition that the vault's collection
// gate, the importers and the tag engine all read. A new event type is one line here.
var eventCategories = map[string]string{
	"page_view": "behavior", "click": "behavior", "search": "behavior", "favorite": "behavior",
	"cart_add": "behavior", "cart_remove": "behavior",
	"order": "transactions", "cancel": "transactions", "return": "transactions", "pos_purchase": "transactions",
	"review": "interactions", "chat": "interactions", "complaint": "interactions", "share": "interactions",
}

// EventCategory returns the field category of an event type (behavior, transactions or interactions), and
// false for an unknown type.
func EventCategory(eventType string) (string, bool) {
	c, ok := eventCategories[eventType]
	return c, ok
}

// EventCategories returns the categories events fall into, sorted.
func EventCategories() []string {
	var out []string
	for _, c := range eventCategories {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// EventTypes returns every event type, sorted.
func EventTypes() []string { return slices.Sorted(maps.Keys(eventCategories)) }
