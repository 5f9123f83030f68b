package model

import (
	"io"
	"strconv"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the register's time zone must load on a machine without a zone database

	"custodia/apperr"
)

// Date is an ISO-8601 calendar date ("2026-09-01"). It is stored as that string, so dates sort
// and compare correctly as strings in the database. The zero value is the empty string and is
// never a valid date.
type Date string

// dateLayout is the only accepted textual form of a Date.
const dateLayout = "2006-01-02"

// ParseDate accepts exactly YYYY-MM-DD naming a real calendar day; anything else is an error
// whose message says what is expected.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil || len(s) != len(dateLayout) {
		return "", apperr.New(apperr.BadUserInput, "%q is not a date: expected an ISO-8601 calendar date such as 2026-09-01", s)
	}
	return DateOf(t), nil
}

// MustDate is ParseDate for literals known to be valid (seed data, tests); it panics otherwise.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf is the calendar date of t in t's location.
func DateOf(t time.Time) Date { return Date(t.Format(dateLayout)) }

// Time is midnight UTC of the date; the zero time for an invalid date.
func (d Date) Time() time.Time {
	t, _ := time.Parse(dateLayout, string(d))
	return t
}

// AddDate moves the date by whole years, months and days, as time.Time.AddDate does.
func (d Date) AddDate(years, months, days int) Date {
	return DateOf(d.Time().AddDate(years, months, days))
}

// Before reports whether d is strictly earlier than o.
func (d Date) Before(o Date) bool { return d < o }

// After reports whether d is strictly later than o.
func (d Date) After(o Date) bool { return d > o }

// String is the ISO-8601 form.
func (d Date) String() string { return string(d) }

// IsValid says whether d is a real calendar day in YYYY-MM-DD form — exactly what ParseDate
// accepts, checked without parsing into a time (the store checks every date it reads, and
// refuses a stored date that is not one: a document edited by hand).
func (d Date) IsValid() bool {
	s := string(d)
	if len(s) != len(dateLayout) || s[4] != '-' || s[7] != '-' {
		return false
	}
	n := [3]int{}
	for i, part := range [3]string{s[0:4], s[5:7], s[8:10]} {
		for _, c := range []byte(part) {
			if c < '0' || c > '9' {
				return false
			}
			n[i] = n[i]*10 + int(c-'0')
		}
	}
	year, month, day := n[0], n[1], n[2]
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	days := 31
	switch month {
	case 4, 6, 9, 11:
		days = 30
	case 2:
		days = 28
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			days = 29
		}
	}
	return day <= days
}

// UnmarshalGQL accepts only a string in ISO-8601 calendar form.
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return apperr.New(apperr.BadUserInput, "a Date must be a string such as 2026-09-01, got %T", v)
	}
	parsed, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// MarshalGQL writes the date as a JSON string.
func (d Date) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(d))) }

// DateTime is an instant, always presented in UTC with second precision (RFC 3339).
type DateTime time.Time

// UnmarshalGQL accepts an RFC 3339 string.
func (t *DateTime) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return apperr.New(apperr.BadUserInput, "a DateTime must be a string such as 2026-09-01T08:30:00Z, got %T", v)
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return apperr.New(apperr.BadUserInput, "%q is not a DateTime: expected RFC 3339, e.g. 2026-09-01T08:30:00Z", s)
	}
	*t = DateTime(parsed.UTC())
	return nil
}

// MarshalGQL writes the instant in UTC, RFC 3339.
func (t DateTime) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(time.Time(t).UTC().Format(time.RFC3339Nano)))
}

// registerZone is the register's time zone (REGISTER_TIME_ZONE, default Europe/Prague): its
// calendar decides what "today" is wherever the register compares dates.
var registerZone atomic.Pointer[time.Location]

// SetRegisterZone sets the register's time zone (at start-up).
func SetRegisterZone(loc *time.Location) { registerZone.Store(loc) }

// RegisterZone is the register's time zone; Europe/Prague unless set otherwise.
func RegisterZone() *time.Location {
	if loc := registerZone.Load(); loc != nil {
		return loc
	}
	loc, err := time.LoadLocation("Europe/Prague")
	if err != nil {
		panic(err) // embedded by time/tzdata
	}
	registerZone.CompareAndSwap(nil, loc)
	return loc
}

// Today is the register's calendar day at the instant now, in its time zone (DESIGN §7).
func Today(now time.Time) Date { return DateOf(now.In(RegisterZone())) }
