package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/profilevault/profilevault/internal/profiling/sentiment"
)

// sentimentStdin is where `vaultd sentiment score` reads when no file is given; tests replace it.
var sentimentStdin io.Reader = os.Stdin

const sentimentUsage = `usage: vaultd sentiment score [--explain] [FILE]

Scores texts with the sentiment model of the attitude.sentiment tag. Input (FILE, or standard
input): one text a line, or label<TAB>id<TAB>text lines with label pos, neu or neg. Output, one
line per input line: id<TAB>label<TAB>score, label pos, neu or neg, score in [-1, 1]; the id of
an unlabelled line is its line number (from 1). With --explain a fourth column lists the phrases
that moved the score with their signed weights. For labelled lines, accuracy (a neu answer to a
pos or neg line is wrong), per-class precision and recall and the neutral share go to stderr.`

func cmdSentiment(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "score" {
		fmt.Fprintln(stderr, sentimentUsage)
		return exitError{code: 2}
	}
	fs := flag.NewFlagSet("sentiment score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, sentimentUsage) }
	explain := fs.Bool("explain", false, "add a column with the phrases that moved each score")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return exitError{code: 0}
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 1 {
		return exitError{code: 2, msg: fmt.Sprintf("vaultd sentiment score: unexpected argument %q", fs.Arg(1))}
	}
	in := sentimentStdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush() // what was scored before an error is kept
	var tally sentimentTally
	var odd []int // lines with tabs that are not label<TAB>id<TAB>text
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), maxSentimentLine)
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		gold, id, text := parseSentimentLine(line, n)
		if gold == "" && strings.Contains(line, "\t") {
			odd = append(odd, n)
		}
		var score float64
		var phrases []sentiment.Contribution
		if *explain {
			ex := sentiment.Explain(text)
			score, phrases = ex.Score, ex.Phrases
		} else {
			score = sentiment.Score(text)
		}
		got := sentiment.LabelOf(score)
		fmt.Fprintf(out, "%s\t%s\t%s", id, got, strconv.FormatFloat(score, 'f', 4, 64))
		if *explain {
			out.WriteByte('\t')
			for i, p := range phrases {
				if i > 0 {
					out.WriteByte(' ')
				}
				fmt.Fprintf(out, "%s:%+.2f", strings.Join(strings.Fields(p.Phrase), "_"), p.Weight)
			}
		}
		out.WriteByte('\n')
		if gold != "" {
			tally.add(gold, got)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("longer than %d MiB", maxSentimentLine>>20)
		}
		return fmt.Errorf("sentiment score: line %d: %w (the lines before it were scored)", n, err)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if tally.n > 0 && len(odd) > 0 {
		// Labelled input with lines that are not: they were scored as texts and count for no accuracy.
		first := odd[:min(len(odd), 5)]
		fmt.Fprintf(stderr, "warning: %d lines with tabs are not label<TAB>id<TAB>text with label pos, neu or neg (lines %s%s): scored as texts, not counted in the accuracy\n",
			len(odd), strings.Trim(strings.Join(strings.Fields(fmt.Sprint(first)), ", "), "[]"), map[bool]string{true: ", …"}[len(odd) > len(first)])
	}
	if tally.n > 0 {
		tally.report(stderr)
	}
	return nil
}

// maxSentimentLine bounds one input line of vaultd sentiment score.
const maxSentimentLine = 16 << 20

// parseSentimentLine splits "label<TAB>id<TAB>text" (label pos, neu or neg in any case, or positive,
// neutral, negative); any other line is an unlabelled text whose id is its line number.
func parseSentimentLine(line string, n int) (gold sentiment.Label, id, text string) {
	if label, rest, ok := strings.Cut(line, "\t"); ok {
		if id, text, ok := strings.Cut(rest, "\t"); ok && strings.TrimSpace(id) != "" {
			switch strings.ToLower(strings.TrimSpace(label)) {
			case "pos", "positive":
				return sentiment.Positive, id, text
			case "neu", "neutral":
				return sentiment.Neutral, id, text
			case "neg", "negative":
				return sentiment.Negative, id, text
			}
		}
	}
	return "", strconv.Itoa(n), line
}

// sentimentTally counts gold labels against answers.
type sentimentTally struct {
	n, correct int
	confusion  map[[2]sentiment.Label]int // [gold, answer]
}

func (t *sentimentTally) add(gold, got sentiment.Label) {
	if t.confusion == nil {
		t.confusion = map[[2]sentiment.Label]int{}
	}
	t.n++
	if gold == got {
		t.correct++
	}
	t.confusion[[2]sentiment.Label{gold, got}]++
}

var sentimentLabels = []sentiment.Label{sentiment.Positive, sentiment.Neutral, sentiment.Negative}

// report writes accuracy, per-class precision and recall, and the neutral share.
func (t *sentimentTally) report(w io.Writer) {
	fmt.Fprintf(w, "labelled lines: %d\n", t.n)
	fmt.Fprintf(w, "accuracy: %.4f (%d/%d; neu on a pos or neg line counts as wrong)\n", float64(t.correct)/float64(t.n), t.correct, t.n)
	polar, polarNeu, answeredNeu := 0, 0, 0
	for _, l := range sentimentLabels {
		gold, answered := 0, 0
		for _, m := range sentimentLabels {
			gold += t.confusion[[2]sentiment.Label{l, m}]
			answered += t.confusion[[2]sentiment.Label{m, l}]
		}
		if gold == 0 && answered == 0 {
			continue
		}
		hit := t.confusion[[2]sentiment.Label{l, l}]
		fmt.Fprintf(w, "%s: precision %s recall %s (labelled %d, answered %d)\n", l, ratio(hit, answered), ratio(hit, gold), gold, answered)
		if l != sentiment.Neutral {
			polar += gold
			polarNeu += t.confusion[[2]sentiment.Label{l, sentiment.Neutral}]
		} else {
			answeredNeu = answered
		}
	}
	fmt.Fprintf(w, "neutral share: %.4f of all answers (%d/%d)", float64(answeredNeu)/float64(t.n), answeredNeu, t.n)
	if polar > 0 {
		fmt.Fprintf(w, ", %.4f of pos and neg lines (%d/%d)", float64(polarNeu)/float64(polar), polarNeu, polar)
	}
	fmt.Fprintln(w)
}

// ratio formats a/b with four decimals, or "-" when b is 0.
func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 4, 64)
}
