package profiling

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/synth"
)

// BenchmarkExtractCompute measures Extract plus Compute for one synthetic subject of about 200 events
// (every category allowed, population fitted on the small shop).
func BenchmarkExtractCompute(b *testing.B) {
	subs, pop := shopPopulation()
	best := 0
	for i, s := range subs {
		if math.Abs(float64(len(s.Events)-200)) < math.Abs(float64(len(subs[best].Events)-200)) {
			best = i
		}
	}
	s := subs[best]
	loc := shanghai(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += len(Compute(s, Extract(s, testNow, loc), pop, testNow, loc))
	}
	b.ReportMetric(float64(len(s.Events)), "events")
	if n == 0 {
		b.Fatal("no tags")
	}
}

// benchFeatures returns n features resampled from the extracted features of a 1,000-person synthetic shop,
// each with its own id and jittered dates, counts and amounts, so that no two rows are equal.
func benchFeatures(b *testing.B, n int) []Features {
	b.Helper()
	shop := synth.Generate(synth.Options{Seed: 3, Subjects: 1000, Now: testNow})
	subs := shopSubjects(shop, func(int) map[string]bool { return allowAll() })
	base := make([]Features, len(subs))
	for i, s := range subs {
		base[i] = Extract(s, testNow, nil)
	}
	r := rand.New(rand.NewPCG(9, 9))
	out := make([]Features, n)
	for i := range out {
		f := base[r.IntN(len(base))]
		f.SubjectID = fmt.Sprintf("sub-%07d", i)
		shift := time.Duration(r.IntN(20*24)) * time.Hour
		if !f.LastOrder.IsZero() {
			f.LastOrder = f.LastOrder.Add(-shift)
			f.FirstOrder = f.FirstOrder.Add(-shift)
		}
		scale := math.Exp(0.2 * r.NormFloat64())
		f.GrossSpend *= scale
		f.RepeatSpend *= scale
		f.Refunds *= scale
		f.Sessions += r.IntN(3)
		out[i] = f
	}
	return out
}

// BenchmarkFit100k measures a full Fit (RFM, medians, BG/NBD and Gamma-Gamma, season shares, K-Means with
// k chosen over 2..10 by a 2,000-row silhouette) over 100,000 subjects' features.
func BenchmarkFit100k(b *testing.B) {
	feats := benchFeatures(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		pop, err := Fit(feats, testNow, Options{Seed: 1})
		if err != nil || pop.LTVStatus != StatusOK || pop.ClusterStatus != StatusOK {
			b.Fatalf("%v %s %s", err, pop.LTVStatus, pop.ClusterStatus)
		}
		b.ReportMetric(float64(len(pop.Cluster.Centroids)), "k")
		b.ReportMetric(float64(pop.Buyers), "buyers")
	}
}
