package sentiment

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// lexiconFS holds the embedded lexicon files; see the header of each file for the format.
//
//go:embed lexicon/*.tsv
var lexiconFS embed.FS

// Lexicon file names inside lexiconFS.
const (
	enFile    = "lexicon/en.tsv"
	zhFile    = "lexicon/zh.tsv"
	emojiFile = "lexicon/emoji.tsv"
)

// errLexicon is wrapped by every lexicon parsing error.
var errLexicon = errors.New("sentiment: bad lexicon")

// kind is the role of a lexicon entry.
type kind uint8

// Entry kinds. kindOther is a unit that matched nothing (or a neutral blocker).
const (
	kindOther       kind = iota
	kindWord             // sentiment word, val is the signed weight
	kindNegator          // flips the next sentiment word within a window
	kindDegree           // multiplies the next sentiment word within a window
	kindPostDegree       // multiplies the sentiment word just before it
	kindAdversative      // "but": the clause after it weighs more
	kindAdvClause        // like kindAdversative, but only at the start of a clause
	kindConcessive       // "although": its own clause weighs less
	kindAck              // "好的": nothing at the start of a clause, else a sentiment word
)

// kindCodes maps the one-letter code in the lexicon files to a kind.
var kindCodes = map[string]kind{
	"w": kindWord, "x": kindOther, "n": kindNegator, "d": kindDegree, "p": kindPostDegree,
	"a": kindAdversative, "s": kindAdvClause, "c": kindConcessive, "k": kindAck,
}

// entry is one resolved lexicon item.
type entry struct {
	kind kind
	val  float64
}

// dict maps a normalised entry (a Chinese string, or English words joined by one space) to its entry.
type dict struct {
	m      map[string]entry
	maxLen int // longest key: in runes for Chinese, in words for English
}

// lexicon is the immutable, fully parsed lexicon built once at package initialisation.
type lexicon struct {
	en, zh, emoji dict
}

// lex is read-only after package initialisation.
var lex = mustLoadLexicon()

// mustLoadLexicon parses the embedded files; the files are part of the binary, so an error is a build defect.
func mustLoadLexicon() *lexicon {
	l, err := loadLexicon()
	if err != nil {
		panic(err)
	}
	return l
}

// loadLexicon parses all embedded lexicon files.
func loadLexicon() (*lexicon, error) {
	var l lexicon
	var err error
	if l.en, err = loadDict(enFile, enKey); err != nil {
		return nil, err
	}
	if l.zh, err = loadDict(zhFile, zhKey); err != nil {
		return nil, err
	}
	if l.emoji, err = loadDict(emojiFile, zhKey); err != nil {
		return nil, err
	}
	return &l, nil
}

// enKey normalises an English entry exactly as text is tokenised, and returns its length in words.
func enKey(s string) (string, int) {
	words := tokenizeEnglish(s)
	return strings.Join(words, " "), len(words)
}

// zhKey returns a Chinese (or emoji) entry as is, with its length in runes.
func zhKey(s string) (string, int) {
	return s, utf8.RuneCountInString(s)
}

// loadDict parses one lexicon file.
func loadDict(name string, key func(string) (string, int)) (dict, error) {
	raw, err := lexiconFS.ReadFile(name)
	if err != nil {
		return dict{}, fmt.Errorf("%w: %s: %w", errLexicon, name, err)
	}
	d := dict{m: make(map[string]entry)}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, k, size, err := parseLine(line, key)
		if err != nil {
			return dict{}, fmt.Errorf("%w: %s line %d: %w", errLexicon, name, n, err)
		}
		if _, dup := d.m[k]; dup {
			return dict{}, fmt.Errorf("%w: %s line %d: duplicate entry", errLexicon, name, n)
		}
		d.m[k] = e
		d.maxLen = max(d.maxLen, size)
	}
	if err := sc.Err(); err != nil {
		return dict{}, fmt.Errorf("%w: %s: %w", errLexicon, name, err)
	}
	return d, nil
}

// parseLine parses "kind<TAB>entry[<TAB>value]".
func parseLine(line string, key func(string) (string, int)) (entry, string, int, error) {
	f := strings.Split(line, "\t")
	if len(f) < 2 || len(f) > 3 {
		return entry{}, "", 0, errors.New("want kind, entry and optional value separated by tabs")
	}
	k, ok := kindCodes[f[0]]
	if !ok {
		return entry{}, "", 0, fmt.Errorf("unknown kind %q", f[0])
	}
	e := entry{kind: k}
	value := ""
	if len(f) == 3 {
		value = strings.TrimSpace(f[2])
	}
	switch k {
	case kindWord, kindDegree, kindPostDegree, kindAck:
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxWeight {
			return entry{}, "", 0, fmt.Errorf("kind %q needs a finite value within ±%v", f[0], maxWeight)
		}
		if (k == kindDegree || k == kindPostDegree) && v <= 0 {
			return entry{}, "", 0, errors.New("degree multipliers must be positive")
		}
		e.val = v
		if k == kindWord && v == 0 {
			e.kind = kindOther // a zero-weight word only blocks shorter matches
		}
	default:
		if value != "" {
			return entry{}, "", 0, fmt.Errorf("kind %q takes no value", f[0])
		}
	}
	s, size := key(f[1])
	if size == 0 {
		return entry{}, "", 0, errors.New("empty entry")
	}
	return e, s, size, nil
}
