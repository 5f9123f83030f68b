package register

import (
	"strings"
	"testing"

	"custodia/apperr"
	"custodia/model"
)

// sentence builds a sentence of a kind with a duration (0 = none) in a status, ending (executed,
// pardoned …) on end ("" = no end recorded).
func sentence(kind model.SentenceKind, months int, status model.SentenceStatus, end string) model.Sentence {
	s := model.Sentence{ID: string(kind), Kind: kind, Status: status, Suspended: kind == model.SentenceKindSuspendedImprisonment}
	if months > 0 {
		s.DurationMonths = &months
	}
	if end != "" {
		e := model.MustDate(end)
		s.EndDate = &e
	}
	return s
}

// conditional is an imprisonment of `months` conditionally released on `released` after
// `served` months; completed says the court found the probation completed.
func conditional(months, served int, released string, completed bool) model.Sentence {
	s := sentence(model.SentenceKindImprisonment, months, model.SentenceStatusConditionallyReleased, released)
	r := model.MustDate(released)
	s.ServedMonths, s.ConditionallyReleasedOn = &served, &r
	if completed {
		s.Status = model.SentenceStatusProbationCompleted
	}
	return s
}

func life(status model.SentenceStatus, end string) model.Sentence {
	s := sentence(model.SentenceKindExceptionalImprisonment, 0, status, end)
	s.Life = true
	return s
}

const (
	served      = model.SentenceStatusServed
	beingServed = model.SentenceStatusBeingServed
)

var (
	intentionalOffence = []model.Offence{{Intentional: true}}
	negligent          = []model.Offence{{Intentional: false}}
)

// TestRehabilitationRules: one case per paragraph of §105 and per combination; the expected
// date is worked out in each case's comment.
func TestRehabilitationRules(t *testing.T) {
	cases := []struct {
		name      string
		court     string // "" = CZ
		offences  []model.Offence
		sentences []model.Sentence
		date      string // "" = no date
		rule      string // a fragment of the rule, or of what blocks it
	}{
		// §105(1)(a): executed 2010-01-01 + 15 years = 2025-01-01.
		{"(1)(a) exceptional sentence: 15 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindExceptionalImprisonment, 300, served, "2010-01-01")}, "2025-01-01", "§105(1)(a)"},
		// §105(1)(a) for life: pardoned 2020-05-05 + 15 years = 2035-05-05.
		{"(1)(a) life imprisonment, pardoned", "", intentionalOffence, []model.Sentence{life(model.SentenceStatusPardoned, "2020-05-05")}, "2035-05-05", "§105(1)(a)"},
		{"(1)(a) life imprisonment being served", "", intentionalOffence, []model.Sentence{life(beingServed, "")}, "", "BEING_SERVED"},
		// §105(1)(b): 72 months > 60; executed 2019-02-01 + 10 years = 2029-02-01.
		{"(1)(b) imprisonment over 5 years: 10 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 72, served, "2019-02-01")}, "2029-02-01", "§105(1)(b)"},
		// §105(1)(b) boundary: exactly 60 months is not over 5 years → (c): 2019-02-01 + 5 = 2024-02-01.
		{"(1)(c) exactly 5 years is not over 5 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 60, served, "2019-02-01")}, "2024-02-01", "§105(1)(c)"},
		// §105(1)(c): 48 months; 2019-02-01 + 5 years = 2024-02-01.
		{"(1)(c) imprisonment over 1 year: 5 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 48, served, "2019-02-01")}, "2024-02-01", "§105(1)(c)"},
		// §105(1)(d): 12 months is "up to 1 year"; 2020-06-30 + 3 = 2023-06-30.
		{"(1)(d) imprisonment up to 1 year: 3 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, served, "2020-06-30")}, "2023-06-30", "§105(1)(d)"},
		// §105(1)(d): expulsion; 2021-03-01 + 3 = 2024-03-01.
		{"(1)(d) expulsion: 3 years", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindExpulsion, 36, served, "2021-03-01")}, "2024-03-01", "expulsion"},
		// §105(1)(e): house arrest; 2022-01-10 + 1 = 2023-01-10.
		{"(1)(e) house arrest: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindHouseArrest, 6, served, "2022-01-10")}, "2023-01-10", "house arrest"},
		// §105(1)(e): fine for an intentionalOffence offence paid 2010-06-30 + 1 = 2011-06-30.
		{"(1)(e) fine for an intentional offence: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindFine, 0, served, "2010-06-30")}, "2011-06-30", "intentional"},
		// §105(1)(e): forfeiture, residence ban, event ban: 1 year.
		{"(1)(e) forfeiture of an item: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindForfeitureOfItem, 0, served, "2022-04-04")}, "2023-04-04", "forfeiture of an item"},
		{"(1)(e) residence ban: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindResidenceBan, 24, served, "2022-04-04")}, "2023-04-04", "residence ban"},
		{"(1)(e) event ban: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindEventBan, 24, served, "2022-04-04")}, "2023-04-04", "event ban"},
		// Deemed not convicted (DESIGN §7): no date, nothing to expunge.
		{"community service executed: deemed not convicted", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindCommunityService, 6, served, "2021-03-01")}, "", "deemed not convicted"},
		{"activity ban executed: deemed not convicted", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindActivityBan, 24, served, "2021-03-01")}, "", "deemed not convicted"},
		{"negligent-offence fine paid: deemed not convicted", "", negligent, []model.Sentence{sentence(model.SentenceKindFine, 0, served, "2010-06-30")}, "", "deemed not convicted"},
		{"suspended sentence, probation completed: deemed not convicted", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindSuspendedImprisonment, 12, model.SentenceStatusProbationCompleted, "2027-04-20")}, "", "deemed not convicted"},
		// Community service not executed but pardoned 2022-02-02: §105(1)(e), 1 year = 2023-02-02.
		{"community service pardoned: 1 year", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindCommunityService, 6, model.SentenceStatusPardoned, "2022-02-02")}, "2023-02-02", "not executed"},
		// A suspended sentence executed after a failed probation: 8 months served to 2021-09-09,
		// §105(1)(d) 3 years = 2024-09-09.
		{"suspended sentence executed after failed probation: (1)(d)", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindSuspendedImprisonment, 8, served, "2021-09-09")}, "2024-09-09", "§105(1)(d)"},
		{"suspended sentence in probation", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindSuspendedImprisonment, 8, model.SentenceStatusInProbation, "")}, "", "IN_PROBATION"},
		// §105(4): 84 months imposed, 54 served (> 12): released 2024-03-15, probation completed,
		// counts as executed on the release day: 2024-03-15 + 5 years = 2029-03-15.
		{"(4) conditional release: 54 months served → (1)(c) 5 years", "", intentionalOffence, []model.Sentence{conditional(84, 54, "2024-03-15", true)}, "2029-03-15", "§105(4) conditional release after 54 months actually served: §105(1)(c)"},
		// §105(4): 72 months imposed (would be 10 years) but only 10 served: 2024-03-15 + 3 = 2027-03-15.
		{"(4) conditional release: 10 months served → (1)(d) 3 years", "", intentionalOffence, []model.Sentence{conditional(72, 10, "2024-03-15", true)}, "2027-03-15", "§105(1)(d)"},
		// §105(4): 120 imposed, 80 served (> 60): 2022-05-31 + 10 = 2032-05-31.
		{"(4) conditional release: 80 months served → (1)(b) 10 years", "", intentionalOffence, []model.Sentence{conditional(120, 80, "2022-05-31", true)}, "2032-05-31", "§105(1)(b)"},
		{"(4) conditional release still in probation", "", intentionalOffence, []model.Sentence{conditional(84, 54, "2024-03-15", false)}, "", "§105(4)"},
		// §105(5), (6): imprisonment 24 months (5 years) executed 2020-01-01 and an intentionalOffence
		// fine (1 year) paid 2020-03-01: from the last (2020-03-01), the longest (5) = 2025-03-01.
		{"(5)(6) imprisonment and fine: longest from the last", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 24, served, "2020-01-01"), sentence(model.SentenceKindFine, 0, served, "2020-03-01")}, "2025-03-01", "§105(5), (6)"},
		// §105(5), (6): imprisonment 6 months (3 years) to 2019-01-01 and a residence ban (1 year)
		// ending 2023-06-01: from 2023-06-01, 3 years = 2026-06-01 — later than either alone
		// (2022-01-01, 2024-06-01).
		{"(5)(6) a later, shorter sentence moves the start", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 6, served, "2019-01-01"), sentence(model.SentenceKindResidenceBan, 36, served, "2023-06-01")}, "2026-06-01", "execution of the last (2023-06-01)"},
		// §105(5), (6) with a conditional release: 54 months served (5 years) released 2024-03-15,
		// fine paid 2024-05-01: from 2024-05-01, 5 years = 2029-05-01.
		{"(4)+(5)(6) conditional release and a later fine", "", intentionalOffence, []model.Sentence{
			conditional(84, 54, "2024-03-15", true), sentence(model.SentenceKindFine, 0, served, "2024-05-01")}, "2029-05-01", "§105(4)"},
		// Imprisonment 10 months (3 years) to 2020-12-01 and community service executed
		// 2021-05-01 (no period of its own, but the last execution): 2021-05-01 + 3 = 2024-05-01.
		{"(5)(6) imprisonment and community service: not deemed, from the last", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 10, served, "2020-12-01"), sentence(model.SentenceKindCommunityService, 4, served, "2021-05-01")}, "2024-05-01", "§105(1)(d)"},
		{"(5)(6) one of several sentences being served blocks it", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindFine, 0, served, "2020-01-01"), sentence(model.SentenceKindImprisonment, 72, beingServed, "")}, "", "BEING_SERVED"},
		// §105(7): a protective measure neither executed nor ended blocks it.
		{"(7) protective measure being executed blocks it", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-05-05"), sentence(model.SentenceKindProtectiveMeasure, 0, beingServed, "")}, "", "§105(7)"},
		{"(7) protective measure pending blocks it", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-05-05"), sentence(model.SentenceKindProtectiveMeasure, 0, model.SentenceStatusPending, "")}, "", "§105(7)"},
		// §105(7): imprisonment 12 months to 2020-01-01 (3 years → 2023-01-01), measure ended
		// 2026-02-01 later: not before the measure's end → 2026-02-01.
		{"(7) the date follows the measure's end", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-01-01"), sentence(model.SentenceKindProtectiveMeasure, 0, served, "2026-02-01")}, "2026-02-01", "§105(7) not before"},
		// §105(7): a TIME_BARRED measure counts as ended; 2020-01-01 + 3 = 2023-01-01.
		{"(7) a time-barred measure counts as ended", "", intentionalOffence, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-01-01"), sentence(model.SentenceKindProtectiveMeasure, 0, model.SentenceStatusTimeBarred, "2021-01-01")}, "2023-01-01", "§105(1)(d)"},
		// 29 February: fine paid 2024-02-29 + 1 year = 2025-02-28 (not 1 March).
		{"29 February → 28 February (1 year)", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindFine, 0, served, "2024-02-29")}, "2025-02-28", "§105(1)(e)"},
		// 29 February: 2016-02-29 + 15 years = 2031-02-28.
		{"29 February → 28 February (15 years)", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindExceptionalImprisonment, 300, served, "2016-02-29")}, "2031-02-28", "§105(1)(a)"},
		// 29 February to a leap year: 2020-02-29 + 10 (imprisonment 72 months) = 2030-02-28;
		// + 5 years (48 months) from 2020-02-29 = 2025-02-28.
		{"29 February → 28 February (10 years)", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 72, served, "2020-02-29")}, "2030-02-28", "§105(1)(b)"},
		// Time bar: a fine TIME_BARRED 2019-07-01 + 1 = 2020-07-01.
		{"(1) time-barred fine: from the time bar", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindFine, 0, model.SentenceStatusTimeBarred, "2019-07-01")}, "2020-07-01", "§105(1)(e)"},
		{"(1) a sentence being served blocks it", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 72, beingServed, "")}, "", "BEING_SERVED"},
		{"(1) an unpaid fine blocks it", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindFine, 0, model.SentenceStatusPending, "")}, "", "PENDING"},
		{"a served sentence without end date cannot be computed", "", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, served, "")}, "", "no end date"},
		{"a court of another state: not computed", "SK", intentionalOffence, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, served, "2020-01-01")}, "", "court of SK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Rehabilitation(model.Conviction{CourtCountry: c.court, Offences: c.offences, Sentences: c.sentences})
			if c.date == "" {
				why := got.Rule
				if got.BlockedBy != nil {
					why = *got.BlockedBy
				}
				if got.EarliestDate != nil || !strings.Contains(why, c.rule) {
					t.Fatalf("want no date because of %q, got date %v, %q", c.rule, got.EarliestDate, why)
				}
				return
			}
			if got.EarliestDate == nil || string(*got.EarliestDate) != c.date {
				t.Fatalf("earliest date: got %v (%s %v), want %s", got.EarliestDate, got.Rule, got.BlockedBy, c.date)
			}
			if !strings.Contains(got.Rule, c.rule) {
				t.Errorf("rule %q should mention %q", got.Rule, c.rule)
			}
		})
	}
}

func TestAddYears(t *testing.T) {
	for _, c := range []struct {
		from  string
		years int
		want  string
	}{
		{"2024-02-29", 1, "2025-02-28"},
		{"2024-02-29", 4, "2028-02-29"},
		{"2023-02-28", 1, "2024-02-28"},
		{"2020-12-31", 3, "2023-12-31"},
		{"2021-03-01", 0, "2021-03-01"},
	} {
		if got := AddYears(model.MustDate(c.from), c.years); string(got) != c.want {
			t.Errorf("%s + %d years = %s, want %s", c.from, c.years, got, c.want)
		}
	}
}

// TestCheckExpungement: what the register refuses to record (CONFLICT naming the reason) and
// what it accepts, early (§105(3)) or not.
func TestCheckExpungement(t *testing.T) {
	final := model.MustDate("2019-01-10")
	conv := func(offences []model.Offence, s ...model.Sentence) model.Conviction {
		return model.Conviction{ID: "C-1", FinalDate: final, Offences: offences, Sentences: s}
	}
	imprisoned := sentence(model.SentenceKindImprisonment, 48, served, "2019-02-01") // may expunge from 2024-02-01
	cases := []struct {
		name      string
		c         model.Conviction
		on        string
		early     bool
		code      apperr.Code // "" = accepted
		message   string
		wantEarly bool
	}{
		{"waiting period over", conv(intentionalOffence, imprisoned), "2024-02-01", false, "", "", false},
		{"waiting period not over", conv(intentionalOffence, imprisoned), "2024-01-31", false, apperr.Conflict, "waiting period runs until 2024-02-01", false},
		{"early under §105(3) with the decision", conv(intentionalOffence, imprisoned), "2022-01-31", true, "", "", true},
		{"early, but before the sentence was executed", conv(intentionalOffence, imprisoned), "2019-01-20", true, apperr.Conflict, "ended only on 2019-02-01", false},
		{"sentence being served (Svoboda)", conv(intentionalOffence, sentence(model.SentenceKindImprisonment, 72, beingServed, "")), "2026-10-01", true, apperr.Conflict, "is BEING_SERVED", false},
		{"protective measure pending", conv(intentionalOffence, imprisoned, sentence(model.SentenceKindProtectiveMeasure, 0, model.SentenceStatusPending, "")), "2026-10-01", true, apperr.Conflict, "§105(7)", false},
		{"unpaid fine", conv(intentionalOffence, sentence(model.SentenceKindFine, 0, model.SentenceStatusPending, "")), "2026-10-01", true, apperr.Conflict, "unpaid", false},
		{"conditionally released, in probation", conv(intentionalOffence, conditional(84, 54, "2024-03-15", false)), "2026-10-01", true, apperr.Conflict, "§105(4)", false},
		{"deemed not convicted", conv(negligent, sentence(model.SentenceKindFine, 0, served, "2020-01-01")), "2026-10-01", false, apperr.Conflict, "deemed not convicted", false},
		{"before the conviction was final", conv(intentionalOffence, imprisoned), "2019-01-01", true, apperr.BadUserInput, "cannot be before", false},
		{"foreign court: not judged by Czech periods", model.Conviction{ID: "C-2", CourtCountry: "SK", FinalDate: final, Offences: intentionalOffence, Sentences: []model.Sentence{imprisoned}}, "2019-03-01", false, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			early, err := CheckExpungement(c.c, model.MustDate(c.on), c.early)
			if c.code == "" {
				if err != nil || early != c.wantEarly {
					t.Fatalf("want accepted (early %v), got early %v, %v", c.wantEarly, early, err)
				}
				return
			}
			if apperr.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("want %s mentioning %q, got %v", c.code, c.message, err)
			}
		})
	}
}
