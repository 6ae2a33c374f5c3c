package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCategory(t *testing.T) {
	tests := []struct {
		typ, want string
		ok        bool
	}{
		{TypePageView, CategoryBehavior, true}, {TypeClick, CategoryBehavior, true},
		{TypeSearch, CategoryBehavior, true}, {TypeFavorite, CategoryBehavior, true},
		{TypeCartAdd, CategoryBehavior, true}, {TypeCartRemove, CategoryBehavior, true},
		{TypeOrder, CategoryTransactions, true}, {TypeCancel, CategoryTransactions, true},
		{TypeReturn, CategoryTransactions, true}, {TypePOSPurchase, CategoryTransactions, true},
		{TypeReview, CategoryInteractions, true}, {TypeChat, CategoryInteractions, true},
		{TypeComplaint, CategoryInteractions, true}, {TypeShare, CategoryInteractions, true},
		{"login", "", false}, {"", "", false}, {"Order", "", false},
	}
	for _, tt := range tests {
		got, ok := Category(tt.typ)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Category(%q) = %q, %v; want %q, %v", tt.typ, got, ok, tt.want, tt.ok)
		}
	}
	if n := len(EventTypes()); n != 14 {
		t.Errorf("EventTypes has %d types, want 14", n)
	}
}

func TestValidateEventEveryTypeValid(t *testing.T) {
	for _, typ := range EventTypes() {
		t.Run(typ, func(t *testing.T) {
			e := validEvent(t, typ)
			if re := ValidateEventAt(e, testNow); re != nil {
				t.Fatalf("valid %s rejected: %s", typ, re.Reason)
			}
		})
	}
}

func TestValidateEventAttrs(t *testing.T) {
	item := func(key string, v any) []any {
		m := map[string]any{"sku": "sku-1", "category": "shoes", "brand": "acme", "qty": 2.0, "price": 10.0}
		return []any{with(m, key, v)}
	}
	tests := []struct {
		name, typ string
		key       string
		value     any
		want      string // "" = valid
	}{
		// order and pos_purchase
		{"order no order_id", TypeOrder, "order_id", del, "bad_attrs:order_id"},
		{"order numeric order_id", TypeOrder, "order_id", 12345.0, ""},
		{"order fractional order_id", TypeOrder, "order_id", 1.5, "bad_attrs:order_id"},
		{"order empty order_id", TypeOrder, "order_id", "", "bad_attrs:order_id"},
		{"order no amount", TypeOrder, "amount", del, "bad_attrs:amount"},
		{"order zero amount", TypeOrder, "amount", 0.0, "bad_attrs:amount"},
		{"order negative amount", TypeOrder, "amount", -5.0, "bad_attrs:amount"},
		{"order amount as text", TypeOrder, "amount", "abc", "bad_attrs:amount"},
		{"order amount numeric string", TypeOrder, "amount", "12.50", ""},
		{"order amount NaN string", TypeOrder, "amount", "NaN", "bad_attrs:amount"},
		{"order no currency", TypeOrder, "currency", del, "bad_attrs:currency"},
		{"order unknown currency", TypeOrder, "currency", "JPY", "bad_attrs:currency"},
		{"order currency lower case", TypeOrder, "currency", "usd", ""},
		{"order currency RMB", TypeOrder, "currency", "RMB", ""},
		{"order currency number", TypeOrder, "currency", 1.0, "bad_attrs:currency"},
		{"order no items", TypeOrder, "items", del, "bad_attrs:items"},
		{"order empty items", TypeOrder, "items", []any{}, "bad_attrs:items"},
		{"order items not array", TypeOrder, "items", "sku-1", "bad_attrs:items"},
		{"order item not object", TypeOrder, "items", []any{"sku-1"}, "bad_attrs:items"},
		{"order item no sku", TypeOrder, "items", item("sku", del), "bad_attrs:items.sku"},
		{"order item no category", TypeOrder, "items", item("category", del), "bad_attrs:items.category"},
		{"order item no brand", TypeOrder, "items", item("brand", del), "bad_attrs:items.brand"},
		{"order item zero qty", TypeOrder, "items", item("qty", 0.0), "bad_attrs:items.qty"},
		{"order item fractional qty", TypeOrder, "items", item("qty", 1.5), "bad_attrs:items.qty"},
		{"order item negative price", TypeOrder, "items", item("price", -1.0), "bad_attrs:items.price"},
		{"order item free", TypeOrder, "items", item("price", 0.0), ""},
		{"order coupon not string", TypeOrder, "coupon", 10.0, "bad_attrs:coupon"},
		{"order no coupon", TypeOrder, "coupon", del, ""},
		{"order null coupon", TypeOrder, "coupon", nil, ""},
		{"order negative discount", TypeOrder, "discount", -1.0, "bad_attrs:discount"},
		{"order store_id object", TypeOrder, "store_id", map[string]any{}, "bad_attrs:store_id"},
		{"order extra attr kept", TypeOrder, "channel", "live", ""},
		{"pos no amount", TypePOSPurchase, "amount", del, "bad_attrs:amount"},
		{"pos no items", TypePOSPurchase, "items", del, "bad_attrs:items"},
		{"pos numeric store", TypePOSPurchase, "store_id", 17.0, ""},
		// cancel
		{"cancel no order_id", TypeCancel, "order_id", del, "bad_attrs:order_id"},
		{"cancel no reason", TypeCancel, "reason", del, "bad_attrs:reason"},
		{"cancel blank reason", TypeCancel, "reason", "  ", "bad_attrs:reason"},
		// return
		{"return no order_id", TypeReturn, "order_id", del, "bad_attrs:order_id"},
		{"return no amount", TypeReturn, "amount", del, "bad_attrs:amount"},
		{"return no reason", TypeReturn, "reason", del, "bad_attrs:reason"},
		{"return bad currency", TypeReturn, "currency", "XYZ", "bad_attrs:currency"},
		{"return USD", TypeReturn, "currency", "USD", ""},
		// review
		{"review no order_id", TypeReview, "order_id", del, "bad_attrs:order_id"},
		{"review rating 0", TypeReview, "rating", 0.0, "bad_attrs:rating"},
		{"review rating 6", TypeReview, "rating", 6.0, "bad_attrs:rating"},
		{"review rating 4.5", TypeReview, "rating", 4.5, "bad_attrs:rating"},
		{"review rating 1", TypeReview, "rating", 1.0, ""},
		{"review rating string", TypeReview, "rating", "3", ""},
		{"review no text", TypeReview, "text", del, ""},
		{"review text number", TypeReview, "text", 3.0, "bad_attrs:text"},
		{"review empty text", TypeReview, "text", "", ""},
		// chat, complaint
		{"chat no text", TypeChat, "text", del, "bad_attrs:text"},
		{"chat empty text", TypeChat, "text", "", "bad_attrs:text"},
		{"complaint no text", TypeComplaint, "text", del, "bad_attrs:text"},
		{"complaint text number", TypeComplaint, "text", 3.0, "bad_attrs:text"},
		// share
		{"share no sku", TypeShare, "sku", del, "bad_attrs:sku"},
		// page_view
		{"page_view no page", TypePageView, "page", del, "bad_attrs:page"},
		{"page_view no category", TypePageView, "category", del, ""},
		{"page_view category number", TypePageView, "category", 3.0, "bad_attrs:category"},
		{"page_view negative dwell", TypePageView, "dwell_ms", -1.0, "bad_attrs:dwell_ms"},
		{"page_view fractional dwell", TypePageView, "dwell_ms", 1.5, "bad_attrs:dwell_ms"},
		{"page_view zero dwell", TypePageView, "dwell_ms", 0.0, ""},
		{"page_view no session", TypePageView, "session_id", del, ""},
		{"page_view no dwell", TypePageView, "dwell_ms", del, ""},
		{"page_view dwell string", TypePageView, "dwell_ms", "long", "bad_attrs:dwell_ms"},
		// click, favorite, cart_add, cart_remove
		{"click no sku", TypeClick, "sku", del, "bad_attrs:sku"},
		{"click no brand", TypeClick, "brand", del, ""},
		{"click brand list", TypeClick, "brand", []any{"a"}, "bad_attrs:brand"},
		{"favorite no category", TypeFavorite, "category", del, ""},
		{"cart_add negative price", TypeCartAdd, "price", -0.01, "bad_attrs:price"},
		{"cart_add no price", TypeCartAdd, "price", del, ""},
		{"cart_remove free", TypeCartRemove, "price", 0.0, ""},
		{"cart_remove no sku", TypeCartRemove, "sku", del, "bad_attrs:sku"},
		// search
		{"search no query", TypeSearch, "query", del, "bad_attrs:query"},
		{"search query list", TypeSearch, "query", []any{"a"}, "bad_attrs:query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent(t, tt.typ)
			e.Attrs = with(e.Attrs, tt.key, tt.value)
			got := ""
			if re := ValidateEventAt(e, testNow); re != nil {
				got = re.Reason
			}
			if got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateEventEnvelope(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *EventRow)
		want   string
	}{
		{"valid", func(e *EventRow) {}, ""},
		{"no event_id", func(e *EventRow) { e.EventID = "" }, "missing_field:event_id"},
		{"event_id with newline", func(e *EventRow) { e.EventID = "a\nb" }, "bad_value:event_id"},
		{"event_id padded", func(e *EventRow) { e.EventID = " e1" }, "bad_value:event_id"},
		{"event_id too long", func(e *EventRow) { e.EventID = strings.Repeat("e", MaxIDBytes+1) }, "bad_value:event_id"},
		{"no subject", func(e *EventRow) { e.SubjectRef = "" }, "missing_field:subject_id"},
		{"bad subject", func(e *EventRow) { e.SubjectRef = "13800001234" }, "bad_subject_ref"},
		{"external subject", func(e *EventRow) { e.SubjectRef = "external:crm:crm-000001" }, ""},
		{"external subject bad source", func(e *EventRow) { e.SubjectRef = "external:fax:1" }, "bad_subject_ref"},
		{"no type", func(e *EventRow) { e.Type = "" }, "missing_field:type"},
		{"unknown type", func(e *EventRow) { e.Type = "login" }, "unknown_type"},
		{"no source", func(e *EventRow) { e.Source = "" }, "missing_field:source"},
		{"bad source", func(e *EventRow) { e.Source = "fax" }, "bad_value:source"},
		{"no ts", func(e *EventRow) { e.TS = time.Time{} }, "missing_field:ts"},
		{"ts 4 minutes ahead", func(e *EventRow) { e.TS = testNow.Add(4 * time.Minute) }, ""},
		{"ts 6 minutes ahead", func(e *EventRow) { e.TS = testNow.Add(6 * time.Minute) }, "future_time"},
		{"nil attrs on search", func(e *EventRow) { e.Type = TypeSearch; e.Attrs = nil }, "bad_attrs:query"},
		{"attrs 4 KiB", func(e *EventRow) {
			e.Type = TypeChat
			e.Attrs = map[string]any{"text": strings.Repeat("x", MaxAttrsBytes-11)}
		}, ""},
		{"attrs over 4 KiB", func(e *EventRow) {
			e.Type = TypeChat
			e.Attrs = map[string]any{"text": strings.Repeat("x", MaxAttrsBytes-10)}
		}, "attrs_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent(t, TypeChat)
			tt.mutate(e)
			got := ""
			if re := ValidateEventAt(e, testNow); re != nil {
				got = re.Reason
			}
			if got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSubjectRef(t *testing.T) {
	tests := []struct {
		ref  string
		want SubjectRef
		ok   bool
	}{
		{"sub_abcdefghijklmnopqrstuvwxyz", SubjectRef{ID: "sub_abcdefghijklmnopqrstuvwxyz"}, true},
		{"external:crm:crm-000001", SubjectRef{Source: "crm", ExternalID: "crm-000001"}, true},
		{"external:pos:card:77", SubjectRef{Source: "pos", ExternalID: "card:77"}, true},
		{"external:crm:", SubjectRef{}, false},
		{"external:sms:1", SubjectRef{}, false},
		{"external:crm", SubjectRef{}, false},
		{"sub_", SubjectRef{}, false},
		{"sub_a b", SubjectRef{}, false},
		{"sub_" + strings.Repeat("a", 61), SubjectRef{}, false},
		{"abc", SubjectRef{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseSubjectRef(tt.ref)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSubjectRef(%q) = %+v, %v; want %+v, %v", tt.ref, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseEventJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid", `{"event_id":"e1","subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00+08:00","source":"web","attrs":{"query":"鞋"}}`, ""},
		{"not an object", `[1,2]`, "malformed_json"},
		{"null", `null`, "malformed_json"},
		{"truncated", `{"event_id":"e1"`, "malformed_json"},
		{"trailing data", `{"event_id":"e1"} {}`, "malformed_json"},
		{"unknown key", `{"event_id":"e1","subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"query":"q"},"extra":1}`, "unknown_field"},
		{"event_id number", `{"event_id":1,"subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"query":"q"}}`, "bad_value:event_id"},
		{"attrs array", `{"event_id":"e1","subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00Z","source":"web","attrs":[1]}`, "bad_attrs"},
		{"bad ts", `{"event_id":"e1","subject_id":"sub_x","type":"search","ts":"2026-03-01 10:00","source":"web","attrs":{"query":"q"}}`, "bad_time"},
		{"ts without zone", `{"event_id":"e1","subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00","source":"web","attrs":{"query":"q"}}`, "bad_time"},
		{"missing ts", `{"event_id":"e1","subject_id":"sub_x","type":"search","source":"web","attrs":{"query":"q"}}`, "missing_field:ts"},
		{"large attrs", `{"event_id":"e1","subject_id":"sub_x","type":"chat","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"text":"` + strings.Repeat("y", 5000) + `"}}`, "attrs_too_large"},
		{"large line, small attrs", `{"event_id":"e1","subject_id":"sub_x","type":"chat","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"text":"hi"` + strings.Repeat(" ", 5000) + `}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, re := ParseEventJSON([]byte(tt.in), testNow)
			got := ""
			if re != nil {
				got = re.Reason
				if e != nil {
					t.Error("event returned with an error")
				}
			} else if e == nil {
				t.Fatal("nil event without an error")
			}
			if got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRowErrorNeverEchoesValues(t *testing.T) {
	secret := "13812345678"
	lines := []string{
		`{"event_id":"` + secret + `\n","subject_id":"sub_x","type":"search","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"query":"q"}}`,
		`{"event_id":"e","subject_id":"` + secret + `","type":"search","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"query":"q"}}`,
		`{"event_id":"e","subject_id":"sub_x","type":"` + secret + `","ts":"2026-03-01T10:00:00Z","source":"web"}`,
		`{"event_id":"e","subject_id":"sub_x","type":"search","ts":"` + secret + `","source":"web"}`,
		`{"` + secret + `":1}`,
		`{"event_id":"e","subject_id":"sub_x","type":"order","ts":"2026-03-01T10:00:00Z","source":"web","attrs":{"order_id":"o","amount":"` + secret + `x"}}`,
	}
	for _, l := range lines {
		_, re := ParseEventJSON([]byte(l), testNow)
		if re == nil {
			t.Fatalf("accepted %s", l)
		}
		if strings.Contains(re.Reason, secret) || strings.Contains(RowError{Line: 3, Reason: re.Reason}.Error(), secret) {
			t.Errorf("reason %q echoes the value", re.Reason)
		}
	}
}

func TestRowErrorAs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", RowError{Line: 4, Reason: "bad_time"})
	var val RowError
	if !errors.As(err, &val) || val.Line != 4 || val.Reason != "bad_time" {
		t.Errorf("errors.As to RowError: %+v", val)
	}
	var ptr *RowError
	if !errors.As(err, &ptr) || ptr == nil || ptr.Line != 4 || ptr.Reason != "bad_time" {
		t.Errorf("errors.As to *RowError: %+v", ptr)
	}
	if _, ok := AsRowError(errors.New("io")); ok {
		t.Error("AsRowError of a plain error")
	}
	if re, ok := AsRowError(&RowError{Line: 2, Reason: "x"}); !ok || re.Line != 2 {
		t.Error("AsRowError of a *RowError")
	}
}

func TestRowErrorCode(t *testing.T) {
	tests := []struct{ reason, code, msg string }{
		{"bad_value:phone", "bad_value", "ingest: line 7: bad_value:phone"},
		{"unknown_type", "unknown_type", "ingest: line 7: unknown_type"},
	}
	for _, tt := range tests {
		re := RowError{Line: 7, Reason: tt.reason}
		if re.Code() != tt.code || re.Error() != tt.msg {
			t.Errorf("%q: Code %q Error %q", tt.reason, re.Code(), re.Error())
		}
	}
	if got := (RowError{Reason: "bad_time"}).Error(); got != "ingest: bad_time" {
		t.Errorf("Error without a line = %q", got)
	}
}

func TestValidateConsentAndObjection(t *testing.T) {
	exp := testNow.Add(24 * time.Hour)
	before := testNow.Add(-48 * time.Hour)
	base := func() *ConsentRow {
		return &ConsentRow{SubjectRef: "sub_x", Purpose: "marketing", NoticeVersion: "2026-01", Method: "app_checkbox",
			Kind: "general", GrantedAt: testNow.Add(-time.Hour)}
	}
	tests := []struct {
		name   string
		mutate func(c *ConsentRow)
		want   string
	}{
		{"valid", func(c *ConsentRow) {}, ""},
		{"guardian with expiry", func(c *ConsentRow) { c.Kind = "guardian"; c.ExpiresAt = &exp }, ""},
		{"no purpose", func(c *ConsentRow) { c.Purpose = "" }, "missing_field:purpose"},
		{"bad purpose", func(c *ConsentRow) { c.Purpose = "Marketing!" }, "bad_value:purpose"},
		{"no notice", func(c *ConsentRow) { c.NoticeVersion = "" }, "missing_field:notice_version"},
		{"no method", func(c *ConsentRow) { c.Method = "" }, "missing_field:method"},
		{"bad kind", func(c *ConsentRow) { c.Kind = "implied" }, "bad_value:kind"},
		{"no granted_at", func(c *ConsentRow) { c.GrantedAt = time.Time{} }, "missing_field:granted_at"},
		{"future grant", func(c *ConsentRow) { c.GrantedAt = testNow.Add(time.Hour) }, "future_time"},
		{"expires before grant", func(c *ConsentRow) { c.ExpiresAt = &before }, "bad_value:expires_at"},
		{"bad subject", func(c *ConsentRow) { c.SubjectRef = "x" }, "bad_subject_ref"},
		{"evidence with control", func(c *ConsentRow) { c.Evidence = "a\x00b" }, "bad_value:evidence"},
		{"recipient too long", func(c *ConsentRow) { c.Recipient = strings.Repeat("r", 200) }, "bad_value:recipient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mutate(c)
			got := ""
			if re := ValidateConsent(c, testNow); re != nil {
				got = re.Reason
			}
			if got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
	objTests := []struct {
		o    ObjectionRow
		want string
	}{
		{ObjectionRow{SubjectRef: "sub_x", Kind: "personalized_marketing"}, ""},
		{ObjectionRow{SubjectRef: "sub_x"}, "missing_field:kind"},
		{ObjectionRow{Kind: "personalized_marketing"}, "missing_field:subject_id"},
		{ObjectionRow{SubjectRef: "sub_x", Kind: "All Of It"}, "bad_value:kind"},
	}
	for _, tt := range objTests {
		got := ""
		if re := ValidateObjection(&tt.o); re != nil {
			got = re.Reason
		}
		if got != tt.want {
			t.Errorf("objection %+v: reason %q, want %q", tt.o, got, tt.want)
		}
	}
}
