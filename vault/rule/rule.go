// Package rule is the audience rule language: a small boolean expression over tag keys and values,
// parsed into an AST and evaluated against one subject's tags — never evaluated as code.
//
//	value.rfm_segment in ['at_risk', 'cant_lose'] and not (basic.age_band == '18-24' or value.ltv_12m < 100)
//
// Comparisons: == and != on strings or numbers; <, <=, >, >= on numbers; in and not in a list of literals;
// combined with and, or, not and parentheses (not binds tighter than and, and tighter than or). Strings are
// quoted with ' or " (a backslash escapes the quote or itself); numbers are decimal. A tag with several
// values matches a comparison if any of its values does.
//
// A comparison on a tag the subject does not have is unknown, and and, or and not follow Kleene's
// three-valued logic over it (as SQL does with NULL): "A or B" holds for a subject for whom A holds and B's
// tag is absent, "A and B" fails for one for whom A fails; a rule whose outcome is unknown neither matches
// nor fails — the caller excludes that subject as missing the tags it would need.
package rule

import (
	"fmt"
	"strconv"
	"strings"
)

// Node is a node of a parsed rule.
type Node interface{ node() }

// And, Or and Not combine conditions.
type (
	And struct{ L, R Node }
	Or  struct{ L, R Node }
	Not struct{ X Node }
)

// Literal is a string or a number (whose Str is the number as written: 0.50 stays "0.50").
type Literal struct {
	Str   string
	Num   float64
	IsNum bool
}

// Cmp compares a tag with a literal: Op is one of == != < <= > >=.
type Cmp struct {
	Key   string
	Op    string
	Value Literal
}

// In tests a tag against a list of literals (Negate: not in).
type In struct {
	Key    string
	Values []Literal
	Negate bool
}

func (And) node() {}
func (Or) node()  {}
func (Not) node() {}
func (Cmp) node() {}
func (In) node()  {}

// Error is a parse error at a byte position of the rule.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("rule: at %d: %s", e.Pos, e.Msg) }

// MaxLen bounds a rule's length; MaxDepth its nesting.
const (
	MaxLen   = 4096
	MaxDepth = 64
)

// Parse parses a rule.
func Parse(src string) (Node, error) {
	if len(src) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the rule is longer than %d bytes", MaxLen)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Pos: 0, Msg: "the rule is empty: write a comparison such as value.churn_risk == 'high'"}
	}
	p := &parser{lx: lexer{src: src}}
	p.next()
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.expected("and, or or the end of the rule")
	}
	return n, nil
}

// String writes n back as a rule, fully parenthesised: Parse(String(n)) gives n again.
func String(n Node) string {
	switch n := n.(type) {
	case And:
		return "(" + String(n.L) + " and " + String(n.R) + ")"
	case Or:
		return "(" + String(n.L) + " or " + String(n.R) + ")"
	case Not:
		return "not " + String(n.X)
	case Cmp:
		return n.Key + " " + n.Op + " " + quote(n.Value)
	case In:
		vs := make([]string, len(n.Values))
		for i, v := range n.Values {
			vs[i] = quote(v)
		}
		op := " in "
		if n.Negate {
			op = " not in "
		}
		return n.Key + op + "[" + strings.Join(vs, ", ") + "]"
	}
	return ""
}

// quote writes a literal as the lexer reads it.
func quote(l Literal) string {
	if l.IsNum {
		if l.Str != "" {
			return l.Str
		}
		return strconv.FormatFloat(l.Num, 'f', -1, 64)
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(l.Str) + "'"
}

// Keys lists the tag keys a rule names, in order of first use.
func Keys(n Node) []string {
	var out []string
	seen := map[string]bool{}
	Walk(n, func(key, _ string, _ []Literal) {
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	})
	return out
}

// Walk calls fn for each comparison: its key, its operator (one of == != < <= > >=, or "in" and "not in"
// for a list) and its literals.
func Walk(n Node, fn func(key, op string, values []Literal)) {
	switch n := n.(type) {
	case And:
		Walk(n.L, fn)
		Walk(n.R, fn)
	case Or:
		Walk(n.L, fn)
		Walk(n.R, fn)
	case Not:
		Walk(n.X, fn)
	case Cmp:
		fn(n.Key, n.Op, []Literal{n.Value})
	case In:
		op := "in"
		if n.Negate {
			op = "not in"
		}
		fn(n.Key, op, n.Values)
	}
}

// Eval evaluates n against a subject's tags: values returns a key's values (ok false when the subject has
// no such tag). missing reports that the outcome depends on a tag the subject does not have (match is
// then false; the caller excludes the subject rather than guessing).
func Eval(n Node, values func(key string) ([]string, bool)) (match, missing bool) {
	return Compile(n).Eval(values)
}

// Compiled is a rule with the tag keys it names worked out once, to evaluate it over many subjects.
type Compiled struct {
	Node Node
	// Keys are the tag keys the rule names, each once, in the order they first appear.
	Keys []string
}

// Compile works out n's keys.
func Compile(n Node) Compiled { return Compiled{Node: n, Keys: Keys(n)} }

// Eval is Eval of the compiled rule.
func (c Compiled) Eval(values func(key string) ([]string, bool)) (match, missing bool) {
	t := eval(c.Node, values)
	return t == yes, t == unknown
}

// truth is a value of Kleene's three-valued logic.
type truth uint8

const (
	no truth = iota
	yes
	unknown // the comparison's tag is absent
)

func truthOf(b bool) truth {
	if b {
		return yes
	}
	return no
}

// junction evaluates "l and r" (decisive no) or "l or r" (decisive yes): either side's decisive value
// decides, and otherwise both sides agree or one is unknown — the larger of the two (unknown > yes > no).
func junction(l, r Node, decisive truth, values func(string) ([]string, bool)) truth {
	a := eval(l, values)
	if a == decisive {
		return a
	}
	b := eval(r, values)
	if b == decisive {
		return b
	}
	return max(a, b)
}

func eval(n Node, values func(string) ([]string, bool)) truth {
	switch n := n.(type) {
	case And:
		return junction(n.L, n.R, no, values)
	case Or:
		return junction(n.L, n.R, yes, values)
	case Not:
		switch eval(n.X, values) {
		case yes:
			return no
		case no:
			return yes
		}
		return unknown
	case Cmp:
		vs, ok := values(n.Key)
		if !ok {
			return unknown
		}
		for _, v := range vs {
			if compare(v, n.Op, n.Value) {
				return yes
			}
		}
		return no
	case In:
		vs, ok := values(n.Key)
		if !ok {
			return unknown
		}
		any := false
		for _, v := range vs {
			for _, l := range n.Values {
				if compare(v, "==", l) {
					any = true
				}
			}
		}
		return truthOf(any != n.Negate)
	}
	return no
}

// compare applies op to a tag value and a literal. A number literal compares numerically (a value that
// is not a number never matches); a string literal compares as text, for == and != only.
func compare(v, op string, l Literal) bool {
	if l.IsNum {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return false
		}
		switch op {
		case "==":
			return f == l.Num
		case "!=":
			return f != l.Num
		case "<":
			return f < l.Num
		case "<=":
			return f <= l.Num
		case ">":
			return f > l.Num
		case ">=":
			return f >= l.Num
		}
		return false
	}
	switch op {
	case "==":
		return v == l.Str
	case "!=":
		return v != l.Str
	}
	return false
}
