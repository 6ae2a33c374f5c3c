package synth

import (
	"hash/fnv"
	"math"
)

// TierEffect is what a simulated campaign truly does to one strategy tier: the rates without it and what
// it adds. Conversion lift is absolute; retention lift is relative (the source study's churn intervention
// retained 18 % more); a tier with no lift is the control the estimator must call not significant.
type TierEffect struct {
	Tier              string  `json:"tier"`
	BaseConversion    float64 `json:"base_conversion"`
	ConversionLift    float64 `json:"conversion_lift"`
	BaseRetention     float64 `json:"base_retention_90d"`
	RetentionLiftRel  float64 `json:"retention_lift_relative"`
	MeanOrderValue    float64 `json:"mean_order_value"`
	OrderValueLiftRel float64 `json:"order_value_lift_relative"`
}

// CampaignTruth is the known effect of a simulated campaign on each tier of the built-in strategy table
// (policies/strategy.json); tiers not listed have no effect.
func CampaignTruth() []TierEffect {
	return []TierEffect{
		{Tier: "churn_winback", BaseConversion: 0.04, ConversionLift: 0.03, BaseRetention: 0.40, RetentionLiftRel: 0.18, MeanOrderValue: 160},
		{Tier: "price_sensitive", BaseConversion: 0.08, ConversionLift: 0.04, BaseRetention: 0.70, MeanOrderValue: 90, OrderValueLiftRel: -0.05},
		{Tier: "quality_seeking", BaseConversion: 0.06, ConversionLift: 0.02, BaseRetention: 0.75, MeanOrderValue: 260, OrderValueLiftRel: 0.08},
		{Tier: "high_value", BaseConversion: 0.15, ConversionLift: 0.03, BaseRetention: 0.90, RetentionLiftRel: 0.03, MeanOrderValue: 420},
		{Tier: "lifecycle_new", BaseConversion: 0.10, ConversionLift: 0.05, BaseRetention: 0.55, RetentionLiftRel: 0.10, MeanOrderValue: 120},
		{Tier: "lifecycle_active", BaseConversion: 0.12, BaseRetention: 0.80, MeanOrderValue: 140}, // no effect
	}
}

// EffectOf returns the truth of a tier (a zero effect with neutral rates for a tier without one).
func EffectOf(tier string) TierEffect {
	for _, e := range CampaignTruth() {
		if e.Tier == tier {
			return e
		}
	}
	return TierEffect{Tier: tier, BaseConversion: 0.05, BaseRetention: 0.6, MeanOrderValue: 120}
}

// Outcome is one member's simulated response.
type Outcome struct {
	Converted                          bool
	OrderValue                         float64
	Retained30, Retained60, Retained90 bool
}

// Simulate draws a member's response to the campaign of effect e, treated or held out; deterministic in
// (seed, tier, ref), so a run can be repeated.
func Simulate(seed uint64, e TierEffect, ref string, treated bool) Outcome {
	h := fnv.New64a()
	h.Write([]byte(e.Tier + "\x00" + ref))
	r := newRand(seed, 0x63616d706169676e, int(h.Sum64()&0x7fffffff))
	conv, ret, aov := e.BaseConversion, e.BaseRetention, e.MeanOrderValue
	if treated {
		conv += e.ConversionLift
		ret *= 1 + e.RetentionLiftRel
		aov *= 1 + e.OrderValueLiftRel
	}
	var o Outcome
	if o.Converted = r.Float64() < conv; o.Converted {
		// Log-normal order values with mean aov (sigma 0.5).
		o.OrderValue = math.Round(lognormal(r, math.Log(aov)-0.125, 0.5)*100) / 100
	}
	// Retention decays: kept at 90 days with probability ret, at 60 and 30 days a little more often.
	u := r.Float64()
	o.Retained90 = u < math.Min(1, ret)
	o.Retained60 = u < math.Min(1, ret+(1-ret)*0.3)
	o.Retained30 = u < math.Min(1, ret+(1-ret)*0.6)
	return o
}
