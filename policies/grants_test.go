package policies

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGrantsFile(t *testing.T) {
	s := loadEmbedded(t)
	cs := s.Grantable([]Role{"customer_service"}, PurposeRiskControl)
	if len(cs) != 1 || cs[0].MaxDuration != 4*time.Hour || !cs[0].Covers(nil, []string{"id_number"}) || cs[0].Covers(nil, []string{"bank_account"}) {
		t.Fatalf("customer_service for risk_control: %+v", cs)
	}
	an := s.Grantable([]Role{"analyst", "marketing"}, PurposeAnalytics)
	if len(an) != 1 || an[0].MaxDuration != 7*24*time.Hour || !an[0].Covers([]string{"behavior", "transactions"}, nil) || an[0].Covers([]string{"contact"}, nil) {
		t.Fatalf("analyst for analytics: %+v", an)
	}
	if g := s.Grantable([]Role{"marketing"}, PurposeMarketing); len(g) != 0 {
		t.Fatalf("marketing may request nothing: %+v", g)
	}
	// Each entry must stay within what the catalog lets its purpose process; a broken file changes nothing.
	for _, tc := range []struct{ name, entry, want string }{
		{"beyond the purpose", `{"role":"analyst","purpose":"analytics","categories":["sensitive_identity"],"max_duration":"1d","approvers":["compliance_officer"]}`, "may not process"},
		{"field beyond the purpose", `{"role":"marketing","purpose":"marketing","fields":["id_number"],"max_duration":"1h","approvers":["compliance_officer"]}`, "may not process"},
		{"unknown purpose", `{"role":"analyst","purpose":"spying","categories":["behavior"],"max_duration":"1d","approvers":["x"]}`, "unknown purpose"},
		{"too long", `{"role":"analyst","purpose":"analytics","categories":["behavior"],"max_duration":"91d","approvers":["compliance_officer"]}`, "at most 90d"},
		{"no approver", `{"role":"analyst","purpose":"analytics","categories":["behavior"],"max_duration":"1d","approvers":[]}`, "no approver"},
		{"nothing granted", `{"role":"analyst","purpose":"analytics","max_duration":"1d","approvers":["compliance_officer"]}`, "neither"},
		{"unknown key", `{"role":"analyst","purpose":"analytics","categories":["behavior"],"max_duration":"1d","approvers":["compliance_officer"],"extra":1}`, "unknown field"},
	} {
		files := embeddedFiles(t)
		files[fileGrants] = []byte(`{"grantable":[` + tc.entry + `]}`)
		_, err := compile(files, false)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"4h": 4 * time.Hour, "7d": 7 * 24 * time.Hour, "90m": 90 * time.Minute, "1d": 24 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, d := range []time.Duration{4 * time.Hour, 7 * 24 * time.Hour, 90 * time.Minute, 36 * time.Hour, 1500 * time.Millisecond} {
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("%v → %q → %v %v", d, FormatDuration(d), back, err)
		}
	}
	for _, in := range []string{"", "d", "7x", "-1d", "1.5d", "7 d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

// embeddedFiles is a fresh copy of the built-in policy files.
func embeddedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := readFiles("")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestStrategyFile(t *testing.T) {
	s := loadEmbedded(t)
	tiers := s.Strategy()
	if len(tiers) < 8 || tiers[0].Name != "churn_winback" || tiers[0].Channels[0] != "sms" || tiers[0].Content["zh"] == "" {
		t.Fatalf("strategy: %d tiers, first %+v", len(tiers), tiers[0])
	}
	if m := s.Personalised(); m.Label["zh"] != "个性化推荐" || m.Label["en"] == "" || m.OptOut["zh"] == "" || m.OptOut["en"] == "" {
		t.Fatalf("personalised marker %+v", m)
	}
	const marker = `"personalised":{"label":{"en":"P","zh":"个"},"opt_out":{"en":"o","zh":"退"}}`
	for _, tc := range []struct{ name, marker, tier, want string }{
		{"bad rule", marker, `{"name":"x","rule":"a ==","channel":"sms","content":{"en":"e","zh":"z"}}`, "at 4"},
		{"unknown channel", marker, `{"name":"x","rule":"a == 'b'","channel":"fax","content":{"en":"e","zh":"z"}}`, "unknown channel"},
		{"no zh content", marker, `{"name":"x","rule":"a == 'b'","channel":"sms","content":{"en":"e"}}`, "content needs en and zh"},
		{"no marker", `"comment":""`, `{"name":"x","rule":"a == 'b'","channel":"sms","content":{"en":"e","zh":"z"}}`, "personalised needs"},
		{"no zh opt-out", `"personalised":{"label":{"en":"P","zh":"个"},"opt_out":{"en":"o"}}`, `{"name":"x","rule":"a == 'b'","channel":"sms","content":{"en":"e","zh":"z"}}`, "personalised needs"},
	} {
		files := embeddedFiles(t)
		files[fileStrategy] = []byte(`{` + tc.marker + `,"tiers":[` + tc.tier + `]}`)
		if _, err := compile(files, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
