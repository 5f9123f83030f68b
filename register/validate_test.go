package register

import (
	"testing"

	"custodia/apperr"
	"custodia/model"
)

func TestCheckBirthNumber(t *testing.T) {
	cases := []struct {
		nid, born string
		sex       model.Sex
		valid     bool
	}{
		{"800115/2346", "1980-01-15", model.SexMale, true},
		{"8001152346", "1980-01-15", model.SexMale, true},
		{"755630/4129", "1975-06-30", model.SexFemale, true},
		{"690707/5285", "1969-07-07", model.SexMale, true},
		{"800115/2345", "1980-01-15", model.SexMale, false}, // checksum
		{"800116/2346", "1980-01-15", model.SexMale, false}, // date differs
		{"805115/2346", "1980-01-15", model.SexMale, false}, // female month for a man
		{"530101/123", "1953-01-01", model.SexMale, true},   // nine digits before 1954
		{"600101/123", "1960-01-01", model.SexMale, false},  // nine digits after 1954
		{"80-01-15", "1980-01-15", model.SexMale, false},
	}
	for _, c := range cases {
		_, err := CheckBirthNumber("nationalId", c.nid, model.MustDate(c.born), c.sex)
		if (err == nil) != c.valid {
			t.Errorf("%s born %s: valid=%v, got %v", c.nid, c.born, c.valid, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewConvictionNamesTheField(t *testing.T) {
	today := model.MustDate("2026-11-01")
	base := func() model.ConvictionInput {
		return model.ConvictionInput{Court: "Městský soud v Brně", CaseReference: "1 T 1/2026",
			DecisionDate: model.MustDate("2026-03-01"), FinalDate: model.MustDate("2026-04-01"),
			Offences: []model.OffenceInput{{LegalProvision: "§ 205 odst. 1 TZ", Description: "krádež", Category: "0801 00",
				Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true}},
			Sentences: []model.SentenceInput{{Kind: model.SentenceKindImprisonment, DurationMonths: ptr(12), Status: model.SentenceStatusPending}}}
	}
	cases := []struct {
		name  string
		edit  func(*model.ConvictionInput)
		field string
	}{
		{"valid", func(*model.ConvictionInput) {}, ""},
		{"decision in the future", func(c *model.ConvictionInput) { c.DecisionDate = model.MustDate("2027-01-01") }, "input.decisionDate"},
		{"final before decision", func(c *model.ConvictionInput) { c.FinalDate = model.MustDate("2026-02-01") }, "input.finalDate"},
		{"bad category", func(c *model.ConvictionInput) { c.Offences[0].Category = "theft" }, "input.offences[0].category"},
		{"committed after the decision", func(c *model.ConvictionInput) { c.Offences[0].CommittedOn = ptr(model.MustDate("2026-03-02")) }, "input.offences[0].committedOn"},
		{"imprisonment without duration", func(c *model.ConvictionInput) { c.Sentences[0].DurationMonths = nil }, "input.sentences[0].durationMonths"},
		{"suspended without probation", func(c *model.ConvictionInput) { c.Sentences[0].Kind = model.SentenceKindSuspendedImprisonment }, "input.sentences[0].probationMonths"},
		{"fine without amount", func(c *model.ConvictionInput) {
			c.Sentences[0] = model.SentenceInput{Kind: model.SentenceKindFine, Status: model.SentenceStatusPending}
		}, "input.sentences[0].amount"},
		{"fine with a bad currency", func(c *model.ConvictionInput) {
			c.Sentences[0] = model.SentenceInput{Kind: model.SentenceKindFine, Status: model.SentenceStatusPending, Amount: &model.MoneyInput{Amount: "100", Currency: "Kč"}}
		}, "input.sentences[0].amount.currency"},
		{"served without end", func(c *model.ConvictionInput) { c.Sentences[0].Status = model.SentenceStatusServed }, "input.sentences[0].endDate"},
		{"no sentence", func(c *model.ConvictionInput) { c.Sentences = nil }, "input.sentences"},
	}
	for _, c := range cases {
		in := base()
		c.edit(&in)
		_, err := NewConviction(in, today)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		e, ok := err.(*apperr.Error)
		if !ok || e.Code != apperr.BadUserInput || e.Extensions["field"] != c.field {
			t.Errorf("%s: want BAD_USER_INPUT on %s, got %#v", c.name, c.field, err)
		}
	}
}
