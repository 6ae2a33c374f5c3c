package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// indexOfFast reads the indexed members of a canonical entry without reflection: one pass over the
// top-level object that checks the JSON it passes and skips every value it does not need. It takes exactly
// what the canonical encoding produces (compact JSON, lower-case ASCII keys, each once); on anything else it
// reports ok false and the caller decodes with encoding/json, whose answer is the reference
// (FuzzIndexOfCanonical checks that both agree wherever the fast path answers).
func indexOfFast(b []byte) (row IndexRow, ok bool) {
	s := scanner{b: b}
	var e Entry
	if !s.object(func(key []byte) bool {
		switch string(key) {
		case "ts":
			v, ok := s.str()
			return ok && e.TS.UnmarshalText(v) == nil
		case "purpose", "action", "subject_ref", "decision", "grant_id":
			v, ok := s.str()
			switch string(key) {
			case "purpose":
				e.Purpose = string(v)
			case "action":
				e.Action = string(v)
			case "subject_ref":
				e.SubjectRef = string(v)
			case "grant_id":
				e.GrantID = string(v)
			default:
				e.Decision = Decision(v)
			}
			return ok
		case "actor":
			return s.actor(&e.Actor)
		}
		return s.skip()
	}) || s.i != len(s.b) {
		return IndexRow{}, false
	}
	return IndexOf(e), true
}

// scanner walks compact JSON.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object walks an object, calling member for each key with the scanner at its value; a key seen twice is
// refused (the reference keeps the last), as is one with escapes, upper-case or non-ASCII letters (the
// reference matches keys case-insensitively, with Unicode folding).
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	var seenBuf [32][]byte
	seen := seenBuf[:0]
	for first := true; !s.consume('}'); first = false {
		if !first && !s.consume(',') {
			return false
		}
		raw, ok := s.rawString()
		if !ok || !s.consume(':') {
			return false
		}
		for _, c := range raw {
			if c == '\\' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf {
				return false
			}
		}
		for _, k := range seen {
			if bytes.Equal(raw, k) {
				return false
			}
		}
		seen = append(seen, raw)
		if !member(raw) {
			return false
		}
	}
	return true
}

// str reads a string value; one with escapes or invalid UTF-8 is decoded by encoding/json, as the
// reference would.
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	raw, ok := s.rawString()
	if !ok {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw, true
	}
	var v string
	if json.Unmarshal(s.b[start:s.i], &v) != nil {
		return nil, false
	}
	return []byte(v), true
}

// rawString reads a string token, checking its escapes, and returns its bytes between the quotes.
func (s *scanner) rawString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	b, i := s.b, s.i // locals, so the loop over plain bytes stays in registers
	start := i
	for i < len(b) {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			s.i = i + 1
			return b[start:i], true
		case c < 0x20:
			return nil, false
		}
		// An escape.
		if i+1 >= len(b) {
			return nil, false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				return nil, false
			}
			for _, h := range b[i+2 : i+6] {
				if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
					return nil, false
				}
			}
			i += 6
		default:
			return nil, false
		}
	}
	return nil, false
}

// actor reads the actor object's sub and pseudonym; team and token_id must be strings and roles a list of
// strings (the reference decodes them too); null leaves it empty.
func (s *scanner) actor(a *Actor) bool {
	if s.literal("null") {
		return true
	}
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "sub", "pseudonym", "team", "token_id":
			v, ok := s.str()
			switch string(key) {
			case "sub":
				a.Sub = string(v)
			case "pseudonym":
				a.Pseudonym = string(v)
			}
			return ok
		case "roles":
			if !s.consume('[') {
				return false
			}
			for first := true; !s.consume(']'); first = false {
				if !first && !s.consume(',') {
					return false
				}
				if _, ok := s.str(); !ok {
					return false
				}
			}
			return true
		}
		return s.skip()
	})
}

func (s *scanner) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// skip passes over one value of any kind, checking it is well-formed compact JSON.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.rawString()
		return ok
	case c == '{':
		return s.object(func([]byte) bool { return s.skip() })
	case c == '[':
		s.i++
		for first := true; !s.consume(']'); first = false {
			if !first && !s.consume(',') {
				return false
			}
			if !s.skip() {
				return false
			}
		}
		return true
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("0123456789+-.eE", s.b[s.i]) >= 0 {
			s.i++
		}
		return s.i > start && json.Valid(s.b[start:s.i])
	}
}
