package rule

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func str(s string) Literal { return Literal{Str: s} }
func num(f float64) Literal {
	return Literal{Num: f, IsNum: true, Str: strconv.FormatFloat(f, 'f', -1, 64)}
}
func cmp(k, op string, v Literal) Cmp { return Cmp{Key: k, Op: op, Value: v} }

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want Node
	}{
		{`value.rfm_segment == 'champions'`, cmp("value.rfm_segment", "==", str("champions"))},
		{`value.ltv_12m >= 1000.5`, cmp("value.ltv_12m", ">=", num(1000.5))},
		{`value.ltv_12m < -2`, cmp("value.ltv_12m", "<", num(-2))},
		{`a != "x y"`, cmp("a", "!=", str("x y"))},
		{`a == 'it\'s'`, cmp("a", "==", str("it's"))},
		{`value.rfm_segment in ['at_risk','cant_lose'] and behavior.active_slot == 'evening'`,
			And{In{Key: "value.rfm_segment", Values: []Literal{str("at_risk"), str("cant_lose")}}, cmp("behavior.active_slot", "==", str("evening"))}},
		{`a not in [1, 2]`, In{Key: "a", Values: []Literal{num(1), num(2)}, Negate: true}},
		{`a == 1 or b == 2 and c == 3`, Or{cmp("a", "==", num(1)), And{cmp("b", "==", num(2)), cmp("c", "==", num(3))}}},
		{`(a == 1 or b == 2) and not c == 3`, And{Or{cmp("a", "==", num(1)), cmp("b", "==", num(2))}, Not{cmp("c", "==", num(3))}}},
		{`not not a == 'x'`, Not{Not{cmp("a", "==", str("x"))}}},
		{"  a\t==\n'x'  ", cmp("a", "==", str("x"))},
	} {
		got, err := Parse(tc.src)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %#v %v\nwant %#v", tc.src, got, err, tc.want)
			continue
		}
		back, err := Parse(String(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%s: printed as %s, parsed back as %#v %v", tc.src, String(got), back, err)
		}
	}
}

func TestParseErrorsNameThePosition(t *testing.T) {
	for _, tc := range []struct {
		src  string
		pos  int
		want string
	}{
		{``, 0, "the rule is empty"},
		{" \t", 0, "the rule is empty"},
		{`a ==`, 4, "expected a string or a number, found the end"},
		{`a == 'x' and`, 12, "expected a tag key"},
		{`a = 'x'`, 2, `found "="`},
		{`a < 'x'`, 2, "< compares numbers"},
		{`a in 'x'`, 5, "expected ["},
		{`a in ['x' 'y']`, 10, "expected , or ]"},
		{`a in []`, 6, "expected a string or a number"},
		{`(a == 1`, 7, "expected )"},
		{`a == 1)`, 6, "expected and, or or the end"},
		{`a == 'x`, 5, "unterminated string"},
		{`a not b`, 6, "expected in after not"},
		{`a == 1.2.3`, 5, "expected a string or a number"},
		{`a == 1 b == 2`, 7, "expected and, or or the end"},
		{`== 1`, 0, "expected a tag key"},
		{`a € 1`, 2, "expected =="},
		{strings.Repeat("(", 70) + "a == 1" + strings.Repeat(")", 70), 65, "nests deeper"},
	} {
		_, err := Parse(tc.src)
		pe, ok := err.(*Error)
		if !ok || pe.Pos != tc.pos || !strings.Contains(pe.Msg, tc.want) {
			t.Errorf("%q: %v, want at %d: %q", tc.src, err, tc.pos, tc.want)
		}
	}
	if _, err := Parse(strings.Repeat("a == 1 or ", 500) + "a == 1"); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a rule over MaxLen: %v", err)
	}
}

func TestEval(t *testing.T) {
	tags := map[string][]string{
		"value.rfm_segment":    {"at_risk"},
		"value.ltv_12m":        {"1200.5"},
		"interest.categories":  {"toys", "books"},
		"behavior.active_slot": {"evening"},
	}
	get := func(k string) ([]string, bool) { v, ok := tags[k]; return v, ok }
	for src, want := range map[string]bool{
		`value.rfm_segment in ['at_risk', 'cant_lose']`:                  true,
		`value.rfm_segment not in ['at_risk']`:                           false,
		`value.ltv_12m > 1000 and value.ltv_12m <= 1200.5`:               true,
		`value.ltv_12m == 1200.5`:                                        true,
		`value.ltv_12m == '1200.5'`:                                      true,
		`value.rfm_segment > 3`:                                          false, // not a number: never matches
		`interest.categories == 'books'`:                                 true,  // any value of a list tag
		`interest.categories != 'toys'`:                                  true,  // 'books' differs
		`interest.categories not in ['toys']`:                            false,
		`not (behavior.active_slot == 'morning' or value.ltv_12m < 100)`: true,
	} {
		n, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, missing := Eval(n, get); got != want || missing {
			t.Errorf("%s = %v (missing %v), want %v", src, got, missing, want)
		}
	}
	// An absent tag makes its comparison unknown (Kleene): the rule matches when the known part decides it,
	// fails when it decides that, and is missing otherwise.
	for src, want := range map[string][2]bool{ // match, missing
		`attitude.sentiment == 'negative'`:                                            {false, true},
		`not attitude.sentiment == 'negative'`:                                        {false, true},
		`value.rfm_segment == 'at_risk' or attitude.sentiment == 'negative'`:          {true, false},
		`attitude.sentiment == 'negative' or value.rfm_segment == 'at_risk'`:          {true, false},
		`value.rfm_segment == 'champions' or attitude.sentiment == 'negative'`:        {false, true},
		`value.rfm_segment == 'champions' and attitude.sentiment == 'negative'`:       {false, false},
		`attitude.sentiment == 'negative' and value.rfm_segment == 'champions'`:       {false, false},
		`value.rfm_segment == 'at_risk' and attitude.sentiment == 'negative'`:         {false, true},
		`not (value.rfm_segment == 'champions' and attitude.sentiment == 'negative')`: {true, false},
	} {
		n, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, missing := Eval(n, get); got != want[0] || missing != want[1] {
			t.Errorf("%s = match %v missing %v, want %v %v", src, got, missing, want[0], want[1])
		}
	}
	n, _ := Parse(`value.rfm_segment == 'at_risk' or attitude.sentiment == 'negative'`)
	if keys := Keys(n); !reflect.DeepEqual(keys, []string{"value.rfm_segment", "attitude.sentiment"}) {
		t.Errorf("keys %v", keys)
	}
}

// FuzzParse: no input panics; what parses prints back to the same tree; evaluation never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`a == 'x'`, `value.ltv_12m >= 1000.5 and not (b in ['x', "y"] or c < -2)`, `a not in [1,2]`, `(((a == 1)))`, `a == 'it\'s'`, `a == '\\'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error of type %T", src, err)
			}
			return
		}
		back, err := Parse(String(n))
		if err != nil || !reflect.DeepEqual(back, n) {
			t.Fatalf("%q printed as %q parsed back as %#v, %v", src, String(n), back, err)
		}
		Eval(n, func(string) ([]string, bool) { return []string{"1", "x"}, true })
	})
}
