// Package synth generates deterministic synthetic shop data for the demo, tests and benchmarks. The same
// seed always yields the same data. (This first version makes subject profiles; events and consents come
// with the ingestion work.)
package synth

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Profile is one synthetic person's profile fields, keyed by schema field name.
type Profile struct {
	ExternalID string
	Source     string
	Fields     map[string]string
}

var (
	surnames   = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	givenNames = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "雷", "欣怡", "子涵", "浩然", "梓萱"}
	places     = []struct{ province, city string }{
		{"北京", "北京"}, {"上海", "上海"}, {"广东", "广州"}, {"广东", "深圳"}, {"浙江", "杭州"}, {"江苏", "南京"},
		{"江苏", "苏州"}, {"四川", "成都"}, {"湖北", "武汉"}, {"湖北", "襄阳"}, {"陕西", "西安"}, {"山东", "青岛"},
		{"河南", "郑州"}, {"湖南", "长沙"}, {"福建", "厦门"}, {"云南", "昆明"}, {"黑龙江", "哈尔滨"}, {"广西", "桂林"},
	}
	districts   = []string{"东城区", "西湖区", "天河区", "南山区", "武侯区", "江汉区", "雁塔区", "市南区", "鼓楼区", "樊城区"}
	streets     = []string{"人民路", "解放路", "中山路", "建设路", "和平路", "朝阳路", "长江路", "新华路"}
	occupations = []string{"teacher", "engineer", "nurse", "sales", "designer", "student", "civil servant", "self-employed", "accountant", "driver"}
	industries  = []string{"education", "internet", "healthcare", "retail", "manufacturing", "finance", "logistics", "public sector"}
	emailHosts  = []string{"example.cn", "mail.example.com", "example.org"}
	sources     = []string{"crm", "app", "web", "pos"}
)

// Profiles returns n deterministic profiles for seed, as of now (used for ages).
func Profiles(seed uint64, n int, now time.Time) []Profile {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Profile, n)
	for i := range out {
		place := places[r.IntN(len(places))]
		// Ages 8–75, a few under 14 on purpose (guardian consent rules).
		age := 8 + r.IntN(68)
		if r.IntN(100) < 70 {
			age = 18 + r.IntN(40)
		}
		birth := now.AddDate(-age, -r.IntN(12), -r.IntN(28))
		gender := []string{"female", "male", "female", "male", "other", "unknown"}[r.IntN(6)]
		f := map[string]string{
			"name":       surnames[r.IntN(len(surnames))] + givenNames[r.IntN(len(givenNames))],
			"gender":     gender,
			"birth_date": birth.Format(time.DateOnly),
			"phone":      fmt.Sprintf("+861%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000)),
			"province":   place.province,
			"city":       place.city,
			"district":   districts[r.IntN(len(districts))],
			"address_line": fmt.Sprintf("%s%d号%d栋%d室", streets[r.IntN(len(streets))], 1+r.IntN(300),
				1+r.IntN(30), 100+r.IntN(2000)),
		}
		if r.IntN(100) < 80 {
			f["email"] = fmt.Sprintf("user%06d@%s", i, emailHosts[r.IntN(len(emailHosts))])
		}
		if age >= 16 {
			f["occupation"] = occupations[r.IntN(len(occupations))]
			f["industry"] = industries[r.IntN(len(industries))]
		}
		if r.IntN(100) < 30 {
			f["id_number"] = IDNumber(r, birth)
		}
		out[i] = Profile{ExternalID: fmt.Sprintf("crm-%06d", i+1), Source: sources[r.IntN(len(sources))], Fields: f}
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
