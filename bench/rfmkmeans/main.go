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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	cpuprofile := fs.String("cpuprofile", "", "run: write a CPU profile of the timed part to this file")
	repeat := fs.Int("repeat", 1, "run: repeat the timed part this many times (for profiling; the last run is printed)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(*subjects, *out)
	case "run":
		err = run(*in, *cpuprofile, *repeat)
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

func run(path, cpuprofile string, repeat int) error {
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
	if cpuprofile != "" {
		pf, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for r := 1; r < repeat; r++ {
		if _, err := compute(subj, tss, amts); err != nil {
			return err
		}
	}
	line, err := compute(subj, tss, amts)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// compute is the timed part: RFM scoring and K-Means from the parsed columns; it returns the result line.
func compute(subj []string, tss []int64, amts []float64) (string, error) {
	start := time.Now()
	// RFM per subject: one group index per subject and flat accumulators, no allocation per subject.
	ids := make(map[string]int32, len(subj)/2)
	var keys []string
	var lastTS []int64
	var orders []int
	var spend []float64
	for i, sub := range subj {
		g, ok := ids[sub]
		if !ok {
			g = int32(len(keys))
			ids[sub] = g
			keys, lastTS, orders, spend = append(keys, sub), append(lastTS, 0), append(orders, 0), append(spend, 0)
		}
		orders[g]++
		spend[g] += amts[i]
		lastTS[g] = max(lastTS[g], tss[i])
	}
	n := len(keys)
	order := sortedGroups(keys) // pandas' groupby order, so rank ties break the same way
	R, F, M := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, g := range order {
		R[i] = asOf.Sub(time.Unix(lastTS[g], 0)).Hours() / 24
		F[i] = float64(orders[g])
		M[i] = spend[g]
	}
	var rs, fsc, ms []int
	var wg sync.WaitGroup
	wg.Go(func() { rs = quintiles(R, true) })
	wg.Go(func() { fsc = quintiles(F, false) })
	ms = quintiles(M, false)
	wg.Wait()
	read := time.Since(start)
	// K-Means on standardised log1p(R, F, M); the rows share one backing array.
	flat := make([]float64, 3*n)
	x := make([][]float64, n)
	for i := range x {
		r := flat[3*i : 3*i+3 : 3*i+3]
		r[0], r[1], r[2] = math.Log1p(R[i]), math.Log1p(F[i]), math.Log1p(M[i])
		x[i] = r
	}
	z, _, _ := cluster.Standardize(x)
	kstart := time.Now()
	model, err := cluster.KMeans(z, 5, rand.New(rand.NewPCG(1, 1)), cluster.Options{Restarts: 4})
	if err != nil {
		return "", err
	}
	total := time.Since(start)
	champions := 0
	for i := range rs {
		if rs[i] >= 4 && fsc[i] >= 4 && ms[i] >= 4 {
			champions++
		}
	}
	return fmt.Sprintf("go subjects=%d rfm_s=%.3f kmeans_s=%.3f total_s=%.3f inertia=%.1f high_rfm=%d",
		n, read.Seconds(), time.Since(kstart).Seconds(), total.Seconds(), model.Inertia, champions), nil
}

// sortedGroups returns the group indices of keys (distinct strings) in ascending key order. The two halves
// are sorted concurrently and merged.
func sortedGroups(keys []string) []int32 {
	type kv struct {
		key string
		g   int32
	}
	all := make([]kv, len(keys))
	for i, k := range keys {
		all[i] = kv{k, int32(i)}
	}
	cmpKV := func(a, b kv) int { return strings.Compare(a.key, b.key) }
	lo, hi := all[:len(all)/2], all[len(all)/2:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(lo, cmpKV) })
	slices.SortFunc(hi, cmpKV)
	wg.Wait()
	out := make([]int32, 0, len(keys))
	i, j := 0, 0
	for i < len(lo) && j < len(hi) {
		if lo[i].key < hi[j].key {
			out = append(out, lo[i].g)
			i++
		} else {
			out = append(out, hi[j].g)
			j++
		}
	}
	for ; i < len(lo); i++ {
		out = append(out, lo[i].g)
	}
	for ; j < len(hi); j++ {
		out = append(out, hi[j].g)
	}
	return out
}

// quintiles scores values 1–5 by rank (ties by order of appearance); lowerBetter flips the scale. The ranks
// come from a stable least-significant-digit radix sort of the values' order-preserving bit patterns.
func quintiles(v []float64, lowerBetter bool) []int {
	idx := rankOrder(v)
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

// rankOrder returns the indices of v in ascending order of value, equal values in index order (what a stable
// sort with < gives). NaNs are not expected.
func rankOrder(v []float64) []int32 {
	const bits, buckets = 11, 1 << 11
	const passes = (64 + bits - 1) / bits
	keys := make([]uint64, len(v))
	var hist [passes][buckets]int
	for i, x := range v {
		if x == 0 {
			x = 0 // -0 sorts with +0
		}
		b := math.Float64bits(x)
		if b>>63 != 0 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		keys[i] = b
		for p := range passes {
			hist[p][(b>>(p*bits))&(buckets-1)]++
		}
	}
	idx, tmp := make([]int32, len(v)), make([]int32, len(v))
	for i := range idx {
		idx[i] = int32(i)
	}
	for p := range passes {
		h := &hist[p]
		if h[(keys[0]>>(p*bits))&(buckets-1)] == len(v) {
			continue // every key has the same digit here
		}
		sum := 0
		for b, c := range h {
			h[b] = sum
			sum += c
		}
		shift := p * bits
		for _, i := range idx {
			b := (keys[i] >> shift) & (buckets - 1)
			tmp[h[b]] = i
			h[b]++
		}
		idx, tmp = tmp, idx
	}
	return idx
}
