package ingest

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegionTable(t *testing.T) {
	tab, err := regions()
	if err != nil {
		t.Fatal(err)
	}
	if tab.nProv != 34 {
		t.Errorf("%d provincial-level divisions, want 34", tab.nProv)
	}
	if tab.nCity < 100 {
		t.Errorf("%d cities, want at least 100", tab.nCity)
	}
}

func TestCanonicalProvince(t *testing.T) {
	tests := []struct{ in, want string }{
		{"北京市", "北京"}, {"北京", "北京"}, {"广东省", "广东"}, {"广东", "广东"}, {" 广东 省 ", "广东"},
		{"Guangdong", "广东"}, {"GUANGDONG PROVINCE", "广东"}, {"广西壮族自治区", "广西"}, {"新疆维吾尔自治区", "新疆"},
		{"宁夏回族自治区", "宁夏"}, {"内蒙古自治区", "内蒙古"}, {"Inner Mongolia", "内蒙古"}, {"西藏自治区", "西藏"},
		{"香港特别行政区", "香港"}, {"Hong Kong SAR", "香港"}, {"澳門", "澳门"}, {"臺灣", "台湾"}, {"黑龙江省", "黑龙江"},
		{"Ｂｅｉｊｉｎｇ", "北京"}, {"上海市", "上海"}, {"重庆市", "重庆"}, {"天津", "天津"}, {"Shaanxi", "陕西"}, {"Shanxi", "山西"},
	}
	for _, tt := range tests {
		got, ok := CanonicalProvince(tt.in)
		if !ok || got != tt.want {
			t.Errorf("CanonicalProvince(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", "火星", "省", "Atlantis"} {
		if got, ok := CanonicalProvince(in); ok {
			t.Errorf("CanonicalProvince(%q) = %q, want unknown", in, got)
		}
	}
}

func TestCanonicalCity(t *testing.T) {
	tests := []struct{ in, city, prov string }{
		{"广州市", "广州", "广东"}, {"广州", "广州", "广东"}, {"Guangzhou", "广州", "广东"}, {"guangzhou city", "广州", "广东"},
		{"北京市", "北京", "北京"}, {"襄阳市", "襄阳", "湖北"}, {"襄樊", "襄阳", "湖北"}, {"吉林市", "吉林", "吉林"},
		{"深圳", "深圳", "广东"}, {"哈尔滨市", "哈尔滨", "黑龙江"}, {"Xi'an", "西安", "陕西"}, {"乌鲁木齐", "乌鲁木齐", "新疆"},
		{"大理白族自治州", "大理", "云南"}, {"桂林", "桂林", "广西"}, {"香港", "香港", "香港"},
	}
	for _, tt := range tests {
		city, prov, ok := CanonicalCity(tt.in)
		if !ok || city != tt.city || prov != tt.prov {
			t.Errorf("CanonicalCity(%q) = %q, %q, %v; want %q, %q", tt.in, city, prov, ok, tt.city, tt.prov)
		}
	}
	if _, _, ok := CanonicalCity("Taizhou"); ok {
		t.Error("the ambiguous Taizhou resolved")
	}
}

func TestParseRegionsRejectsAmbiguity(t *testing.T) {
	bad := `{"provinces":[{"name":"甲","aliases":["A"],"cities":[{"name":"乙","aliases":["X"]}]},{"name":"丙","aliases":["a"],"cities":[]}]}`
	if _, err := parseRegions([]byte(bad)); err == nil {
		t.Error("ambiguous province spelling accepted")
	}
	bad = `{"provinces":[{"name":"甲","cities":[{"name":"乙","aliases":["X"]}]},{"name":"丙","cities":[{"name":"丁","aliases":["x"]}]}]}`
	if _, err := parseRegions([]byte(bad)); err == nil {
		t.Error("ambiguous city spelling accepted")
	}
}

// newTestCleaner returns a Cleaner on the built-in schema with the test clock.
func newTestCleaner(t *testing.T, stores map[string]string) *Cleaner {
	t.Helper()
	c := NewCleaner(stores)
	if c.schema == nil {
		_, err := embeddedSchema()
		t.Fatalf("built-in schema: %v", err)
	}
	c.SetClock(func() time.Time { return testNow })
	return c
}

func TestCleanerSubject(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]string
		changed []string
		reason  string
	}{
		{
			name:    "already clean",
			in:      map[string]string{"name": "李雷", "phone": "+8613800001234", "city": "襄阳", "province": "湖北"},
			want:    map[string]string{"name": "李雷", "phone": "+8613800001234", "city": "襄阳", "province": "湖北"},
			changed: nil,
		},
		{
			name: "everything dirty",
			in: map[string]string{
				"name": " 张 伟 ", "gender": "男", "birth_date": "1990/4/1", "phone": "138 0000-1234",
				"email": " Li.Lei@Example.CN ", "province": "广东省", "city": "广州市", "district": "天河区\t",
				"id_number": "11010119900307803x", "occupation": "software   engineer",
			},
			want: map[string]string{
				"name": "张伟", "gender": "male", "birth_date": "1990-04-01", "phone": "+8613800001234",
				"email": "li.lei@example.cn", "province": "广东", "city": "广州", "district": "天河区",
				"id_number": "11010119900307803X", "occupation": "software engineer",
			},
			changed: []string{"name", "gender", "birth_date", "phone", "email", "province", "city", "district", "occupation", "id_number"},
		},
		{
			name:    "latin name keeps its space, municipalities",
			in:      map[string]string{"name": "Li  Lei", "province": "北京市", "city": "北京市", "gender": "F"},
			want:    map[string]string{"name": "Li Lei", "province": "北京", "city": "北京", "gender": "female"},
			changed: []string{"name", "gender", "province", "city"},
		},
		{
			name:    "dates",
			in:      map[string]string{"birth_date": "1985年12月3日"},
			want:    map[string]string{"birth_date": "1985-12-03"},
			changed: []string{"birth_date"},
		},
		{
			name:    "compact date and full-width email",
			in:      map[string]string{"birth_date": "19851203", "email": "ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｎ"},
			want:    map[string]string{"birth_date": "1985-12-03", "email": "user@example.cn"},
			changed: []string{"birth_date", "email"},
		},
		{
			name:    "unknown city kept as written",
			in:      map[string]string{"city": " 沙市 "},
			want:    map[string]string{"city": "沙市"},
			changed: []string{"city"},
		},
		{
			name:    "blank value dropped",
			in:      map[string]string{"name": "王芳", "district": "　"},
			want:    map[string]string{"name": "王芳"},
			changed: []string{"district"},
		},
		{name: "bad phone", in: map[string]string{"phone": "call me"}, reason: "bad_value:phone"},
		{name: "short phone", in: map[string]string{"phone": "12345"}, reason: "bad_value:phone"},
		{name: "bad email", in: map[string]string{"email": "nobody"}, reason: "bad_value:email"},
		{name: "bad id check digit", in: map[string]string{"id_number": "110101199003078030"}, reason: "bad_value:id_number"},
		{name: "legacy 15-digit id", in: map[string]string{"id_number": "110101900307803"}, reason: "bad_value:id_number"},
		{name: "impossible date", in: map[string]string{"birth_date": "1990-02-30"}, reason: "bad_value:birth_date"},
		{name: "future birth date", in: map[string]string{"birth_date": "2030-01-01"}, reason: "bad_value:birth_date"},
		{name: "ancient birth date", in: map[string]string{"birth_date": "1800-01-01"}, reason: "bad_value:birth_date"},
		{name: "bad gender", in: map[string]string{"gender": "robot"}, reason: "bad_value:gender"},
		{name: "too long", in: map[string]string{"city": strings.Repeat("城", 40)}, reason: "bad_value:city"},
		{name: "control character", in: map[string]string{"address_line": "a\x01b"}, reason: "bad_value:address_line"},
		{name: "unknown field", in: map[string]string{"salary": "1"}, reason: "unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCleaner(t, nil)
			s := &SubjectRow{ExternalID: "crm-1", Source: "crm", Fields: maps.Clone(tt.in)}
			changed, re := c.Subject(s)
			if tt.reason != "" {
				if re == nil || re.Reason != tt.reason {
					t.Fatalf("error %v, want reason %q", re, tt.reason)
				}
				return
			}
			if re != nil {
				t.Fatalf("rejected: %s", re.Reason)
			}
			if !maps.Equal(s.Fields, tt.want) {
				t.Errorf("fields %q, want %q", s.Fields, tt.want)
			}
			if !slices.Equal(changed, tt.changed) {
				t.Errorf("changed %q, want %q", changed, tt.changed)
			}
			counts := c.Counts().Standardised
			for _, f := range tt.changed {
				if counts[f] != 1 {
					t.Errorf("count of %s = %d", f, counts[f])
				}
			}
		})
	}
}

func TestCleanerImpute(t *testing.T) {
	c := newTestCleaner(t, map[string]string{"s-01": "广州市", "s-02": "  Shenzhen ", "s-03": "沙市"})
	tests := []struct {
		name   string
		fields map[string]string
		store  string
		want   map[string]string
		filled bool
	}{
		{"city and province from store", map[string]string{"name": "x"}, "s-01", map[string]string{"name": "x", "city": "广州", "province": "广东"}, true},
		{"pinyin store city", map[string]string{}, "s-02", map[string]string{"city": "深圳", "province": "广东"}, true},
		{"province kept", map[string]string{"province": "广东"}, "s-02", map[string]string{"city": "深圳", "province": "广东"}, true},
		{"unknown store city, no province", map[string]string{}, "s-03", map[string]string{"city": "沙市"}, true},
		{"city already known", map[string]string{"city": "武汉"}, "s-01", map[string]string{"city": "武汉"}, false},
		{"unknown store", map[string]string{}, "s-99", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SubjectRow{Fields: tt.fields}
			if got := c.ImputeCity(s, tt.store); got != tt.filled {
				t.Errorf("ImputeCity = %v", got)
			}
			if !maps.Equal(s.Fields, tt.want) {
				t.Errorf("fields %q, want %q", s.Fields, tt.want)
			}
		})
	}
	if got := c.Counts().Imputed; got["city"] != 4 || got["province"] != 2 {
		t.Errorf("imputed counts %v", got)
	}

	s := &SubjectRow{Fields: map[string]string{"city": "襄阳"}}
	if !c.ImputeProvince(s) || s.Fields["province"] != "湖北" {
		t.Errorf("ImputeProvince: %q", s.Fields)
	}
	if c.ImputeProvince(s) {
		t.Error("ImputeProvince filled twice")
	}
	if c.ImputeProvince(&SubjectRow{Fields: map[string]string{"city": "沙市"}}) {
		t.Error("ImputeProvince guessed for an unknown city")
	}
}

func TestRateToCNY(t *testing.T) {
	tests := []struct {
		code string
		rate float64
		ok   bool
	}{
		{"CNY", 1, true}, {"rmb", 1, true}, {"USD", 7.20, true}, {" eur ", 7.80, true}, {"HKD", 0.92, true}, {"JPY", 0, false},
	}
	for _, tt := range tests {
		r, ok := RateToCNY(tt.code)
		if r != tt.rate || ok != tt.ok {
			t.Errorf("RateToCNY(%q) = %v, %v", tt.code, r, ok)
		}
	}
}

func TestCleanerEventCurrency(t *testing.T) {
	order := func(currency string, amount any, price any) *EventRow {
		return &EventRow{Type: TypeOrder, Attrs: map[string]any{
			"order_id": "o1", "amount": amount, "currency": currency, "discount": 1.0,
			"items": []any{map[string]any{"sku": "s", "category": "c", "brand": "b", "qty": "2", "price": price}},
		}}
	}
	tests := []struct {
		name                string
		e                   *EventRow
		amount, price, disc float64
		changed             []string
		original            string
	}{
		{"CNY untouched but qty", order("CNY", 100.0, 50.0), 100, 50, 1, []string{ChangeNumber}, ""},
		{"USD converted", order("USD", 10.0, 5.0), 72, 36, 7.2, []string{ChangeNumber, ChangeCurrency}, "USD"},
		{"EUR converted and rounded", order("EUR", 10.333, 3.3333), 80.6, 26, 7.8, []string{ChangeNumber, ChangeCurrency, ChangeRounding}, "EUR"},
		{"HKD converted", order("hkd", 100.0, 100.0), 92, 92, 0.92, []string{ChangeNumber, ChangeCurrency}, "HKD"},
		{"RMB respelled", order("RMB", "19.999", 1.0), 20, 1, 1, []string{ChangeNumber, ChangeCurrency, ChangeRounding}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCleaner(t, nil)
			changed := c.Event(tt.e)
			a := tt.e.Attrs
			item := a["items"].([]any)[0].(map[string]any)
			if a["amount"] != tt.amount || item["price"] != tt.price || a["discount"] != tt.disc {
				t.Errorf("amount %v price %v discount %v; want %v %v %v", a["amount"], item["price"], a["discount"], tt.amount, tt.price, tt.disc)
			}
			if a["currency"] != "CNY" || item["qty"] != 2.0 {
				t.Errorf("currency %v qty %v", a["currency"], item["qty"])
			}
			if got, _ := a["original_currency"].(string); got != tt.original {
				t.Errorf("original_currency %q, want %q", got, tt.original)
			}
			if !slices.Equal(changed, tt.changed) {
				t.Errorf("changed %q, want %q", changed, tt.changed)
			}
			if n := c.Counts().Standardised[ChangeCurrency]; (tt.original != "" || tt.name == "RMB respelled") != (n == 1) {
				t.Errorf("currency count %d", n)
			}
		})
	}
	// Behaviour prices: rounded, and converted when a currency is given.
	c := newTestCleaner(t, nil)
	e := &EventRow{Type: TypeClick, Attrs: map[string]any{"sku": "s", "category": "c", "brand": "b", "price": 9.999}}
	if changed := c.Event(e); !slices.Equal(changed, []string{ChangeRounding}) || e.Attrs["price"] != 10.0 {
		t.Errorf("click: changed %q price %v", changed, e.Attrs["price"])
	}
	e = &EventRow{Type: TypeCartAdd, Attrs: map[string]any{"sku": "s", "category": "c", "brand": "b", "price": 2.0, "currency": "USD"}}
	if c.Event(e); e.Attrs["price"] != 14.4 {
		t.Errorf("cart_add in USD: price %v", e.Attrs["price"])
	}
	if changed := c.Event(&EventRow{Type: TypeSearch, Attrs: map[string]any{"query": "q"}}); changed != nil {
		t.Errorf("search changed %q", changed)
	}
}

func TestCleanedEventStillValid(t *testing.T) {
	c := newTestCleaner(t, nil)
	for _, typ := range EventTypes() {
		e := validEvent(t, typ)
		c.Event(e)
		if re := ValidateEventAt(e, testNow); re != nil {
			t.Errorf("%s after cleaning: %s", typ, re.Reason)
		}
	}
	if got, ok := OrderAmount(validEvent(t, TypePOSPurchase)); !ok || got != 199.5 {
		t.Errorf("OrderAmount = %v, %v", got, ok)
	}
	if _, ok := OrderAmount(validEvent(t, TypeReturn)); ok {
		t.Error("OrderAmount of a return")
	}
	if got := StoreID(validEvent(t, TypePOSPurchase)); got != "s-01" {
		t.Errorf("StoreID = %q", got)
	}
}
