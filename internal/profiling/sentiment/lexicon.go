package sentiment

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	vaderdata "github.com/jonreiter/govader/data"
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

// isRule reports whether an entry of kind k acts on other words rather than carrying a
// sentiment of its own.
func (k kind) isRule() bool {
	switch k {
	case kindNegator, kindDegree, kindPostDegree, kindAdversative, kindAdvClause, kindConcessive:
		return true
	}
	return false
}

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

	// lens[first] has bit l set when an entry of l units starts with the unit first (a
	// rune's UTF-8 for Chinese, a word for English), so that matching tries only lengths
	// that exist. hanLens holds the same for the common Han block, indexed by rune.
	lens    map[string]uint32
	hanLens []uint32
}

// Bounds of the Han block indexed by dict.hanLens.
const hanLo, hanHi = 0x4e00, 0x9fff

// index builds lens (and hanLens for a Chinese dict) once all entries are in.
func (d *dict) index(chinese bool) {
	d.lens = make(map[string]uint32)
	if chinese {
		d.hanLens = make([]uint32, hanHi-hanLo+1)
	}
	for k := range d.m {
		var first string
		n := 0
		if chinese {
			r, size := utf8.DecodeRuneInString(k)
			first, n = k[:size], utf8.RuneCountInString(k)
			if r >= hanLo && r <= hanHi && n < 32 {
				d.hanLens[r-hanLo] |= 1 << n
			}
		} else {
			first, _, _ = strings.Cut(k, " ")
			n = strings.Count(k, " ") + 1
		}
		if n < 32 {
			d.lens[first] |= 1 << n
		}
	}
}

// lensOf returns the length mask of entries starting with the Han-run rune r spelled s.
func (d *dict) lensOf(r rune, s string) uint32 {
	if r >= hanLo && r <= hanHi && d.hanLens != nil {
		return d.hanLens[r-hanLo]
	}
	return d.lens[s]
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
	if err = loadVader(&l.en); err != nil {
		return nil, err
	}
	l.en.index(false)
	if l.zh, err = loadDict(zhFile, zhKey); err != nil {
		return nil, err
	}
	addNegatedVariants(&l.zh)
	l.zh.index(true)
	if l.emoji, err = loadDict(emojiFile, zhKey); err != nil {
		return nil, err
	}
	return &l, nil
}

// vaderScale converts a VADER mean valence (−4..+4) to a weight of this lexicon, where
// "good" is about 1: VADER rates "good" 1.9.
const vaderScale = 0.5

// vaderLexicon is the VADER lexicon (MIT, github.com/cjhutto/vaderSentiment) as the govader module ships
// it: lines of token, mean valence (−4..+4), standard deviation and the raters' scores.
const vaderLexicon = "rawdata/vaderLexicon.txt"

// vaderWord keeps the lexicon's word and phrase entries (emoticons, symbols and single letters are left
// out: the tokenizer never yields them).
var vaderWord = regexp.MustCompile(`^[a-z][a-z' -]*[a-z]$`)

// loadVader adds the word entries of the VADER lexicon that en.tsv does not have, as sentiment words of
// weight valence × vaderScale.
func loadVader(d *dict) error {
	raw, err := vaderdata.Asset(vaderLexicon)
	if err != nil {
		return fmt.Errorf("%w: VADER lexicon: %w", errLexicon, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 2 || !vaderWord.MatchString(fields[0]) {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || math.IsNaN(v) || math.Abs(v) > 4 {
			return fmt.Errorf("%w: VADER lexicon line %d: want word<TAB>valence", errLexicon, n)
		}
		k, size := enKey(fields[0])
		if size == 0 {
			continue
		}
		if _, dup := d.m[k]; dup || v == 0 {
			continue
		}
		d.m[k] = entry{kind: kindWord, val: v * vaderScale}
		d.maxLen = max(d.maxLen, size)
	}
	return sc.Err()
}

// zhInnerNegators are inserted before the last character of a Chinese phrase entry by
// addNegatedVariants, with the share of the flipped weight the variant keeps.
var zhInnerNegators = [...]struct {
	neg   string
	share float64
}{{"不", 1}, {"不太", 0.5}, {"不是很", 0.5}, {"没那么", 0.5}}

// addNegatedVariants adds, for every sentiment phrase of three or more characters, the
// phrase with a negator before its last character ("性价比高" → "性价比不高", "物流快" →
// "物流不太快"), weighted as a negated word. Forward maximum matching would otherwise split
// such text into single characters and lose both the phrase and the negation. Entries of
// the file win over generated ones.
func addNegatedVariants(d *dict) {
	type variant struct {
		key string
		e   entry
	}
	var add []variant
	for k, e := range d.m {
		runes := []rune(k)
		if e.kind != kindWord || len(runes) < 3 {
			continue
		}
		head, last := string(runes[:len(runes)-1]), string(runes[len(runes)-1])
		flip := flipPositive
		if e.val < 0 {
			flip = flipNegative
		}
		for _, n := range zhInnerNegators {
			add = append(add, variant{head + n.neg + last, entry{kind: kindWord, val: flip * n.share * e.val}})
		}
	}
	// Deterministic: when two phrases generate the same variant, the larger weight wins.
	gen := map[string]entry{}
	for _, v := range add {
		if _, inFile := d.m[v.key]; inFile {
			continue
		}
		if old, ok := gen[v.key]; ok && (math.Abs(old.val) > math.Abs(v.e.val) ||
			(math.Abs(old.val) == math.Abs(v.e.val) && old.val >= v.e.val)) {
			continue
		}
		gen[v.key] = v.e
	}
	for k, e := range gen {
		d.m[k] = e
		d.maxLen = max(d.maxLen, utf8.RuneCountInString(k))
	}
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
