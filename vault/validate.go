package vault

import (
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/policies/safetext"
)

// maxFieldsPerRequest bounds the work one request can cause.
const maxFieldsPerRequest = 64

// validateValues checks a set of field values against the schema and returns them normalised, with the
// sorted field names. A nil value means "clear this field" and is accepted only when allowClear is set.
// Messages name the field, never the value.
func (s *core) validateValues(schema *policies.Schema, in map[string]*string, allowClear bool) (map[string]*string, []string, error) {
	if len(in) == 0 {
		return nil, nil, Errorf(CodeInvalidArgument, "fields must name at least one field")
	}
	if len(in) > maxFieldsPerRequest {
		return nil, nil, Errorf(CodeInvalidArgument, "too many fields")
	}
	out := make(map[string]*string, len(in))
	names := make([]string, 0, len(in))
	for name, v := range in {
		f, ok := schema.Field(name)
		if !ok {
			return nil, nil, Errorf(CodeInvalidArgument, "unknown field %q", SafeFieldName(name))
		}
		names = append(names, name)
		if v == nil {
			if !allowClear {
				return nil, nil, Errorf(CodeInvalidArgument, "field %q: must be a string", name)
			}
			out[name] = nil
			continue
		}
		norm, err := s.validateValue(f, *v)
		if err != nil {
			return nil, nil, err
		}
		out[name] = &norm
	}
	sort.Strings(names)
	return out, names, nil
}

func (s *core) validateValue(f policies.Field, v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", Errorf(CodeInvalidArgument, "field %q: not valid UTF-8", f.Name)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", Errorf(CodeInvalidArgument, "field %q: empty value (use null to clear a field)", f.Name)
	}
	if f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength {
		return "", Errorf(CodeInvalidArgument, "field %q: longer than %d characters", f.Name, f.MaxLength)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", Errorf(CodeInvalidArgument, "field %q: control characters are not allowed", f.Name)
		}
	}
	switch f.Type {
	case "string":
		return v, nil
	case "enum":
		for _, allowed := range f.Values {
			if v == allowed {
				return v, nil
			}
		}
		return "", Errorf(CodeInvalidArgument, "field %q: must be one of %s", f.Name, strings.Join(f.Values, ", "))
	case "date":
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 1900 || t.After(s.now()) {
			return "", Errorf(CodeInvalidArgument, "field %q: must be a past date as YYYY-MM-DD", f.Name)
		}
		return v, nil
	case "phone", "email", "id_number":
		norm, err := s.normalize(f.Type, v)
		if err != nil {
			return "", Errorf(CodeInvalidArgument, "field %q: not a valid %s", f.Name, strings.ReplaceAll(f.Type, "_", " "))
		}
		return norm, nil
	}
	return "", Errorf(CodeInternal, "field %q: unsupported type", f.Name)
}

// SafeFieldName returns a client-supplied field name fit to echo in an error. Field names are not personal
// data, but a client may put a value where a name belongs (?fields=phone,13800001234), so only what looks
// like a schema field name is repeated: a lower-case letter, then at most 31 lower-case letters, digits and
// underscores, with at most two digits (a phone or id number is none of these).
func SafeFieldName(name string) string {
	if len(name) > 32 || strings.Contains(name, ".") || safetext.Name(name) == safetext.NotAName {
		return "(not a field name)"
	}
	return name
}

// parseFieldList validates a requested field list; empty means every schema field.
func parseFieldList(schema *policies.Schema, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return schema.FieldNames(), nil
	}
	if len(requested) > maxFieldsPerRequest {
		return nil, Errorf(CodeInvalidArgument, "too many fields")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(requested))
	for _, name := range requested {
		if _, ok := schema.Field(name); !ok {
			return nil, Errorf(CodeInvalidArgument, "unknown field %q", SafeFieldName(name))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}
