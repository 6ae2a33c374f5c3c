package profiling

import (
	"slices"

	"github.com/profilevault/profilevault/policies"
)

// Tag keys, exactly as in TAGS.md.
const (
	KeyAgeBand          = "basic.age_band"
	KeyRegion           = "basic.region"
	KeyCityTier         = "basic.city_tier"
	KeyMemberSince      = "basic.member_since_band"
	KeyOccupationGroup  = "basic.occupation_group"
	KeyActiveSlot       = "behavior.active_slot"
	KeyBrowseDepth      = "behavior.browse_depth"
	KeyCartAbandonRate  = "behavior.cart_abandon_rate"
	KeyRepurchaseDays   = "behavior.repurchase_interval_days"
	KeyAfterSalesRate   = "behavior.after_sales_rate"
	KeyChannel          = "behavior.channel"
	KeyPriceSensitivity = "behavior.price_sensitivity"
	KeyTopCategories    = "interest.top_categories"
	KeyTopBrands        = "interest.top_brands"
	KeySeasonAffinity   = "interest.season_affinity"
	KeyRFMScore         = "value.rfm_score"
	KeyRFMSegment       = "value.rfm_segment"
	KeyLTV12m           = "value.ltv_12m"
	KeyChurnRisk        = "value.churn_risk"
	KeyLifecycleStage   = "value.lifecycle_stage"
	KeySentiment        = "attitude.sentiment"
	KeySatisfaction     = "attitude.satisfaction"
	KeyAdvocacy         = "attitude.advocacy"
	KeyCluster          = "segment.cluster"
)

// definition is a Definition with its inputs as a set, for the hot path, and the function that computes it:
// a tag is one definition that carries its computer.
type definition struct {
	Definition
	set     CategorySet
	compute computer
}

func def(key, level string, purpose policies.PurposeName, compute computer, desc string, inputs ...string) definition {
	set := NewCategorySet(inputs...)
	return definition{Definition{Key: key, Level: level, Purpose: purpose, Inputs: set.Names(), Description: desc}, set, compute}
}

// definitions is the tag table of TAGS.md, in its order. Purposes: the tags used to pick audiences, channels
// and offers serve marketing; the ones that only steer recommendations and search (browse depth, interests,
// season) serve personalization.
var definitions = []definition{
	def(KeyAgeBand, LevelBasic, policies.PurposeMarketing, ageBandTag,
		"Age band from birth_date: <14, 14-17, 18-24, 25-34, 35-44, 45-59, 60+.", Identity),
	def(KeyRegion, LevelBasic, policies.PurposeMarketing, regionTag,
		"Province (canonical short name), from the province field or else the city table.", Address),
	def(KeyCityTier, LevelBasic, policies.PurposeMarketing, cityTierTag,
		"City tier 1, 2, 3 or 4+ from the shipped city table; cities not in the table are 4+.", Address),
	def(KeyMemberSince, LevelBasic, policies.PurposeMarketing, memberSinceTag,
		"Tenure band since registration or the first event, whichever is earlier.", Identity),
	def(KeyOccupationGroup, LevelBasic, policies.PurposeMarketing, occupationGroupTag,
		"Occupation group from the occupation field by the shipped table (whole title, else its longest trailing "+
			"title): business (runs, manages or sells for a business), professional, public_service, student, worker, "+
			"retired, homemaker, or other.", Demographic),
	def(KeyActiveSlot, LevelBehavior, policies.PurposeMarketing, activeSlotTag,
		"Time-of-day slot (local time) in which most browsing sessions start: morning 6-11, midday 11-14, "+
			"afternoon 14-18, evening 18-23, night 23-6.", Behavior),
	def(KeyBrowseDepth, LevelBehavior, policies.PurposePersonalization, browseDepthTag,
		"Mean page views per session; a session ends after a gap of more than 30 minutes.", Behavior),
	def(KeyCartAbandonRate, LevelBehavior, policies.PurposeMarketing, cartAbandonTag,
		"Share of cart additions not followed by an order within 24 hours (cart additions of the last 24 "+
			"hours are not yet counted).", Behavior, Transactions),
	def(KeyRepurchaseDays, LevelBehavior, policies.PurposeMarketing, repurchaseTag,
		"Median number of days between consecutive orders (at least two orders, cancelled ones excluded).",
		Transactions),
	def(KeyAfterSalesRate, LevelBehavior, policies.PurposeMarketing, afterSalesTag,
		"Returns plus complaints per order.", Transactions, Interactions),
	def(KeyChannel, LevelBehavior, policies.PurposeMarketing, channelTag,
		"online, offline or omnichannel from where the orders were placed (POS = offline).", Transactions),
	def(KeyPriceSensitivity, LevelBehavior, policies.PurposeMarketing, priceSensitivityTag,
		"Share of orders with a coupon or discount of at least 20 %: price_sensitive at 50 % or more; "+
			"quality_seeking below 20 % with a mean order value at or above the population median; else neutral.",
		Transactions),
	def(KeyTopCategories, LevelInterest, policies.PurposePersonalization, topCategoriesTag,
		"Up to three categories by time-decayed interest (half-life 30 days) over views, carts, favourites "+
			"and orders weighted 1/3/2/5.", Transactions, Behavior),
	def(KeyTopBrands, LevelInterest, policies.PurposePersonalization, topBrandsTag,
		"Up to three brands by time-decayed interest (half-life 30 days) over carts, favourites and orders "+
			"weighted 3/2/5.", Transactions, Behavior),
	def(KeySeasonAffinity, LevelInterest, policies.PurposePersonalization, seasonTag,
		"Season whose categories the subject favours: the subject's category mix scored by each category's "+
			"share in a season versus the population's share in that season.", Transactions, Behavior),
	def(KeyRFMScore, LevelValue, policies.PurposeMarketing, rfmScoreTag,
		"R-F-M, each 1-5 by quintile over consenting buyers (5 best); R = days since last order, F = orders, "+
			"M = net revenue after cancels and returns; ties broken by subject id.", Transactions),
	def(KeyRFMSegment, LevelValue, policies.PurposeMarketing, rfmSegmentTag,
		"Segment from the R x F grid (champions, loyal, potential_loyalists, new, promising, need_attention, "+
			"about_to_sleep, at_risk, cant_lose, hibernating, lost).", Transactions),
	def(KeyLTV12m, LevelValue, policies.PurposeMarketing, ltvTag,
		"Expected spend (CNY) in the next 12 months: BG/NBD expected purchases times Gamma-Gamma expected "+
			"spend per purchase.", Transactions),
	def(KeyChurnRisk, LevelValue, policies.PurposeMarketing, churnTag,
		"high when orders in the last 90 days are more than 3 fewer than in the 90 days before, or P(alive) "+
			"< 0.3; medium on any decline, P(alive) < 0.6, or (when P(alive) says nothing: no model or a single "+
			"purchase day) no order for twice the median repurchase interval; else low.",
		Transactions),
	def(KeyLifecycleStage, LevelValue, policies.PurposeMarketing, lifecycleTag,
		"prospect, new (first order within 30 days), loyal (champions/loyal), active, dormant or churned.",
		Transactions),
	def(KeySentiment, LevelAttitude, policies.PurposeMarketing, sentimentTag,
		"Mean sentiment (-1..1) of review and chat texts by the trained model (lexicon score and n-grams), two decimals; the explanation names the lexicon entries that drove the most negative and the most positive text.", Interactions),
	def(KeySatisfaction, LevelAttitude, policies.PurposeMarketing, satisfactionTag,
		"satisfied, neutral or dissatisfied from the mean review rating and complaints per order.",
		Transactions, Interactions),
	def(KeyAdvocacy, LevelAttitude, policies.PurposeMarketing, advocacyTag,
		"promoter when shares, recommendations and positive reviews outnumber negative reviews and complaints "+
			"by 2 or more, detractor when the negatives are more, else passive (also after neutral reviews only).",
		Interactions),
	def(KeyCluster, LevelSegment, policies.PurposeMarketing, clusterTag,
		"K-Means++ segment on standardised log1p(R, F, M) and behaviour features; k chosen by silhouette.",
		Transactions, Behavior),
}

// Definitions returns every tag definition, in the order of TAGS.md.
func Definitions() []Definition {
	out := make([]Definition, len(definitions))
	for k, d := range definitions {
		out[k] = d.Definition
		out[k].Inputs = slices.Clone(d.Inputs)
	}
	return out
}
