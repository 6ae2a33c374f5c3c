package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/profilevault/profilevault/internal/profiling/sentiment"
)

// English data: the four sets of human-rated snippets published with VADER (MIT, see
// ../DATA.md), each line id<TAB>mean rating on −4..+4<TAB>text.
const (
	// trainPolar: a training snippet is positive at a mean of at least this, negative at
	// most its negative; the rest are left out.
	trainPolar = 0.5
	// clearlyPolar: an Amazon snippet of the tuning or test half counts at this mean or
	// beyond (as in DATA.md's evaluation).
	clearlyPolar = 1.0
)

// runEnglish fits the English model: trained on the movie-review, tweet and editorial
// snippets and the odd-numbered Amazon reviews' snippets, the grid and neutral band chosen
// on those Amazon snippets with a model that has not seen them, tested on the even-numbered
// reviews' snippets (written to heldout).
func runEnglish(dir, out, heldout string, quick bool, log io.Writer) error {
	extract = sentiment.TrainingFeaturesEnglish
	var trn, val, test []example
	for _, name := range []string{"movieReviewSnippets_GroundTruth.txt", "tweets_GroundTruth.txt", "nytEditorialSnippets_GroundTruth.txt"} {
		rows, err := readRatings(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		n := len(trn)
		for _, r := range rows {
			if r.mean >= trainPolar || r.mean <= -trainPolar {
				trn = append(trn, example{r.text, r.mean > 0})
			}
		}
		fmt.Fprintf(log, "%s: %d snippets, %d with |mean| ≥ %g\n", name, len(rows), len(trn)-n, trainPolar)
	}
	rows, err := readRatings(filepath.Join(dir, "amazonReviewSnippets_GroundTruth.txt"))
	if err != nil {
		return err
	}
	for _, r := range rows {
		review, _, _ := strings.Cut(r.id, "_")
		k, err := strconv.Atoi(review)
		if err != nil {
			return fmt.Errorf("amazon snippet id %q", r.id)
		}
		if r.mean < clearlyPolar && r.mean > -clearlyPolar {
			continue
		}
		if k%2 == 1 {
			val = append(val, example{r.text, r.mean > 0})
		} else {
			test = append(test, example{r.text, r.mean > 0})
		}
	}
	// Sorted, then shuffled with the fixed seed: the fit does not depend on file order.
	for _, set := range [][]example{trn, val} {
		sort.Slice(set, func(i, j int) bool { return set[i].text < set[j].text })
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
	}
	fmt.Fprintf(log, "split: train %d (movie, tweet and editorial snippets), validation %d (odd Amazon reviews), test %d (even Amazon reviews), clearly polar\n", len(trn), len(val), len(test))
	header := fmt.Sprintf("# English sentiment model, written by internal/profiling/sentiment/train; see DATA.md.\n# Data: VADER's rated snippets (MIT, Copyright (c) 2016 C.J. Hutto): %d training, %d validation snippets.\n", len(trn), len(val))
	return fitting{grid: enGrid(), quickCfg: enQuick, out: out, heldout: heldout, prefix: "vader-amazon", header: header,
		quick: quick}.train(trn, val, test, log)
}

// enGrid is the English model's grid (words only: maxN does not apply), and enQuick its
// configuration under -quick.
func enGrid() []config {
	var grid []config
	for _, contrast := range []bool{false, true} {
		for _, l2 := range []float64{0.1, 0.3, 1, 3} {
			grid = append(grid, config{l2: l2, maxN: 1, negate: true, lexicon: true, backbone: true, contrast: contrast})
		}
	}
	return grid
}

var enQuick = config{l2: 0.1, maxN: 1, negate: true, lexicon: true, backbone: true}

// rating is one rated snippet.
type rating struct {
	id   string
	mean float64
	text string
}

// readRatings reads an id<TAB>mean<TAB>text file.
func readRatings(path string) ([]rating, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []rating
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		p := strings.SplitN(line, "\t", 3)
		if len(p) != 3 {
			return nil, fmt.Errorf("%s:%d: want id<TAB>mean<TAB>text", path, n)
		}
		mean, err := strconv.ParseFloat(p[1], 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, rating{p[0], mean, strings.Join(strings.Fields(p[2]), " ")})
	}
	return out, sc.Err()
}
