// Command rfmkmeans is one side of a like-for-like benchmark against pandas and scikit-learn
// (bench/rfm_kmeans.py): RFM scoring (recency, frequency, monetary per subject; quintile scores 1–5) and
// K-Means on standardised log1p(R, F, M) with k = 5 and 4 k-means++ restarts, over the orders of the
// synthetic shop. "gen" writes the orders as CSV (subject,ts_unix,amount) once; "run" times the Go side on
// that file. bench/rfm_compare.sh runs both and prints the ratio.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/cluster"
	"github.com/profilevault/profilevault/internal/synth"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rfmkmeans gen --subjects N --out orders.csv | rfmkmeans run --in orders.csv")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	subjects := fs.Int("subjects", 100_000, "gen: synthetic subjects")
	out := fs.String("out", "orders.csv", "gen: output CSV")
	in := fs.String("in", "orders.csv", "run: input CSV")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(*subjects, *out)
	case "run":
		err = run(*in)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rfmkmeans:", err)
		os.Exit(1)
	}
}

// asOf is the reference date of the shop and of recency.
var asOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func gen(n int, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "subject,ts,amount")
	rows := 0
	err = synth.StreamEvents(synth.Options{Seed: 1, Subjects: n, Now: asOf}, func(e synth.Event) error {
		if e.Type != "order" && e.Type != "pos_purchase" {
			return nil
		}
		num, ok := e.Attrs["amount"].(json.Number)
		if !ok {
			return nil
		}
		amt, err := num.Float64()
		if err != nil {
			return nil
		}
		rows++
		_, err = fmt.Fprintf(w, "%s,%d,%.2f\n", e.SubjectRef, e.TS.Unix(), amt)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "orders: %d\n", rows)
	return w.Flush()
}

type rfm struct {
	last   int64
	orders int
	spend  float64
}

func run(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return err
	}
	// The file is parsed before the clock starts, as pandas.read_csv is on the Python side.
	var subj []string
	var tss []int64
	var amts []float64
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		ts, _ := strconv.ParseInt(rec[1], 10, 64)
		amt, _ := strconv.ParseFloat(rec[2], 64)
		subj, tss, amts = append(subj, string([]byte(rec[0]))), append(tss, ts), append(amts, amt)
	}
	start := time.Now()
	// RFM per subject.
	bySubject := map[string]*rfm{}
	for i, sub := range subj {
		x := bySubject[sub]
		if x == nil {
			x = &rfm{}
			bySubject[sub] = x
		}
		x.orders++
		x.spend += amts[i]
		x.last = max(x.last, tss[i])
	}
	n := len(bySubject)
	R, F, M := make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
	keys := make([]string, 0, n)
	for k := range bySubject {
		keys = append(keys, k)
	}
	sort.Strings(keys) // pandas' groupby order, so rank ties break the same way
	for _, k := range keys {
		x := bySubject[k]
		R = append(R, asOf.Sub(time.Unix(x.last, 0)).Hours()/24)
		F = append(F, float64(x.orders))
		M = append(M, x.spend)
	}
	rs, fsc, ms := quintiles(R, true), quintiles(F, false), quintiles(M, false)
	read := time.Since(start)
	// K-Means on standardised log1p(R, F, M).
	x := make([][]float64, n)
	for i := range x {
		x[i] = []float64{math.Log1p(R[i]), math.Log1p(F[i]), math.Log1p(M[i])}
	}
	z, _, _ := cluster.Standardize(x)
	kstart := time.Now()
	model, err := cluster.KMeans(z, 5, rand.New(rand.NewPCG(1, 1)), cluster.Options{Restarts: 4})
	if err != nil {
		return err
	}
	total := time.Since(start)
	champions := 0
	for i := range rs {
		if rs[i] >= 4 && fsc[i] >= 4 && ms[i] >= 4 {
			champions++
		}
	}
	fmt.Printf("go subjects=%d rfm_s=%.3f kmeans_s=%.3f total_s=%.3f inertia=%.1f high_rfm=%d\n",
		n, read.Seconds(), time.Since(kstart).Seconds(), total.Seconds(), model.Inertia, champions)
	return nil
}

// quintiles scores values 1–5 by rank (ties by order of appearance); lowerBetter flips the scale.
func quintiles(v []float64, lowerBetter bool) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	out := make([]int, len(v))
	for rank, i := range idx {
		q := 1 + rank*5/len(v)
		if lowerBetter {
			q = 6 - q
		}
		out[i] = q
	}
	return out
}
