package policies

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// ProcessorInfo is an entrusted processor (PIPL Art. 21): a party that handles personal data on the
// handler's behalf under a contract that fixes the purposes, the categories, the period and what happens to
// the data at its end. Unlike a recipient (Art. 23) it needs no consent of its own, but it receives only what
// its contract covers, only while the contract is in force. It lives in purposes.json, so every version of the
// processing record names the processors of its time.
type ProcessorInfo struct {
	// RecipientInfo describes the processor as a recipient is described (name, contact, country, and the
	// transfer mechanism: a processor abroad is a transfer abroad).
	RecipientInfo
	// Contract is the entrustment agreement: its register id and the dates it is in force (inclusive).
	Contract struct {
		ID     string `json:"id"`
		Signed string `json:"signed"`
		Until  string `json:"until"`
	} `json:"contract"`
	// Purposes and Categories are what the contract entrusts: the processor receives fields of these
	// categories for these purposes only.
	Purposes   []PurposeName `json:"purposes"`
	Categories []string      `json:"categories"`
	// AtEnd is what the processor does with the data when the contract ends: return or delete (Art. 21 ¶2).
	AtEnd string `json:"at_end"`

	signed, until time.Time
}

// Entrusted reports whether the processor may receive data for purpose at t: the contract is in force (its
// last day included, in UTC+8) and covers the purpose.
func (p ProcessorInfo) Entrusted(purpose PurposeName, t time.Time) bool {
	return slices.Contains(p.Purposes, purpose) && !t.Before(p.signed) && t.Before(p.until.AddDate(0, 0, 1))
}

// Covers reports whether the contract covers a category.
func (p ProcessorInfo) Covers(category string) bool { return slices.Contains(p.Categories, category) }

// chinaTime is the time zone the contract dates are read in.
var chinaTime = time.FixedZone("UTC+8", 8*3600)

// validateProcessors checks every processor: described like a recipient, a contract with an id and dates
// in order, purposes of the catalog, categories that those purposes may process, and what happens at the
// end. A name may not be both a recipient and a processor.
func validateProcessors(procs map[string]ProcessorInfo, recipients map[string]RecipientInfo, c *Catalog) error {
	for name, p := range procs {
		if _, both := recipients[name]; both {
			return fmt.Errorf("processor %q is also a recipient: a party either receives data for itself or handles it for the handler", name)
		}
		if err := validateParty("processor", name, p.RecipientInfo); err != nil {
			return err
		}
		var err error
		p.signed, err = time.ParseInLocation(time.DateOnly, p.Contract.Signed, chinaTime)
		if err == nil {
			p.until, err = time.ParseInLocation(time.DateOnly, p.Contract.Until, chinaTime)
		}
		if p.Contract.ID == "" || err != nil || p.until.Before(p.signed) {
			return fmt.Errorf("processor %q needs a contract with an id, and signed and until dates (YYYY-MM-DD) in order", name)
		}
		if p.AtEnd != "return" && p.AtEnd != "delete" {
			return fmt.Errorf("processor %q: at_end must be return or delete", name)
		}
		if len(p.Purposes) == 0 || len(p.Categories) == 0 {
			return fmt.Errorf("processor %q entrusts no purpose or no category", name)
		}
		for _, cat := range p.Categories {
			processed := false
			for _, pn := range p.Purposes {
				purpose, ok := c.Purpose(pn)
				if !ok {
					return fmt.Errorf("processor %q names purpose %q, which the catalog does not have", name, pn)
				}
				processed = processed || purpose.Processes(cat)
			}
			if !processed {
				return fmt.Errorf("processor %q is entrusted with %s, which none of its purposes may process", name, cat)
			}
		}
		procs[name] = p
	}
	return nil
}

// Processor returns the entrusted processor of that name.
func (c *Catalog) Processor(name string) (ProcessorInfo, bool) {
	p, ok := c.processors[name]
	return p, ok
}

// PartyNames lists every recipient and entrusted processor the catalog names, sorted.
func (c *Catalog) PartyNames() []string {
	names := slices.Collect(maps.Keys(c.recipients))
	for name := range c.processors {
		if _, dup := c.recipients[name]; !dup {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Party describes whoever a release names as receiving data: a recipient, or an entrusted processor (both
// count for the cross-border report).
func (c *Catalog) Party(name string) (RecipientInfo, bool) {
	if r, ok := c.recipients[name]; ok {
		return r, true
	}
	p, ok := c.processors[name]
	return p.RecipientInfo, ok
}
