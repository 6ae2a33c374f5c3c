package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grantable is one entry of grants.json: what a role may ask for, beyond its baseline, for one purpose
// (categories, or single fields), for how long at most, and which roles approve it.
type Grantable struct {
	Role        Role
	Purpose     PurposeName
	Categories  []string
	Fields      []string
	MaxDuration time.Duration
	Approvers   []Role
}

// Covers reports whether a request for categories and fields stays within the entry.
func (g Grantable) Covers(categories, fields []string) bool {
	for _, c := range categories {
		if !slices.Contains(g.Categories, c) {
			return false
		}
	}
	for _, f := range fields {
		if !slices.Contains(g.Fields, f) {
			return false
		}
	}
	return len(categories)+len(fields) > 0
}

// maxGrantDuration bounds any entry's max_duration.
const maxGrantDuration = 90 * 24 * time.Hour

// ParseDuration reads a Go duration ("4h", "90m") or a whole number of days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("duration %q: want a Go duration or a whole number of days like 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a Go duration or a whole number of days like 7d", s)
	}
	return d, nil
}

// FormatDuration writes d as ParseDuration reads it, in its largest whole unit: "7d", "4h", "90m".
func FormatDuration(d time.Duration) string {
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d > 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// parseGrants reads grants.json against the schema and the purposes catalog: an entry may only hold
// categories its purpose may process and fields of such categories. (A role no rule names is harmless
// here: nobody holds it, so nobody asks or approves with it.)
func parseGrants(b []byte, schema *Schema, catalog *Catalog) ([]Grantable, error) {
	var doc struct {
		Comment   string `json:"comment"`
		Grantable []struct {
			Role        string   `json:"role"`
			Purpose     string   `json:"purpose"`
			Categories  []string `json:"categories"`
			Fields      []string `json:"fields"`
			MaxDuration string   `json:"max_duration"`
			Approvers   []string `json:"approvers"`
		} `json:"grantable"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, fileGrants, err)
	}
	bad := func(i int, format string, args ...any) error {
		return fmt.Errorf("%w: %s: entry %d: %s", ErrInvalid, fileGrants, i+1, fmt.Sprintf(format, args...))
	}
	var out []Grantable
	seen := map[string]bool{}
	for i, e := range doc.Grantable {
		if e.Role == "" {
			return nil, bad(i, "names no role")
		}
		p, ok := catalog.Purpose(PurposeName(e.Purpose))
		if !ok {
			return nil, bad(i, "unknown purpose %q", e.Purpose)
		}
		if key := e.Role + "/" + e.Purpose; seen[key] {
			return nil, bad(i, "a second entry for role %s and purpose %s", e.Role, e.Purpose)
		} else {
			seen[key] = true
		}
		if len(e.Categories)+len(e.Fields) == 0 {
			return nil, bad(i, "grants neither categories nor fields")
		}
		for _, c := range e.Categories {
			if !slices.Contains(Categories(), c) {
				return nil, bad(i, "unknown category %q", c)
			}
			if !p.Processes(c) {
				return nil, bad(i, "purpose %s may not process category %s (purposes.json)", e.Purpose, c)
			}
		}
		for _, f := range e.Fields {
			fd, ok := schema.Field(f)
			if !ok {
				return nil, bad(i, "unknown field %q", f)
			}
			if !p.Processes(fd.Category) {
				return nil, bad(i, "purpose %s may not process %s's category %s (purposes.json)", e.Purpose, f, fd.Category)
			}
		}
		d, err := ParseDuration(e.MaxDuration)
		if err != nil || d <= 0 || d > maxGrantDuration {
			return nil, bad(i, "max_duration must be a positive duration of at most 90d")
		}
		if len(e.Approvers) == 0 {
			return nil, bad(i, "names no approver role")
		}
		g := Grantable{Role: Role(e.Role), Purpose: p.Name, Categories: e.Categories, Fields: e.Fields, MaxDuration: d}
		for _, r := range e.Approvers {
			if r == "" {
				return nil, bad(i, "an empty approver role")
			}
			g.Approvers = append(g.Approvers, Role(r))
		}
		out = append(out, g)
	}
	return out, nil
}

// Grantable returns the entries that let one of roles ask for something for purpose.
func (s *Set) Grantable(roles []Role, purpose PurposeName) []Grantable {
	var out []Grantable
	for _, g := range s.grantable {
		if g.Purpose == purpose && slices.Contains(roles, g.Role) {
			out = append(out, g)
		}
	}
	return out
}

// Grantables returns every entry of grants.json.
func (s *Set) Grantables() []Grantable { return slices.Clone(s.grantable) }
