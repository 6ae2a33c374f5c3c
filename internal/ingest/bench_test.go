package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// benchEvents returns n NDJSON event lines of a realistic type mix (mostly behaviour, some orders,
// reviews and chats).
func benchEvents(n int) []byte {
	var b bytes.Buffer
	ts := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		sub := fmt.Sprintf("sub_%026d", i%5000)
		t := ts.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		var typ, attrs string
		switch i % 10 {
		case 0:
			typ, attrs = "order", fmt.Sprintf(`{"order_id":"o-%d","amount":%d.50,"currency":"CNY","items":[{"sku":"sku-%d","category":"shoes","brand":"acme","qty":1,"price":%d.50},{"sku":"sku-9","category":"socks","brand":"acme","qty":2,"price":0}],"coupon":"NEW10","discount":10}`, i, 100+i%300, i%999, 100+i%300)
		case 1:
			typ, attrs = "review", fmt.Sprintf(`{"order_id":"o-%d","rating":%d,"text":"质量很好，物流也快，会再买。"}`, i-1, 1+i%5)
		case 2:
			typ, attrs = "search", `{"query":"running shoes"}`
		case 3, 4, 5:
			typ, attrs = "page_view", fmt.Sprintf(`{"page":"/p/sku-%d","category":"shoes","dwell_ms":%d,"session_id":"s-%d"}`, i%999, i%30000, i/20)
		default:
			typ, attrs = "click", fmt.Sprintf(`{"sku":"sku-%d","category":"shoes","brand":"acme","price":%d.90}`, i%999, 50+i%200)
		}
		fmt.Fprintf(&b, `{"event_id":"ev-%d","subject_id":"%s","type":"%s","ts":"%s","source":"app","attrs":%s}`+"\n", i, sub, typ, t, attrs)
	}
	return b.Bytes()
}

// BenchmarkReadEventsNDJSON measures streaming, parsing and validating events (reported as events/s).
func BenchmarkReadEventsNDJSON(b *testing.B) {
	const n = 10_000
	data := benchEvents(n)
	now := func() time.Time { return testNow }
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), KindEvents, FormatNDJSON)
		r.SetClock(now)
		got := 0
		for {
			row, ok := r.Next()
			if !ok {
				break
			}
			if row.Err != nil {
				b.Fatalf("line %d: %v", row.Line, row.Err)
			}
			got++
		}
		if got != n {
			b.Fatalf("read %d events", got)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadEventsCSV is BenchmarkReadEventsNDJSON for the CSV form of the same events.
func BenchmarkReadEventsCSV(b *testing.B) {
	const n = 10_000
	var csv bytes.Buffer
	csv.WriteString("event_id,subject_id,type,ts,source,attrs\n")
	r := NewReader(bytes.NewReader(benchEvents(n)), KindEvents, FormatNDJSON)
	r.SetClock(func() time.Time { return testNow })
	for {
		row, ok := r.Next()
		if !ok {
			break
		}
		e := row.Event
		attrs, _ := jsonMarshal(e.Attrs)
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s,\"%s\"\n", e.EventID, e.SubjectRef, e.Type, e.TS.Format(time.RFC3339), e.Source,
			bytes.ReplaceAll(attrs, []byte(`"`), []byte(`""`)))
	}
	data := csv.Bytes()
	now := func() time.Time { return testNow }
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), KindEvents, FormatCSV)
		r.SetClock(now)
		got := 0
		for {
			row, ok := r.Next()
			if !ok {
				break
			}
			if row.Err != nil {
				b.Fatalf("line %d: %v", row.Line, row.Err)
			}
			got++
		}
		if got != n {
			b.Fatalf("read %d events", got)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCleanEvent measures Cleaner.Event on an order in USD (conversion and rounding).
func BenchmarkCleanEvent(b *testing.B) {
	c := NewCleaner(nil)
	b.ReportAllocs()
	for b.Loop() {
		e := &EventRow{Type: TypeOrder, Attrs: map[string]any{"order_id": "o", "amount": 19.99, "currency": "USD",
			"items": []any{map[string]any{"sku": "s", "category": "c", "brand": "b", "qty": 1.0, "price": 19.99}}}}
		c.Event(e)
	}
}

// BenchmarkCleanSubject measures Cleaner.Subject on a typically dirty subject (every field rewritten).
func BenchmarkCleanSubject(b *testing.B) {
	c := NewCleaner(nil)
	if c.schema == nil {
		b.Fatal("no schema")
	}
	dirty := map[string]string{
		"name": " 张 伟 ", "gender": "男", "birth_date": "1990/4/1", "phone": "138 0000-1234",
		"email": " Li.Lei@Example.CN ", "province": "广东省", "city": "广州市", "district": "天河区",
		"address_line": "中山路 12号 3栋", "occupation": "engineer", "id_number": "11010119900307803x",
	}
	b.ReportAllocs()
	for b.Loop() {
		f := make(map[string]string, len(dirty))
		for k, v := range dirty {
			f[k] = v
		}
		s := &SubjectRow{ExternalID: "crm-1", Source: "crm", Fields: f}
		if _, re := c.Subject(s); re != nil {
			b.Fatal(re.Reason)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subjects/s")
}

// BenchmarkAmountStats measures Add and Anomalous over a long stream (reservoir full, periodic recomputation).
func BenchmarkAmountStats(b *testing.B) {
	amounts := normalAmounts(1 << 16)
	var a AmountStats
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := amounts[i&(1<<16-1)]
		a.Add(x)
		a.Anomalous(x)
		i++
	}
}

// BenchmarkNameSimilarity measures NameSimilarity on two short Chinese names.
func BenchmarkNameSimilarity(b *testing.B) {
	for b.Loop() {
		NameSimilarity("欧阳娜娜", "欧阳 娜")
	}
}
