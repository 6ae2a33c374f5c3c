// Package sentiment owns lexicon-based sentiment scoring of short Chinese and English
// e-commerce reviews and customer-service chat lines, for the attitude.sentiment tag.
//
// Text is split into lexicon units: Chinese by forward maximum matching against the
// embedded Chinese lexicon (longest entry first, no external segmenter), English into
// lower-cased words matched as longest phrases, emoji one by one. Sentiment words carry a
// signed weight; a negator flips the next sentiment word within a short window, a degree
// adverb scales it ("very", "有点"), and after an adversative conjunction ("but", "但是")
// the rest of the sentence weighs more than what came before. The summed weight S is
// squashed to S/√(S²+1), which lies in (−1, 1).
//
// Everything is pure computation over the embedded lexicon, which is parsed once at
// package initialisation and never modified.
package sentiment

import "math"

// Version identifies the lexicon and scoring rules, for provenance of stored scores.
// It changes whenever a lexicon file or a scoring constant changes.
const Version = "sentiment-lexicon-2026.11-1"

// Label is the sentiment class of a text.
type Label string

// The three labels, spelled as in testdata/labelled.tsv.
const (
	Negative Label = "neg"
	Neutral  Label = "neu"
	Positive Label = "pos"
)

// Lang is the language a text is scored as.
type Lang string

// Supported languages.
const (
	English Lang = "en"
	Chinese Lang = "zh"
)

// NeutralBand is the half-width of the neutral band: Classify returns Neutral when
// |Score(text)| < NeutralBand.
const NeutralBand = 0.25

// Scoring constants.
const (
	maxWeight       = 5.0  // largest absolute weight or multiplier accepted in a lexicon file
	alpha           = 1.0  // squashing constant: Score = S/√(S²+alpha)
	flipPositive    = -0.8 // a negated positive word keeps this share of its weight, sign flipped
	flipNegative    = -0.6 // a negated negative word ("not bad") is only mildly positive
	beforeContrast  = 0.5  // what precedes an adversative conjunction is scaled by this
	afterContrast   = 1.5  // what follows it, up to the end of the sentence, by this
	concession      = 0.5  // the clause holding "although"/"虽然" is scaled by this
	questionWeight  = 0.5  // a sentence ending in a question mark is scaled by this
	minDegree       = 0.1  // bounds of a chain of degree adverbs ("very very ...")
	maxDegree       = 4.0
	maxContribution = 10.0 // bound of one word's contribution after post-degree words
	enNegWindow     = 3    // units after an English negator that it can still reach
	zhNegWindow     = 4    // units (words or single unknown characters) for Chinese
	degWindow       = 2    // units after a degree adverb that it can still reach
)

// DetectLanguage returns Chinese if the text contains any Han character, else English.
func DetectLanguage(text string) Lang {
	if isHan(text) {
		return Chinese
	}
	return English
}

// Score returns the sentiment of text in [−1, 1]: negative below zero, positive above, and
// exactly 0 for text without any sentiment word (including the empty string).
func Score(text string) float64 {
	sc := scorer{negWindow: enNegWindow}
	if DetectLanguage(text) == Chinese {
		sc.negWindow = zhNegWindow
	}
	sc.reset()
	newScanner(text, &sc).scan()
	return squash(sc.total)
}

// squash maps a summed weight to [−1, 1].
func squash(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	if math.IsInf(x, 0) {
		return math.Copysign(1, x)
	}
	return x / math.Sqrt(x*x+alpha)
}

// LabelOf returns the label of a score: Neutral inside the band (−NeutralBand, NeutralBand).
func LabelOf(score float64) Label {
	switch {
	case score >= NeutralBand:
		return Positive
	case score <= -NeutralBand:
		return Negative
	}
	return Neutral
}

// Classify returns the label of text, that is LabelOf(Score(text)).
func Classify(text string) Label {
	return LabelOf(Score(text))
}

// Mean returns the mean Score of texts, or 0 when there are none.
func Mean(texts []string) float64 {
	if len(texts) == 0 {
		return 0
	}
	sum := 0.0
	for _, t := range texts {
		sum += Score(t)
	}
	return sum / float64(len(texts))
}
