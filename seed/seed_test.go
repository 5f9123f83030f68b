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

// TestNationalIDsUniqueAndValidAtScale builds registers of the default size and of 20,000
// persons (which used to fail on a repeated national ID): every national ID is unique (the
// nationalIds collection enforces it) and passes the same birth-number check as a
// registration. (100,000 persons are seeded by the scale benchmarks, whose seed fails on any
// repeated national ID.)
func TestNationalIDsUniqueAndValidAtScale(t *testing.T) {
	for _, n := range []int{DefaultPersons, 20_000} {
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

// TestDemoLifecycle: the demo register moves its sentences through the lifecycle — served
// sentences with their dates, conditional releases with the time served, completed probations,
// pending protective measures, deemed-not-convicted convictions — and never records an
// expungement the law would refuse on its day.
func TestDemoLifecycle(t *testing.T) {
	r := Build(Options{Persons: DefaultPersons})
	count := map[string]int{}
	for _, c := range r.Convictions {
		if c.DeemedNotConvicted {
			count["deemed not convicted"]++
		}
		if c.Expunged {
			count["expunged"]++
			if c.Expungement == nil || c.Expungement.CaseReference == nil || c.ExpungedOn == nil {
				t.Errorf("%s: an expungement names its decision", c.ID)
				continue
			}
			early, err := register.CheckExpungement(c, *c.ExpungedOn, false)
			if err != nil || early {
				t.Errorf("%s: demo expungement on %s is not lawful: %v", c.ID, *c.ExpungedOn, err)
			}
		}
		for _, s := range c.Sentences {
			if len(s.Transitions) == 0 || s.Transitions[len(s.Transitions)-1].Status != s.Status || s.Version < 1 {
				t.Errorf("%s: the transitions must end in the status %s: %+v", s.ID, s.Status, s.Transitions)
			}
			switch {
			case s.Status == model.SentenceStatusServed && s.EndDate != nil && s.StartDate != nil:
				count["served with dates"]++
			case s.ConditionallyReleasedOn != nil && s.ServedMonths != nil && s.Status == model.SentenceStatusConditionallyReleased:
				count["conditionally released, in probation"]++
			case s.ConditionallyReleasedOn != nil && s.ServedMonths != nil && s.Status == model.SentenceStatusProbationCompleted:
				count["conditional release, probation completed"]++
			case s.Suspended && s.Status == model.SentenceStatusProbationCompleted:
				count["suspended, probation completed"]++
			case s.Kind == model.SentenceKindProtectiveMeasure && !register.Executed(s.Status):
				count["protective measure pending"]++
			}
		}
	}
	for _, what := range []string{"expunged", "deemed not convicted", "served with dates", "conditionally released, in probation",
		"conditional release, probation completed", "suspended, probation completed", "protective measure pending"} {
		if count[what] < 2 {
			t.Errorf("the demo register has too few: %s (%d)", what, count[what])
		}
	}
	t.Logf("%v", count)
}

// TestNamedPersonsStories: the five persons of DESIGN §10, as described there.
func TestNamedPersonsStories(t *testing.T) {
	r := Build(Options{Persons: 5})
	convictions := map[string][]model.Conviction{}
	for _, c := range r.Convictions {
		convictions[c.PersonID] = append(convictions[c.PersonID], c)
	}
	periods := map[string][]model.DetentionPeriod{}
	for _, d := range r.Detentions {
		periods[d.PersonID] = d.Periods
	}
	today := ReferenceDay
	// Novák: in custody since 2026-09-01; 4 years served 2015–2019 in two prisons, not expunged.
	novak := convictions[NamedNovak][0]
	if s := register.Status(periods[NamedNovak], today); !s.DeprivedOfLiberty || *s.Kind != model.DetentionKindCustody || *s.Since != "2026-09-01" {
		t.Errorf("Novák: %+v", s)
	}
	if sen := novak.Sentences[0]; novak.CopyOnly() || sen.Status != model.SentenceStatusServed || *sen.StartDate != "2015-02-01" || *sen.EndDate != "2019-02-01" {
		t.Errorf("Novák's 2015–2019 imprisonment: %+v", sen)
	}
	// Dvořáková: the 2010 fine expunged lawfully, the 2024 suspended sentence in probation.
	dv := convictions[NamedDvorakova]
	if !dv[0].Expunged || dv[1].CopyOnly() || dv[1].Sentences[0].Status != model.SentenceStatusInProbation {
		t.Errorf("Dvořáková: %+v", dv)
	}
	// Svoboda: serving since 2023-05-10.
	if sen := convictions[NamedSvoboda][0].Sentences[0]; sen.Status != model.SentenceStatusBeingServed || *sen.StartDate != "2023-05-10" {
		t.Errorf("Svoboda: %+v", sen)
	}
	// Ferreira: in security detention since 2025-07-01, the protective measure not executed yet.
	if s := register.Status(periods[NamedFerreira], today); *s.Kind != model.DetentionKindSecurityDetention || *s.Since != "2025-07-01" {
		t.Errorf("Ferreira: %+v", s)
	}
	// Horváth: conditionally released 2024-03-15 after 54 months, by a Slovak court.
	h := convictions[NamedHorvath][0]
	if sen := h.Sentences[0]; sen.Status != model.SentenceStatusConditionallyReleased || *sen.ConditionallyReleasedOn != "2024-03-15" || *sen.ServedMonths != 54 || h.Country() != "SK" {
		t.Errorf("Horváth: %+v", sen)
	}
}
