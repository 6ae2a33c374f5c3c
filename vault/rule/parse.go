package rule

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/profilevault/profilevault/policies/safetext"
)

type kind int

const (
	tEOF kind = iota
	tIdent
	tString
	tNumber
	tOp     // == != < <= > >=
	tLParen // (
	tRParen // )
	tLBrack // [
	tRBrack // ]
	tComma
	tAnd
	tOr
	tNot
	tIn
	tBad
)

type token struct {
	kind kind
	text string // identifier, operator, decoded string, or the bad input
	num  float64
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the rule"
	case tString:
		return "a string"
	case tNumber:
		return "a number"
	case tIdent:
		if name := safetext.Name(t.text); name != safetext.NotAName {
			return "tag key " + strconv.Quote(name)
		}
		return "a word that is not a tag key" // client text, repeated only when it looks like a name
	}
	if len(t.text) <= 2 && strings.Trim(t.text, "()[],=!<>") == "" {
		return strconv.Quote(t.text)
	}
	return "a character the rule language does not use"
}

type lexer struct {
	src string
	i   int
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// next scans one token.
func (lx *lexer) next() token {
	for lx.i < len(lx.src) && strings.IndexByte(" \t\r\n", lx.src[lx.i]) >= 0 {
		lx.i++
	}
	start := lx.i
	if lx.i >= len(lx.src) {
		return token{kind: tEOF, pos: start}
	}
	c := lx.src[lx.i]
	two := ""
	if lx.i+1 < len(lx.src) {
		two = lx.src[lx.i : lx.i+2]
	}
	switch {
	case two == "==" || two == "!=" || two == "<=" || two == ">=":
		lx.i += 2
		return token{kind: tOp, text: two, pos: start}
	case c == '<' || c == '>':
		lx.i++
		return token{kind: tOp, text: string(c), pos: start}
	case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
		lx.i++
		k := map[byte]kind{'(': tLParen, ')': tRParen, '[': tLBrack, ']': tRBrack, ',': tComma}[c]
		return token{kind: k, text: string(c), pos: start}
	case c == '\'' || c == '"':
		return lx.str(c)
	case isDigit(c) || (c == '-' || c == '.') && lx.i+1 < len(lx.src) && (isDigit(lx.src[lx.i+1]) || lx.src[lx.i+1] == '.'):
		lx.i++
		for lx.i < len(lx.src) && (isDigit(lx.src[lx.i]) || lx.src[lx.i] == '.') {
			lx.i++
		}
		text := lx.src[start:lx.i]
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{kind: tBad, text: text, pos: start}
		}
		return token{kind: tNumber, text: text, num: f, pos: start}
	case isIdentStart(c):
		for lx.i < len(lx.src) && isIdentPart(lx.src[lx.i]) {
			lx.i++
		}
		text := lx.src[start:lx.i]
		switch text {
		case "and":
			return token{kind: tAnd, text: text, pos: start}
		case "or":
			return token{kind: tOr, text: text, pos: start}
		case "not":
			return token{kind: tNot, text: text, pos: start}
		case "in":
			return token{kind: tIn, text: text, pos: start}
		}
		return token{kind: tIdent, text: text, pos: start}
	}
	lx.i++
	return token{kind: tBad, text: string(c), pos: start}
}

// str scans a quoted string; \ escapes the quote or a backslash.
func (lx *lexer) str(q byte) token {
	start := lx.i
	lx.i++
	var b strings.Builder
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == q:
			lx.i++
			return token{kind: tString, text: b.String(), pos: start}
		case c == '\\' && lx.i+1 < len(lx.src) && (lx.src[lx.i+1] == q || lx.src[lx.i+1] == '\\'):
			b.WriteByte(lx.src[lx.i+1])
			lx.i += 2
		default:
			b.WriteByte(c)
			lx.i++
		}
	}
	return token{kind: tBad, text: "an unterminated string", pos: start}
}

type parser struct {
	lx  lexer
	tok token
}

func (p *parser) next() { p.tok = p.lx.next() }

func (p *parser) expected(what string) *Error {
	if p.tok.kind == tBad && strings.HasPrefix(p.tok.text, "an unterminated") {
		return &Error{Pos: p.tok.pos, Msg: "an unterminated string"}
	}
	return &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("expected %s, found %s", what, p.tok.describe())}
}

func (p *parser) or(depth int) (Node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOr {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = Or{L: l, R: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (Node, error) {
	l, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAnd {
		p.next()
		r, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		l = And{L: l, R: r}
	}
	return l, nil
}

func (p *parser) not(depth int) (Node, error) {
	if depth > MaxDepth {
		return nil, &Error{Pos: p.tok.pos, Msg: fmt.Sprintf("the rule nests deeper than %d", MaxDepth)}
	}
	if p.tok.kind == tNot {
		p.next()
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not{X: x}, nil
	}
	return p.primary(depth)
}

func (p *parser) primary(depth int) (Node, error) {
	switch p.tok.kind {
	case tLParen:
		p.next()
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.expected(")")
		}
		p.next()
		return n, nil
	case tIdent:
	default:
		return nil, p.expected("a tag key, not or (")
	}
	key := p.tok.text
	p.next()
	switch p.tok.kind {
	case tOp:
		op, at := p.tok.text, p.tok.pos
		p.next()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if !v.IsNum && op != "==" && op != "!=" {
			return nil, &Error{Pos: at, Msg: fmt.Sprintf("%s compares numbers, not strings", op)}
		}
		return Cmp{Key: key, Op: op, Value: v}, nil
	case tIn:
		p.next()
		vs, err := p.list()
		return In{Key: key, Values: vs}, err
	case tNot:
		p.next()
		if p.tok.kind != tIn {
			return nil, p.expected("in after not")
		}
		p.next()
		vs, err := p.list()
		return In{Key: key, Values: vs, Negate: true}, err
	}
	return nil, p.expected("==, !=, <, <=, >, >=, in or not in after the tag key")
}

func (p *parser) literal() (Literal, error) {
	switch p.tok.kind {
	case tString:
		l := Literal{Str: p.tok.text}
		p.next()
		return l, nil
	case tNumber:
		l := Literal{Num: p.tok.num, IsNum: true, Str: p.tok.text} // Str keeps the number as written
		p.next()
		return l, nil
	}
	return Literal{}, p.expected("a string or a number")
}

func (p *parser) list() ([]Literal, error) {
	if p.tok.kind != tLBrack {
		return nil, p.expected("[")
	}
	p.next()
	var out []Literal
	for {
		l, err := p.literal()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
		if p.tok.kind == tRBrack {
			p.next()
			return out, nil
		}
		if p.tok.kind != tComma {
			return nil, p.expected(", or ]")
		}
		p.next()
	}
}
