package sentiment

import "math"

// scorer accumulates the weight of a text unit by unit.
type scorer struct {
	negWindow int // reach of a negator, in units

	total float64 // finished sentences
	sent  float64 // current sentence

	sentStarted bool    // the current sentence has had a unit
	clauseStart bool    // no unit yet in the current clause
	clauseMul   float64 // concessive weight of the current clause
	afterMul    float64 // weight after an adversative in the current sentence

	neg      bool    // a negation is pending (parity of the negators seen)
	negLeft  int     // units the pending negation can still cross
	deg      float64 // pending degree multiplier
	degLeft  int     // units the pending degree can still cross
	negFirst bool    // the pending negator came before the pending degree ("不太好", "not very good")

	last    float64 // contribution of the last sentiment word in this clause
	lastAge int     // units since that word, or -1 if there is none

	// Spans of the current unit and of the pending modifiers, for explanations.
	start, end int
	negStart   int
	degStart   int

	// VADER's emphasis rules, for English: emph enables them; capsUnit marks the next unit
	// as written in capitals (in a text that is not all capitals); bangs is the number of
	// exclamation marks ending the current sentence.
	emph     bool
	capsOK   bool // the text has lower-case letters, so capitals stand out
	capsUnit bool
	bangs    int
	bangAt   int // byte offset of the first of those marks

	// contrast tells the scanner what the last unit did: contrastSentence if it scaled the
	// sentence so far by beforeContrast, contrastTotal if it scaled the finished sentences.
	contrast uint8

	tr      *trace // if not nil, every word's contribution is recorded here
	sentIdx int    // index in tr.lex of the current sentence's first contribution
	lastIdx int    // index in tr.lex of the last word's contribution
}

// Values of scorer.contrast.
const (
	contrastSentence = 1 + iota
	contrastTotal
)

// weight is the multiplier of a word in the current clause: concession and contrast.
func (s *scorer) weight() float64 { return s.clauseMul * s.afterMul }

// contrib is one contribution to a score, with the byte span of the text that made it.
type contrib struct {
	start, end int
	w          float64
}

// trace collects the contributions behind one score, for Explain.
type trace struct {
	lex   []contrib // lexicon words, in summed-weight units, after every multiplier
	feats []contrib // model features, in log-odds units
}

// scale multiplies the recorded lexicon contributions from index i on by f.
func (t *trace) scale(i int, f float64) {
	for j := i; j < len(t.lex); j++ {
		t.lex[j].w *= f
	}
}

// reset prepares a scorer for a new text.
func (s *scorer) reset() {
	s.total, s.sent = 0, 0
	s.sentStarted = false
	s.sentIdx, s.lastIdx = 0, 0
	s.afterMul = 1
	s.clauseEnd()
}

// clearModifiers drops any pending negation or degree.
func (s *scorer) clearModifiers() {
	s.neg, s.negLeft = false, 0
	s.deg, s.degLeft = 1, 0
	s.negFirst = false
}

// clauseEnd handles a comma-like boundary.
func (s *scorer) clauseEnd() {
	s.clearModifiers()
	s.clauseStart = true
	s.clauseMul = 1
	s.lastAge = -1
}

// sentenceEnd handles a full stop, exclamation or question mark, and the end of the text.
func (s *scorer) sentenceEnd(question bool) {
	s.clauseEnd()
	if s.emph && s.bangs > 0 && s.sent != 0 {
		b := math.Copysign(float64(min(s.bangs, maxBangs))*bangIncrement, s.sent)
		s.sent += b
		if s.tr != nil {
			s.tr.lex = append(s.tr.lex, contrib{start: s.bangAt, end: s.bangAt + 1, w: b})
		}
	}
	s.bangs = 0
	if question {
		s.sent *= questionWeight
		if s.tr != nil {
			s.tr.scale(s.sentIdx, questionWeight)
		}
	}
	if s.tr != nil {
		s.sentIdx = len(s.tr.lex)
	}
	s.total += s.sent
	s.sent = 0
	s.afterMul = 1
	s.sentStarted = false
}

// unit handles one lexicon unit (kindOther for an unknown word or character) that spans
// text[start:end].
func (s *scorer) unit(e entry, start, end int) {
	s.start, s.end = start, end
	s.contrast = 0
	caps := s.capsUnit
	s.capsUnit = false
	k := e.kind
	switch k {
	case kindAck:
		k = kindWord
		if s.clauseStart {
			k = kindOther
		}
	case kindAdvClause:
		k = kindOther
		if s.clauseStart {
			k = kindAdversative
		}
	}
	s.clauseStart = false
	wasStarted := s.sentStarted
	s.sentStarted = true

	switch k {
	case kindWord:
		w := e.val
		if caps && s.emph && s.capsOK {
			w += math.Copysign(capsIncrement, w)
		}
		s.word(w)
	case kindNegator:
		if s.negLeft > 0 {
			s.neg = !s.neg
		} else {
			s.neg = true
			s.negStart = start
		}
		s.negLeft = s.negWindow
	case kindDegree:
		if s.negLeft > 0 && s.degLeft == 0 {
			s.negFirst = true
		}
		if s.degLeft == 0 {
			s.deg = 1
			s.degStart = start
		}
		s.deg = min(max(s.deg*e.val, minDegree), maxDegree)
		s.degLeft = degWindow
	case kindPostDegree:
		if s.lastAge == 0 || s.lastAge == 1 {
			scaled := min(max(s.last*e.val, -maxContribution), maxContribution)
			s.sent += scaled - s.last
			s.last = scaled
			if s.tr != nil && s.lastIdx < len(s.tr.lex) {
				s.tr.lex[s.lastIdx].w = scaled
				s.tr.lex[s.lastIdx].end = end
			}
		}
		s.age()
	case kindAdversative:
		if wasStarted {
			s.sent *= beforeContrast
			s.contrast = contrastSentence
			if s.tr != nil {
				s.tr.scale(s.sentIdx, beforeContrast)
			}
		} else {
			s.total *= beforeContrast
			s.contrast = contrastTotal
			if s.tr != nil {
				s.tr.scale(0, beforeContrast)
			}
		}
		s.afterMul = afterContrast
		s.clauseMul = 1
		s.clearModifiers()
		s.lastAge = -1
	case kindConcessive:
		s.clauseMul = concession
	default:
		s.age()
	}
}

// age lets one neutral unit pass: pending modifiers get closer to running out.
func (s *scorer) age() {
	if s.negLeft > 0 {
		s.negLeft--
		if s.negLeft == 0 {
			s.neg = false
		}
	}
	if s.degLeft > 0 {
		s.degLeft--
		if s.degLeft == 0 {
			s.deg = 1
			s.negFirst = false
		}
	}
	if s.lastAge >= 0 {
		s.lastAge++
	}
}

// word adds a sentiment word of weight w, applying pending negation and degree.
func (s *scorer) word(w float64) {
	v := w
	deg := 1.0
	start := s.start
	if s.degLeft > 0 {
		deg = s.deg
		start = min(start, s.degStart)
	}
	switch {
	case s.negLeft > 0 && s.neg:
		start = min(start, s.negStart)
		if w > 0 {
			v = flipPositive * w
		} else {
			v = flipNegative * w
		}
		if s.negFirst && deg > 1 {
			v /= deg // "not very good", "不太满意": a softened negation
		} else {
			v *= deg // "很不满意": an intensified negation
		}
	default:
		v *= deg
	}
	v *= s.clauseMul * s.afterMul
	s.sent += v
	s.last, s.lastAge = v, 0
	if s.tr != nil {
		s.lastIdx = len(s.tr.lex)
		s.tr.lex = append(s.tr.lex, contrib{start: start, end: s.end, w: v})
	}
	s.clearModifiers()
}
