package register

import (
	"strings"
	"testing"

	"custodia/model"
)

func sentence(kind model.SentenceKind, months int, status model.SentenceStatus, end string) model.Sentence {
	s := model.Sentence{ID: string(kind), Kind: kind, Status: status}
	if months > 0 {
		s.DurationMonths = &months
	}
	if end != "" {
		e := model.MustDate(end)
		s.EndDate = &e
	}
	return s
}

func TestRehabilitationRules(t *testing.T) {
	served := model.SentenceStatusServed
	intentional := []model.Offence{{Intentional: true}}
	negligent := []model.Offence{{Intentional: false}}
	conditional := sentence(model.SentenceKindImprisonment, 84, model.SentenceStatusConditionallyReleased, "2024-03-15")
	conditional.ServedMonths = ptr(54)
	shortConditional := sentence(model.SentenceKindImprisonment, 72, model.SentenceStatusConditionallyReleased, "2024-03-15")
	shortConditional.ServedMonths = ptr(10)
	suspended := sentence(model.SentenceKindSuspendedImprisonment, 12, served, "2027-04-20")
	suspended.Suspended = true
	cases := []struct {
		name      string
		offences  []model.Offence
		sentences []model.Sentence
		date      string // "" = blocked
		rule      string // a fragment of the rule or of what blocks it
	}{
		{"exceptional sentence: 15 years", intentional, []model.Sentence{sentence(model.SentenceKindExceptionalImprisonment, 300, served, "2010-01-01")}, "2025-01-01", "15 years"},
		{"imprisonment over 5 years: 10 years", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 72, served, "2019-02-01")}, "2029-02-01", "over 5 years"},
		{"imprisonment over 1 year: 5 years", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 48, served, "2019-02-01")}, "2024-02-01", "over 1 year"},
		{"imprisonment of exactly 5 years: 5 years", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 60, served, "2019-02-01")}, "2024-02-01", "over 1 year"},
		{"imprisonment up to 1 year: 3 years", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, served, "2020-05-05")}, "2023-05-05", "up to 1 year"},
		{"expulsion: 3 years", intentional, []model.Sentence{sentence(model.SentenceKindExpulsion, 36, served, "2022-01-01")}, "2025-01-01", "expulsion"},
		{"house arrest: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindHouseArrest, 6, served, "2024-06-01")}, "2025-06-01", "house arrest"},
		{"forfeiture of property: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindForfeitureOfProperty, 0, served, "2024-06-01")}, "2025-06-01", "forfeiture"},
		{"forfeiture of an item: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindForfeitureOfItem, 0, served, "2024-06-01")}, "2025-06-01", "forfeiture"},
		{"residence ban: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindResidenceBan, 24, served, "2024-06-01")}, "2025-06-01", "residence ban"},
		{"event ban: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindEventBan, 24, served, "2024-06-01")}, "2025-06-01", "event ban"},
		{"fine for an intentional offence: 1 year", intentional, []model.Sentence{sentence(model.SentenceKindFine, 0, served, "2010-06-30")}, "2011-06-30", "intentional"},
		{"fine for a negligent offence: never imposed", negligent, []model.Sentence{sentence(model.SentenceKindFine, 0, served, "2010-06-30")}, "2010-06-30", "never imposed"},
		{"community service: never imposed", intentional, []model.Sentence{sentence(model.SentenceKindCommunityService, 6, served, "2021-03-01")}, "2021-03-01", "never imposed"},
		{"activity ban: never imposed", intentional, []model.Sentence{sentence(model.SentenceKindActivityBan, 24, served, "2021-03-01")}, "2021-03-01", "never imposed"},
		{"suspended sentence with probation completed: never imposed", intentional, []model.Sentence{suspended}, "2027-04-20", "never imposed"},
		{"pardoned counts as served", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, model.SentenceStatusPardoned, "2020-05-05")}, "2023-05-05", "up to 1 year"},
		{"time-barred counts as served", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, model.SentenceStatusTimeBarred, "2020-05-05")}, "2023-05-05", "up to 1 year"},
		{"conditional release: time actually served decides (54 months: 5 years)", intentional, []model.Sentence{conditional}, "2029-03-15", "over 1 year"},
		{"conditional release after 10 months of 6 years: 3 years", intentional, []model.Sentence{shortConditional}, "2027-03-15", "up to 1 year"},
		{"several sentences: the longest period applies", intentional, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 24, served, "2020-01-01"), sentence(model.SentenceKindFine, 0, served, "2020-02-01")}, "2025-02-01", "over 1 year"},
		{"several sentences: a ban ending later delays it", intentional, []model.Sentence{
			sentence(model.SentenceKindFine, 0, served, "2020-01-01"), sentence(model.SentenceKindActivityBan, 60, served, "2025-01-01")}, "2025-01-01", "intentional"},
		{"pending protective measure blocks it", intentional, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-05-05"), sentence(model.SentenceKindProtectiveMeasure, 0, model.SentenceStatusBeingServed, "")}, "", "protective measure"},
		{"a completed protective measure does not", intentional, []model.Sentence{
			sentence(model.SentenceKindImprisonment, 12, served, "2020-05-05"), sentence(model.SentenceKindProtectiveMeasure, 0, served, "2021-01-01")}, "2023-05-05", "up to 1 year"},
		{"a sentence being served blocks it", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 72, model.SentenceStatusBeingServed, "2029-05-10")}, "", "BEING_SERVED"},
		{"a pending sentence blocks it", intentional, []model.Sentence{sentence(model.SentenceKindFine, 0, model.SentenceStatusPending, "")}, "", "PENDING"},
		{"a served sentence without end date cannot be computed", intentional, []model.Sentence{sentence(model.SentenceKindImprisonment, 12, served, "")}, "", "no end date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Rehabilitation(model.Conviction{Offences: c.offences, Sentences: c.sentences})
			if c.date == "" {
				if got.EarliestDate != nil || got.BlockedBy == nil || !strings.Contains(*got.BlockedBy, c.rule) {
					t.Fatalf("want blocked by %q, got date %v blocked %v", c.rule, got.EarliestDate, got.BlockedBy)
				}
				return
			}
			if got.EarliestDate == nil || string(*got.EarliestDate) != c.date {
				t.Fatalf("earliest date: got %v (%s), want %s", got.EarliestDate, got.Rule, c.date)
			}
			if !strings.Contains(got.Rule, c.rule) {
				t.Errorf("rule %q should mention %q", got.Rule, c.rule)
			}
		})
	}
}
