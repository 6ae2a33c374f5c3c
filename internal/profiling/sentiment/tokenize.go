package sentiment

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// class is the role of one rune while scanning text.
type class uint8

// Rune classes.
const (
	classSep      class = iota // whitespace, quotes, hyphens and other separators inside a clause
	classHan                   // a Han character: part of a Chinese run
	classWord                  // a letter or digit of another script: part of an English word
	classApos                  // an apostrophe: part of an English word ("n't")
	classClause                // ends a clause: , ; : 、 and brackets
	classSentence              // ends a sentence: . ! 。 ！ … and line breaks
	classQuestion              // ends a sentence that is a question: ? ？
	classIgnore                // variation selectors, joiners and skin tones: dropped
	classSymbol                // anything else, looked up as an emoji
)

// classify returns the class of r.
func classify(r rune) class {
	switch r {
	case ',', '，', ';', '；', ':', '：', '、', '(', ')', '（', '）', '【', '】', '—', '–', '~', '～', '｜', '|':
		return classClause
	case '.', '。', '!', '！', '…', '\n', '\r', '｡':
		return classSentence
	case '?', '？':
		return classQuestion
	case '\'', '’', '‘', 'ʼ':
		return classApos
	case '\u200d', '\ufe0e', '\ufe0f', '\u20e3':
		return classIgnore
	}
	switch {
	case r >= 0x1f3fb && r <= 0x1f3ff: // skin tone modifiers
		return classIgnore
	case r >= hanLo && r <= hanHi, unicode.Is(unicode.Han, r):
		return classHan
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
		return classWord
	case unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r) || r == utf8.RuneError:
		return classSep
	}
	return classSymbol
}

// wordSplitter normalises English words: lower case, apostrophes unified and trimmed, and a
// trailing "n't" split off as its own word ("doesn't" → "does", "n't"; "can't" → "can", "n't").
type wordSplitter struct {
	buf []byte
}

// add appends one rune of the current word.
func (w *wordSplitter) add(r rune, c class) {
	if c == classApos {
		if len(w.buf) == 0 {
			return // a leading apostrophe is a quote mark
		}
		r = '\''
	} else {
		r = unicode.ToLower(r)
	}
	w.buf = utf8.AppendRune(w.buf, r)
}

// finish ends the current word and calls emit with each normalised word (zero, one or two).
// The byte slice passed to emit is only valid during the call.
func (w *wordSplitter) finish(emit func([]byte)) {
	b := w.buf
	for len(b) > 0 && b[len(b)-1] == '\'' {
		b = b[:len(b)-1]
	}
	w.buf = w.buf[:0]
	if len(b) == 0 {
		return
	}
	if n := len(b); n > 3 && string(b[n-3:]) == "n't" {
		stem := b[:n-3]
		switch string(stem) {
		case "ca":
			emit([]byte("can"))
		case "wo":
			emit([]byte("will"))
		case "sha":
			emit([]byte("shall"))
		default:
			emit(stem)
		}
		emit([]byte("n't"))
		return
	}
	emit(b)
}

// tokenizeEnglish splits s into normalised English words, ignoring punctuation and other scripts.
// It is used for lexicon keys, so that entries are matched exactly as text is tokenised.
func tokenizeEnglish(s string) []string {
	var words []string
	var ws wordSplitter
	emit := func(b []byte) { words = append(words, string(b)) }
	for _, r := range s {
		switch c := classify(r); c {
		case classWord, classApos:
			ws.add(r, c)
		case classIgnore:
		default:
			ws.finish(emit)
		}
	}
	ws.finish(emit)
	return words
}

// scanner walks a text and feeds the scorer with lexicon units and boundaries.
type scanner struct {
	text string
	sc   *scorer

	// Current English run: words joined by single spaces in run, word i at run[starts[i]:ends[i]].
	ws     wordSplitter
	run    []byte
	starts []int
	ends   []int

	// Byte span in text of the word being read, and of each word of the English run; its
	// upper- and lower-case letters, and whether each word of the run is in capitals.
	wStart, wEnd   int
	wUpper, wLower int
	oStarts        []int
	oEnds          []int
	oCaps          []bool

	// Current Han run: byte offsets into text of each rune, plus the end offset, and the runes.
	han      []int
	hanRunes []rune

	// Chinese model features: when features is set, each n-gram and Latin word is passed to
	// sink (if not nil) and its weight in m (if not nil) is added to z. negate marks features
	// in a negator's scope.
	features bool
	// englishModel: the English model's features. The words the English rules act on
	// (negators, degree words, "but", "although") are not features — the rules alone decide
	// what they do — and two consecutive other words of a clause are also one ("had to").
	englishModel bool
	prevWord     int // index in the run of the last word emitted, for the bigram; -1 if none
	negate       bool
	maxGram      int // longest n-gram to emit
	sink         featureSink
	m            *model
	z            float64 // finished sentences
	sentZ        float64 // current sentence
	tr           *trace
	sentFeat     int       // index in tr.feats of the current sentence's first feature
	pending      []Feature // the text's features so far, for sink
	sentPend     int       // index in pending of the current sentence's first feature
	lastHan      rune      // the current sentence's last Han character so far
	asks         bool      // the current sentence holds 请问
	hanFlag      []uint8   // per rune of the Han run: flagNeg, flagLex
	hanMult      []float64 // per rune of the Han run: the clause's multiplier
	hanKeys      []uint64  // per rune of the Han run: its key

	bufs *scanBufs // the pooled backing storage of the slices above
}

// scanBufs is the backing storage of a scanner's slices, recycled through bufPool so that
// scoring a text needs no allocation beyond the scanner itself.
type scanBufs struct {
	word, run         []byte
	starts, ends, han []int
	oStarts, oEnds    []int
	oCaps             []bool
	hanFlag           []uint8
	hanMult           []float64
	hanKeys           []uint64
	hanRunes          []rune
}

var bufPool = sync.Pool{New: func() any { return new(scanBufs) }}

// newScanner returns a scanner over text that reports to sc; release gives back its buffers.
func newScanner(text string, sc *scorer) *scanner {
	b := bufPool.Get().(*scanBufs)
	s := &scanner{text: text, sc: sc, bufs: b}
	s.ws.buf = b.word[:0]
	s.run, s.starts, s.ends, s.han = b.run[:0], b.starts[:0], b.ends[:0], b.han[:0]
	s.oStarts, s.oEnds, s.oCaps = b.oStarts[:0], b.oEnds[:0], b.oCaps[:0]
	s.hanFlag, s.hanKeys, s.hanMult, s.hanRunes = b.hanFlag[:0], b.hanKeys[:0], b.hanMult[:0], b.hanRunes[:0]
	return s
}

// release returns the scanner's buffers, grown or not, to the pool; s must not be used
// afterwards.
func (s *scanner) release() {
	b := s.bufs
	if b == nil || cap(s.run) > 1<<16 || cap(s.han) > 1<<16 {
		return // do not keep the buffers of a huge text
	}
	b.word, b.run = s.ws.buf[:0], s.run[:0]
	b.starts, b.ends, b.han = s.starts[:0], s.ends[:0], s.han[:0]
	b.oStarts, b.oEnds, b.oCaps = s.oStarts[:0], s.oEnds[:0], s.oCaps[:0]
	b.hanFlag, b.hanKeys, b.hanMult, b.hanRunes = s.hanFlag[:0], s.hanKeys[:0], s.hanMult[:0], s.hanRunes[:0]
	// The pool keeps no review text: the buffers that held its words and characters are cleared.
	clear(b.word[:cap(b.word)])
	clear(b.run[:cap(b.run)])
	clear(b.hanRunes[:cap(b.hanRunes)])
	s.bufs = nil
	bufPool.Put(b)
}

// scan processes the whole text.
func (s *scanner) scan() {
	text := s.text
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		c := classify(r)
		if c == classIgnore {
			i += size
			continue
		}
		if c != classHan {
			s.flushHan(i)
		}
		if c != classWord && c != classApos {
			s.ws.finish(s.addWord)
		}
		switch c {
		case classWord, classApos:
			if len(s.ws.buf) == 0 {
				s.wStart = i
				s.wUpper, s.wLower = 0, 0
			}
			if unicode.IsUpper(r) {
				s.wUpper++
			} else if unicode.IsLower(r) {
				s.wLower++
			}
			s.ws.add(r, c)
			s.wEnd = i + size
		case classHan:
			s.flushEnglish()
			s.han = append(s.han, i)
			s.hanRunes = append(s.hanRunes, r)
			if r == '问' && s.lastHan == '请' {
				s.asks = true
			}
			s.lastHan = r
		case classClause:
			s.flushEnglish()
			s.sc.clauseEnd()
		case classSentence, classQuestion:
			s.flushEnglish()
			if r == '!' || r == '！' {
				// A run of exclamation marks ends one sentence and emphasises it.
				s.sc.bangs, s.sc.bangAt = 1, i
				for i+size < len(text) && (text[i+size] == '!' || strings.HasPrefix(text[i+size:], "！")) {
					if text[i+size] == '!' {
						i++
					} else {
						i += len("！")
					}
					s.sc.bangs++
				}
			}
			s.endSentence(c == classQuestion)
		case classSymbol:
			s.flushEnglish()
			if e, ok := lex.emoji.m[text[i:i+size]]; ok {
				s.sc.unit(e, i, i+size)
			}
		}
		i += size
	}
	s.ws.finish(s.addWord)
	s.flushEnglish()
	s.flushHan(len(text))
	s.endSentence(false)
	if s.sink != nil {
		for _, f := range s.pending {
			s.sink(f)
		}
	}
}

// addWord appends one normalised word to the English run.
func (s *scanner) addWord(b []byte) {
	if len(s.run) > 0 {
		s.run = append(s.run, ' ')
	}
	s.starts = append(s.starts, len(s.run))
	s.run = append(s.run, b...)
	s.ends = append(s.ends, len(s.run))
	s.oStarts = append(s.oStarts, s.wStart)
	s.oEnds = append(s.oEnds, s.wEnd)
	s.oCaps = append(s.oCaps, s.wUpper >= 3 && s.wLower == 0) // "OK", "TV" are not emphasis
}

// flushEnglish matches the current English run against the lexicon, longest phrase first.
func (s *scanner) flushEnglish() {
	s.ws.finish(s.addWord)
	n := len(s.starts)
	s.prevWord = -1
	for i := 0; i < n; {
		matched := 1
		e, found := entry{}, false
		mask := lex.en.lens[string(s.run[s.starts[i]:s.ends[i]])]
		for l := min(lex.en.maxLen, n-i); l >= 1 && mask != 0; l-- {
			if mask&(1<<l) == 0 {
				continue
			}
			if got, ok := lex.en.m[string(s.run[s.starts[i]:s.ends[i+l-1]])]; ok {
				e, found, matched = got, true, l
				break
			}
		}
		if !found {
			e = stemLookup(s.run[s.starts[i]:s.ends[i]])
		}
		if s.features && s.englishModel && e.kind.isRule() {
			s.prevWord = -1
		} else if s.features {
			neg := s.negate && s.sc.negLeft > 0 && s.sc.neg
			inLex := e.kind == kindWord
			mult := s.sc.weight()
			for j := i; j < i+matched; j++ {
				w := s.run[s.starts[j]:s.ends[j]]
				key := wordKey(w)
				if neg {
					key = negKey(key)
				}
				s.emit(key, s.oStarts[j], s.oEnds[j], 0, neg, inLex, mult, w)
				if s.englishModel && j > 0 && s.prevWord == j-1 {
					// The two words as the run holds them, one space apart: "@had to".
					w2 := s.run[s.starts[j-1]:s.ends[j]]
					key := wordKey(w2)
					if neg {
						key = negKey(key)
					}
					s.emit(key, s.oStarts[j-1], s.oEnds[j], 0, neg, inLex, mult, w2)
				}
				s.prevWord = j
			}
		}
		if s.sc.emph {
			for j := i; j < i+matched; j++ {
				s.sc.capsUnit = s.sc.capsUnit || s.oCaps[j]
			}
		}
		s.sc.unit(e, s.oStarts[i], s.oEnds[i+matched-1])
		if s.features && s.sc.contrast != 0 {
			s.contrastSeen()
		}
		i += matched
	}
	s.run, s.starts, s.ends = s.run[:0], s.starts[:0], s.ends[:0]
	s.oStarts, s.oEnds, s.oCaps = s.oStarts[:0], s.oEnds[:0], s.oCaps[:0]
}

// emit passes one model feature to the sink and adds its weight, times mult (the clause's
// contrast and concession multiplier), to the sentence's sum. inLex marks a feature that
// overlaps a lexicon sentiment word; a model with mask set ignores those, leaving such
// words to the lexicon.
func (s *scanner) emit(key uint64, start, end, n int, negated, inLex bool, mult float64, word []byte) {
	if s.sink != nil {
		name := s.text[start:end]
		if n == 0 {
			name = "@" + string(word)
		}
		if negated {
			name = "!" + name
		}
		s.pending = append(s.pending, Feature{Name: name, Value: 1, Contrast: mult, InLexicon: inLex})
	}
	if s.m != nil && !(inLex && s.m.mask) {
		if w := s.m.weights.get(key); w != 0 {
			v := float64(w)
			if s.m.contrast {
				v *= mult
			}
			s.sentZ += v
			if s.tr != nil {
				s.tr.feats = append(s.tr.feats, contrib{start: start, end: end, w: v})
			}
		}
	}
}

// scaleFeatures multiplies the features of the current sentence (in pending, the trace and
// sentZ) by f: Value by a question's weight, Contrast by a contrast's.
func (s *scanner) scaleFeatures(f float64, question bool) {
	for j := s.sentPend; j < len(s.pending); j++ {
		if question {
			s.pending[j].Value *= f
		} else {
			s.pending[j].Contrast *= f
		}
	}
	if s.m != nil && (question || s.m.contrast) {
		s.sentZ *= f
		if s.tr != nil {
			for j := s.sentFeat; j < len(s.tr.feats); j++ {
				s.tr.feats[j].w *= f
			}
		}
	}
}

// contrastSeen applies an adversative conjunction inside a sentence to the model features as
// the scorer applied it to the lexicon words: what came before it in the sentence weighs
// beforeContrast. (One that opens a sentence scales the finished sentences for the lexicon
// only: over a long review those halvings compound.)
func (s *scanner) contrastSeen() {
	if s.sc.contrast == contrastSentence {
		s.scaleFeatures(beforeContrast, false)
	}
}

// endSentence closes a sentence: the lexicon scorer's, and the model features', which
// weigh questionFeatures in a question (lexicon words weigh questionWeight). A Chinese
// sentence is also a question when it ends in 吗 or 呢 or holds 请问, with or without a
// question mark.
func (s *scanner) endSentence(question bool) {
	question = question || s.asks || s.lastHan == '吗' || s.lastHan == '呢'
	s.asks, s.lastHan = false, 0
	s.sc.sentenceEnd(question)
	if !s.features {
		return
	}
	if question {
		s.scaleFeatures(questionFeatures, true)
	}
	s.z += s.sentZ
	s.sentZ = 0
	s.sentPend = len(s.pending)
	if s.tr != nil {
		s.sentFeat = len(s.tr.feats)
	}
}

// suffixes are tried, in order, on an English word that is not in the lexicon as written:
// the suffix is cut and the replacement appended ("loved" → "love", "happily" → "happy").
var suffixes = [...]struct{ cut, add string }{
	{"'s", ""}, {"ies", "y"}, {"ied", "y"}, {"ily", "y"}, {"ing", ""}, {"ing", "e"},
	{"ed", ""}, {"ed", "e"}, {"es", ""}, {"s", ""}, {"ly", ""},
}

// stemLookup retries a word without a common suffix; only sentiment words are accepted this way.
func stemLookup(w []byte) entry {
	var buf [64]byte
	for _, sf := range suffixes {
		stem := len(w) - len(sf.cut)
		if stem < 3 || string(w[stem:]) != sf.cut || stem+len(sf.add) > len(buf) {
			continue
		}
		if sf.cut == "s" && w[stem-1] == 's' {
			continue // "less", "glass"
		}
		b := append(append(buf[:0], w[:stem]...), sf.add...)
		if e, ok := lex.en.m[string(b)]; ok && e.kind == kindWord {
			return e
		}
	}
	return entry{}
}

// flushHan segments the current Han run by forward maximum matching; end is the byte offset
// just after the run's last rune.
func (s *scanner) flushHan(end int) {
	n := len(s.han)
	if n == 0 {
		return
	}
	s.han = append(s.han, end)
	for i := 0; i < n; {
		matched := 1
		e := entry{}
		mask := lex.zh.lensOf(s.hanRunes[i], s.text[s.han[i]:s.han[i+1]])
		for l := min(lex.zh.maxLen, n-i); l >= 1 && mask != 0; l-- {
			if mask&(1<<l) == 0 {
				continue
			}
			if got, ok := lex.zh.m[s.text[s.han[i]:s.han[i+l]]]; ok {
				e, matched = got, l
				break
			}
		}
		if s.features {
			var f uint8
			if s.negate && s.sc.negLeft > 0 && s.sc.neg {
				f |= flagNeg
			}
			if e.kind == kindWord {
				f |= flagLex
			}
			for range matched {
				s.hanFlag = append(s.hanFlag, f)
			}
		}
		s.sc.unit(e, s.han[i], s.han[i+matched])
		if s.features {
			if s.sc.contrast != 0 {
				s.contrastSeen()
				if s.sc.contrast == contrastSentence {
					for j := range s.hanMult {
						s.hanMult[j] *= beforeContrast
					}
				}
			}
			mult := s.sc.weight()
			for range matched {
				s.hanMult = append(s.hanMult, mult)
			}
		}
		i += matched
	}
	if s.features {
		s.hanGrams(n)
	}
	s.han, s.hanRunes = s.han[:0], s.hanRunes[:0]
}

// hanGrams emits the character n-grams of the Han run of n runes just segmented.
func (s *scanner) hanGrams(n int) {
	s.hanKeys = s.hanKeys[:0]
	for _, r := range s.hanRunes[:n] {
		s.hanKeys = append(s.hanKeys, runeKey(r))
	}
	for j := range n {
		key := s.hanKeys[j]
		neg := s.hanFlag[j]&flagNeg != 0
		inLex := false
		for l := 1; l <= s.maxGram && j+l <= n; l++ {
			if l > 1 {
				key = extendKey(key, s.hanKeys[j+l-1])
			}
			inLex = inLex || s.hanFlag[j+l-1]&flagLex != 0
			k := key
			if neg {
				k = negKey(k)
			}
			s.emit(k, s.han[j], s.han[j+l], l, neg, inLex, s.hanMult[j], nil)
		}
	}
	s.hanFlag, s.hanMult = s.hanFlag[:0], s.hanMult[:0]
}

// Flags of a rune of a Han run.
const (
	flagNeg uint8 = 1 << iota // in a negator's scope
	flagLex                   // part of a lexicon sentiment word
)

// isHan reports whether the text contains at least one Han character.
func isHan(text string) bool {
	return strings.IndexFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
