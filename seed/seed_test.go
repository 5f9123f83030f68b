package seed

import (
	"reflect"
	"testing"

	"custodia/model"
	"custodia/register"
)

func TestDemoRegisterIsDeterministicAndComplete(t *testing.T) {
	r := Build(Options{Persons: DefaultPersons})
	if !reflect.DeepEqual(r, Build(Options{Persons: DefaultPersons})) {
		t.Fatal("the demo register must be the same on every build")
	}
	if len(r.Persons) != DefaultPersons || len(r.Prisons) < 30 {
		t.Fatalf("%d persons, %d prisons", len(r.Persons), len(r.Prisons))
	}
	prisonKinds := map[model.PrisonKind]bool{}
	for _, p := range r.Prisons {
		prisonKinds[p.Kind] = true
	}
	sentenceKinds := map[model.SentenceKind]bool{}
	expunged := 0
	for _, c := range r.Convictions {
		if c.Expunged {
			expunged++
		}
		for _, s := range c.Sentences {
			sentenceKinds[s.Kind] = true
		}
	}
	countries, diacritics := map[string]bool{}, 0
	for _, p := range r.Persons {
		countries[p.Nationalities[0]] = true
		if hasDiacritics(p.FamilyName + p.GivenNames) {
			diacritics++
		}
	}
	today := ReferenceDay
	statusKinds := map[model.DetentionKind]int{}
	transfers := 0
	detained := map[string]bool{}
	for _, d := range r.Detentions {
		detained[d.PersonID] = true
		open := 0
		for _, p := range d.Periods {
			if p.End == nil {
				open++
			}
			if p.ReleaseReason != nil && *p.ReleaseReason == model.ReleaseReasonTransfer {
				transfers++
			}
		}
		if open > 1 {
			t.Errorf("%s has %d open periods", d.PersonID, open)
		}
		if s := register.Status(d.Periods, today); s.DeprivedOfLiberty {
			statusKinds[*s.Kind]++
		}
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"every prison kind", len(prisonKinds) == len(model.AllPrisonKind)},
		{"every sentence kind", len(sentenceKinds) == len(model.AllSentenceKind)},
		{"some expunged convictions", expunged > 10},
		{"several countries", len(countries) >= 5},
		{"names with diacritics", diacritics > 100},
		{"persons in custody now", statusKinds[model.DetentionKindCustody] > 5},
		{"persons in imprisonment now", statusKinds[model.DetentionKindImprisonment] > 5},
		{"persons in security detention now", statusKinds[model.DetentionKindSecurityDetention] > 2},
		{"detention histories with transfers", transfers > 20},
		{"persons never detained", len(detained) < len(r.Persons)/2},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("the demo register lacks %s (prisons %v, sentences %v, expunged %d, countries %v, detained now %v, transfers %d)",
				c.what, prisonKinds, sentenceKinds, expunged, countries, statusKinds, transfers)
		}
	}
	t.Logf("detained now: %v; transfers %d; expunged %d; sentence kinds %d", statusKinds, transfers, expunged, len(sentenceKinds))
}

func hasDiacritics(s string) bool {
	for _, r := range s {
		if r > 127 {
			return true
		}
	}
	return false
}

// TestNationalIDsUniqueAndValidAtScale builds registers up to the size of the scale
// benchmarks: every national ID is unique (the nationalIds collection enforces it) and passes
// the same birth-number check as a registration.
func TestNationalIDsUniqueAndValidAtScale(t *testing.T) {
	for _, n := range []int{DefaultPersons, 20_000, 100_000} {
		r := Build(Options{Persons: n})
		seen := make(map[string]string, n)
		for _, p := range r.Persons {
			if p.NationalID == nil {
				continue
			}
			if other, dup := seen[*p.NationalID]; dup {
				t.Fatalf("%d persons: national ID %s given to %s and %s", n, *p.NationalID, other, p.ID)
			}
			seen[*p.NationalID] = p.ID
			if _, err := register.CheckBirthNumber("nationalId", *p.NationalID, p.DateOfBirth, p.Sex); err != nil {
				t.Fatalf("%d persons: %s of %s: %v", n, *p.NationalID, p.ID, err)
			}
		}
	}
}
