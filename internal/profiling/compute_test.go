package profiling

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilevault/profilevault/internal/profiling/sentiment"
	"github.com/profilevault/profilevault/policies"
)

func TestAgeBand(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		birth string
		loc   *time.Location
		want  string // "" means no tag
	}{
		{"2012-06-02", nil, "<14"}, // turns 14 tomorrow
		{"2012-06-01", nil, "14-17"},
		{"2012-06-01", la, "<14"}, // still 31 May in Los Angeles
		{"2008-06-02", nil, "14-17"},
		{"2008-06-01", nil, "18-24"},
		{"2001-06-02", nil, "18-24"},
		{"2001-06-01", nil, "25-34"},
		{"1991-06-02", nil, "25-34"},
		{"1991-06-01", nil, "35-44"},
		{"1981-06-01", nil, "45-59"},
		{"1966-06-02", nil, "45-59"},
		{"1966-06-01", nil, "60+"},
		{"1930-01-01", nil, "60+"},
		{"2030-01-01", nil, ""},
		{"01/06/1990", nil, ""},
		{"", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.birth, func(t *testing.T) {
			loc := tc.loc
			if loc == nil {
				loc = shanghai(t)
			}
			s := Subject{ID: "s", Fields: map[string]string{"birth_date": tc.birth}, Allowed: allow(Identity)}
			tags := tagMap(Compute(s, Extract(s, testNow, loc), Population{}, testNow, loc))
			if got := tags[KeyAgeBand].Value; got != tc.want {
				t.Errorf("age band %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRegionAndCityTier(t *testing.T) {
	tests := []struct {
		province, city   string
		region, tier     string
		explanationCity  string
		fromCityProvince bool
	}{
		{"广东省", "广州市", "广东", "1", "广州", false},
		{"", "襄阳", "湖北", "3", "襄阳", true},
		{"广西壮族自治区", "桂林市", "广西", "3", "桂林", false},
		{"甘肃", "天水", "甘肃", "4+", "天水", false},
		{"浙江", "某某县", "浙江", "4+", "某某县", false},
		{"北京市", "", "北京", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.province+tc.city, func(t *testing.T) {
			s := Subject{ID: "s", Fields: map[string]string{"province": tc.province, "city": tc.city}, Allowed: allow(Address)}
			tags := computeOne(t, s, Population{})
			if got := tags[KeyRegion].Value; got != tc.region {
				t.Errorf("region %q, want %q", got, tc.region)
			}
			if got := tags[KeyCityTier].Value; got != tc.tier {
				t.Errorf("tier %q, want %q", got, tc.tier)
			}
			if tc.tier != "" && !strings.Contains(tags[KeyCityTier].Explanation.ZH, tc.explanationCity) {
				t.Errorf("explanation %q", tags[KeyCityTier].Explanation.ZH)
			}
		})
	}
	// The tiers of every city the synthetic shop uses.
	for city, want := range map[string]int{"北京": 1, "上海": 1, "广州": 1, "深圳": 1, "杭州": 2, "南京": 2, "苏州": 2,
		"成都": 2, "武汉": 2, "西安": 2, "青岛": 2, "郑州": 2, "长沙": 2, "厦门": 2, "昆明": 2, "哈尔滨": 2, "襄阳": 3,
		"桂林": 3, "保定": 3, "赣州": 3, "大同": 3, "包头": 3, "天水": 4, "安庆": 4, "遵义": 4, "南阳": 4} {
		if got, known := CityTier(city + "市"); got != want || !known {
			t.Errorf("CityTier(%s) = %d, %v; want %d", city, got, known, want)
		}
	}
}

func TestMemberSince(t *testing.T) {
	tests := []struct {
		name    string
		created time.Time
		events  []Event
		allowed map[string]bool
		want    string
		inputs  []string
	}{
		{"registered 400 days ago", ago(400), nil, allow(Identity), "1-2y", []string{Identity}},
		{"registered 10 days ago", ago(10), nil, allow(Identity), "<1m", []string{Identity}},
		{"first event before registration", ago(10), []Event{pageView(ago(100), "snacks")}, allow(Identity, Behavior),
			"1-6m", []string{Behavior, Identity}},
		{"earlier event of a category not allowed", ago(10), []Event{pageView(ago(100), "snacks")}, allow(Identity),
			"<1m", []string{Identity}},
		{"no registration date", time.Time{}, []Event{order("o1", ago(800), 100, 0, "snacks")}, allow(Identity, Transactions),
			"2-3y", []string{Transactions, Identity}},
		{"identity not allowed", ago(400), nil, allow(Behavior), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", CreatedAt: tc.created, Events: tc.events, Allowed: tc.allowed}
			tag, ok := computeOne(t, s, Population{})[KeyMemberSince]
			if tag.Value != tc.want || ok && !slices.Equal(tag.Inputs, tc.inputs) {
				t.Errorf("got %q %v, want %q %v", tag.Value, tag.Inputs, tc.want, tc.inputs)
			}
		})
	}
}

func TestSlotOf(t *testing.T) {
	for hour, want := range map[int]string{0: "night", 5: "night", 6: "morning", 10: "morning", 11: "midday",
		13: "midday", 14: "afternoon", 17: "afternoon", 18: "evening", 22: "evening", 23: "night"} {
		if got := slotNames[slotOf(hour)]; got != want {
			t.Errorf("slotOf(%d) = %s, want %s", hour, got, want)
		}
	}
}

func TestActiveSlotUsesLocalTime(t *testing.T) {
	// Three sessions at 11:30 UTC (19:30 in Shanghai) on different days and one at 01:00 UTC (09:00).
	var events []Event
	for d := 5; d >= 3; d-- {
		events = append(events, pageView(time.Date(2026, 5, 31-d, 11, 30, 0, 0, time.UTC), "snacks"))
	}
	events = append(events, pageView(time.Date(2026, 5, 30, 1, 0, 0, 0, time.UTC), "snacks"))
	s := Subject{ID: "s", Events: events, Allowed: allow(Behavior)}
	tests := []struct {
		loc  *time.Location
		want string
	}{
		{shanghai(t), "evening"},
		{time.UTC, "midday"},
		{nil, "evening"}, // nil means China Standard Time
	}
	for _, tc := range tests {
		got := tagMap(Compute(s, Extract(s, testNow, tc.loc), Population{}, testNow, tc.loc))[KeyActiveSlot]
		if got.Value != tc.want {
			t.Errorf("loc %v: slot %q, want %q", tc.loc, got.Value, tc.want)
		}
	}
}

func TestSessionsAndBrowseDepth(t *testing.T) {
	base := ago(10)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name     string
		events   []Event
		sessions int
		depth    string
	}{
		{"gap of exactly 30 minutes stays in the session", []Event{pageView(at(0), "a"), pageView(at(30), "a")}, 1, "2.0"},
		{"gap over 30 minutes splits", []Event{pageView(at(0), "a"), pageView(at(10), "a"), pageView(at(40), "a"),
			pageView(at(71), "a")}, 2, "2.0"},
		{"clicks keep a session alive", []Event{pageView(at(0), "a"), ev("click", at(25), nil), ev("click", at(50), nil),
			pageView(at(75), "a")}, 1, "2.0"},
		{"a session without page views is not counted in depth", []Event{pageView(at(0), "a"), pageView(at(1), "a"),
			pageView(at(2), "a"), ev("search", at(120), map[string]any{"query": "q"})}, 2, "3.0"},
		{"unsorted input", []Event{pageView(at(71), "a"), pageView(at(0), "a"), pageView(at(40), "a"),
			pageView(at(10), "a")}, 2, "2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Behavior)}
			f := Extract(s, testNow, shanghai(t))
			if f.Sessions != tc.sessions {
				t.Errorf("sessions %d, want %d", f.Sessions, tc.sessions)
			}
			if got := tagMap(Compute(s, f, Population{}, testNow, nil))[KeyBrowseDepth].Value; got != tc.depth {
				t.Errorf("browse depth %q, want %q", got, tc.depth)
			}
		})
	}
}

func TestCartAbandonment(t *testing.T) {
	t1, t2, t3 := ago(20), ago(10), ago(5)
	events := []Event{
		cartAdd(t1, "snacks", "b"), order("o1", t1.Add(2*time.Hour), 50, 0, "snacks"), // converted
		cartAdd(t2, "snacks", "b"), order("o2", t2.Add(25*time.Hour), 50, 0, "snacks"), // too late
		cartAdd(t3, "books", "b"),                       // never ordered
		cartAdd(testNow.Add(-2*time.Hour), "toys", "b"), // too recent to judge
	}
	tests := []struct {
		name    string
		allowed map[string]bool
		want    string
	}{
		{"both categories", allow(Behavior, Transactions), "0.67"},
		{"no transactions", allow(Behavior), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: events, Allowed: tc.allowed}
			got := computeOne(t, s, Population{})[KeyCartAbandonRate]
			if got.Value != tc.want {
				t.Errorf("rate %q, want %q", got.Value, tc.want)
			}
			if tc.want != "" && !strings.Contains(got.Explanation.EN, "2 of 3 cart additions") {
				t.Errorf("explanation %q", got.Explanation.EN)
			}
		})
	}
}

func TestRepurchaseInterval(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   string
	}{
		{"odd gaps", []Event{order("a", ago(100), 10, 0, "x"), order("b", ago(90), 10, 0, "x"),
			order("c", ago(70), 10, 0, "x"), order("d", ago(69), 10, 0, "x")}, "10"},
		{"even gaps", []Event{order("a", ago(100), 10, 0, "x"), order("b", ago(90), 10, 0, "x"),
			order("c", ago(70), 10, 0, "x")}, "15"},
		{"cancelled order excluded", []Event{order("a", ago(100), 10, 0, "x"), order("b", ago(90), 10, 0, "x"),
			ev("cancel", ago(89.9), map[string]any{"order_id": "b"}), order("c", ago(70), 10, 0, "x")}, "30"},
		{"duplicate order id counted once", []Event{order("a", ago(100), 10, 0, "x"), order("a", ago(100), 10, 0, "x"),
			order("c", ago(70), 10, 0, "x")}, "30"},
		{"single order", []Event{order("a", ago(100), 10, 0, "x")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Transactions)}
			if got := computeOne(t, s, Population{})[KeyRepurchaseDays].Value; got != tc.want {
				t.Errorf("interval %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAfterSalesChannelAndPrice(t *testing.T) {
	pos := order("p1", ago(40), 300, 0, "shoes")
	pos.Type, pos.Source = "pos_purchase", "pos"
	couponOnly := order("c1", ago(30), 80, 0, "snacks")
	delete(couponOnly.Attrs, "discount")
	couponOnly.Attrs["coupon"] = "CP25"
	tests := []struct {
		name                     string
		events                   []Event
		pop                      Population
		afterSales, channel, psy string
	}{
		{"online deals", []Event{
			order("a", ago(50), 80, 20, "x"), // exactly 20 % off
			order("b", ago(40), 70, 30, "x"),
			order("c", ago(30), 95, 5, "x"),
			ev("return", ago(25), map[string]any{"order_id": "b", "amount": json.Number("70.00")}),
			ev("complaint", ago(24), map[string]any{"text": "不满意"}),
		}, Population{MedianOrderValue: 50}, "0.67", "online", "price_sensitive"},
		{"omnichannel quality", []Event{order("a", ago(50), 500, 0, "x"), pos, order("b", ago(30), 400, 10, "x")},
			Population{MedianOrderValue: 200}, "0.00", "omnichannel", "quality_seeking"},
		{"low spend without deals is neutral", []Event{order("a", ago(50), 50, 0, "x"), order("b", ago(30), 40, 0, "x")},
			Population{MedianOrderValue: 200}, "0.00", "online", "neutral"},
		{"coupon without a discount amount counts as a deal", []Event{couponOnly, order("b", ago(20), 40, 20, "x")},
			Population{MedianOrderValue: 10}, "0.00", "online", "price_sensitive"},
		{"offline, one order", []Event{pos}, Population{}, "0.00", "offline", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Transactions, Interactions)}
			got := computeOne(t, s, tc.pop)
			if got[KeyAfterSalesRate].Value != tc.afterSales || got[KeyChannel].Value != tc.channel ||
				got[KeyPriceSensitivity].Value != tc.psy {
				t.Errorf("after-sales %q channel %q price %q, want %q %q %q", got[KeyAfterSalesRate].Value,
					got[KeyChannel].Value, got[KeyPriceSensitivity].Value, tc.afterSales, tc.channel, tc.psy)
			}
		})
	}
}

func TestDecayedInterestOrdering(t *testing.T) {
	var events []Event
	for k := range 10 {
		events = append(events, pageView(ago(90).Add(time.Duration(k)*time.Second), "a_cat")) // 10·2^-3 = 1.25
	}
	fav := ev("favorite", ago(30), map[string]any{"category": "c_cat", "brand": "c_brand"}) // 2·2^-1 = 1
	events = append(events, order("o1", ago(60), 100, 0, "d_cat"), fav)                     // 5·2^-2 = 1.25
	events = append(events, cartAdd(ago(0.5), "b_cat", "b_brand"))                          // ≈ 3
	s := Subject{ID: "s", Events: events, Allowed: allow(Behavior, Transactions)}
	loc := shanghai(t)
	tests := []struct {
		halfLife       float64
		cats, brands   string
		firstCatWeight float64
	}{
		{30, "b_cat,a_cat,d_cat", "b_brand,b_d_cat,c_brand", 3 * 0.988514},
		// Half-life 60: a_cat 10·2^-1.5 = 3.54, b_cat ≈ 3, d_cat 5·2^-1 = 2.5, c_cat 2·2^-0.5 = 1.41.
		{60, "a_cat,b_cat,d_cat", "b_brand,b_d_cat,c_brand", 10 * 0.353553},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.halfLife), func(t *testing.T) {
			f := ExtractWith(s, testNow, loc, ExtractOptions{HalfLifeDays: tc.halfLife})
			tags := tagMap(Compute(s, f, Population{}, testNow, loc))
			if got := tags[KeyTopCategories].Value; got != tc.cats {
				t.Errorf("categories %q, want %q (%+v)", got, tc.cats, f.TopCategories)
			}
			if got := tags[KeyTopBrands].Value; got != tc.brands {
				t.Errorf("brands %q, want %q (%+v)", got, tc.brands, f.TopBrands)
			}
			if w := f.TopCategories[0].Weight; w < tc.firstCatWeight*0.999 || w > tc.firstCatWeight*1.001 {
				t.Errorf("top weight %v, want %v", w, tc.firstCatWeight)
			}
		})
	}
	// Ties are ordered by name.
	tie := Subject{ID: "s", Allowed: allow(Behavior, Transactions), Events: []Event{pageView(ago(1), "zz"), pageView(ago(1), "aa")}}
	if got := computeOne(t, tie, Population{})[KeyTopCategories].Value; got != "aa,zz" {
		t.Errorf("tie order %q", got)
	}
}

func TestSeasonAffinity(t *testing.T) {
	pop := Population{Season: SeasonModel{Overall: [4]float64{0.25, 0.25, 0.25, 0.25},
		Lift: map[string][4]float64{"swimwear": {0.6, 2.6, 0.6, 0.2}, "snacks": {1, 1, 1, 1}, "warm": {0.5, 0.1, 1, 2.4}}}}
	views := func(cat string, n int) []Event {
		var out []Event
		for k := range n {
			out = append(out, pageView(ago(float64(100+k)), cat))
		}
		return out
	}
	tests := []struct {
		name   string
		events []Event
		want   string
	}{
		{"swimwear fan", append(views("swimwear", 6), views("snacks", 4)...), "summer"},
		{"snacks only", views("snacks", 10), "all_season"},
		{"winter clothes", append(views("warm", 5), views("snacks", 5)...), "winter"},
		{"too little data", views("swimwear", 3), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Behavior, Transactions)}
			if got := computeOne(t, s, pop)[KeySeasonAffinity].Value; got != tc.want {
				t.Errorf("season %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRFMSegmentGrid(t *testing.T) {
	grid := [5][5]string{ // rows R = 5..1, columns F = 1..5
		{"new", "potential_loyalists", "potential_loyalists", "champions", "champions"},
		{"promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"},
		{"about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"},
		{"hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"},
		{"hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"},
	}
	for row := range 5 {
		for col := range 5 {
			r, f := 5-row, col+1
			if got := RFMSegment(r, f, 10, 30); got != grid[row][col] {
				t.Errorf("R%d F%d: %s, want %s", r, f, got, grid[row][col])
			}
		}
	}
	for _, tc := range []struct {
		r, f       int
		days, iv   float64
		want       string
		reasonable string
	}{
		{1, 1, 61, 30, "lost", "no order in more than 2x the median interval"},
		{1, 1, 60, 30, "hibernating", "exactly 2x"},
		{2, 1, 500, 30, "hibernating", "lost needs R 1"},
		{1, 2, 500, 30, "hibernating", "lost needs F 1"},
	} {
		if got := RFMSegment(tc.r, tc.f, tc.days, tc.iv); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.reasonable, got, tc.want)
		}
	}
}

// rfmPopulation has edges giving: R by days since last order (≤10 → 5, ≤30 → 4, ≤90 → 3, ≤200 → 2),
// F by orders (≥6 → 5, 4–5 → 4, 3 → 3, 2 → 2), M by net spend (≥2000 → 5, ≥1000 → 4, ≥500 → 3, ≥200 → 2).
var rfmPopulation = Population{
	RFM: RFMModel{Subjects: 100,
		R: []Edge{{Value: -200}, {Value: -90}, {Value: -30}, {Value: -10}},
		F: []Edge{{Value: 2}, {Value: 3}, {Value: 4}, {Value: 6}},
		M: []Edge{{Value: 200}, {Value: 500}, {Value: 1000}, {Value: 2000}},
	},
	MedianRepurchaseDays: 30,
}

func TestChurnRisk(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   string
	}{
		{"8 then 4 orders: drop of 4", append(orders("p", 8, 179, 91), orders("l", 4, 89, 2)...), "high"},
		{"7 then 4 orders: drop of 3", append(orders("p", 7, 179, 91), orders("l", 4, 89, 2)...), "medium"},
		{"4 then 4 orders", append(orders("p", 4, 179, 91), orders("l", 4, 89, 2)...), "low"},
		{"4 then 8 orders", append(orders("p", 4, 179, 91), orders("l", 8, 89, 2)...), "low"},
		{"one order long ago", orders("p", 1, 400, 300), "medium"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Transactions)}
			got := computeOne(t, s, rfmPopulation)[KeyChurnRisk]
			if got.Value != tc.want {
				t.Errorf("churn %q, want %q (%s)", got.Value, tc.want, got.Explanation.EN)
			}
			if !strings.Contains(got.Explanation.EN, "P(alive) not used") {
				t.Errorf("explanation does not say the model is missing: %q", got.Explanation.EN)
			}
		})
	}
}

func TestChurnRiskPAlive(t *testing.T) {
	// With a BG/NBD model, a frequent buyer silent for a long time has a low P(alive).
	pop := rfmPopulation
	pop.LTV = &LTVModel{BGNBD: ltvParams.BGNBD, GammaGamma: ltvParams.GammaGamma}
	s := Subject{ID: "s", Events: orders("p", 12, 700, 400), Allowed: allow(Transactions)}
	got := computeOne(t, s, pop)
	if got[KeyChurnRisk].Value != "high" || !strings.Contains(got[KeyChurnRisk].Explanation.EN, "probability of still being active 0.") {
		t.Errorf("churn %+v", got[KeyChurnRisk])
	}
	if got[KeyLTV12m].Value == "" {
		t.Error("no ltv_12m with a model")
	}
}

func TestLifecycleStage(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   string
	}{
		{"no order", []Event{pageView(ago(3), "x")}, "prospect"},
		{"first order 10 days ago", orders("a", 2, 10, 1), "new"},
		{"six orders, the last 44 days ago: loyal segment", orders("a", 6, 300, 2), "loyal"},
		{"last order 60 days ago", orders("a", 1, 61, 59), "active"},
		{"last order 200 days ago, 2 orders", orders("a", 2, 400, 150), "dormant"},
		{"last order 400 days ago", orders("a", 2, 600, 300), "churned"},
		{"lost segment: R 1, F 1, 250 days > 2x the median interval", orders("a", 1, 260, 240), "churned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Transactions, Behavior)}
			got := computeOne(t, s, rfmPopulation)
			if got[KeyLifecycleStage].Value != tc.want {
				t.Errorf("stage %q, want %q (segment %q: %s)", got[KeyLifecycleStage].Value, tc.want,
					got[KeyRFMSegment].Value, got[KeyLifecycleStage].Explanation.EN)
			}
		})
	}
}

// A tag the subject refused is neither computed nor used by another tag: the lifecycle stage of a loyal
// RFM segment does not say "loyal" because of the refused segment, nor name it (it did, to marketing).
func TestARefusedTagDecidesAndNamesNothing(t *testing.T) {
	s := Subject{ID: "s", Events: orders("a", 6, 300, 2), Allowed: allow(Transactions, Behavior)}
	if got := computeOne(t, s, rfmPopulation); got[KeyLifecycleStage].Value != "loyal" || !strings.Contains(got[KeyLifecycleStage].Explanation.EN, "RFM segment") {
		t.Fatalf("the setting: %+v", got[KeyLifecycleStage])
	}
	s.Refused = map[string]bool{KeyRFMSegment: true}
	got := computeOne(t, s, rfmPopulation)
	if _, ok := got[KeyRFMSegment]; ok {
		t.Error("a refused tag was computed")
	}
	if l := got[KeyLifecycleStage]; l.Value == "loyal" || strings.Contains(l.Explanation.EN+l.Explanation.ZH, "RFM") {
		t.Errorf("the lifecycle stage rests on the refused segment: %+v", l)
	}
}

func TestRFMTagsAgainstFrozenEdges(t *testing.T) {
	events := append(orders("a", 5, 40, 5), ev("return", ago(3), map[string]any{"order_id": "a00", "amount": json.Number("100")}),
		order("x", ago(2), 1000, 0, "x"), ev("cancel", ago(1.9), map[string]any{"order_id": "x"}))
	s := Subject{ID: "s", Events: events, Allowed: allow(Transactions)}
	got := computeOne(t, s, rfmPopulation)
	// Last valid order 10.8 days ago (R 5: whole days ≤ 10), 5 orders (F 4), net 500 - 100 = 400 (M 2); the
	// cancelled order counts neither in R nor in M.
	if got[KeyRFMScore].Value != "5-4-2" || got[KeyRFMSegment].Value != "champions" {
		t.Errorf("score %q segment %q", got[KeyRFMScore].Value, got[KeyRFMSegment].Value)
	}
	for _, want := range []string{"10 天前", "下单 5 次", "¥400", "高价值活跃客户"} {
		if !strings.Contains(got[KeyRFMSegment].Explanation.ZH, want) {
			t.Errorf("explanation %q lacks %q", got[KeyRFMSegment].Explanation.ZH, want)
		}
	}
	if !strings.Contains(got[KeyRFMSegment].Explanation.EN, "Last order 10 days ago, 5 orders and ¥400 net spend: a high-value active customer") {
		t.Errorf("explanation %q", got[KeyRFMSegment].Explanation.EN)
	}
}

func TestAttitudeTags(t *testing.T) {
	review := func(rating int, text string) Event {
		return ev("review", ago(5), map[string]any{"order_id": "o", "rating": json.Number(fmt.Sprint(rating)), "text": text})
	}
	chat := ev("chat", ago(4), map[string]any{"text": "请问什么时候发货？"})
	tests := []struct {
		name                  string
		events                []Event
		sentiment, sat, advoc string
		nonNegative           bool
	}{
		{"happy promoter", []Event{order("o", ago(10), 100, 0, "x"), review(5, "非常满意，质量很好，推荐购买"),
			ev("share", ago(3), map[string]any{"sku": "s"}), chat}, "", "satisfied", "promoter", true},
		{"unhappy detractor", []Event{order("o", ago(10), 100, 0, "x"), order("p", ago(9), 100, 0, "x"),
			review(1, "质量很差，非常失望"), ev("complaint", ago(3), map[string]any{"text": "要求退货"})}, "", "dissatisfied", "detractor", false},
		{"middling", []Event{order("o", ago(10), 100, 0, "x"), review(3, "The quality is okay.")}, "", "neutral", "passive", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Subject{ID: "s", Events: tc.events, Allowed: allow(Transactions, Interactions)}
			got := computeOne(t, s, Population{})
			if tc.sentiment != "" && got[KeySentiment].Value != tc.sentiment {
				t.Errorf("sentiment %q, want %q", got[KeySentiment].Value, tc.sentiment)
			}
			if v := got[KeySentiment].Value; v == "" || strings.HasPrefix(v, "-") == tc.nonNegative {
				t.Errorf("sentiment sign %q", v)
			}
			if got[KeySatisfaction].Value != tc.sat || got[KeyAdvocacy].Value != tc.advoc {
				t.Errorf("satisfaction %q advocacy %q, want %q %q", got[KeySatisfaction].Value, got[KeyAdvocacy].Value, tc.sat, tc.advoc)
			}
			if !strings.HasSuffix(got[KeySentiment].AlgorithmVersion, "+"+sentiment.Version) {
				t.Errorf("sentiment version %q", got[KeySentiment].AlgorithmVersion)
			}
		})
	}
	if got := formatSentiment(-0.001); got != "0.00" {
		t.Errorf("negative zero formatted %q", got)
	}
}

func TestYuan(t *testing.T) {
	for x, want := range map[float64]string{0: "¥0", 999.6: "¥1,000", 3420: "¥3,420", 1234567.4: "¥1,234,567", -1500: "-¥1,500"} {
		if got := yuan(x); got != want {
			t.Errorf("yuan(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestNeverReadsContactOrSensitiveFields(t *testing.T) {
	secrets := map[string]string{"name": "李雷雷", "phone": "+8613800001234", "email": "lilei@example.cn",
		"address_line": "人民路1号", "id_number": "110101199001011234", "bank_account": "6222000011112222"}
	fields := map[string]string{"birth_date": "1990-04-01", "province": "湖北", "city": "襄阳", "gender": "male"}
	for k, v := range secrets {
		fields[k] = v
	}
	s := Subject{ID: "s", Fields: fields, Allowed: allowAll(), Events: append(orders("a", 3, 100, 5),
		pageView(ago(1), "snacks"), ev("review", ago(2), map[string]any{"rating": json.Number("5"), "text": "好"}))}
	tags := Compute(s, Extract(s, testNow, nil), rfmPopulation, testNow, nil)
	if len(tags) < 10 {
		t.Fatalf("only %d tags", len(tags))
	}
	b, err := json.Marshal(tags)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range secrets {
		if strings.Contains(string(b), v) {
			t.Errorf("tags contain the %s value", k)
		}
	}
	f, _ := json.Marshal(Extract(s, testNow, nil))
	for k, v := range secrets {
		if strings.Contains(string(f), v) {
			t.Errorf("features contain the %s value", k)
		}
	}
}

// The sentiment tag says which phrases drove it (PIPL Art. 24) — entries of the lexicon, with their sign —
// and never quotes the texts.
func TestSentimentExplanationNamesItsDrivers(t *testing.T) {
	s := Subject{ID: "s", Allowed: allow(Transactions, Interactions), Events: []Event{
		order("o1", ago(20), 100, 0, "x"),
		ev("review", ago(10), map[string]any{"order_id": "o1", "rating": json.Number("1"), "text": "宝宝用了过敏，质量太差了，不会再买了"}),
		ev("chat", ago(5), map[string]any{"text": "物流很快，宝宝很喜欢"}),
	}}
	tag := computeOne(t, s, Population{})[KeySentiment]
	zh, en := tag.Explanation.ZH, tag.Explanation.EN
	if !strings.Contains(zh, "不会再买了（负面）") || !strings.Contains(en, "不会再买了 (negative)") || !strings.Contains(en, "(positive)") {
		t.Fatalf("explanation names no drivers: %q / %q", zh, en)
	}
	if strings.Contains(zh+en, "宝宝") || strings.Contains(zh+en, "物流很快") {
		t.Fatalf("explanation quotes a text: %q / %q", zh, en)
	}
}

func TestOccupationGroup(t *testing.T) {
	tests := []struct {
		occupation, group, title string
	}{
		{"manager", "business", "manager"},
		{"  Senior  Sales Manager ", "business", "manager"},
		{"self-employed", "business", "self-employed"},
		{"销售经理", "business", "经理"},
		{"个体户", "business", "个体户"},
		{"IT工程师", "professional", "工程师"},
		{"software engineer", "professional", "engineer"},
		{"大学老师", "professional", "老师"},
		{"civil servant", "public_service", "civil servant"},
		{"小学生", "student", "学生"},
		{"driver", "worker", "driver"},
		{"退休", "retired", "退休"},
		{"salesperson", "business", "salesperson"},
		{"person", "other", ""},    // one Latin word has no shorter title ("salesperson" is not "person")
		{"astronaut", "other", ""}, // not in the table
		{"宇航员", "other", ""},       // nor this
	}
	for _, tc := range tests {
		t.Run(tc.occupation, func(t *testing.T) {
			g, title, ok := OccupationGroup(tc.occupation)
			if !ok || g != tc.group || title != tc.title {
				t.Errorf("OccupationGroup(%q) = %q, %q, %v; want %q, %q", tc.occupation, g, title, ok, tc.group, tc.title)
			}
			s := Subject{ID: "s", Fields: map[string]string{"occupation": tc.occupation}, Allowed: allow(Demographic)}
			tag := computeOne(t, s, Population{})[KeyOccupationGroup]
			if tag.Value != tc.group || tag.Purpose != policies.PurposeMarketing || !slices.Equal(tag.Inputs, []string{Demographic}) {
				t.Errorf("tag %+v", tag)
			}
			if tc.title != "" && !strings.Contains(tag.Explanation.EN, tc.title) {
				t.Errorf("explanation %q does not name the title it matched", tag.Explanation.EN)
			}
		})
	}
	if _, _, ok := OccupationGroup("  "); ok {
		t.Error("a blank occupation has a group")
	}
	// The occupation is demographic data: without that category, no tag, whatever the field holds.
	s := Subject{ID: "s", Fields: map[string]string{"occupation": "manager", "city": "广州"}, Allowed: allow(Address)}
	if tag, ok := computeOne(t, s, Population{})[KeyOccupationGroup]; ok {
		t.Errorf("occupation group without the demographic category: %+v", tag)
	}
	// Every occupation the synthetic shop writes has a group of its own.
	for _, o := range []string{"teacher", "engineer", "nurse", "sales", "designer", "student", "civil servant", "self-employed", "accountant", "driver", "doctor", "manager"} {
		if g, _, _ := OccupationGroup(o); g == OccupationOther {
			t.Errorf("synthetic occupation %q has no group", o)
		}
	}
}
