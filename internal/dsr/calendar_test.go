package dsr

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shanghai is the fixed +08:00 offset of Asia/Shanghai, used to write expected instants by hand.
var shanghai = time.FixedZone("CST", 8*60*60)

// date returns noon of y-m-d in Shanghai.
func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, s, shanghai)
	if err != nil {
		t.Fatalf("bad test date %q: %v", s, err)
	}
	return d.Add(12 * time.Hour)
}

// endOfDay returns 23:59:59.999 of y-m-d in Shanghai, in UTC.
func endOfDay(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, s, shanghai)
	if err != nil {
		t.Fatalf("bad test date %q: %v", s, err)
	}
	return d.Add(24*time.Hour - time.Millisecond).UTC()
}

// loadFile writes data to a file in a temporary directory, reads it back and loads it, as an
// operator-supplied calendar file would be.
func loadFile(t *testing.T, data string) (*Calendar, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calendar.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return LoadCalendar(b)
}

func TestPRCEmbedded(t *testing.T) {
	c, err := LoadCalendar(prcCalendarJSON)
	if err != nil {
		t.Fatalf("embedded PRC calendar does not load: %v", err)
	}
	if PRC() == nil {
		t.Fatal("PRC() is nil")
	}
	if got := c.Location().String(); got != "Asia/Shanghai" {
		t.Errorf("Location = %q, want Asia/Shanghai", got)
	}
	if c.Name() != "PRC" {
		t.Errorf("Name = %q, want PRC", c.Name())
	}
	tests := []struct {
		year        int
		covers      bool
		provisional bool
		source      string // prefix
	}{
		{2025, false, false, ""},
		{2026, true, false, "国务院办公厅关于2026年部分节假日安排的通知"},
		{2027, true, true, "PROVISIONAL"},
		{2028, false, false, ""},
	}
	for _, tt := range tests {
		if got := c.Covers(tt.year); got != tt.covers {
			t.Errorf("Covers(%d) = %v, want %v", tt.year, got, tt.covers)
		}
		if got := c.Provisional(tt.year); got != tt.provisional {
			t.Errorf("Provisional(%d) = %v, want %v", tt.year, got, tt.provisional)
		}
		if got := c.Source(tt.year); !strings.HasPrefix(got, tt.source) || (tt.source == "") != (got == "") {
			t.Errorf("Source(%d) = %q, want prefix %q", tt.year, got, tt.source)
		}
	}
	// The 2026 notice: 33 holiday dates (3+9+3+5+3+3+7) and 6 make-up working days.
	var holidays, workdays int
	for dn, k := range c.days {
		y, _, _ := time.Unix(dn*secondsPerDay, 0).UTC().Date()
		if y != 2026 {
			continue
		}
		switch k {
		case holiday:
			holidays++
		case workday:
			workdays++
		}
	}
	if holidays != 33 || workdays != 6 {
		t.Errorf("2026 has %d holidays and %d make-up workdays, want 33 and 6", holidays, workdays)
	}
}

func TestIsWorkingDay(t *testing.T) {
	c := PRC()
	tests := []struct {
		name string
		day  string
		want bool
	}{
		{"New Year's Day 2026 (Thu)", "2026-01-01", false},
		{"New Year holiday Fri", "2026-01-02", false},
		{"New Year holiday Sat", "2026-01-03", false},
		{"make-up Sunday after New Year", "2026-01-04", true},
		{"ordinary Monday", "2026-01-05", true},
		{"make-up Saturday before Spring Festival", "2026-02-14", true},
		{"Spring Festival Sun 腊月二十八", "2026-02-15", false},
		{"Spring Festival Mon", "2026-02-16", false},
		{"Spring Festival Tue 正月初一", "2026-02-17", false},
		{"Spring Festival Wed", "2026-02-18", false},
		{"Spring Festival Thu", "2026-02-19", false},
		{"Spring Festival Fri", "2026-02-20", false},
		{"Spring Festival Sat", "2026-02-21", false},
		{"Spring Festival Sun", "2026-02-22", false},
		{"Spring Festival Mon 正月初七", "2026-02-23", false},
		{"first day back after Spring Festival", "2026-02-24", true},
		{"make-up Saturday after Spring Festival", "2026-02-28", true},
		{"ordinary Saturday", "2026-03-07", false},
		{"ordinary Sunday", "2026-03-08", false},
		{"Qingming Mon", "2026-04-06", false},
		{"Labour Day Tue", "2026-05-05", false},
		{"make-up Saturday after Labour Day", "2026-05-09", true},
		{"Dragon Boat Fri", "2026-06-19", false},
		{"make-up Sunday before National Day", "2026-09-20", true},
		{"Mid-Autumn Fri", "2026-09-25", false},
		{"National Day Wed", "2026-10-07", false},
		{"after National Day Thu", "2026-10-08", true},
		{"make-up Saturday after National Day", "2026-10-10", true},
		{"2027 New Year's Day (Fri, provisional)", "2027-01-01", false},
		{"2027 除夕 (Fri, provisional)", "2027-02-05", false},
		{"2027 正月初三 (Mon, provisional)", "2027-02-08", false},
		{"2027 Dragon Boat (Wed, provisional)", "2027-06-09", false},
		{"2027 Mid-Autumn (Wed, provisional)", "2027-09-15", false},
		{"outside data: Tue 2030-01-01 follows the weekend rule", "2030-01-01", true},
		{"outside data: Sat 2030-01-05", "2030-01-05", false},
		{"outside data: Wed 2025-12-31", "2025-12-31", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.IsWorkingDay(date(t, tt.day)); got != tt.want {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.day, got, tt.want)
			}
		})
	}
}

func TestIsWorkingDayUsesCalendarTimezone(t *testing.T) {
	c := PRC()
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		// 2025-12-31T16:00Z is 2026-01-01 00:00 in Shanghai: New Year's Day.
		{"UTC Wednesday evening is Shanghai New Year's Day", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), false},
		{"one second earlier is still Wednesday 2025-12-31", time.Date(2025, 12, 31, 15, 59, 59, 0, time.UTC), true},
		// 2026-03-08T16:30Z (Sunday in UTC) is Monday 00:30 in Shanghai.
		{"UTC Sunday evening is Shanghai Monday", time.Date(2026, 3, 8, 16, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.IsWorkingDay(tt.at); got != tt.want {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := PRC()
	tests := []struct {
		name     string
		received time.Time
		n        int
		want     string // Shanghai date whose end is due
	}{
		{
			// Received Fri 02-13. 1 Sat 02-14 (make-up); 02-15..02-23 Spring Festival;
			// 2 Tue 02-24, 3 Wed 25, 4 Thu 26, 5 Fri 27, 6 Sat 28 (make-up); Sun 03-01 off;
			// 7 Mon 03-02, 8 Tue 3, 9 Wed 4, 10 Thu 5, 11 Fri 6; Sat 7 / Sun 8 off;
			// 12 Mon 03-09, 13 Tue 10, 14 Wed 11, 15 Thu 12.
			name: "across Spring Festival 2026", received: date(t, "2026-02-13"), n: 15, want: "2026-03-12",
		},
		{
			// Received Sun 02-15 (holiday). 02-16..02-23 off; 1 Tue 02-24, 2 Wed 25, 3 Thu 26,
			// 4 Fri 27, 5 Sat 28 (make-up).
			name: "received during Spring Festival", received: date(t, "2026-02-15"), n: 5, want: "2026-02-28",
		},
		{
			// Received Wed 09-23. 1 Thu 09-24; 09-25..09-27 Mid-Autumn; 2 Mon 28, 3 Tue 29,
			// 4 Wed 30; 10-01..10-07 National Day; 5 Thu 10-08, 6 Fri 9, 7 Sat 10 (make-up);
			// Sun 11 off; 8 Mon 12, 9 Tue 13, 10 Wed 14, 11 Thu 15, 12 Fri 16; Sat 17 / Sun 18 off;
			// 13 Mon 19, 14 Tue 20, 15 Wed 21.
			name: "across Mid-Autumn and National Day 2026", received: date(t, "2026-09-23"), n: 15, want: "2026-10-21",
		},
		{
			// Received Fri 09-18. Sat 19 off; 1 Sun 09-20 (make-up); 2 Mon 21, 3 Tue 22, 4 Wed 23,
			// 5 Thu 24; 25..27 off; 6 Mon 28, 7 Tue 29, 8 Wed 30; 10-01..07 off; 9 Thu 10-08,
			// 10 Fri 9, 11 Sat 10 (make-up); Sun 11 off; 12 Mon 12, 13 Tue 13, 14 Wed 14, 15 Thu 15.
			name: "make-up Sunday before National Day counts", received: date(t, "2026-09-18"), n: 15, want: "2026-10-15",
		},
		{
			// Received Sun 03-15 (ordinary Sunday): counting starts Monday.
			// 1..5 Mon 03-16..Fri 20; 6..10 Mon 23..Fri 27; 11..15 Mon 03-30..Fri 04-03.
			name: "received on a Sunday", received: date(t, "2026-03-15"), n: 15, want: "2026-04-03",
		},
		{
			// Received Fri 03-13: the same due date as the Sunday after, since the received date never counts.
			name: "received on the Friday before", received: date(t, "2026-03-13"), n: 15, want: "2026-04-03",
		},
		{
			// Received Sat 01-03 (holiday): the next working day is the make-up Sunday 01-04.
			name: "received on a holiday, next day is a make-up Sunday", received: date(t, "2026-01-03"), n: 1, want: "2026-01-04",
		},
		{
			// 2026-03-15T16:30Z is Mon 03-16 00:30 in Shanghai, so day 1 is Tue 03-17.
			name: "receipt date taken in Shanghai", received: time.Date(2026, 3, 15, 16, 30, 0, 0, time.UTC), n: 1, want: "2026-03-17",
		},
		{
			// 2026-03-15T15:59Z is still Sun 03-15 23:59 in Shanghai, so day 1 is Mon 03-16.
			name: "one minute before Shanghai midnight", received: time.Date(2026, 3, 15, 15, 59, 0, 0, time.UTC), n: 1, want: "2026-03-16",
		},
		{
			// Received Thu 2026-12-24. 1 Fri 25; Sat 26 / Sun 27 off; 2 Mon 28, 3 Tue 29, 4 Wed 30,
			// 5 Thu 31; Fri 2027-01-01 New Year's Day (statutory, in the provisional 2027 data);
			// Sat 2 / Sun 3 off; 6 Mon 01-04, 7 Tue 5, 8 Wed 6, 9 Thu 7, 10 Fri 8; 11 Mon 11,
			// 12 Tue 12, 13 Wed 13, 14 Thu 14, 15 Fri 15.
			name: "year boundary 2026 to 2027", received: date(t, "2026-12-24"), n: 15, want: "2027-01-15",
		},
		{
			// 2030 is outside the data: weekends only. Received Fri 05-31; 1..5 Mon 06-03..Fri 7,
			// 6..10 Mon 10..Fri 14, 11..15 Mon 17..Fri 21.
			name: "year outside the data", received: date(t, "2030-05-31"), n: 15, want: "2030-06-21",
		},
		{
			// Received Wed 2025-12-31 (2025 is outside the data). Thu 2026-01-01..Sat 01-03
			// holidays; 1 Sun 01-04 (make-up); 2 Mon 01-05.
			name: "from an uncovered year into a covered one", received: date(t, "2025-12-31"), n: 2, want: "2026-01-05",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddWorkingDays(tt.received, tt.n)
			want := endOfDay(t, tt.want)
			if !got.Equal(want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.received, tt.n, got, want)
			}
			if got.Location() != time.UTC {
				t.Errorf("AddWorkingDays returned location %s, want UTC", got.Location())
			}
			if !c.IsWorkingDay(got) {
				t.Errorf("due date %s is not a working day", got)
			}
		})
	}
}

func TestAddWorkingDaysPanicsBelowOne(t *testing.T) {
	for _, n := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddWorkingDays(_, %d) did not panic", n)
				}
			}()
			PRC().AddWorkingDays(time.Now(), n)
		}()
	}
}

func TestShanghaiHasNoDST(t *testing.T) {
	c := PRC()
	// Every day from 2026 to 2040 is at +08:00, and the end of a working day is 15:59:59.999 UTC.
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, c.Location())
	for d := start; d.Year() <= 2040; d = d.AddDate(0, 0, 1) {
		if _, off := d.Zone(); off != 8*60*60 {
			t.Fatalf("offset on %s is %d s, want 28800", d.Format(time.DateOnly), off)
		}
	}
	for d := start; d.Year() <= 2027; d = d.AddDate(0, 0, 7) {
		due := c.AddWorkingDays(d, 1)
		if h, m, s := due.Clock(); h != 15 || m != 59 || s != 59 || due.Nanosecond() != 999_000_000 {
			t.Fatalf("due after %s is %s, want 15:59:59.999 UTC", d.Format(time.DateOnly), due)
		}
	}
}

func TestLoadCalendar(t *testing.T) {
	valid := `{"name":"T","timezone":"Asia/Shanghai","years":{"2026":{"holidays":["2026-01-01"],"workdays":["2026-01-04"],"source":"test","provisional":false}}}`
	c, err := loadFile(t, valid)
	if err != nil {
		t.Fatalf("valid calendar rejected: %v", err)
	}
	if !c.Covers(2026) || c.IsWorkingDay(date(t, "2026-01-01")) || !c.IsWorkingDay(date(t, "2026-01-04")) {
		t.Error("valid calendar loaded wrongly")
	}
	if _, err := loadFile(t, `{"name":"empty","timezone":"UTC","years":{}}`); err != nil {
		t.Errorf("calendar without years rejected: %v", err)
	}

	tests := []struct {
		name string
		data string
	}{
		{"not JSON", `{"name":`},
		{"empty input", ``},
		{"array", `[]`},
		{"trailing data", valid + `{}`},
		{"unknown field", `{"name":"T","timezone":"UTC","years":{},"holiday":[]}`},
		{"unknown year field", `{"name":"T","timezone":"UTC","years":{"2026":{"holiday":["2026-01-01"],"source":"s"}}}`},
		{"missing timezone", `{"name":"T","years":{}}`},
		{"unknown timezone", `{"name":"T","timezone":"Mars/Olympus","years":{}}`},
		{"year key not a number", `{"name":"T","timezone":"UTC","years":{"20x6":{"source":"s"}}}`},
		{"two-digit year key", `{"name":"T","timezone":"UTC","years":{"26":{"source":"s"}}}`},
		{"year without source", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-01-01"]}}}`},
		{"impossible date", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-02-30"],"source":"s"}}}`},
		{"slashes", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026/01/01"],"source":"s"}}}`},
		{"no zero padding", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-1-1"],"source":"s"}}}`},
		{"date with time", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-01-01T00:00:00Z"],"source":"s"}}}`},
		{"date in another year", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2027-01-01"],"source":"s"}}}`},
		{"holiday twice", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-01-01","2026-01-01"],"source":"s"}}}`},
		{"both holiday and workday", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":["2026-01-04"],"workdays":["2026-01-04"],"source":"s"}}}`},
		{"workday on a weekday", `{"name":"T","timezone":"UTC","years":{"2026":{"workdays":["2026-01-05"],"source":"s"}}}`},
		{"holidays not a list", `{"name":"T","timezone":"UTC","years":{"2026":{"holidays":"2026-01-01","source":"s"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadFile(t, tt.data)
			if !errors.Is(err, ErrInvalidCalendar) {
				t.Errorf("LoadCalendar = %v, %v; want an error wrapping ErrInvalidCalendar", c, err)
			}
		})
	}
}
