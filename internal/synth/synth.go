// Package synth owns the deterministic synthetic shop used by the demo, tests and benchmarks: subject
// records from several sources (with designed duplicates, near-duplicates and dirty values), consents and
// objections in a realistic mix, and two years of events — BG/NBD purchases with Gamma-Gamma amounts,
// Poisson sessions with geometric page views and log-normal dwell, Zipf categories and brands with
// seasonal drift, injected co-purchase pairs, reviews and chats of known sentiment, after-sales events,
// POS purchases and a few bots — together with the ground truth of everything designed in. The same
// Options always yield the same shop, byte for byte once written.
package synth

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// The simple name, place and field tables of Profiles (the shop uses the richer tables of catalog.go).
var (
	simpleSurnames   = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	simpleGivenNames = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "雷", "欣怡", "子涵", "浩然", "梓萱"}
	simplePlaces     = []struct{ province, city string }{
		{"北京", "北京"}, {"上海", "上海"}, {"广东", "广州"}, {"广东", "深圳"}, {"浙江", "杭州"}, {"江苏", "南京"},
		{"江苏", "苏州"}, {"四川", "成都"}, {"湖北", "武汉"}, {"湖北", "襄阳"}, {"陕西", "西安"}, {"山东", "青岛"},
		{"河南", "郑州"}, {"湖南", "长沙"}, {"福建", "厦门"}, {"云南", "昆明"}, {"黑龙江", "哈尔滨"}, {"广西", "桂林"},
	}
	simpleDistricts   = []string{"东城区", "西湖区", "天河区", "南山区", "武侯区", "江汉区", "雁塔区", "市南区", "鼓楼区", "樊城区"}
	simpleStreets     = []string{"人民路", "解放路", "中山路", "建设路", "和平路", "朝阳路", "长江路", "新华路"}
	simpleOccupations = []string{"teacher", "engineer", "nurse", "sales", "designer", "student", "civil servant", "self-employed", "accountant", "driver"}
	simpleIndustries  = []string{"education", "internet", "healthcare", "retail", "manufacturing", "finance", "logistics", "public sector"}
	simpleEmailHosts  = []string{"example.cn", "mail.example.com", "example.org"}
	simpleSources     = []string{"crm", "app", "web", "pos"}
)

// Profiles returns n deterministic profiles for seed, as of now (used for ages).
func Profiles(seed uint64, n int, now time.Time) []Profile {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Profile, n)
	for i := range out {
		place := simplePlaces[r.IntN(len(simplePlaces))]
		// Ages 8–75, a few under 14 on purpose (guardian consent rules).
		age := 8 + r.IntN(68)
		if r.IntN(100) < 70 {
			age = 18 + r.IntN(40)
		}
		birth := now.AddDate(-age, -r.IntN(12), -r.IntN(28))
		gender := []string{"female", "male", "female", "male", "other", "unknown"}[r.IntN(6)]
		f := map[string]string{
			"name":       simpleSurnames[r.IntN(len(simpleSurnames))] + simpleGivenNames[r.IntN(len(simpleGivenNames))],
			"gender":     gender,
			"birth_date": birth.Format(time.DateOnly),
			"phone":      fmt.Sprintf("+861%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000)),
			"province":   place.province,
			"city":       place.city,
			"district":   simpleDistricts[r.IntN(len(simpleDistricts))],
			"address_line": fmt.Sprintf("%s%d号%d栋%d室", simpleStreets[r.IntN(len(simpleStreets))], 1+r.IntN(300),
				1+r.IntN(30), 100+r.IntN(2000)),
		}
		if r.IntN(100) < 80 {
			f["email"] = fmt.Sprintf("user%06d@%s", i, simpleEmailHosts[r.IntN(len(simpleEmailHosts))])
		}
		if age >= 16 {
			f["occupation"] = simpleOccupations[r.IntN(len(simpleOccupations))]
			f["industry"] = simpleIndustries[r.IntN(len(simpleIndustries))]
		}
		if r.IntN(100) < 30 {
			f["id_number"] = IDNumber(r, birth)
		}
		out[i] = Profile{ExternalID: fmt.Sprintf("crm-%06d", i+1), Source: simpleSources[r.IntN(len(simpleSources))], Fields: f}
	}
	return out
}

// IDNumber makes a syntactically valid 18-character PRC resident id (ISO 7064 MOD 11-2 check digit) for
// a birth date. It is synthetic: the region code is fixed to a test prefix.
func IDNumber(r *rand.Rand, birth time.Time) string {
	body := fmt.Sprintf("110101%s%03d", birth.Format("20060102"), r.IntN(1000))
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}
