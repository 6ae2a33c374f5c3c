package policies

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The privacy notice's content beyond the purposes (PIPL Art. 17, 30, 39): who handles the data and how to
// reach them and their personal information protection officer, how to exercise one's rights, and who the
// recipients are — with, for one abroad, the transfer mechanism. It lives in purposes.json beside the
// purposes, so the notice and the processing it describes are one versioned file.

// Text is a text in Chinese and English.
type Text map[string]string

// Handler is the personal information handler the notice names.
type Handler struct {
	Name    Text   `json:"name"`
	Address Text   `json:"address"`
	Contact string `json:"contact"`
	// Officer is the personal information protection officer (Art. 52).
	Officer struct {
		Name    Text   `json:"name"`
		Contact string `json:"contact"`
	} `json:"pi_protection_officer"`
	// Rights says how to exercise the rights of Chapter IV (Art. 17 ¶1 (3)).
	Rights Text `json:"rights"`
}

// RecipientInfo is a recipient as the notice names it (Art. 23, 39).
type RecipientInfo struct {
	Name    Text   `json:"name"`
	Contact string `json:"contact"`
	// Country is the ISO 3166 code of where the recipient handles the data.
	Country string `json:"country"`
	// TransferMechanism is the basis of a transfer abroad (Art. 38): security_assessment,
	// standard_contract, certification or exemption; empty for a recipient in China.
	TransferMechanism string `json:"transfer_mechanism,omitempty"`
}

var transferMechanisms = []string{"security_assessment", "standard_contract", "certification", "exemption"}

// validateNotice checks the handler and that every recipient a purpose names is described, with a transfer
// mechanism when it is abroad.
func validateNotice(h *Handler, recipients map[string]RecipientInfo, purposes []Purpose) error {
	if h == nil {
		return errors.New("handler is missing (name, address, contact, pi_protection_officer, rights)")
	}
	for what, t := range map[string]Text{"handler.name": h.Name, "handler.address": h.Address, "handler.rights": h.Rights, "handler.pi_protection_officer.name": h.Officer.Name} {
		if t["zh"] == "" || t["en"] == "" {
			return fmt.Errorf("%s needs zh and en", what)
		}
	}
	if h.Contact == "" || h.Officer.Contact == "" {
		return errors.New("handler.contact and handler.pi_protection_officer.contact are required")
	}
	for _, p := range purposes {
		for _, r := range p.Recipients {
			info, ok := recipients[r]
			if !ok {
				return fmt.Errorf("purpose %q names recipient %q, which recipients does not describe", p.Name, r)
			}
			if err := validateParty("recipient", r, info); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateParty checks how a recipient or processor is described: names, contact and country, and a transfer
// mechanism exactly when it is abroad.
func validateParty(kind, name string, info RecipientInfo) error {
	if info.Name["zh"] == "" || info.Name["en"] == "" || info.Contact == "" || len(info.Country) != 2 {
		return fmt.Errorf("%s %q needs name (zh, en), contact and a two-letter country", kind, name)
	}
	abroad := strings.ToUpper(info.Country) != "CN"
	switch {
	case abroad && !slices.Contains(transferMechanisms, info.TransferMechanism):
		return fmt.Errorf("%s %q is abroad (%s): transfer_mechanism must be one of %s", kind, name, info.Country, strings.Join(transferMechanisms, ", "))
	case !abroad && info.TransferMechanism != "":
		return fmt.Errorf("%s %q is in China: no transfer_mechanism", kind, name)
	}
	return nil
}

// Handler returns the handler the notice names.
func (c *Catalog) Handler() Handler { return c.handler }

// Recipient describes a recipient the catalog names.
func (c *Catalog) Recipient(name string) (RecipientInfo, bool) {
	r, ok := c.recipients[name]
	return r, ok
}
