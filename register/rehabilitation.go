package register

import (
	"fmt"

	"custodia/model"
)

// Rehabilitation applies the expungement rules of DESIGN §7 (Czech Criminal Code §105–106) to
// a conviction: the earliest day it counts as expunged by law, the rule that gave the date, and
// what blocks it while it cannot be computed. It reads only the conviction's sentences.
func Rehabilitation(c model.Conviction) model.Rehabilitation {
	var (
		waitYears  int
		waitRule   string
		waitFrom   model.Date
		neverFrom  model.Date
		neverRule  string
		anyWaiting bool
	)
	for _, s := range c.Sentences {
		if s.Kind == model.SentenceKindProtectiveMeasure && s.Status != model.SentenceStatusServed {
			return blocked("a protective measure is still pending (§105(4))")
		}
		done := s.Status == model.SentenceStatusServed || s.Status == model.SentenceStatusPardoned ||
			s.Status == model.SentenceStatusTimeBarred || s.Status == model.SentenceStatusConditionallyReleased
		if !done {
			return blocked(fmt.Sprintf("sentence %s (%s) is %s", s.ID, s.Kind, s.Status))
		}
		if s.EndDate == nil {
			return blocked(fmt.Sprintf("sentence %s (%s) has no end date recorded", s.ID, s.Kind))
		}
		years, rule, never := waitingPeriod(s, intentional(c))
		if never {
			if s.EndDate.After(neverFrom) {
				neverFrom, neverRule = *s.EndDate, rule
			}
			continue
		}
		if s.Kind == model.SentenceKindProtectiveMeasure {
			continue
		}
		anyWaiting = true
		if years > waitYears {
			waitYears, waitRule = years, rule
		}
		if s.EndDate.After(waitFrom) {
			waitFrom = *s.EndDate
		}
	}
	switch {
	case anyWaiting:
		d := waitFrom.AddDate(waitYears, 0, 0)
		if neverFrom.After(d) {
			d = neverFrom
		}
		return model.Rehabilitation{EarliestDate: &d, Rule: waitRule}
	case neverFrom != "":
		return model.Rehabilitation{EarliestDate: &neverFrom, Rule: neverRule}
	}
	return blocked("the conviction records no sentence")
}

func blocked(reason string) model.Rehabilitation {
	return model.Rehabilitation{Rule: "not yet computable", BlockedBy: &reason}
}

func intentional(c model.Conviction) bool {
	for _, o := range c.Offences {
		if o.Intentional {
			return true
		}
	}
	return false
}

// waitingPeriod is the §105 waiting period for one completed sentence, or never=true when the
// sentence is treated as never imposed once completed (§106-style: community service, activity
// ban, negligent-offence fine, suspended sentence with probation completed).
func waitingPeriod(s model.Sentence, intentionalOffence bool) (years int, rule string, never bool) {
	months := 0
	if s.DurationMonths != nil {
		months = *s.DurationMonths
	}
	if s.Status == model.SentenceStatusConditionallyReleased && s.ServedMonths != nil {
		months = *s.ServedMonths // the period depends on the time actually served
	}
	switch s.Kind {
	case model.SentenceKindExceptionalImprisonment:
		return 15, "§105(1)(a) exceptional sentence: 15 years", false
	case model.SentenceKindImprisonment:
		if s.Suspended {
			return 0, "suspended sentence, probation completed: treated as never imposed", true
		}
		switch {
		case months > 60:
			return 10, "§105(1)(b) imprisonment over 5 years: 10 years", false
		case months > 12:
			return 5, "§105(1)(c) imprisonment over 1 year: 5 years", false
		}
		return 3, "§105(1)(d) imprisonment up to 1 year: 3 years", false
	case model.SentenceKindSuspendedImprisonment:
		return 0, "suspended sentence, probation completed: treated as never imposed", true
	case model.SentenceKindExpulsion:
		return 3, "§105(1)(d) expulsion: 3 years", false
	case model.SentenceKindHouseArrest, model.SentenceKindForfeitureOfProperty, model.SentenceKindForfeitureOfItem,
		model.SentenceKindResidenceBan, model.SentenceKindEventBan:
		return 1, fmt.Sprintf("§105(1)(e) %s: 1 year", kindWords(s.Kind)), false
	case model.SentenceKindFine:
		if intentionalOffence {
			return 1, "§105(1)(e) fine for an intentional offence: 1 year", false
		}
		return 0, "fine for a negligent offence: treated as never imposed", true
	case model.SentenceKindCommunityService:
		return 0, "community service completed: treated as never imposed", true
	case model.SentenceKindActivityBan:
		return 0, "activity ban completed: treated as never imposed", true
	}
	return 0, "protective measure completed", false
}

func kindWords(k model.SentenceKind) string {
	switch k {
	case model.SentenceKindHouseArrest:
		return "house arrest"
	case model.SentenceKindForfeitureOfProperty:
		return "forfeiture of property"
	case model.SentenceKindForfeitureOfItem:
		return "forfeiture of an item"
	case model.SentenceKindResidenceBan:
		return "residence ban"
	case model.SentenceKindEventBan:
		return "event ban"
	}
	return string(k)
}
