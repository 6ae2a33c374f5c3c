package synth

import (
	"fmt"
	"math"
	"testing"
)

// The simulation realises the truth it states: over many members the treated and held-out rates differ by
// the designed lift, and a no-effect tier shows none.
func TestSimulatedCampaignRealisesItsTruth(t *testing.T) {
	const n = 40_000
	for _, e := range []TierEffect{EffectOf("churn_winback"), EffectOf("lifecycle_active")} {
		var conv, ret [2]int
		var value [2]float64
		for i := range n {
			for g, treated := range []bool{true, false} {
				o := Simulate(7, e, fmt.Sprint("ref-", i), treated)
				if o.Converted {
					conv[g]++
					value[g] += o.OrderValue
				}
				if o.Retained90 {
					ret[g]++
				}
				if o.Retained90 && (!o.Retained60 || !o.Retained30) {
					t.Fatal("retained at 90 days but not before")
				}
			}
		}
		dConv := float64(conv[0]-conv[1]) / n
		relRet := float64(ret[0])/float64(ret[1]) - 1
		if math.Abs(dConv-e.ConversionLift) > 0.006 || math.Abs(relRet-e.RetentionLiftRel) > 0.03 {
			t.Errorf("%s: conversion lift %.4f (want %.4f), retention lift %.4f (want %.4f)", e.Tier, dConv, e.ConversionLift, relRet, e.RetentionLiftRel)
		}
		if mean := value[1] / float64(conv[1]); math.Abs(mean/e.MeanOrderValue-1) > 0.05 {
			t.Errorf("%s: mean order value %.1f, want about %.1f", e.Tier, mean, e.MeanOrderValue)
		}
	}
	if Simulate(1, EffectOf("x"), "r", true) != Simulate(1, EffectOf("x"), "r", true) {
		t.Fatal("the simulation must be deterministic")
	}
}
