package model

import "testing"

// TestDateIsValidIsParseDate: IsValid accepts exactly what ParseDate accepts.
func TestDateIsValidIsParseDate(t *testing.T) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2026-04-31", "2026-12-31", "2026-13-01", "2026-00-10", "2026-01-00", "0000-01-01", "26-01-01", "2026/01/01", "2026-1-01", "x026-01-01", "", "2026-01-01 ", "+026-01-01", "2026-06-30"} {
		_, err := ParseDate(s)
		if got := Date(s).IsValid(); got != (err == nil) {
			t.Errorf("%q: IsValid %v, ParseDate %v", s, got, err)
		}
	}
}
