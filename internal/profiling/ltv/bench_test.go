package ltv

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkFitBGNBDCDNOW(b *testing.B) {
	data, _ := loadSummary(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitBGNBD(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitGammaGammaCDNOW(b *testing.B) {
	freq, monetary := loadSpend(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitGammaGamma(freq, monetary); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPerCustomer measures ExpectedPurchases plus ProbAlive for one
// customer (ns/op is per customer), cycling through the CDNOW population.
func BenchmarkPerCustomer(b *testing.B) {
	data, _ := loadSummary(b)
	for _, tc := range []struct {
		name    string
		horizon float64
	}{{"1week", 1}, {"52weeks", 52}, {"5000weeks", 5000}} {
		b.Run(tc.name, func(b *testing.B) {
			var sink float64
			i := 0
			for b.Loop() {
				c := data[i%len(data)]
				sink += publishedBG.ExpectedPurchases(tc.horizon, c) + publishedBG.ProbAlive(c)
				i++
			}
			if sink < 0 {
				b.Fatal(sink)
			}
		})
	}
}

// BenchmarkFitBGNBDSynthetic100k fits 100,000 customers simulated from the
// published CDNOW fit with T uniform on [27, 39] weeks.
func BenchmarkFitBGNBDSynthetic100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	T := make([]float64, 100000)
	for i := range T {
		T[i] = 27 + 12*rng.Float64()
	}
	data, err := publishedBG.Simulate(rng, T)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m, err := FitBGNBD(data)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(m.R, "r")
		b.ReportMetric(m.A, "a")
	}
}
