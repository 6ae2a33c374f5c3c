package synth

import (
	"math"
	"strconv"
)

// category is one product category of the synthetic catalogue.
type category struct {
	key    string  // English key written in events ("baby_formula")
	zh     string  // Chinese name, used for search queries
	price  float64 // typical list price in CNY
	summer float64 // weight multiplier in June–August
	winter float64 // weight multiplier in December–February
	pair   bool    // a category of an injected co-purchase pair: baskets include it only through the pair mechanism
}

// categories is the catalogue. The non-pair categories are listed in Zipf rank order.
var categories = []category{
	{"women_clothing", "女装", 169, 1, 1, false},
	{"snacks", "零食", 39, 1, 1.2, false},
	{"skincare", "护肤", 199, 0.9, 1.2, false},
	{"home_goods", "家居", 89, 1, 1, false},
	{"men_clothing", "男装", 189, 1, 1, false},
	{"shoes", "鞋靴", 259, 1, 1, false},
	{"electronics", "数码", 399, 1, 1, false},
	{"books", "图书", 49, 0.9, 1.1, false},
	{"outdoor", "户外", 229, 2.2, 0.4, false},
	{"warm_clothing", "保暖服饰", 299, 0.15, 3.5, false},
	{"sports", "运动", 159, 1.4, 0.7, false},
	{"beverages", "酒水饮料", 59, 1.6, 0.8, false},
	{"kitchen", "厨具", 129, 1, 1, false},
	{"toys", "玩具", 99, 0.9, 1.4, false},
	{"swimwear", "泳装", 139, 4, 0.1, false},
	{"pet_supplies", "宠物用品", 79, 1, 1, false},
	{"beauty_makeup", "彩妆", 149, 1, 1, false},
	{"baby_formula", "奶粉", 258, 1, 1, true},
	{"diapers", "纸尿裤", 119, 1, 1, true},
	{"shampoo", "洗发水", 59, 1, 1, true},
	{"conditioner", "护发素", 55, 1, 1, true},
}

// Indexes of the pair categories in categories.
const (
	catBabyFormula = 17
	catDiapers     = 18
	catShampoo     = 19
	catConditioner = 20
	numBaseCats    = 17 // categories[:numBaseCats] are drawn by Zipf
)

// pairDesign is an injected co-purchase pair: a basket holds the antecedent with probability pA; it holds the
// consequent with probability pB0 on its own and, when it holds the antecedent, additionally with probability c.
type pairDesign struct {
	a, b        int
	pA, pB0, c  float64
	description string
}

// pairs are the injected co-purchase pairs.
var pairs = []pairDesign{
	{catBabyFormula, catDiapers, 0.08, 0.05, 0.30, "buyers of baby formula also buy diapers"},
	{catShampoo, catConditioner, 0.06, 0.04, 0.35, "buyers of shampoo also buy conditioner"},
}

// truth returns the designed support, confidence and lift of the rule a → b over baskets.
func (p pairDesign) truth() PairTruth {
	conf := p.pB0 + (1-p.pB0)*p.c
	pb := p.pB0 + p.pA*(1-p.pB0)*p.c
	return PairTruth{
		Antecedent:  categories[p.a].key,
		Consequent:  categories[p.b].key,
		Support:     p.pA * conf,
		Confidence:  conf,
		Lift:        conf / pb,
		Description: p.description,
	}
}

// brandPool holds fictional brand names; category c uses brandPool[(c*5+j) % len] for j < brandsPerCat.
var brandPool = []string{
	"悦享", "优品", "森活", "青木", "云朵", "晨光家", "北纬", "暖阳", "星河", "小鹿",
	"禾田", "初见", "简屿", "南山", "朗悦", "知味", "山野", "海盐", "橙意", "木槿",
	"安心宝", "乐途", "清泉", "远山", "微澜", "拾光", "锦绣", "素言", "繁星", "一禾",
}

const (
	brandsPerCat = 6
	skusPerBrand = 20
	brandZipfS   = 1.2
	catZipfS     = 1.1
)

// brandName returns the name of brand j of category c.
func brandName(c, j int) string { return brandPool[(c*5+j)%len(brandPool)] }

// catCodes are short codes used in SKU ids.
var catCodes = [...]string{"WC", "SN", "SK", "HG", "MC", "SH", "EL", "BK", "OD", "WM", "SP", "BV", "KT", "TY", "SW", "PT", "BM", "BF", "DP", "SA", "CD"}

// skuID returns the id of SKU n of brand j of category c.
func skuID(c, j, n int) string {
	return "SKU-" + catCodes[c] + "-" + strconv.Itoa(j+1) + "-" + pad3(n+1)
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// skuPrice returns the list price in cents of a SKU: the category's typical price times a log-normal factor
// (sigma 0.45) fixed by a hash of the SKU, ending in .90 above 10 CNY.
func skuPrice(c, j, n int) int64 {
	h := mix64(uint64(c)<<32 | uint64(j)<<16 | uint64(n) | 0x5eed<<48)
	u1 := (float64(h>>11) + 0.5) / (1 << 53)
	u2 := float64(mix64(h)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	p := categories[c].price * math.Exp(0.45*z-0.1)
	if p < 10 {
		return int64(math.Round(p*10)) * 10
	}
	return int64(math.Floor(p))*100 + 90
}

// place is one city of the synthetic population.
type place struct {
	province, city string
	provinceAlt    string // a variant spelling of the province ("广东省")
	tier           int
	weight         float64
	districts      [2]string
	stores         int
}

// places lists the cities with canonical short province and city names (those of the ingest region table).
var places = []place{
	{"北京", "北京", "北京市", 1, 6, [2]string{"东城区", "朝阳区"}, 3},
	{"上海", "上海", "上海市", 1, 6, [2]string{"浦东新区", "徐汇区"}, 3},
	{"广东", "广州", "广东省", 1, 5, [2]string{"天河区", "越秀区"}, 3},
	{"广东", "深圳", "广东省", 1, 5, [2]string{"南山区", "福田区"}, 3},
	{"浙江", "杭州", "浙江省", 2, 4, [2]string{"西湖区", "滨江区"}, 2},
	{"江苏", "南京", "江苏省", 2, 3, [2]string{"鼓楼区", "玄武区"}, 2},
	{"江苏", "苏州", "江苏省", 2, 3, [2]string{"姑苏区", "吴中区"}, 2},
	{"四川", "成都", "四川省", 2, 4, [2]string{"武侯区", "锦江区"}, 2},
	{"湖北", "武汉", "湖北省", 2, 3.5, [2]string{"江汉区", "洪山区"}, 2},
	{"陕西", "西安", "陕西省", 2, 3, [2]string{"雁塔区", "碑林区"}, 2},
	{"山东", "青岛", "山东省", 2, 2.5, [2]string{"市南区", "崂山区"}, 2},
	{"河南", "郑州", "河南省", 2, 2.5, [2]string{"金水区", "二七区"}, 2},
	{"湖南", "长沙", "湖南省", 2, 2.5, [2]string{"岳麓区", "芙蓉区"}, 2},
	{"福建", "厦门", "福建省", 2, 2, [2]string{"思明区", "湖里区"}, 1},
	{"云南", "昆明", "云南省", 2, 2, [2]string{"五华区", "盘龙区"}, 1},
	{"黑龙江", "哈尔滨", "黑龙江省", 2, 2, [2]string{"南岗区", "道里区"}, 1},
	{"湖北", "襄阳", "湖北省", 3, 1.5, [2]string{"樊城区", "襄城区"}, 1},
	{"广西", "桂林", "广西壮族自治区", 3, 1.5, [2]string{"秀峰区", "七星区"}, 1},
	{"河北", "保定", "河北省", 3, 1.5, [2]string{"竞秀区", "莲池区"}, 1},
	{"江西", "赣州", "江西省", 3, 1.5, [2]string{"章贡区", "南康区"}, 1},
	{"山西", "大同", "山西省", 3, 1.2, [2]string{"平城区", "云冈区"}, 1},
	{"内蒙古", "包头", "内蒙古自治区", 3, 1.2, [2]string{"昆都仑区", "青山区"}, 1},
	{"甘肃", "天水", "甘肃省", 4, 1, [2]string{"秦州区", "麦积区"}, 1},
	{"安徽", "安庆", "安徽省", 4, 1, [2]string{"迎江区", "大观区"}, 1},
	{"贵州", "遵义", "贵州省", 4, 1, [2]string{"红花岗区", "汇川区"}, 1},
	{"河南", "南阳", "河南省", 4, 1, [2]string{"卧龙区", "宛城区"}, 1},
}

// Store is one offline shop whose POS terminals write pos_purchase events.
type Store struct {
	// ID is the store id written as the store_id attribute ("ST0301").
	ID string
	// Province and City are the canonical short names of where the store is.
	Province, City string
}

// storeIDOf returns the id of store k (0-based) of place p.
func storeIDOf(p, k int) string {
	return "ST" + strconv.Itoa(10+p) + pad3(k + 1)[1:]
}

// Stores returns the store table: every store id with its province and city, in a fixed order.
func Stores() []Store {
	var out []Store
	for p, pl := range places {
		for k := 0; k < pl.stores; k++ {
			out = append(out, Store{ID: storeIDOf(p, k), Province: pl.province, City: pl.city})
		}
	}
	return out
}

// storeIndex maps a store id to its place index.
var storeIndex = func() map[string]int {
	m := map[string]int{}
	for p, pl := range places {
		for k := 0; k < pl.stores; k++ {
			m[storeIDOf(p, k)] = p
		}
	}
	return m
}()

// StoreCity returns the canonical city of a store id and whether the store exists. An importer uses it to
// impute the city of a subject whose record lacks one from the stores where they shop.
func StoreCity(storeID string) (string, bool) {
	p, ok := storeIndex[storeID]
	if !ok {
		return "", false
	}
	return places[p].city, true
}

// CategoryKeys returns every product category key of the catalogue, in a fixed order.
func CategoryKeys() []string {
	out := make([]string, len(categories))
	for i, c := range categories {
		out[i] = c.key
	}
	return out
}

// name parts with their pinyin (for e-mail addresses).
type namePart struct{ zh, py string }

var surnameParts = []namePart{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"}, {"黄", "huang"},
	{"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"},
	{"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"林", "lin"}, {"罗", "luo"}, {"高", "gao"},
}

var givenParts = []namePart{
	{"伟", "wei"}, {"芳", "fang"}, {"娜", "na"}, {"秀英", "xiuying"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"}, {"杰", "jie"},
	{"娟", "juan"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀兰", "xiulan"}, {"霞", "xia"}, {"平", "ping"},
	{"刚", "gang"}, {"桂英", "guiying"}, {"欣怡", "xinyi"}, {"子涵", "zihan"}, {"浩然", "haoran"}, {"梓萱", "zixuan"},
	{"宇轩", "yuxuan"}, {"思远", "siyuan"}, {"雨桐", "yutong"},
}

// similarGiven maps a given name to a near-identical one (a homophone written with another character).
var similarGiven = map[string]string{
	"伟": "玮", "静": "婧", "丽": "莉", "杰": "洁", "涛": "滔", "明": "铭", "芳": "方", "敏": "民",
	"娜": "纳", "强": "蔷", "磊": "垒", "军": "君", "洋": "阳", "勇": "永", "艳": "燕", "娟": "鹃",
	"超": "潮", "霞": "夏", "平": "萍", "刚": "钢", "秀英": "秀瑛", "秀兰": "秀岚", "桂英": "桂瑛",
	"欣怡": "欣仪", "子涵": "子晗", "浩然": "皓然", "梓萱": "梓轩", "宇轩": "宇萱", "思远": "思源", "雨桐": "雨彤",
}

var (
	streets     = []string{"人民路", "解放路", "中山路", "建设路", "和平路", "朝阳路", "长江路", "新华路", "文化路", "胜利街"}
	occupations = []string{"teacher", "engineer", "nurse", "sales", "designer", "student", "civil servant", "self-employed", "accountant", "driver", "doctor", "manager"}
	industries  = []string{"education", "internet", "healthcare", "retail", "manufacturing", "finance", "logistics", "public sector"}
	emailHosts  = []string{"example.cn", "mail.example.com", "example.org", "example.net"}
	mobilePfx   = []string{"130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "157", "158", "159", "166", "170", "176", "177", "180", "181", "186", "187", "188", "189", "199"}
)
