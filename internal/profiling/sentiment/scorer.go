package sentiment

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
}

// reset prepares a scorer for a new text.
func (s *scorer) reset() {
	s.total, s.sent = 0, 0
	s.sentStarted = false
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
	if question {
		s.sent *= questionWeight
	}
	s.total += s.sent
	s.sent = 0
	s.afterMul = 1
	s.sentStarted = false
}

// unit handles one lexicon unit (kindOther for an unknown word or character).
func (s *scorer) unit(e entry) {
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
		s.word(e.val)
	case kindNegator:
		if s.negLeft > 0 {
			s.neg = !s.neg
		} else {
			s.neg = true
		}
		s.negLeft = s.negWindow
	case kindDegree:
		if s.negLeft > 0 && s.degLeft == 0 {
			s.negFirst = true
		}
		if s.degLeft == 0 {
			s.deg = 1
		}
		s.deg = min(max(s.deg*e.val, minDegree), maxDegree)
		s.degLeft = degWindow
	case kindPostDegree:
		if s.lastAge == 0 || s.lastAge == 1 {
			scaled := min(max(s.last*e.val, -maxContribution), maxContribution)
			s.sent += scaled - s.last
			s.last = scaled
		}
		s.age()
	case kindAdversative:
		if wasStarted {
			s.sent *= beforeContrast
		} else {
			s.total *= beforeContrast
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
	if s.degLeft > 0 {
		deg = s.deg
	}
	switch {
	case s.negLeft > 0 && s.neg:
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
	s.clearModifiers()
}
