package uplift

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Reference values: Wilson 95 % for 81/263 is [0.2553, 0.3662]; Newcombe's worked example (method 10)
// for 56/70 vs 48/80 gives a difference of 0.2 in [0.0524, 0.3339] (Newcombe 1998, Table II).
func TestAgainstPublishedValues(t *testing.T) {
	w := Wilson(81, 263)
	if math.Abs(w.Lo-0.2553) > 5e-4 || math.Abs(w.Hi-0.3662) > 5e-4 {
		t.Errorf("Wilson(81, 263) = %+v", w)
	}
	d := ProportionDiff(56, 70, 48, 80)
	if math.Abs(d.Estimate-0.2) > 1e-9 || math.Abs(d.Lo-0.0524) > 5e-4 || math.Abs(d.Hi-0.3339) > 5e-4 {
		t.Errorf("ProportionDiff(56/70, 48/80) = %+v", d)
	}
	// t quantiles from the tables, small samples included (where an expansion around the normal fails).
	for df, want := range map[float64]float64{1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 5: 2.570581836, 10: 2.228138852,
		30: 2.042272456, 100: 1.983971519, 1e6: 1.959966} {
		if got := tQuantile975(df); math.Abs(got-want) > 1e-6*want {
			t.Errorf("t(0.975, %v) = %.9f, want %.9f", df, got, want)
		}
	}
	// Welch at 1 df: [100, 102] against [89, 89] has se = √(2/2 + 0/2) = 1 and 1 degree of freedom, so
	// 12 ± 12.706 — wide, and spanning zero.
	welch := MeanDiff(Summarise([]float64{100, 102}), Summarise([]float64{89, 89}))
	if math.Abs(welch.Lo-(12-12.706204736)) > 1e-6 || math.Abs(welch.Hi-(12+12.706204736)) > 1e-6 || welch.Significant() {
		t.Errorf("MeanDiff([100 102], [89 89]) = %+v, want 12 in [-0.706, 24.706], not significant", welch)
	}
	// Neither side varies: no interval, not significant.
	if d := MeanDiff(Summarise([]float64{100, 100}), Summarise([]float64{90, 90})); d.Estimate != 10 || !math.IsNaN(d.Lo) || d.Significant() {
		t.Errorf("MeanDiff without spread = %+v", d)
	}
}

// The estimator check on simulated campaigns: over 50 seeded runs the interval contains the true
// effect in at least 90 % of them, and a zero-effect tier is reported not significant in at least 90 %.
func TestCoverageOnSimulatedCampaigns(t *testing.T) {
	const runs = 50
	covered, quiet, meanCovered := 0, 0, 0
	for seed := range runs {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		// A churn-risk tier: 30 % retained without the campaign, 18 % more (relative) with it.
		base, treatedRate := 0.30, 0.30*1.18
		n1, n0 := 2000, 500
		x1, x0 := binom(rng, n1, treatedRate), binom(rng, n0, base)
		if d := ProportionDiff(x1, n1, x0, n0); d.Lo <= treatedRate-base && treatedRate-base <= d.Hi {
			covered++
		}
		// A zero-effect tier.
		z1, z0 := binom(rng, n1, 0.1), binom(rng, n0, 0.1)
		if !ProportionDiff(z1, n1, z0, n0).Significant() {
			quiet++
		}
		// Order values: log-normal, 5 % higher under treatment.
		t1, t0 := make([]float64, 400), make([]float64, 150)
		for i := range t1 {
			t1[i] = 1.05 * math.Exp(rng.NormFloat64()*0.6+5)
		}
		for i := range t0 {
			t0[i] = math.Exp(rng.NormFloat64()*0.6 + 5)
		}
		trueDiff := 0.05 * math.Exp(5+0.18)
		if m := MeanDiff(Summarise(t1), Summarise(t0)); m.Lo <= trueDiff && trueDiff <= m.Hi {
			meanCovered++
		}
	}
	if covered < runs*9/10 || quiet < runs*9/10 || meanCovered < runs*9/10 {
		t.Fatalf("over %d runs: proportion interval covered %d, zero effect not significant %d, mean interval covered %d", runs, covered, quiet, meanCovered)
	}
	t.Logf("over %d runs: covered %d, zero effect quiet %d, mean covered %d", runs, covered, quiet, meanCovered)
}

func binom(rng *rand.Rand, n int, p float64) int {
	x := 0
	for range n {
		if rng.Float64() < p {
			x++
		}
	}
	return x
}
