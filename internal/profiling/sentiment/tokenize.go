package sentiment

import (
	"strings"
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
	case unicode.Is(unicode.Han, r):
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

	// Current Han run: byte offsets into text of each rune, plus the end offset.
	han []int

	// Initial backing storage, so that short texts need no further allocation.
	wordArr  [32]byte
	runArr   [128]byte
	startArr [24]int
	endArr   [24]int
	hanArr   [64]int
}

// newScanner returns a scanner over text that reports to sc.
func newScanner(text string, sc *scorer) *scanner {
	s := &scanner{text: text, sc: sc}
	s.ws.buf = s.wordArr[:0]
	s.run, s.starts, s.ends, s.han = s.runArr[:0], s.startArr[:0], s.endArr[:0], s.hanArr[:0]
	return s
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
			s.ws.add(r, c)
		case classHan:
			s.flushEnglish()
			s.han = append(s.han, i)
		case classClause:
			s.flushEnglish()
			s.sc.clauseEnd()
		case classSentence, classQuestion:
			s.flushEnglish()
			s.sc.sentenceEnd(c == classQuestion)
		case classSymbol:
			s.flushEnglish()
			if e, ok := lex.emoji.m[text[i:i+size]]; ok {
				s.sc.unit(e)
			}
		}
		i += size
	}
	s.ws.finish(s.addWord)
	s.flushEnglish()
	s.flushHan(len(text))
	s.sc.sentenceEnd(false)
}

// addWord appends one normalised word to the English run.
func (s *scanner) addWord(b []byte) {
	if len(s.run) > 0 {
		s.run = append(s.run, ' ')
	}
	s.starts = append(s.starts, len(s.run))
	s.run = append(s.run, b...)
	s.ends = append(s.ends, len(s.run))
}

// flushEnglish matches the current English run against the lexicon, longest phrase first.
func (s *scanner) flushEnglish() {
	s.ws.finish(s.addWord)
	n := len(s.starts)
	for i := 0; i < n; {
		matched := 1
		e, found := entry{}, false
		for l := min(lex.en.maxLen, n-i); l >= 1; l-- {
			if got, ok := lex.en.m[string(s.run[s.starts[i]:s.ends[i+l-1]])]; ok {
				e, found, matched = got, true, l
				break
			}
		}
		if !found {
			e = stemLookup(s.run[s.starts[i]:s.ends[i]])
		}
		s.sc.unit(e)
		i += matched
	}
	s.run, s.starts, s.ends = s.run[:0], s.starts[:0], s.ends[:0]
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
		for l := min(lex.zh.maxLen, n-i); l >= 1; l-- {
			if got, ok := lex.zh.m[s.text[s.han[i]:s.han[i+l]]]; ok {
				e, matched = got, l
				break
			}
		}
		s.sc.unit(e)
		i += matched
	}
	s.han = s.han[:0]
}

// isHan reports whether the text contains at least one Han character.
func isHan(text string) bool {
	return strings.IndexFunc(text, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}
