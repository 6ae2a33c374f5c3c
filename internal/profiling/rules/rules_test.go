package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// bruteForceItemsets counts every subset (of at most maxLen items, ≤ 0 for
// unlimited) of every basket's distinct items and keeps those with
// count/len(baskets) ≥ minSupport. It is the reference for FrequentItemsets.
func bruteForceItemsets(t *testing.T, baskets [][]string, minSupport float64, maxLen int) []Itemset {
	t.Helper()
	counts := map[string]int{}
	for _, b := range baskets {
		items := slices.Clone(b)
		slices.Sort(items)
		items = slices.Compact(items)
		if len(items) > 20 {
			t.Fatalf("brute force: basket too large (%d items)", len(items))
		}
		for mask := 1; mask < 1<<len(items); mask++ {
			var sub []string
			for i, it := range items {
				if mask&(1<<i) != 0 {
					sub = append(sub, it)
				}
			}
			if maxLen > 0 && len(sub) > maxLen {
				continue
			}
			counts[strings.Join(sub, "\x00")]++
		}
	}
	var out []Itemset
	n := float64(len(baskets))
	for k, c := range counts {
		if float64(c)/n >= minSupport {
			out = append(out, Itemset{Items: strings.Split(k, "\x00"), Count: c, Support: float64(c) / n})
		}
	}
	slices.SortFunc(out, func(a, b Itemset) int {
		if len(a.Items) != len(b.Items) {
			return len(a.Items) - len(b.Items)
		}
		return slices.Compare(a.Items, b.Items)
	})
	return out
}

// bruteForceRules derives rules from brute-force itemsets with the textbook
// formulas, keyed by "antecedent→consequent".
func bruteForceRules(t *testing.T, sets []Itemset, n int, minConf, minLift float64) map[string]Rule {
	t.Helper()
	count := map[string]int{}
	for _, s := range sets {
		count[strings.Join(s.Items, ",")] = s.Count
	}
	out := map[string]Rule{}
	nf := float64(n)
	for _, s := range sets {
		k := len(s.Items)
		for mask := 1; mask < 1<<k-1; mask++ {
			var x, y []string
			for i, it := range s.Items {
				if mask&(1<<i) != 0 {
					x = append(x, it)
				} else {
					y = append(y, it)
				}
			}
			cx, okx := count[strings.Join(x, ",")]
			cy, oky := count[strings.Join(y, ",")]
			if !okx || !oky {
				t.Fatalf("brute force: subset of frequent itemset %v not frequent", s.Items)
			}
			sxy, sx, sy := float64(s.Count)/nf, float64(cx)/nf, float64(cy)/nf
			conf := sxy / sx
			lift := conf / sy
			// Thresholds apply to the correctly rounded metric (as for
			// support), so a confidence of exactly 21/105 passes 0.2.
			exactConf, _ := big.NewRat(int64(s.Count), int64(cx)).Float64()
			exactLift, _ := big.NewRat(int64(s.Count)*int64(n), int64(cx)*int64(cy)).Float64()
			if exactConf < minConf || (minLift > 0 && exactLift < minLift) {
				continue
			}
			conv := (1 - sy) / (1 - conf)
			if s.Count == cx {
				conv = math.Inf(1)
			}
			out[ruleKey(x, y)] = Rule{
				Antecedent: x, Consequent: y,
				Support: sxy, Confidence: conf, Lift: lift,
				Leverage: sxy - sx*sy, Conviction: conv, Count: s.Count,
			}
		}
	}
	return out
}

func ruleKey(x, y []string) string {
	return strings.Join(x, ",") + "→" + strings.Join(y, ",")
}

func approxEqual(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func checkRule(t *testing.T, got, want Rule) {
	t.Helper()
	name := ruleKey(want.Antecedent, want.Consequent)
	if !slices.Equal(got.Antecedent, want.Antecedent) || !slices.Equal(got.Consequent, want.Consequent) {
		t.Errorf("rule %s: got items %v→%v", name, got.Antecedent, got.Consequent)
	}
	if got.Count != want.Count {
		t.Errorf("rule %s: Count = %d, want %d", name, got.Count, want.Count)
	}
	for _, m := range []struct {
		metric    string
		got, want float64
	}{
		{"Support", got.Support, want.Support},
		{"Confidence", got.Confidence, want.Confidence},
		{"Lift", got.Lift, want.Lift},
		{"Leverage", got.Leverage, want.Leverage},
	} {
		if !approxEqual(m.got, m.want) {
			t.Errorf("rule %s: %s = %.15g, want %.15g", name, m.metric, m.got, m.want)
		}
	}
	if math.IsInf(want.Conviction, 1) {
		if got.Conviction != InfiniteConviction {
			t.Errorf("rule %s: Conviction = %g, want InfiniteConviction", name, got.Conviction)
		}
	} else if !approxEqual(got.Conviction, want.Conviction) {
		t.Errorf("rule %s: Conviction = %.15g, want %.15g", name, got.Conviction, want.Conviction)
	}
}

// randomBaskets draws n baskets over nItems items; item i is included with
// its own probability, and some items are listed twice.
func randomBaskets(t *testing.T, seed uint64, n, nItems int) [][]string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	probs := make([]float64, nItems)
	for i := range probs {
		probs[i] = 0.05 + 0.6*r.Float64()
	}
	out := make([][]string, n)
	for b := range out {
		var basket []string
		for i, p := range probs {
			if r.Float64() < p {
				item := fmt.Sprintf("cat%d", i)
				basket = append(basket, item)
				if r.IntN(10) == 0 {
					basket = append(basket, item)
				}
			}
		}
		r.Shuffle(len(basket), func(i, j int) { basket[i], basket[j] = basket[j], basket[i] })
		out[b] = basket
	}
	return out
}

func TestFrequentItemsetsMatchBruteForce(t *testing.T) {
	tests := []struct {
		seed       uint64
		minSupport float64
		maxLen     int
	}{
		{1, 0.01, 3}, {1, 0.05, 0}, {1, 0.3, 8},
		{2, 0.07, 2}, {2, 0.1, 4}, {2, 0, 0},
		{3, 0.02, 1}, {3, 0.15, 3}, {3, 0.5, 0},
		{4, 0.005, 5}, {4, 0.2, 3}, {5, 0.035, 0}, {5, 1, 3},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("seed%d_sup%g_len%d", tc.seed, tc.minSupport, tc.maxLen), func(t *testing.T) {
			baskets := randomBaskets(t, tc.seed, 200, 8)
			got := FrequentItemsets(baskets, tc.minSupport, tc.maxLen)
			want := bruteForceItemsets(t, baskets, tc.minSupport, tc.maxLen)
			if len(got) != len(want) {
				t.Fatalf("got %d itemsets, want %d", len(got), len(want))
			}
			for i := range want {
				if !slices.Equal(got[i].Items, want[i].Items) || got[i].Count != want[i].Count || got[i].Support != want[i].Support {
					t.Errorf("itemset %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestMineMatchesBruteForce(t *testing.T) {
	tests := []struct {
		seed uint64
		opts Options
	}{
		{1, Options{}},
		{1, Options{MinSupport: 0.05, MaxLen: 4, MinConfidence: 0.5}},
		{2, Options{MinSupport: 0.1, MaxLen: 2, MinConfidence: 0.01}},
		{2, Options{MinSupport: 0.02, MaxLen: 5, MinConfidence: 0.3, MinLift: 1.05}},
		{3, Options{MinSupport: 0.2, MaxLen: 8, MinConfidence: 1}},
		{4, Options{MinSupport: 0.03, MaxLen: 3, MinConfidence: 0.2, MinLift: 0.9}},
		{5, Options{MinSupport: 0.005, MaxLen: 6, MinConfidence: 0.05}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("seed%d_%+v", tc.seed, tc.opts), func(t *testing.T) {
			baskets := randomBaskets(t, tc.seed, 200, 8)
			o, err := tc.opts.normalize()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Mine(baskets, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			sets := bruteForceItemsets(t, baskets, o.MinSupport, o.MaxLen)
			want := bruteForceRules(t, sets, len(baskets), o.MinConfidence, o.MinLift)
			if len(got) != len(want) {
				t.Fatalf("got %d rules, want %d", len(got), len(want))
			}
			for i, r := range got {
				w, ok := want[ruleKey(r.Antecedent, r.Consequent)]
				if !ok {
					t.Errorf("unexpected rule %s", ruleKey(r.Antecedent, r.Consequent))
					continue
				}
				checkRule(t, r, w)
				if i > 0 && compareRules(got[i-1], r) >= 0 {
					t.Errorf("rules %d and %d out of order", i-1, i)
				}
			}
		})
	}
}

// injectedBaskets generates baskets where "formula" appears with probability
// pF and "diapers" with probability pDGivenF when formula is present and
// pDGivenNotF otherwise, plus 1–3 Zipf-distributed noise categories.
func injectedBaskets(t *testing.T, seed uint64, n int, pF, pDGivenF, pDGivenNotF float64) [][]string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	zipf := rand.NewZipf(r, 1.2, 1, 29)
	out := make([][]string, n)
	for b := range out {
		var basket []string
		formula := r.Float64() < pF
		if formula {
			basket = append(basket, "formula")
		}
		pD := pDGivenNotF
		if formula {
			pD = pDGivenF
		}
		if r.Float64() < pD {
			basket = append(basket, "diapers")
		}
		for range 1 + r.IntN(3) {
			basket = append(basket, fmt.Sprintf("noise%02d", zipf.Uint64()))
		}
		out[b] = basket
	}
	return out
}

func TestInjectedPairLift(t *testing.T) {
	const pF, pDF, pDNotF = 0.05, 0.6, 0.08
	// lift = P(D|F) / P(D) with P(D) = P(F)P(D|F) + P(¬F)P(D|¬F).
	designed := pDF / (pF*pDF + (1-pF)*pDNotF)
	for _, seed := range []uint64{1, 7, 42} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			baskets := injectedBaskets(t, seed, 20000, pF, pDF, pDNotF)
			rules, err := Mine(baskets, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var found *Rule
			for i := range rules {
				if slices.Equal(rules[i].Antecedent, []string{"formula"}) && slices.Equal(rules[i].Consequent, []string{"diapers"}) {
					found = &rules[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("rule formula→diapers not mined (designed lift %.3f)", designed)
			}
			if rel := math.Abs(found.Lift-designed) / designed; rel > 0.10 {
				t.Errorf("lift = %.3f, designed %.3f (off by %.1f%%)", found.Lift, designed, 100*rel)
			}
			if math.Abs(found.Confidence-pDF) > 0.06 {
				t.Errorf("confidence = %.3f, designed %.2f", found.Confidence, pDF)
			}
		})
	}
}

func TestTextbookMetrics(t *testing.T) {
	// Tan, Steinbach & Kumar's market-basket example.
	baskets := [][]string{
		{"bread", "milk"},
		{"bread", "diapers", "beer", "eggs"},
		{"milk", "diapers", "beer", "cola"},
		{"bread", "milk", "diapers", "beer"},
		{"bread", "milk", "diapers", "cola"},
	}
	rules, err := Mine(baskets, Options{MinSupport: 0.4, MinConfidence: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Rule{}
	for _, r := range rules {
		byKey[ruleKey(r.Antecedent, r.Consequent)] = r
	}
	inf := math.Inf(1)
	tests := []Rule{
		// {milk,diapers}→{beer}: σ=2, s=2/5, c=2/3, lift=(2/3)/(3/5), lev=0.4−0.6·0.6, conv=0.4/(1/3).
		{Antecedent: []string{"diapers", "milk"}, Consequent: []string{"beer"},
			Count: 2, Support: 0.4, Confidence: 2.0 / 3, Lift: 10.0 / 9, Leverage: 0.04, Conviction: 1.2},
		// {beer}→{diapers}: c=1 → infinite conviction; lift=1/0.8, lev=0.6−0.6·0.8.
		{Antecedent: []string{"beer"}, Consequent: []string{"diapers"},
			Count: 3, Support: 0.6, Confidence: 1, Lift: 1.25, Leverage: 0.12, Conviction: inf},
		// {diapers}→{beer}: c=3/4, conv=0.4/0.25.
		{Antecedent: []string{"diapers"}, Consequent: []string{"beer"},
			Count: 3, Support: 0.6, Confidence: 0.75, Lift: 1.25, Leverage: 0.12, Conviction: 1.6},
		// {bread}→{milk}: c=3/4, lift=0.75/0.8, lev=0.6−0.64, conv=0.2/0.25.
		{Antecedent: []string{"bread"}, Consequent: []string{"milk"},
			Count: 3, Support: 0.6, Confidence: 0.75, Lift: 0.9375, Leverage: -0.04, Conviction: 0.8},
	}
	for _, want := range tests {
		t.Run(ruleKey(want.Antecedent, want.Consequent), func(t *testing.T) {
			got, ok := byKey[ruleKey(want.Antecedent, want.Consequent)]
			if !ok {
				t.Fatal("rule not mined")
			}
			checkRule(t, got, want)
		})
	}
	if _, ok := byKey[ruleKey([]string{"eggs"}, []string{"bread"})]; ok {
		t.Error("rule from infrequent item eggs (support 0.2 < 0.4) was mined")
	}
	// Ties on lift 1.25 are broken by confidence (1 before 0.75), then by
	// items in lexicographic order.
	pos := map[string]int{}
	for i, r := range rules {
		pos[ruleKey(r.Antecedent, r.Consequent)] = i
	}
	order := []string{"beer→diapers", "cola→diapers", "cola→milk", "diapers→beer"}
	for i := 1; i < len(order); i++ {
		a, okA := pos[order[i-1]]
		b, okB := pos[order[i]]
		if !okA || !okB || a >= b {
			t.Errorf("want %s (at %d) before %s (at %d)", order[i-1], a, order[i], b)
		}
	}
	// {cola}→{diapers,milk} has the highest lift, 2·5/(2·3).
	if got := ruleKey(rules[0].Antecedent, rules[0].Consequent); got != "cola→diapers,milk" {
		t.Errorf("first rule = %s, want cola→diapers,milk", got)
	}
}

func TestEdgeCases(t *testing.T) {
	tests := []struct {
		name      string
		baskets   [][]string
		wantSets  []Itemset
		wantRules int
	}{
		{name: "nil", baskets: nil},
		{name: "empty", baskets: [][]string{}},
		{name: "all baskets empty", baskets: [][]string{{}, nil, {}}},
		{
			name:    "single-item baskets",
			baskets: [][]string{{"a"}, {"b"}, {"a"}, {"a", "a"}},
			wantSets: []Itemset{
				{Items: []string{"a"}, Count: 3, Support: 0.75},
				{Items: []string{"b"}, Count: 1, Support: 0.25},
			},
		},
		{
			name:    "duplicates count once",
			baskets: [][]string{{"a", "b", "a", "b"}, {"b"}},
			wantSets: []Itemset{
				{Items: []string{"a"}, Count: 1, Support: 0.5},
				{Items: []string{"b"}, Count: 2, Support: 1},
				{Items: []string{"a", "b"}, Count: 1, Support: 0.5},
			},
			wantRules: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sets := FrequentItemsets(tc.baskets, 0.01, 3)
			if len(sets) != len(tc.wantSets) {
				t.Fatalf("got %d itemsets %+v, want %+v", len(sets), sets, tc.wantSets)
			}
			for i := range sets {
				if !slices.Equal(sets[i].Items, tc.wantSets[i].Items) || sets[i].Count != tc.wantSets[i].Count || sets[i].Support != tc.wantSets[i].Support {
					t.Errorf("itemset %d = %+v, want %+v", i, sets[i], tc.wantSets[i])
				}
			}
			rules, err := Mine(tc.baskets, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rules == nil || len(rules) != tc.wantRules {
				t.Errorf("got rules %+v, want %d (non-nil)", rules, tc.wantRules)
			}
		})
	}
}

func TestFrequentItemsetsLimits(t *testing.T) {
	baskets := [][]string{{"a", "b"}, {"a"}}
	tests := []struct {
		name       string
		minSupport float64
		maxLen     int
		want       int
	}{
		{"above one", 1.5, 3, 0},
		{"NaN", math.NaN(), 3, 0},
		{"exactly one", 1, 3, 1},
		{"negative keeps all", -1, 0, 3},
		{"maxLen one", 0, 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FrequentItemsets(baskets, tc.minSupport, tc.maxLen); len(got) != tc.want {
				t.Errorf("got %d itemsets %+v, want %d", len(got), got, tc.want)
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	baskets := [][]string{{"a", "b"}}
	tests := []struct {
		name string
		opts Options
	}{
		{"negative support", Options{MinSupport: -0.1}},
		{"support above one", Options{MinSupport: 1.01}},
		{"support NaN", Options{MinSupport: math.NaN()}},
		{"support Inf", Options{MinSupport: math.Inf(1)}},
		{"negative MaxLen", Options{MaxLen: -1}},
		{"MaxLen too large", Options{MaxLen: MaxItemsetLen + 1}},
		{"negative confidence", Options{MinConfidence: -0.5}},
		{"confidence above one", Options{MinConfidence: 2}},
		{"confidence NaN", Options{MinConfidence: math.NaN()}},
		{"negative lift", Options{MinLift: -1}},
		{"lift NaN", Options{MinLift: math.NaN()}},
		{"lift Inf", Options{MinLift: math.Inf(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := Mine(baskets, tc.opts)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("err = %v, want ErrInvalidOptions", err)
			}
			if rules != nil {
				t.Errorf("rules = %v, want nil on error", rules)
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	o, err := Options{}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o != DefaultOptions() {
		t.Errorf("normalized zero Options = %+v, want %+v", o, DefaultOptions())
	}
}

func TestMinCountFor(t *testing.T) {
	tests := []struct {
		n          int
		minSupport float64
		want       int
	}{
		{200, 0.07, 14}, // 0.07*200 rounds up to 14.000000000000002
		{200, 0.01, 2},
		{3, 1.0 / 3, 1},
		{10, 1, 10},
		{10, 0.0001, 1},
		{10, 0, 1},
		{10, 1.1, 11},
		{0, 0.5, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%g", tc.n, tc.minSupport), func(t *testing.T) {
			if got := minCountFor(tc.n, tc.minSupport); got != tc.want {
				t.Errorf("minCountFor(%d, %g) = %d, want %d", tc.n, tc.minSupport, got, tc.want)
			}
		})
	}
}

func TestDeterministicUnderPermutation(t *testing.T) {
	baskets := randomBaskets(t, 9, 300, 8)
	want, err := Mine(baskets, Options{MinSupport: 0.02, MaxLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 11))
	for i := range 3 {
		shuffled := make([][]string, len(baskets))
		for j, b := range baskets {
			shuffled[j] = slices.Clone(b)
			r.Shuffle(len(b), func(x, y int) { shuffled[j][x], shuffled[j][y] = shuffled[j][y], shuffled[j][x] })
		}
		r.Shuffle(len(shuffled), func(x, y int) { shuffled[x], shuffled[y] = shuffled[y], shuffled[x] })
		got, err := Mine(shuffled, Options{MinSupport: 0.02, MaxLen: 4})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("permutation %d: rules differ", i)
		}
	}
}

func TestJSONEncodingInfiniteConviction(t *testing.T) {
	rules, err := Mine([][]string{{"a", "b"}, {"a", "b"}, {"c"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Conviction != InfiniteConviction {
		t.Fatalf("rules = %+v, want two rules with InfiniteConviction", rules)
	}
	data, err := json.Marshal(rules)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var back []Rule
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if back[0].Conviction != InfiniteConviction {
		t.Errorf("round-tripped Conviction = %g, want InfiniteConviction", back[0].Conviction)
	}
}

// zipfBaskets draws n baskets of 1–5 (mean 3) categories out of nCats, Zipf
// distributed.
func zipfBaskets(seed uint64, n, nCats int) [][]string {
	r := rand.New(rand.NewPCG(seed, seed))
	zipf := rand.NewZipf(r, 1.1, 2, uint64(nCats-1))
	names := make([]string, nCats)
	for i := range names {
		names[i] = fmt.Sprintf("category%02d", i)
	}
	out := make([][]string, n)
	for b := range out {
		basket := make([]string, 1+r.IntN(5))
		for i := range basket {
			basket[i] = names[zipf.Uint64()]
		}
		out[b] = basket
	}
	return out
}

func BenchmarkMine(b *testing.B) {
	baskets := zipfBaskets(1, 200000, 40)
	for b.Loop() {
		rules, err := Mine(baskets, Options{MaxLen: 3})
		if err != nil {
			b.Fatal(err)
		}
		if len(rules) == 0 {
			b.Fatal("no rules")
		}
	}
}
