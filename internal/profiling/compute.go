package profiling

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/ltv"
	"github.com/profilevault/profilevault/internal/profiling/sentiment"
	"github.com/profilevault/profilevault/policies"
)

// Thresholds of the per-subject tags (see the definitions and Definition.Description).
const (
	// NewCustomerDays is how recent a first order makes a customer "new".
	NewCustomerDays = 30
	// ChurnDrop is the drop in orders between the two 90-day windows above which churn risk is high.
	ChurnDrop = 3
	// PAliveHigh and PAliveMedium are the P(alive) thresholds of high and medium churn risk.
	PAliveHigh   = 0.3
	PAliveMedium = 0.6
	// PriceSensitiveShare and QualityShare bound the deal share of price_sensitive and quality_seeking.
	PriceSensitiveShare = 0.5
	QualityShare        = 0.2
	// minPriceOrders is the fewest orders price sensitivity is judged on.
	minPriceOrders = 2
	// SeasonLift is the least season score that makes a season affinity (else all_season).
	SeasonLift = 1.15
	// minSeasonSubjectWeight is the least undecayed interest weight a subject needs for season affinity.
	minSeasonSubjectWeight = 5.0
	// minInterestWeight is the least decayed weight an interest needs to be listed.
	minInterestWeight = 0.05
	// topInterests is the number of categories or brands listed.
	topInterests = 3
)

// evalCtx carries one subject's computation with lazily computed shared values.
type evalCtx struct {
	f   *Features
	pop *Population
	now time.Time
	loc *time.Location

	refused      map[string]bool // the subject's refused tag keys
	rfmDone      bool
	r, fq, m     int
	rfmOK        bool
	paDone, paOK bool
	pa           float64
}

// Compute returns the subject's tags at now from its features and the frozen population, checked against
// the embedded vocabulary: only tags whose inputs are all in s.Allowed (and were allowed when f was
// extracted) and whose key and value the vocabulary allows. A tag whose data is missing is left out, and
// nothing is returned when f was extracted for another subject.
func Compute(s Subject, f Features, pop Population, now time.Time, loc *time.Location) []Tag {
	return ComputeWith(s, f, pop, now, loc, defaultVocabulary)
}

// ComputeFor is Compute for the tags of one purpose only: the others are not computed (a subject's tags
// are computed and stored purpose by purpose, and the marketing ones include the LTV's integral).
func ComputeFor(s Subject, f Features, pop Population, now time.Time, loc *time.Location, purpose policies.PurposeName) []Tag {
	return computeWith(s, f, pop, now, loc, defaultVocabulary, purpose)
}

// ComputeWith is Compute with a given vocabulary. A tag is emitted only if the vocabulary lists its key
// with the definition's level, purpose and inputs and allows its value.
func ComputeWith(s Subject, f Features, pop Population, now time.Time, loc *time.Location, v Vocabulary) []Tag {
	return computeWith(s, f, pop, now, loc, v, "")
}

// computeWith is ComputeWith for the definitions of purpose ("" for all).
func computeWith(s Subject, f Features, pop Population, now time.Time, loc *time.Location, v Vocabulary, purpose policies.PurposeName) []Tag {
	if f.SubjectID != s.ID {
		return nil
	}
	allowed := SetOf(s.Allowed) & f.Categories
	if allowed == 0 {
		return nil
	}
	c := &evalCtx{f: &f, pop: &pop, now: now, loc: locOrDefault(loc), refused: s.Refused}
	tags := make([]Tag, 0, len(definitions))
	for k := range definitions {
		d := &definitions[k]
		if !allowed.Contains(d.set) || purpose != "" && d.Purpose != purpose || s.Refused[d.Key] {
			continue
		}
		value, ex, ok := d.compute(c)
		if !ok || !v.allowsDefinition(d, value) {
			continue
		}
		inputs := d.set
		if d.Key == KeyMemberSince {
			inputs |= f.MemberSinceInputs & allowed
		}
		version := Version
		if d.Key == KeySentiment {
			version += "+" + sentiment.Version
		}
		tags = append(tags, Tag{Key: d.Key, Level: d.Level, Purpose: d.Purpose, Value: value, Inputs: inputs.Names(),
			Explanation: ex, AlgorithmVersion: version})
	}
	return tags
}

// allowsDefinition reports whether the vocabulary lists d exactly (level, purpose, inputs) and allows value.
func (v Vocabulary) allowsDefinition(d *definition, value string) bool {
	e, ok := v.entries[d.Key]
	if !ok || e.Level != d.Level || e.Purpose != d.Purpose || !slices.Equal(e.Inputs, d.Inputs) {
		return false
	}
	return v.Allows(d.Key, value)
}

// computer computes one tag: its value, explanation and whether it applies.
type computer func(c *evalCtx) (string, Explanation, bool)

// --- basic ---

// AgeBand returns the age band of an age in years: <14, 14-17, 18-24, 25-34, 35-44, 45-59 or 60+.
func AgeBand(age int) string {
	switch {
	case age < 14:
		return "<14"
	case age < 18:
		return "14-17"
	case age < 25:
		return "18-24"
	case age < 35:
		return "25-34"
	case age < 45:
		return "35-44"
	case age < 60:
		return "45-59"
	}
	return "60+"
}

func ageBandTag(c *evalCtx) (string, Explanation, bool) {
	if c.f.Age < 0 {
		return "", Explanation{}, false
	}
	b := AgeBand(c.f.Age)
	return b, Explanation{
		ZH: "根据出生日期计算，年龄段为 " + b + " 岁",
		EN: "From the birth date, the age band is " + b,
	}, true
}

func regionTag(c *evalCtx) (string, Explanation, bool) {
	p := c.f.Province
	if p == "" {
		return "", Explanation{}, false
	}
	return p, Explanation{ZH: "地址中的省份为 " + p, EN: "The address is in the province of " + p}, true
}

func cityTierTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.City == "" || f.CityTier == 0 {
		return "", Explanation{}, false
	}
	if _, known := cityTable[f.City]; !known || f.CityTier >= 4 {
		return "4+", Explanation{
			ZH: "所在城市 " + f.City + " 不在一至三线城市表中，归为四线及以下城市",
			EN: "The city " + f.City + " is not in the tier 1-3 city table, so it is tier 4+",
		}, true
	}
	t := strconv.Itoa(f.CityTier)
	return t, Explanation{
		ZH: "所在城市 " + f.City + " 在城市分级表中为" + []string{"", "一", "二", "三"}[f.CityTier] + "线城市",
		EN: "The city " + f.City + " is tier " + t + " in the city table",
	}, true
}

// occupationGroupNames are the groups' names in explanations.
var occupationGroupNames = map[string]Explanation{
	"business":       {ZH: "商务人群（经营、管理或从事销售）", EN: "business (runs, manages or sells for a business)"},
	"professional":   {ZH: "专业人士", EN: "professional"},
	"public_service": {ZH: "公共服务", EN: "public service"},
	"student":        {ZH: "学生", EN: "student"},
	"worker":         {ZH: "职工", EN: "worker"},
	"retired":        {ZH: "退休", EN: "retired"},
	"homemaker":      {ZH: "全职家庭", EN: "homemaker"},
}

func occupationGroupTag(c *evalCtx) (string, Explanation, bool) {
	g, title := c.f.OccupationGroup, c.f.OccupationTitle
	if g == "" {
		return "", Explanation{}, false
	}
	name, known := occupationGroupNames[g]
	if !known || title == "" {
		return OccupationOther, Explanation{
			ZH: "填写的职业不在职业分组表中，归为其他",
			EN: "The occupation given is not in the occupation table, so the group is other",
		}, true
	}
	return g, Explanation{
		ZH: "职业分组表中“" + title + "”属于" + name.ZH,
		EN: "In the occupation table, \"" + title + "\" is in the group " + name.EN,
	}, true
}

func memberSinceTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.MemberSince.IsZero() || f.MemberSince.After(c.now) {
		return "", Explanation{}, false
	}
	days := daysBetween(f.MemberSince, c.now)
	var band string
	switch {
	case days < 30:
		band = "<1m"
	case days < 182:
		band = "1-6m"
	case days < 365:
		band = "6-12m"
	case days < 730:
		band = "1-2y"
	case days < 1095:
		band = "2-3y"
	default:
		band = "3y+"
	}
	since := f.MemberSince.In(c.loc).Format("2006-01")
	months := int(days / 30.44)
	return band, Explanation{
		ZH: fmt.Sprintf("自 %s 起成为用户，已 %d 个月", since, months),
		EN: fmt.Sprintf("A customer since %s, for %d months", since, months),
	}, true
}

// --- behaviour ---

func activeSlotTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Sessions == 0 {
		return "", Explanation{}, false
	}
	best := 0
	for s := 1; s < len(f.SlotSessions); s++ {
		if f.SlotSessions[s] > f.SlotSessions[best] {
			best = s
		}
	}
	hours := [...]string{"6–11", "11–14", "14–18", "18–23", "23–6"}[best]
	return slotNames[best], Explanation{
		ZH: fmt.Sprintf("%d 次浏览会话中有 %d 次开始于%s（%s 点）", f.Sessions, f.SlotSessions[best], slotNamesZH[best], hours),
		EN: fmt.Sprintf("%d of %d browsing sessions started in the %s (%s h)", f.SlotSessions[best], f.Sessions, slotNames[best], hours),
	}, true
}

func browseDepthTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.PageViewSessions == 0 {
		return "", Explanation{}, false
	}
	v := strconv.FormatFloat(rateOf(f.PageViews, f.PageViewSessions), 'f', 1, 64)
	return v, Explanation{
		ZH: fmt.Sprintf("%d 次会话共浏览 %d 个页面，平均每次 %s 个（间隔超过 30 分钟算新会话）", f.PageViewSessions, f.PageViews, v),
		EN: fmt.Sprintf("%d page views in %d sessions, %s per session (a gap of over 30 minutes starts a new session)", f.PageViews, f.PageViewSessions, v),
	}, true
}

func cartAbandonTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Carts == 0 {
		return "", Explanation{}, false
	}
	v := strconv.FormatFloat(rateOf(f.CartsAbandoned, f.Carts), 'f', 2, 64)
	return v, Explanation{
		ZH: fmt.Sprintf("加购 %d 次，其中 %d 次在 24 小时内没有下单", f.Carts, f.CartsAbandoned),
		EN: fmt.Sprintf("%d of %d cart additions were not followed by an order within 24 hours", f.CartsAbandoned, f.Carts),
	}, true
}

func repurchaseTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.RepurchaseDays < 0 {
		return "", Explanation{}, false
	}
	v := strconv.Itoa(int(math.Round(f.RepurchaseDays)))
	return v, Explanation{
		ZH: fmt.Sprintf("%d 次下单中相邻两单间隔的中位数为 %s 天", f.Orders, v),
		EN: fmt.Sprintf("The median gap between consecutive orders is %s days (%d orders)", v, f.Orders),
	}, true
}

func afterSalesTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Orders == 0 {
		return "", Explanation{}, false
	}
	v := strconv.FormatFloat(float64(f.Returns+f.Complaints)/float64(f.Orders), 'f', 2, 64)
	return v, Explanation{
		ZH: fmt.Sprintf("%d 单中有 %d 次退货、%d 次投诉，每单售后 %s 次", f.Orders, f.Returns, f.Complaints, v),
		EN: fmt.Sprintf("%d returns and %d complaints over %d orders: %s per order", f.Returns, f.Complaints, f.Orders, v),
	}, true
}

func channelTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	var v, zh, en string
	switch {
	case f.Orders == 0:
		return "", Explanation{}, false
	case f.OfflineOrders == 0:
		v, zh, en = "online", "纯线上", "online only"
	case f.OnlineOrders == 0:
		v, zh, en = "offline", "纯线下", "offline only"
	default:
		v, zh, en = "omnichannel", "全渠道", "omnichannel"
	}
	return v, Explanation{
		ZH: fmt.Sprintf("线上下单 %d 次、门店消费 %d 次：%s", f.OnlineOrders, f.OfflineOrders, zh),
		EN: fmt.Sprintf("%d orders online and %d in stores: %s", f.OnlineOrders, f.OfflineOrders, en),
	}, true
}

func priceSensitivityTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Orders < minPriceOrders {
		return "", Explanation{}, false
	}
	share := float64(f.DealOrders) / float64(f.Orders)
	aov := f.GrossSpend / float64(f.Orders)
	med := c.pop.MedianOrderValue
	base := Explanation{
		ZH: fmt.Sprintf("%d 单中有 %d 单享受了 20%% 及以上的优惠", f.Orders, f.DealOrders),
		EN: fmt.Sprintf("%d of %d orders had a coupon or discount of 20%% or more", f.DealOrders, f.Orders),
	}
	switch {
	case share >= PriceSensitiveShare:
		base.ZH += "：价格敏感"
		base.EN += ": price sensitive"
		return "price_sensitive", base, true
	case share < QualityShare && aov >= med:
		base.ZH += fmt.Sprintf("，平均客单价 %s 不低于全体中位数 %s：品质导向", yuan(aov), yuan(med))
		base.EN += fmt.Sprintf(", and the mean order value %s is at least the population median %s: quality seeking", yuan(aov), yuan(med))
		return "quality_seeking", base, true
	}
	base.ZH += "：价格中性"
	base.EN += ": neutral"
	return "neutral", base, true
}

// --- interest ---

// interestList returns up to topInterests names with a weight of at least minInterestWeight.
func interestList(ws []Weighted) []string {
	var out []string
	for _, w := range ws {
		if len(out) == topInterests || w.Weight < minInterestWeight {
			break
		}
		out = append(out, w.Name)
	}
	return out
}

func topCategoriesTag(c *evalCtx) (string, Explanation, bool) {
	names := interestList(c.f.TopCategories)
	if len(names) == 0 {
		return "", Explanation{}, false
	}
	hl := strconv.FormatFloat(c.f.HalfLifeDays, 'f', -1, 64)
	return strings.Join(names, ","), Explanation{
		ZH: "按浏览、加购、收藏、下单（权重 1/3/2/5，半衰期 " + hl + " 天）计算，近期最感兴趣的品类：" + strings.Join(names, "、"),
		EN: "Strongest recent interest by views, carts, favourites and orders (weights 1/3/2/5, half-life " + hl +
			" days): " + strings.Join(names, ", "),
	}, true
}

func topBrandsTag(c *evalCtx) (string, Explanation, bool) {
	names := interestList(c.f.TopBrands)
	if len(names) == 0 {
		return "", Explanation{}, false
	}
	hl := strconv.FormatFloat(c.f.HalfLifeDays, 'f', -1, 64)
	return strings.Join(names, ","), Explanation{
		ZH: "按加购、收藏、下单（权重 3/2/5，半衰期 " + hl + " 天）计算，近期最感兴趣的品牌：" + strings.Join(names, "、"),
		EN: "Strongest recent brand interest by carts, favourites and orders (weights 3/2/5, half-life " + hl +
			" days): " + strings.Join(names, ", "),
	}, true
}

// SeasonScores returns a subject's season scores (spring, summer, autumn, winter): the mean, over the
// subject's undecayed category weights, of each category's season lift in the population; 1 means no lean.
// ok is false when the subject has too little interest data or the population no season shares.
func SeasonScores(f *Features, m SeasonModel) (scores [4]float64, ok bool) {
	var total, covered float64
	for cat, w := range f.SeasonCategories {
		sum := w[0] + w[1] + w[2] + w[3]
		total += sum
		l, found := m.Lift[cat]
		if !found {
			continue
		}
		covered += sum
		for s := range 4 {
			scores[s] += sum * l[s]
		}
	}
	if total < minSeasonSubjectWeight || covered == 0 {
		return [4]float64{}, false
	}
	for s := range 4 {
		scores[s] /= covered
	}
	return scores, true
}

func seasonTag(c *evalCtx) (string, Explanation, bool) {
	sc, ok := SeasonScores(c.f, c.pop.Season)
	if !ok {
		return "", Explanation{}, false
	}
	best := 0
	for s := 1; s < 4; s++ {
		if sc[s] > sc[best] {
			best = s
		}
	}
	x := strconv.FormatFloat(sc[best], 'f', 2, 64)
	if sc[best] < SeasonLift {
		return "all_season", Explanation{
			ZH: "偏好的品类没有明显的季节性（最高为" + seasonNamesZH[best] + "的 " + x + " 倍）",
			EN: "The favoured categories lean to no season (at most " + x + "x in " + seasonNames[best] + ")",
		}, true
	}
	return seasonNames[best], Explanation{
		ZH: "偏好的品类在" + seasonNamesZH[best] + "的热度是全体平均的 " + x + " 倍",
		EN: "The favoured categories are " + x + "x as popular in " + seasonNames[best] + " as the population's average",
	}, true
}

// --- value ---

// rfm returns the subject's R, F and M scores against the frozen edges.
func (c *evalCtx) rfm() (r, fq, m int, ok bool) {
	if !c.rfmDone {
		c.rfmDone = true
		f := c.f
		if f.Orders > 0 && c.pop.RFM.Subjects > 0 {
			rv, fv, mv := rfmValues(f, c.now)
			c.r, c.fq, c.m = score(c.pop.RFM.R, rv, f.SubjectID), score(c.pop.RFM.F, fv, f.SubjectID), score(c.pop.RFM.M, mv, f.SubjectID)
			c.rfmOK = true
		}
	}
	return c.r, c.fq, c.m, c.rfmOK
}

// interval returns the population median repurchase interval in days.
func (c *evalCtx) interval() float64 {
	if c.pop.MedianRepurchaseDays > 0 {
		return c.pop.MedianRepurchaseDays
	}
	return DefaultIntervalDays
}

// daysSinceLast returns the whole days since the last order.
func (c *evalCtx) daysSinceLast() float64 { return math.Floor(daysBetween(c.f.LastOrder, c.now)) }

// RFMSegment returns the segment of R and F scores on the usual R×F grid (R rows, F columns):
//
//	R\F   1               2                    3                    4          5
//	5     new             potential_loyalists  potential_loyalists  champions  champions
//	4     promising       potential_loyalists  potential_loyalists  loyal      loyal
//	3     about_to_sleep  about_to_sleep       need_attention       loyal      loyal
//	2     hibernating     hibernating          at_risk              at_risk    cant_lose
//	1     hibernating*    hibernating          at_risk              at_risk    cant_lose
//
// * lost instead when daysSinceLast exceeds twice the population median repurchase interval.
func RFMSegment(r, f int, daysSinceLast, medianIntervalDays float64) string {
	switch {
	case r >= 5 && f >= 4:
		return "champions"
	case r >= 3 && f >= 4:
		return "loyal"
	case r >= 4 && f >= 2:
		return "potential_loyalists"
	case r >= 5:
		return "new"
	case r == 4:
		return "promising"
	case r == 3 && f == 3:
		return "need_attention"
	case r == 3:
		return "about_to_sleep"
	case f >= 5:
		return "cant_lose"
	case f >= 3:
		return "at_risk"
	case r <= 1 && f <= 1 && daysSinceLast > 2*medianIntervalDays:
		return "lost"
	}
	return "hibernating"
}

var segmentWords = map[string][2]string{
	"champions":           {"高价值活跃客户", "a high-value active customer"},
	"loyal":               {"忠诚客户", "a loyal customer"},
	"potential_loyalists": {"潜在忠诚客户", "a potential loyalist"},
	"new":                 {"新客户", "a new customer"},
	"promising":           {"有潜力的新客", "a promising newcomer"},
	"need_attention":      {"需要关注的客户", "a customer who needs attention"},
	"about_to_sleep":      {"即将沉睡的客户", "a customer about to fall asleep"},
	"at_risk":             {"有流失风险的老客户", "an established customer at risk"},
	"cant_lose":           {"不能失去的高价值老客户", "a high-value customer we cannot lose"},
	"hibernating":         {"休眠客户", "a hibernating customer"},
	"lost":                {"已流失客户", "a lost customer"},
}

// segment returns the subject's RFM segment.
func (c *evalCtx) segment() (string, bool) {
	r, fq, _, ok := c.rfm()
	if !ok || c.refused[KeyRFMSegment] {
		return "", false // a refused segment decides and names nothing else
	}
	return RFMSegment(r, fq, c.daysSinceLast(), c.interval()), true
}

func rfmScoreTag(c *evalCtx) (string, Explanation, bool) {
	r, fq, m, ok := c.rfm()
	if !ok {
		return "", Explanation{}, false
	}
	f := c.f
	d := int(c.daysSinceLast())
	return fmt.Sprintf("%d-%d-%d", r, fq, m), Explanation{
		ZH: fmt.Sprintf("最近一次下单在 %d 天前（R=%d），共下单 %d 次（F=%d），净消费 %s（M=%d），按全体消费者五分位评分", d, r, f.Orders, fq, yuan(f.NetSpend()), m),
		EN: fmt.Sprintf("Last order %d days ago (R %d), %d orders (F %d), net spend %s (M %d), scored by quintile over all consenting buyers", d, r, f.Orders, fq, yuan(f.NetSpend()), m),
	}, true
}

func rfmSegmentTag(c *evalCtx) (string, Explanation, bool) {
	seg, ok := c.segment()
	if !ok {
		return "", Explanation{}, false
	}
	f := c.f
	d := int(c.daysSinceLast())
	w := segmentWords[seg]
	return seg, Explanation{
		ZH: fmt.Sprintf("最近一次下单在 %d 天前，下单 %d 次，净消费 %s：%s", d, f.Orders, yuan(f.NetSpend()), w[0]),
		EN: fmt.Sprintf("Last order %d days ago, %d orders and %s net spend: %s", d, f.Orders, yuan(f.NetSpend()), w[1]),
	}, true
}

// pAlive returns BG/NBD P(alive), when the population has an LTV model.
func (c *evalCtx) pAlive() (float64, bool) {
	if !c.paDone {
		c.paDone = true
		if c.pop.LTV != nil && c.f.Orders > 0 {
			p := c.pop.LTV.BGNBD.ProbAlive(customerOf(c.f, c.now))
			if !math.IsNaN(p) {
				c.pa, c.paOK = p, true
			}
		}
	}
	return c.pa, c.paOK
}

func ltvTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if c.pop.LTV == nil || f.Orders == 0 {
		return "", Explanation{}, false
	}
	cust := customerOf(f, c.now)
	n := c.pop.LTV.BGNBD.ExpectedPurchases(ltvHorizonDays, cust)
	spend := c.pop.LTV.GammaGamma.ExpectedAverageSpend(cust.Frequency, monetaryOf(f))
	v := ltv.Value(n, spend) // ltv.LTV without computing n a second time (a numerical integral for many customers)
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "", Explanation{}, false
	}
	x := strconv.FormatFloat(n, 'f', 1, 64)
	return strconv.FormatInt(int64(math.Round(v)), 10), Explanation{
		ZH: fmt.Sprintf("预计未来 12 个月下单 %s 次、每单约 %s（BG/NBD × Gamma-Gamma）：预期消费 %s", x, yuan(spend), yuan(v)),
		EN: fmt.Sprintf("Expected %s orders in the next 12 months at about %s each (BG/NBD x Gamma-Gamma): %s", x, yuan(spend), yuan(v)),
	}, true
}

func churnTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Orders == 0 {
		return "", Explanation{}, false
	}
	drop := f.OrdersPrev90 - f.OrdersLast90
	pa, paOK := c.pAlive()
	d := c.daysSinceLast()
	iv := c.interval()
	zh := fmt.Sprintf("近 90 天下单 %d 次，之前 90 天下单 %d 次", f.OrdersLast90, f.OrdersPrev90)
	en := fmt.Sprintf("%d orders in the last 90 days against %d in the 90 days before", f.OrdersLast90, f.OrdersPrev90)
	if paOK {
		p := strconv.FormatFloat(pa, 'f', 2, 64)
		zh += "，BG/NBD 估计仍活跃的概率为 " + p
		en += "; BG/NBD probability of still being active " + p
	} else {
		zh += "（总体模型不可用，未使用活跃概率）"
		en += " (population model unavailable, P(alive) not used)"
	}
	switch {
	case d > churnedAfter(iv):
		// Gone longer than the lifecycle calls churned: high, whatever a model says (BG/NBD gives a one-time
		// buyer a probability of 1 of still being active, however long ago the order was).
		return "high", Explanation{ZH: zh + fmt.Sprintf("，最近一次下单在 %d 天前，超过 %d 天：流失风险高", int(d), int(churnedAfter(iv))),
			EN: en + fmt.Sprintf("; last order %d days ago, more than %d days: high churn risk", int(d), int(churnedAfter(iv)))}, true
	case drop > ChurnDrop || paOK && pa < PAliveHigh:
		return "high", Explanation{ZH: zh + "：流失风险高", EN: en + ": high churn risk"}, true
	case drop > 0 || paOK && pa < PAliveMedium || (!paOK || f.PurchaseDays <= 1) && d > 2*iv:
		return "medium", Explanation{ZH: zh + fmt.Sprintf("，最近一次下单在 %d 天前：流失风险中", int(d)),
			EN: en + fmt.Sprintf("; last order %d days ago: medium churn risk", int(d))}, true
	}
	return "low", Explanation{ZH: zh + "：流失风险低", EN: en + ": low churn risk"}, true
}

// churnedAfter is how many days without an order make a customer churned: a year, or four of their usual
// intervals between orders if that is longer. The lifecycle stage and the churn risk agree on it.
func churnedAfter(interval float64) float64 { return math.Max(365, 4*interval) }

func lifecycleTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Orders == 0 {
		return "prospect", Explanation{ZH: "尚未下单：潜在客户", EN: "No order yet: a prospect"}, true
	}
	first := int(math.Floor(daysBetween(f.FirstOrder, c.now)))
	if first <= NewCustomerDays {
		return "new", Explanation{
			ZH: fmt.Sprintf("首单在 %d 天前：新客户", first),
			EN: fmt.Sprintf("First order %d days ago: a new customer", first),
		}, true
	}
	seg, segOK := c.segment()
	d := c.daysSinceLast()
	iv := c.interval()
	active, churned := math.Max(90, 2*iv), churnedAfter(iv)
	if segOK && (seg == "champions" || seg == "loyal") && d <= active {
		// A loyal segment still within the active window: past it, the customer is dormant or churned
		// whatever their history (it called 131 silent customers loyal).
		return "loyal", Explanation{
			ZH: "RFM 分群为 " + seg + "：忠诚客户",
			EN: "RFM segment " + seg + ": a loyal customer",
		}, true
	}
	zh := fmt.Sprintf("最近一次下单在 %d 天前", int(d))
	en := fmt.Sprintf("Last order %d days ago", int(d))
	switch {
	case seg == "lost" || d > churned:
		return "churned", Explanation{ZH: zh + fmt.Sprintf("，超过 %d 天：已流失", int(churned)),
			EN: en + fmt.Sprintf(", more than %d days: churned", int(churned))}, true
	case d <= active:
		return "active", Explanation{ZH: zh + fmt.Sprintf("，在 %d 天以内：活跃", int(active)),
			EN: en + fmt.Sprintf(", within %d days: active", int(active))}, true
	}
	return "dormant", Explanation{ZH: zh + fmt.Sprintf("，超过 %d 天未复购：沉睡", int(active)),
		EN: en + fmt.Sprintf(", no repurchase for more than %d days: dormant", int(active))}, true
}

// --- attitude ---

// formatSentiment formats a mean sentiment with two decimals, without a negative zero.
func formatSentiment(x float64) string {
	s := strconv.FormatFloat(math.Max(-1, math.Min(1, x)), 'f', 2, 64)
	if s == "-0.00" {
		return "0.00"
	}
	return s
}

func sentimentTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.SentimentTexts == 0 {
		return "", Explanation{}, false
	}
	v := formatSentiment(f.SentimentSum / float64(f.SentimentTexts))
	ex := Explanation{
		ZH: fmt.Sprintf("%d 条评价和咨询文本的平均情感得分为 %s（-1 最负面，1 最正面）", f.SentimentTexts, v),
		EN: fmt.Sprintf("Mean sentiment %s over %d review and chat texts (-1 most negative, 1 most positive)", v, f.SentimentTexts),
	}
	// The lexicon entries that moved the most extreme texts (PIPL Art. 24: what drove the score), never the
	// texts themselves.
	if len(f.SentimentDrivers) > 0 {
		zh, en := make([]string, len(f.SentimentDrivers)), make([]string, len(f.SentimentDrivers))
		for i, d := range f.SentimentDrivers {
			zh[i], en[i] = d.Phrase+"（正面）", d.Phrase+" (positive)"
			if d.Negative {
				zh[i], en[i] = d.Phrase+"（负面）", d.Phrase+" (negative)"
			}
		}
		ex.ZH += "；影响最大的词句：" + strings.Join(zh, "、")
		ex.EN += "; the phrases that moved it most: " + strings.Join(en, ", ")
	}
	return v, ex, true
}

func satisfactionTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	if f.Rated == 0 && f.Complaints == 0 {
		return "", Explanation{}, false
	}
	rate := float64(f.Complaints) / float64(max(f.Orders, 1))
	mean := 0.0
	zh := fmt.Sprintf("每单投诉 %.2f 次", rate)
	en := fmt.Sprintf("%.2f complaints per order", rate)
	if f.Rated > 0 {
		mean = f.RatingSum / float64(f.Rated)
		zh = fmt.Sprintf("%d 条评价平均 %.1f 分，", f.Rated, mean) + zh
		en = fmt.Sprintf("mean rating %.1f over %d reviews, ", mean, f.Rated) + en
	}
	en = strings.ToUpper(en[:1]) + en[1:]
	switch {
	case f.Rated > 0 && mean <= 2.5 || rate >= 0.3:
		return "dissatisfied", Explanation{ZH: zh + "：不满意", EN: en + ": dissatisfied"}, true
	case f.Rated > 0 && mean >= 4 && rate < 0.1:
		return "satisfied", Explanation{ZH: zh + "：满意", EN: en + ": satisfied"}, true
	}
	return "neutral", Explanation{ZH: zh + "：一般", EN: en + ": neutral"}, true
}

func advocacyTag(c *evalCtx) (string, Explanation, bool) {
	f := c.f
	p := f.Shares + f.Recommendations + f.PositiveReviews
	d := f.NegativeReviews + f.Complaints
	if p+d == 0 && f.Reviews == 0 {
		return "", Explanation{}, false
	}
	zh := fmt.Sprintf("分享 %d 次、推荐 %d 次、好评 %d 条；差评 %d 条、投诉 %d 次", f.Shares, f.Recommendations, f.PositiveReviews, f.NegativeReviews, f.Complaints)
	en := fmt.Sprintf("%d shares, %d recommendations and %d positive reviews against %d negative reviews and %d complaints",
		f.Shares, f.Recommendations, f.PositiveReviews, f.NegativeReviews, f.Complaints)
	switch {
	case d > p:
		return "detractor", Explanation{ZH: zh + "：贬损者", EN: en + ": a detractor"}, true
	case p-d >= 2:
		return "promoter", Explanation{ZH: zh + "：推荐者", EN: en + ": a promoter"}, true
	}
	return "passive", Explanation{ZH: zh + "：被动者", EN: en + ": passive"}, true
}

// --- segment ---

func clusterTag(c *evalCtx) (string, Explanation, bool) {
	cm := c.pop.Cluster
	if cm == nil || !clusterable(c.f) {
		return "", Explanation{}, false
	}
	j := cm.predict(c.f, c.now)
	if j < 0 {
		return "", Explanation{}, false
	}
	o := cm.original(j)
	k := len(cm.Centroids)
	name := cm.name(j)
	if j >= len(cm.Sizes) || cm.Sizes[j] < MinCell {
		// A segment of fewer than MinCell buyers is not described: its centroid is the mean of those few
		// people (insights suppress it too), and the explanation reaches marketing.
		return fmt.Sprintf("cluster_%d", j+1), Explanation{
			ZH: fmt.Sprintf("属于客群 %d（共 %d 个，按消费从高到低编号）：该客群人数过少，不予描述", j+1, k),
			EN: fmt.Sprintf("In segment %d of %d (numbered by spend, highest first): too few customers to describe", j+1, k),
		}, true
	}
	return fmt.Sprintf("cluster_%d", j+1), Explanation{
		ZH: fmt.Sprintf("属于客群 %d「%s」（共 %d 个，按消费从高到低编号）：该客群的典型客户最近一次下单在 %d 天前，下单 %.1f 次，净消费 %s，每次会话浏览 %.1f 页",
			j+1, name.ZH, k, int(math.Round(o[0])), o[1], yuan(o[2]), o[4]),
		EN: fmt.Sprintf("In segment %d of %d, \"%s\" (numbered by spend, highest first): its typical customer last ordered %d days ago, has %.1f orders, %s net spend and %.1f page views per session",
			j+1, k, name.EN, int(math.Round(o[0])), o[1], yuan(o[2]), o[4]),
	}, true
}

// yuan formats an amount in CNY rounded to the yuan with thousands separators: ¥3,420.
func yuan(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "¥-"
	}
	n := int64(math.Round(x))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString("¥")
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}
