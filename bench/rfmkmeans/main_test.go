package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
)

// oldQuintiles is the straightforward version quintiles replaced: a stable sort of the indices by value.
func oldQuintiles(v []float64, lowerBetter bool) []int {
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
