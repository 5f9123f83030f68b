package register

import (
	"testing"

	"custodia/apperr"
	"custodia/model"
)

func TestFold(t *testing.T) {
	cases := map[string]string{
		"Dvořáková":         "dvorakova",
		"  DVOŘÁKOVÁ  ":     "dvorakova",
		"Ďurica":            "durica",
		"Ľubomír":           "lubomir",
		"Gonçalves":         "goncalves",
		"Weiß":              "weiss",
		"Łukasz Wiśniewski": "lukasz wisniewski",
		"Jan   Pavel":       "jan pavel",
		"O'Neill-Smith":     "o'neill-smith",
		"Müller.":           "muller",
	}
	for in, want := range cases {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewPersonQuery(t *testing.T) {
	s := func(v string) *string { return &v }
	d := model.MustDate("1980-01-15")
	n := func(v int) *int { return &v }
	cases := []struct {
		name   string
		filter model.PersonSearchInput
		first  *int
		field  string // "" = valid
	}{
		{"national ID", model.PersonSearchInput{NationalID: s("800115/2346")}, nil, ""},
		{"family + date", model.PersonSearchInput{FamilyName: s("Novák"), DateOfBirth: &d}, nil, ""},
		{"family + given", model.PersonSearchInput{FamilyName: s("Novák"), GivenNames: s("Jan")}, n(50), ""},
		{"family alone", model.PersonSearchInput{FamilyName: s("Novák")}, nil, "filter"},
		{"given + date", model.PersonSearchInput{GivenNames: s("Jan"), DateOfBirth: &d}, nil, "filter"},
		{"nothing", model.PersonSearchInput{}, nil, "filter"},
		{"punctuation only", model.PersonSearchInput{FamilyName: s("..."), DateOfBirth: &d}, nil, "filter.familyName"},
		{"bad national ID", model.PersonSearchInput{NationalID: s("12-34")}, nil, "filter.nationalId"},
		{"page too big", model.PersonSearchInput{NationalID: s("800115/2346")}, n(51), "first"},
		{"page too small", model.PersonSearchInput{NationalID: s("800115/2346")}, n(0), "first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPersonQuery(c.filter, c.first, nil)
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			e, ok := err.(*apperr.Error)
			if !ok || e.Code != apperr.BadUserInput || e.Extensions["field"] != c.field {
				t.Fatalf("want BAD_USER_INPUT on %s, got %#v", c.field, err)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	key := "dvorakova\x00marie\x001975-06-30\x00P-000002"
	got, err := DecodeCursor("after", EncodeCursor(key))
	if err != nil || got != key {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm9wZQ"} {
		if _, err := DecodeCursor("after", bad); err == nil {
			t.Errorf("cursor %q should be refused", bad)
		}
	}
}

func TestValidatePurpose(t *testing.T) {
	cases := []struct {
		ref   string
		valid bool
	}{
		{"4 T 123/2025", true}, {"1 KZV 245/2026", true}, {"KRPA-1234/TČ-2026", true}, {"  5 T 12/2023 ", true},
		{"", false}, {"   ", false}, {"<b>", false}, {"/leading", false}, {string(make([]byte, 65)), false},
	}
	for _, c := range cases {
		err := ValidatePurpose(&model.PurposeInput{CaseReference: c.ref, Reason: model.PurposeCodeCriminalProceedings})
		if (err == nil) != c.valid {
			t.Errorf("case reference %q: valid=%v, err=%v", c.ref, c.valid, err)
		}
	}
	if err := ValidatePurpose(&model.PurposeInput{CaseReference: "1 T 1/2026", Reason: "NOSY"}); err == nil {
		t.Errorf("an unknown reason must be refused")
	}
	if err := ValidatePurpose(nil); apperr.CodeOf(err) != apperr.PurposeRequired {
		t.Errorf("a missing purpose is PURPOSE_REQUIRED, got %v", err)
	}
}
