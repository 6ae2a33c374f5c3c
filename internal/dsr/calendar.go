package dsr

import (
	"bytes"
	_ "embed" // the PRC calendar data is embedded
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai loads without the system tz database
)

// ErrInvalidCalendar is returned (wrapped) by LoadCalendar when the calendar data is malformed
// or inconsistent.
var ErrInvalidCalendar = errors.New("dsr: invalid calendar")

//go:embed calendar_prc.json
var prcCalendarJSON []byte

// prc parses the embedded PRC calendar once.
var prc = sync.OnceValues(func() (*Calendar, error) { return LoadCalendar(prcCalendarJSON) })

// dayKind says what a listed date is.
type dayKind uint8

const (
	holiday dayKind = iota + 1 // a public holiday (or a rest day of the holiday arrangement)
	workday                    // a make-up working day (调休) on a weekend
)

// yearInfo is what the calendar knows about one year besides its dates.
type yearInfo struct {
	source      string
	provisional bool
}

// Calendar knows public holidays and make-up working days (调休: weekend days that are working days).
// Dates are civil dates in the calendar's timezone. A Calendar is immutable and safe for
// concurrent use.
type Calendar struct {
	name  string
	loc   *time.Location
	days  map[int64]dayKind // key: days since 1970-01-01 of the civil date
	years map[int]yearInfo
}

// calendarFile is the JSON form of a Calendar.
type calendarFile struct {
	Name     string              `json:"name"`
	Timezone string              `json:"timezone"`
	Years    map[string]yearFile `json:"years"`
}

// yearFile is the JSON form of one year of a Calendar.
type yearFile struct {
	Holidays    []string `json:"holidays"`
	Workdays    []string `json:"workdays"`
	Source      string   `json:"source"`
	Provisional bool     `json:"provisional"`
}

// LoadCalendar parses calendar JSON of the form
//
//	{"name":"PRC","timezone":"Asia/Shanghai","years":{"2026":{"holidays":["2026-01-01",...],
//	 "workdays":["2026-01-04",...],"source":"...","provisional":false}}}
//
// It rejects, wrapping ErrInvalidCalendar: malformed JSON, unknown fields, trailing data, a
// missing or unknown timezone, a year key that is not a four-digit year, a year without a
// source, a date that is not YYYY-MM-DD or lies outside its year, a date listed twice, a date
// listed both as holiday and as workday, and a workday that is not a Saturday or Sunday.
func LoadCalendar(data []byte) (*Calendar, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f calendarFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCalendar, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the calendar object", ErrInvalidCalendar)
	}
	if f.Timezone == "" {
		return nil, fmt.Errorf("%w: timezone is required", ErrInvalidCalendar)
	}
	loc, err := time.LoadLocation(f.Timezone)
	if err != nil {
		return nil, fmt.Errorf("%w: timezone %q: %w", ErrInvalidCalendar, f.Timezone, err)
	}
	c := &Calendar{
		name:  f.Name,
		loc:   loc,
		days:  make(map[int64]dayKind),
		years: make(map[int]yearInfo, len(f.Years)),
	}
	for key, y := range f.Years {
		year, err := strconv.Atoi(key)
		if err != nil || len(key) != 4 || year < 1000 {
			return nil, fmt.Errorf("%w: year key %q is not a four-digit year", ErrInvalidCalendar, key)
		}
		if y.Source == "" {
			return nil, fmt.Errorf("%w: year %d has no source", ErrInvalidCalendar, year)
		}
		c.years[year] = yearInfo{source: y.Source, provisional: y.Provisional}
		for _, list := range []struct {
			kind  dayKind
			name  string
			dates []string
		}{{holiday, "holiday", y.Holidays}, {workday, "workday", y.Workdays}} {
			for _, s := range list.dates {
				d, err := time.Parse(time.DateOnly, s)
				if err != nil {
					return nil, fmt.Errorf("%w: year %d: %s %q is not a YYYY-MM-DD date", ErrInvalidCalendar, year, list.name, s)
				}
				if d.Year() != year {
					return nil, fmt.Errorf("%w: year %d: %s %s lies in another year", ErrInvalidCalendar, year, list.name, s)
				}
				dn := dayNumber(d.Date())
				if prev, dup := c.days[dn]; dup {
					if prev == list.kind {
						return nil, fmt.Errorf("%w: year %d: %s %s is listed twice", ErrInvalidCalendar, year, list.name, s)
					}
					return nil, fmt.Errorf("%w: year %d: %s is listed both as holiday and as workday", ErrInvalidCalendar, year, s)
				}
				if list.kind == workday && !isWeekend(weekdayOf(dn)) {
					return nil, fmt.Errorf("%w: year %d: make-up workday %s is not a Saturday or Sunday", ErrInvalidCalendar, year, s)
				}
				c.days[dn] = list.kind
			}
		}
	}
	return c, nil
}

// PRC returns the embedded calendar of the People's Republic of China (timezone Asia/Shanghai),
// holding the State Council holiday arrangements it was built with. It panics only if the
// embedded data is broken, which a test guards against.
func PRC() *Calendar {
	c, err := prc()
	if err != nil {
		panic(err)
	}
	return c
}

// Name returns the calendar's name, such as "PRC".
func (c *Calendar) Name() string { return c.name }

// Location returns the timezone in which the calendar's dates are civil dates.
func (c *Calendar) Location() *time.Location { return c.loc }

// Covers reports whether the calendar has holiday data for year. Outside the covered years
// only the weekend rule applies (Monday to Friday are working days).
func (c *Calendar) Covers(year int) bool {
	_, ok := c.years[year]
	return ok
}

// Provisional reports whether the data for year is provisional: entered from the statutory
// holidays because the official arrangement was not yet published. It is false for years the
// calendar does not cover.
func (c *Calendar) Provisional(year int) bool { return c.years[year].provisional }

// Source returns where the data for year comes from (for the PRC, the title of the State
// Council General Office notice), or "" for a year the calendar does not cover.
func (c *Calendar) Source(year int) string { return c.years[year].source }

// IsWorkingDay reports whether d's date, taken in the calendar's timezone, is a working day:
// a listed holiday is not, a listed make-up workday is, and any other date is a working day
// exactly when it is Monday to Friday.
func (c *Calendar) IsWorkingDay(d time.Time) bool {
	return c.isWorking(dayNumber(d.In(c.loc).Date()))
}

// AddWorkingDays returns the end (23:59:59.999 in the calendar's timezone, returned in UTC) of
// the n-th working day after t's date in the calendar's timezone. The date of t itself never
// counts, so a request received on a non-working day starts counting from the next working day:
// received on a Friday, Saturday or Sunday of an ordinary week, day 1 is the Monday. Dates
// outside the covered years follow the weekend rule. It panics if n < 1.
func (c *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	if n < 1 {
		panic("dsr: AddWorkingDays needs n >= 1")
	}
	dn := dayNumber(t.In(c.loc).Date())
	for counted := 0; counted < n; {
		dn++
		if c.isWorking(dn) {
			counted++
		}
	}
	y, m, d := time.Unix(dn*secondsPerDay, 0).UTC().Date()
	return time.Date(y, m, d, 23, 59, 59, 999_000_000, c.loc).UTC()
}

// isWorking reports whether the civil date with day number dn is a working day.
func (c *Calendar) isWorking(dn int64) bool {
	switch c.days[dn] {
	case holiday:
		return false
	case workday:
		return true
	}
	return !isWeekend(weekdayOf(dn))
}

const secondsPerDay = 24 * 60 * 60

// dayNumber returns the number of days from 1970-01-01 to the civil date y-m-d.
func dayNumber(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
}

// weekdayOf returns the weekday of day number dn (1970-01-01 was a Thursday).
func weekdayOf(dn int64) time.Weekday {
	return time.Weekday(((dn+int64(time.Thursday))%7 + 7) % 7)
}

// isWeekend reports whether wd is Saturday or Sunday.
func isWeekend(wd time.Weekday) bool { return wd == time.Saturday || wd == time.Sunday }
