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
	"hash/maphash"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	gr := groupBy(subj, tss, amts, runtime.GOMAXPROCS(0))
	n := len(gr.keys)
	order := sortedGroups(gr.keys) // pandas' groupby order, so rank ties break the same way
	R, F, M := make([]float64, n), make([]float64, n), make([]float64, n)
	rfm := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			lastTS, orders, spend := gr.at(int(order[i]))
			R[i] = asOf.Sub(time.Unix(lastTS, 0)).Hours() / 24
			F[i] = float64(orders)
			M[i] = spend
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { rfm(0, n/2) })
	rfm(n/2, n)
	wg.Wait()
	var rs, fsc, ms []int8
	wg.Go(func() { rs = quintiles(R, true) })
	wg.Go(func() { fsc = quintiles(F, false) })
	ms = quintiles(M, false)
	wg.Wait()
	read := time.Since(start)
	// K-Means on standardised log1p(R, F, M); the rows share one backing array, filled half by half at once.
	flat := make([]float64, 3*n)
	x := make([][]float64, n)
	fill := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := flat[3*i : 3*i+3 : 3*i+3]
			r[0], r[1], r[2] = math.Log1p(R[i]), math.Log1p(F[i]), math.Log1p(M[i])
			x[i] = r
		}
	}
	wg.Go(func() { fill(0, n/2) })
	fill(n/2, n)
	wg.Wait()
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

// groups holds the distinct subjects: keys, and the tables of groupBy's parts, whose groups are numbered on
// from part to part.
type groups struct {
	keys  []string
	parts []groupTable
}

// at returns the latest timestamp (at least 0), number of orders and spend of group g.
func (gr *groups) at(g int) (lastTS int64, orders int, spend float64) {
	p := 0
	for g >= len(gr.parts[p].first) {
		g -= len(gr.parts[p].first)
		p++
	}
	t := &gr.parts[p]
	return t.lastTS[g], int(t.orders[g]), t.spend[g]
}

// groupBy groups the rows by subject. Every subject is hashed once; the groups are split by hash between
// parts goroutines, each of which owns an open-addressing table for its share and scans the rows in file
// order, so a group's spend is summed in file order whatever the split. The groups come out part by part,
// each part's in order of first appearance.
func groupBy(subj []string, tss []int64, amts []float64, parts int) groups {
	parts = max(1, parts)
	hashes := make([]uint64, len(subj))
	seed := maphash.MakeSeed()
	var wg sync.WaitGroup
	step := (len(subj) + parts - 1) / parts
	for lo := 0; lo < len(subj); lo += step {
		hi := min(len(subj), lo+step)
		wg.Go(func() {
			for i, s := range subj[lo:hi] {
				hashes[lo+i] = maphash.String(seed, s)
			}
		})
	}
	wg.Wait()
	gr := groups{parts: make([]groupTable, parts)}
	for p := range gr.parts {
		wg.Go(func() {
			part := func(h uint64) bool { return int((h>>32)*uint64(parts)>>32) == p }
			rows := 0
			for _, h := range hashes {
				rows += b2i(part(h))
			}
			t := &gr.parts[p]
			t.init(seed, rows)
			for i, h := range hashes {
				if part(h) {
					t.add(h, int32(i), subj, tss[i], amts[i])
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for p := range gr.parts {
		total += len(gr.parts[p].first)
	}
	gr.keys = make([]string, 0, total)
	for p := range gr.parts {
		for _, i := range gr.parts[p].first {
			gr.keys = append(gr.keys, subj[i])
		}
	}
	return gr
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// groupTable is an open-addressing (linear probing) hash table from subject to group, with the groups'
// accumulators. A group is known by the row of its first appearance, so the table holds no pointers.
type groupTable struct {
	seed   maphash.Seed
	slots  []uint64 // high 32 bits of the hash, low 32 bits group+1; 0 is empty
	first  []int32  // per group, its first row
	lastTS []int64
	orders []int32
	spend  []float64
}

// init sizes the table for rows rows, expecting about half as many groups (it grows if there are more).
func (t *groupTable) init(seed maphash.Seed, rows int) {
	size := 16
	for size < rows/2 {
		size *= 2
	}
	t.seed, t.slots = seed, make([]uint64, size)
	c := rows/2 + 16
	t.first, t.lastTS, t.orders, t.spend = make([]int32, 0, c), make([]int64, 0, c), make([]int32, 0, c), make([]float64, 0, c)
}

// add adds row i (subject subj[i], hash h) to its group, creating the group on its first row.
func (t *groupTable) add(h uint64, i int32, subj []string, ts int64, amt float64) {
	const low = 1<<32 - 1
	mask := uint64(len(t.slots) - 1)
	tag := h &^ low
	key := subj[i]
	for j := h & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			g := len(t.first)
			t.slots[j] = tag | uint64(g+1)
			t.first = append(t.first, i)
			t.lastTS, t.orders, t.spend = append(t.lastTS, 0), append(t.orders, 0), append(t.spend, 0)
			t.accumulate(g, ts, amt)
			if 4*len(t.first) > 3*len(t.slots) {
				t.grow(subj)
			}
			return
		}
		if s&^low == tag {
			if g := int(s&low) - 1; subj[t.first[g]] == key {
				t.accumulate(g, ts, amt)
				return
			}
		}
	}
}

func (t *groupTable) accumulate(g int, ts int64, amt float64) {
	t.orders[g]++
	t.spend[g] += amt
	t.lastTS[g] = max(t.lastTS[g], ts)
}

// grow doubles the slots, hashing the groups' subjects again.
func (t *groupTable) grow(subj []string) {
	const low = 1<<32 - 1
	t.slots = make([]uint64, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for g, i := range t.first {
		h := maphash.String(t.seed, subj[i])
		j := h & mask
		for t.slots[j] != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = h&^low | uint64(g+1)
	}
}

// sortedGroups returns the group indices of keys (distinct strings) in ascending key order.
func sortedGroups(keys []string) []int32 {
	idx := make([]int32, len(keys))
	for i := range idx {
		idx[i] = int32(i)
	}
	sortKeys(keys, idx, 0, make([]uint64, len(keys)), make([]int32, len(keys)), make([]int32, len(keys)), runtime.GOMAXPROCS(0))
	return idx
}

// sortKeys sorts idx by keys[idx[i]], distinct strings that agree in their first depth bytes and are at
// least that long: a most-significant-digit radix sort, 7 bytes at a time past the prefix the keys share.
// Each key's digit is those 7 bytes (zero-padded) followed by a byte holding how many bytes the key has left,
// at most 8, so that a key sorts before the longer keys it is a prefix of; keys with equal digits both have
// at least 8 bytes left and are sorted further from 7 bytes on. digits, a and b are scratch, as long as idx.
// Runs of equal digits are sorted by par goroutines at once (each run in its own part of idx and the scratch).
func sortKeys(keys []string, idx []int32, depth int, digits []uint64, a, b []int32, par int) {
	if len(idx) <= 32 {
		slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(keys[a], keys[b]) })
		return
	}
	first := keys[idx[0]]
	end := len(first) // the keys agree in their first end bytes
	for _, i := range idx[1:] {
		k := keys[i]
		end = min(end, len(k))
		if k[depth:end] != first[depth:end] {
			m := depth
			for k[m] == first[m] {
				m++
			}
			end = m
		}
	}
	depth = end
	for j, i := range idx {
		digits[j] = digit(keys[i], depth)
	}
	perm := radixOrder(digits, a, b)
	sorted := a
	if &perm[0] == &a[0] {
		sorted = b
	}
	for j, p := range perm {
		sorted[j] = idx[p]
	}
	copy(idx, sorted)
	// The runs of equal digits, found before sorting any of them reuses the scratch.
	var runs [][2]int
	for lo := 0; lo < len(perm); {
		hi := lo + 1
		for hi < len(perm) && digits[perm[hi]] == digits[perm[lo]] {
			hi++
		}
		if hi-lo > 1 {
			runs = append(runs, [2]int{lo, hi})
		}
		lo = hi
	}
	if par <= 1 {
		for _, r := range runs {
			lo, hi := r[0], r[1]
			sortKeys(keys, idx[lo:hi], depth+7, digits[lo:hi], a[lo:hi], b[lo:hi], 1)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(par, len(runs)) {
		wg.Go(func() {
			for r := next.Add(1) - 1; r < int64(len(runs)); r = next.Add(1) - 1 {
				lo, hi := runs[r][0], runs[r][1]
				sortKeys(keys, idx[lo:hi], depth+7, digits[lo:hi], a[lo:hi], b[lo:hi], 1)
			}
		})
	}
	wg.Wait()
}

// digit is sortKeys' digit of k at depth: 7 bytes big-endian (zero-padded), then min(bytes left, 8).
func digit(k string, depth int) uint64 {
	k = k[depth:]
	if len(k) >= 8 {
		return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | 8
	}
	v := uint64(len(k))
	for i := range len(k) {
		v |= uint64(k[i]) << (56 - 8*i)
	}
	return v
}

// quintiles scores values 1–5 by rank (ties by order of appearance); lowerBetter flips the scale. The ranks
// come from a stable least-significant-digit radix sort of the values' order-preserving bit patterns.
func quintiles(v []float64, lowerBetter bool) []int8 {
	idx := rankOrder(v)
	out := make([]int8, len(v))
	for rank, i := range idx {
		q := 1 + rank*5/len(v)
		if lowerBetter {
			q = 6 - q
		}
		out[i] = int8(q)
	}
	return out
}

// rankOrder returns the indices of v in ascending order of value, equal values in index order (what a stable
// sort with < gives). NaNs are not expected.
func rankOrder(v []float64) []int32 {
	keys := make([]uint64, len(v))
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
	}
	return radixOrder(keys, make([]int32, len(v)), make([]int32, len(v)))
}

// radixOrder returns the indices of keys in ascending order, equal keys in index order: a stable
// least-significant-digit radix sort, skipping the digits in which all keys agree. The result is a or b (both
// as long as keys), the other is overwritten.
func radixOrder(keys []uint64, a, b []int32) []int32 {
	const bits, buckets = 11, 1 << 11
	const passes = (64 + bits - 1) / bits
	var hist [passes][buckets]int
	for _, b := range keys {
		for p := range passes {
			hist[p][(b>>(p*bits))&(buckets-1)]++
		}
	}
	idx, tmp := a[:len(keys)], b[:len(keys)]
	for i := range idx {
		idx[i] = int32(i)
	}
	for p := range passes {
		h := &hist[p]
		if len(keys) == 0 || h[(keys[0]>>(p*bits))&(buckets-1)] == len(keys) {
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
