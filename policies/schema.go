package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Field types of the schema.
const (
	TypeString   = "string"
	TypeEnum     = "enum"
	TypeDate     = "date"
	TypePhone    = "phone"
	TypeEmail    = "email"
	TypeIDNumber = "id_number"
)

// Mask patterns of the schema (see [Field.MaskValue]).
const (
	PatternName     = "name"
	PatternPhone    = "phone"
	PatternEmail    = "email"
	PatternIDNumber = "id_number"
	PatternTail4    = "tail4"
	PatternYear     = "year"
	PatternRedact   = "redact"
	PatternNone     = "none"
)

// dateLength is the fixed length of a YYYY-MM-DD date.
const dateLength = 10

// ErrInvalidValue reports a field value that does not fit the field's type or length.
var ErrInvalidValue = errors.New("policies: invalid field value")

// knownTypes and knownPatterns are the closed vocabularies of schema.json.
var (
	knownTypes    = []string{TypeString, TypeEnum, TypeDate, TypePhone, TypeEmail, TypeIDNumber}
	knownPatterns = []string{PatternName, PatternPhone, PatternEmail, PatternIDNumber, PatternTail4, PatternYear, PatternRedact, PatternNone}
)

// Field describes one profile field of the schema.
type Field struct {
	// Name is the field's name, unique in the schema ("phone").
	Name string `json:"name"`
	// Category is the field's category ("contact"), one of [Categories].
	Category string `json:"category"`
	// Type is one of string, enum, date, phone, email, id_number.
	Type string `json:"type"`
	// MaxLength is the maximum length of a value in characters (runes); 10 for dates.
	MaxLength int `json:"max_length"`
	// Sensitive is true exactly for fields of the sensitive_* categories (PIPL Art. 28).
	Sensitive bool `json:"sensitive"`
	// BlindIndex is true for fields that can be looked up by value through a keyed blind index.
	BlindIndex bool `json:"blind_index"`
	// Mask is the pattern applied when a read is granted "masked" (see [Field.MaskValue]).
	Mask string `json:"mask"`
	// Values lists the allowed values of an enum field; nil otherwise. Callers must not modify it.
	Values []string `json:"values,omitempty"`
}

// Schema is the validated field schema. It is immutable and safe for concurrent use.
type Schema struct {
	fields []Field
	byName map[string]int
}

// Field returns the named field and whether it exists.
func (s *Schema) Field(name string) (Field, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Field{}, false
	}
	return s.fields[i], true
}

// Fields returns every field in file order. The slice is a copy; the fields' Values must not be modified.
func (s *Schema) Fields() []Field { return slices.Clone(s.fields) }

// FieldNames returns every field name in file order.
func (s *Schema) FieldNames() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.Name
	}
	return out
}

// FieldsIn returns the fields of one category in file order (none for behavior, transactions, interactions
// and tags, which hold events and tags rather than profile fields).
func (s *Schema) FieldsIn(category string) []Field {
	var out []Field
	for _, f := range s.fields {
		if f.Category == category {
			out = append(out, f)
		}
	}
	return out
}

// Categories returns the whole category vocabulary in canonical order, including the categories that have
// no profile fields (behavior, transactions, interactions, tags).
func (s *Schema) Categories() []string { return Categories() }

// schemaFile is the JSON shape of schema.json.
type schemaFile struct {
	Fields []Field `json:"fields"`
}

// parseSchema decodes and validates schema.json.
func parseSchema(data []byte) (*Schema, error) {
	var f schemaFile
	if err := decodeStrict(fileSchema, data, &f); err != nil {
		return nil, err
	}
	if len(f.Fields) == 0 {
		return nil, fmt.Errorf("%w: %s: no fields", ErrInvalid, fileSchema)
	}
	s := &Schema{fields: f.Fields, byName: make(map[string]int, len(f.Fields))}
	for i := range s.fields {
		fld := &s.fields[i]
		if err := validateField(fld); err != nil {
			return nil, fmt.Errorf("%w: %s: fields[%d] (%q): %s", ErrInvalid, fileSchema, i, fld.Name, err.Error())
		}
		if _, dup := s.byName[fld.Name]; dup {
			return nil, fmt.Errorf("%w: %s: fields[%d]: duplicate field name %q", ErrInvalid, fileSchema, i, fld.Name)
		}
		s.byName[fld.Name] = i
	}
	return s, nil
}

// validateField checks one schema entry; the error text is a bare reason.
func validateField(f *Field) error {
	switch {
	case !validName(f.Name):
		return errors.New("name must be 1-64 lower-case letters, digits, '_', '-' or '.'")
	case !IsCategory(f.Category):
		return fmt.Errorf("unknown category %q", f.Category)
	case !slices.Contains(knownTypes, f.Type):
		return fmt.Errorf("unknown type %q", f.Type)
	case !slices.Contains(knownPatterns, f.Mask):
		return fmt.Errorf("unknown mask %q", f.Mask)
	case f.MaxLength <= 0:
		return errors.New("max_length must be positive")
	case f.Type == TypeDate && f.MaxLength != dateLength:
		return fmt.Errorf("max_length of a date must be %d", dateLength)
	case f.Mask == PatternYear && f.Type != TypeDate:
		return errors.New("mask year needs type date")
	case f.Sensitive != IsSensitiveCategory(f.Category):
		return errors.New("sensitive must be true exactly for the sensitive_* categories")
	case f.Type == TypeEnum && len(f.Values) == 0:
		return errors.New("an enum needs values")
	case f.Type != TypeEnum && f.Values != nil:
		return errors.New("values are only allowed on an enum")
	}
	seen := map[string]bool{}
	for _, v := range f.Values {
		if v == "" || seen[v] {
			return fmt.Errorf("enum value %q is empty or repeated", v)
		}
		if utf8.RuneCountInString(v) > f.MaxLength {
			return fmt.Errorf("enum value %q is longer than max_length", v)
		}
		seen[v] = true
	}
	return nil
}

// Validate checks that v is a well-formed value for the field: valid UTF-8 without control characters, at
// most MaxLength characters, and of the field's type (an enum value; a real YYYY-MM-DD date; a phone number
// of 6-20 digits with an optional leading '+' and spaces, '-' or parentheses; an e-mail address with one '@'
// and a dotted domain; an 18-character resident id number, 17 digits and a digit or 'X' — format only, the
// check digit is not verified). It returns an error wrapping [ErrInvalidValue] that names the field and the
// reason but never contains the value.
func (f Field) Validate(v string) error {
	reason := f.check(v)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidValue, f.Name, reason)
}

// check returns why v is invalid for f, or "".
func (f Field) check(v string) string {
	if v == "" {
		return "empty"
	}
	if !utf8.ValidString(v) {
		return "not valid UTF-8"
	}
	if utf8.RuneCountInString(v) > f.MaxLength {
		return fmt.Sprintf("longer than %d characters", f.MaxLength)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	switch f.Type {
	case TypeEnum:
		if !slices.Contains(f.Values, v) {
			return "not one of the allowed values"
		}
	case TypeDate:
		if len(v) != dateLength {
			return "not a YYYY-MM-DD date"
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "not a YYYY-MM-DD date"
		}
	case TypePhone:
		return checkPhone(v)
	case TypeEmail:
		return checkEmail(v)
	case TypeIDNumber:
		if len(v) != 18 {
			return "not an 18-character id number"
		}
		for i := 0; i < 17; i++ {
			if v[i] < '0' || v[i] > '9' {
				return "not an 18-character id number"
			}
		}
		if c := v[17]; (c < '0' || c > '9') && c != 'X' && c != 'x' {
			return "not an 18-character id number"
		}
	}
	return ""
}

func checkPhone(v string) string {
	digits := 0
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "not a phone number"
		}
	}
	if digits < 6 || digits > 20 {
		return "not a phone number"
	}
	return ""
}

func checkEmail(v string) string {
	at := strings.IndexByte(v, '@')
	if at <= 0 || at != strings.LastIndexByte(v, '@') || at > 64 {
		return "not an e-mail address"
	}
	domain := v[at+1:]
	if strings.ContainsAny(v, " \t\"<>,;") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "not an e-mail address"
	}
	return ""
}

// decodeStrict decodes one JSON document, rejecting unknown fields and trailing data, and reports syntax
// and type errors with the line and column in the named file.
func decodeStrict(name string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			line, col := lineCol(data, syn.Offset)
			return fmt.Errorf("%w: %s:%d:%d: %s", ErrInvalid, name, line, col, syn.Error())
		case errors.As(err, &typ):
			line, col := lineCol(data, typ.Offset)
			return fmt.Errorf("%w: %s:%d:%d: field %q: cannot use a JSON %s as %s", ErrInvalid, name, line, col, typ.Field, typ.Value, typ.Type)
		default:
			return fmt.Errorf("%w: %s: %s", ErrInvalid, name, err.Error())
		}
	}
	off := dec.InputOffset()
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		line, col := lineCol(data, off)
		return fmt.Errorf("%w: %s:%d:%d: data after the JSON document", ErrInvalid, name, line, col)
	}
	return nil
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
