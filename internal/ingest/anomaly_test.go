package ingest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// normalAmounts returns n deterministic order amounts around 200 CNY (±~40).
func normalAmounts(n int) []float64 {
	r := rand.New(rand.NewPCG(7, 11))
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Round((200+40*r.NormFloat64())*100) / 100
	}
	return out
}

func TestAmountStatsFlagsOutliers(t *testing.T) {
	var a AmountStats
	for _, x := range normalAmounts(5000) {
		a.Add(x)
	}
	if m := a.Median(); math.Abs(m-200) > 5 {
		t.Errorf("median %v, want about 200", m)
	}
	if mad := a.MAD(); math.Abs(mad*MADScale-40) > 4 {
		t.Errorf("1.4826·MAD = %v, want about 40", mad*MADScale)
	}
	tests := []struct {
		amount float64
		want   bool
	}{
		{20000, true}, // 100x the median
		{200, false},  // the median
		{120, false},  // 2 sigma below
		{300, false},  // 2.5 sigma above
		{360, true},   // 4 sigma above
		{0.01, true},  // far below
		{math.NaN(), false},
	}
	for _, tt := range tests {
		if got := a.Anomalous(tt.amount); got != tt.want {
			t.Errorf("Anomalous(%v) = %v (score %.2f), want %v", tt.amount, got, a.Score(tt.amount), tt.want)
		}
	}
	flagged := 0
	for _, x := range normalAmounts(5000) {
		if a.Anomalous(x) {
			flagged++
		}
	}
	if flagged > 10 { // 3.5 sigma: about 2 in 5,000 for normal data
		t.Errorf("%d of 5000 normal amounts flagged", flagged)
	}
}

func TestAmountStatsSmallAndDegenerate(t *testing.T) {
	var a AmountStats
	a.Add(100)
	if a.Anomalous(1e9) {
		t.Error("flagged with a single sample")
	}
	var same AmountStats
	for range MinAmountSamples {
		same.Add(99)
	}
	if same.Anomalous(99) || !same.Anomalous(100) {
		t.Error("all-equal sample: want only other values flagged")
	}
	var mostly AmountStats // MAD 0 but mean absolute deviation positive
	for i := range 100 {
		if i%10 == 0 {
			mostly.Add(120)
		} else {
			mostly.Add(100)
		}
	}
	if mostly.MAD() != 0 || mostly.Anomalous(100) || math.IsInf(mostly.Score(120), 0) || !mostly.Anomalous(10000) {
		t.Errorf("MAD %v, score(120) %v, score(10000) %v", mostly.MAD(), mostly.Score(120), mostly.Score(10000))
	}
	var inf AmountStats
	inf.Add(math.Inf(1))
	inf.Add(math.NaN())
	if inf.Count() != 0 {
		t.Error("non-finite amounts counted")
	}
}

func TestAmountStatsReservoirIsBoundedAndDeterministic(t *testing.T) {
	run := func() (float64, float64) {
		a := AmountStats{Capacity: 1000}
		for i := range 50_000 {
			a.Add(float64(i % 997))
		}
		if len(a.sample) != 1000 || a.Count() != 50_000 {
			t.Fatalf("sample %d count %d", len(a.sample), a.Count())
		}
		return a.Median(), a.MAD()
	}
	m1, d1 := run()
	m2, d2 := run()
	if m1 != m2 || d1 != d2 {
		t.Errorf("not deterministic: %v/%v vs %v/%v", m1, d1, m2, d2)
	}
	if math.Abs(m1-498) > 40 {
		t.Errorf("median estimate %v, want about 498", m1)
	}
}

func TestMedianOf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 4, 15, 16, 17, 100, 1001, 4096} {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(r.IntN(50)) // many ties
		}
		sorted := slices.Sorted(slices.Values(xs))
		want := sorted[n/2]
		if n%2 == 0 {
			want = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		if got := medianOf(slices.Clone(xs)); got != want {
			t.Errorf("n=%d: median %v, want %v", n, got, want)
		}
	}
}

func TestBotDetector(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var b BotDetector
	// A bot: 61 clicks in 30 seconds.
	for i := range 61 {
		b.Observe("sub_bot", start.Add(time.Duration(i)*500*time.Millisecond), TypeClick)
	}
	// A busy human: 60 page views in a minute, then more a minute later.
	for i := range 60 {
		b.Observe("sub_busy", start.Add(time.Duration(i)*time.Second), TypePageView)
	}
	for i := range 60 {
		b.Observe("sub_busy", start.Add(2*time.Minute+time.Duration(i)*time.Second), TypePageView)
	}
	// Exactly 61 events spread over exactly 60 seconds: not within one 60-second window.
	for i := range 61 {
		b.Observe("sub_edge", start.Add(time.Duration(i)*time.Second), TypeClick)
	}
	// Many orders are not behaviour.
	for i := range 200 {
		b.Observe("sub_shopper", start.Add(time.Duration(i)*time.Millisecond), TypeOrder)
	}
	// Out of order within the window still counts.
	for i := 60; i >= 0; i-- {
		b.Observe("sub_shuffled", start.Add(time.Duration(i)*900*time.Millisecond), TypeSearch)
	}
	// A slow bot whose burst comes after a long quiet history.
	for i := range 100 {
		b.Observe("sub_late", start.Add(time.Duration(i)*time.Minute), TypeClick)
	}
	for i := range 61 {
		b.Observe("sub_late", start.Add(3*time.Hour+time.Duration(i)*100*time.Millisecond), TypeCartAdd)
	}
	want := []string{"sub_bot", "sub_late", "sub_shuffled"}
	if got := b.Bots(); !slices.Equal(got, want) {
		t.Errorf("Bots() = %q, want %q", got, want)
	}
	if !b.IsBot("sub_bot") || b.IsBot("sub_busy") {
		t.Error("IsBot disagrees with Bots")
	}
	if n := len(b.times["sub_busy"]); n > BotLimit+1 {
		t.Errorf("kept %d times for one subject", n)
	}
	var empty BotDetector
	if len(empty.Bots()) != 0 || empty.IsBot("x") {
		t.Error("zero value not empty")
	}
}
