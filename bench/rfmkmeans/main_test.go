package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// oldQuintiles is the straightforward version quintiles replaced: a stable sort of the indices by value.
func oldQuintiles(v []float64, lowerBetter bool) []int8 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
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

func TestQuintilesMatchStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]float64{
		"one":   {7},
		"equal": {2, 2, 2, 2, 2, 2, 2},
		"signs": {0, math.Copysign(0, -1), -1.5, 1.5, -1e300, 1e300, 5e-324, -5e-324, 0, math.Inf(1), math.Inf(-1)},
	}
	counts := make([]float64, 5000) // few distinct values: many ties
	for i := range counts {
		counts[i] = float64(1 + r.IntN(12))
	}
	cases["counts"] = counts
	spend := make([]float64, 20000)
	for i := range spend {
		spend[i] = math.Round(r.ExpFloat64()*20000) / 100
		if i%7 == 0 {
			spend[i] = -spend[i]
		}
	}
	cases["spend"] = spend
	for name, v := range cases {
		for _, lower := range []bool{false, true} {
			if got, want := quintiles(v, lower), oldQuintiles(v, lower); !slices.Equal(got, want) {
				t.Errorf("%s lowerBetter=%v: quintiles differ from the stable sort", name, lower)
			}
		}
		want := make([]int32, len(v))
		for i := range want {
			want[i] = int32(i)
		}
		sort.SliceStable(want, func(a, b int) bool { return v[want[a]] < v[want[b]] })
		if got := rankOrder(v); !slices.Equal(got, want) {
			t.Errorf("%s: rankOrder = %v, want %v", name, got[:min(10, len(got))], want[:min(10, len(want))])
		}
	}
}

func TestSortedGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 3, 1000} {
		keys := make([]string, 0, n)
		seen := map[string]bool{}
		for len(keys) < n {
			k := "external:app:A" + strconv.Itoa(r.IntN(10*n+1))
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		got := sortedGroups(keys)
		if len(got) != n {
			t.Fatalf("n=%d: %d indices", n, len(got))
		}
		for i := 1; i < n; i++ {
			if keys[got[i-1]] >= keys[got[i]] {
				t.Fatalf("n=%d: not ascending at %d: %q then %q", n, i, keys[got[i-1]], keys[got[i]])
			}
		}
	}
}

// TestSortedGroupsTies covers keys that agree in the 8 bytes after their common prefix, keys that are
// prefixes of others, NUL bytes (which the zero padding of short keys must not confuse), and no common prefix.
func TestSortedGroupsTies(t *testing.T) {
	cases := [][]string{
		{"x"},
		{"pre:12345678a", "pre:12345678", "pre:1234567", "pre:12345678\x00", "pre:12345678\x00\x00", "pre:", "pre:0", "pre:12345678b"},
		{"b", "a", "", "ab", "a\x00", "ba"},
		{"external:app:A0000002", "external:app:Ax0224d03d24debf1c", "external:app:Ax0224d03d24debf1a", "external:app:A0000001"},
	}
	r := rand.New(rand.NewPCG(7, 8))
	var many []string
	seen := map[string]bool{}
	for len(many) < 5000 {
		b := []byte("shared-prefix/")
		for range 1 + r.IntN(12) {
			b = append(b, "\x00ab9"[r.IntN(4)])
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			many = append(many, string(b))
		}
	}
	cases = append(cases, many)
	for _, keys := range cases {
		got := sortedGroups(keys)
		want := make([]int32, len(keys))
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, func(a, b int32) int { return strings.Compare(keys[a], keys[b]) })
		if !slices.Equal(got, want) {
			t.Errorf("%q: sortedGroups = %v, want %v", keys[:min(8, len(keys))], got[:min(8, len(got))], want[:min(8, len(want))])
		}
	}
}

// TestGroupByMatchesMap compares groupBy, for several numbers of parts, with a map from subject to sums
// added in file order: with repeated subjects, and with every subject distinct (the tables grow).
func TestGroupByMatchesMap(t *testing.T) {
	for _, distinct := range []int{3000, 1 << 40} {
		testGroupBy(t, distinct)
	}
}

func testGroupBy(t *testing.T, distinct int) {
	r := rand.New(rand.NewPCG(9, 10))
	n := 20000
	subj, tss, amts := make([]string, n), make([]int64, n), make([]float64, n)
	for i := range subj {
		subj[i] = "external:app:A" + strconv.Itoa(r.IntN(distinct))
		tss[i] = r.Int64N(2e9) - 1e8 // some before 1970: the latest timestamp is at least 0
		amts[i] = math.Round(r.NormFloat64()*1e4) / 100
	}
	type acc struct {
		last   int64
		orders int
		spend  float64
	}
	want := map[string]*acc{}
	for i, s := range subj {
		a := want[s]
		if a == nil {
			a = &acc{}
			want[s] = a
		}
		a.orders++
		a.spend += amts[i]
		a.last = max(a.last, tss[i])
	}
	for _, parts := range []int{1, 2, 3, 8} {
		gr := groupBy(subj, tss, amts, parts)
		if len(gr.keys) != len(want) {
			t.Fatalf("distinct=%d parts=%d: %d groups, want %d", distinct, parts, len(gr.keys), len(want))
		}
		for g, k := range gr.keys {
			a := want[k]
			last, orders, spend := gr.at(g)
			if a == nil || last != a.last || orders != a.orders || math.Float64bits(spend) != math.Float64bits(a.spend) {
				t.Fatalf("parts=%d: group %q = (%d, %d, %v), want %+v", parts, k, last, orders, spend, a)
			}
		}
	}
}
