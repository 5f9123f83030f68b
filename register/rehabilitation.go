package register

import (
	"fmt"
	"strings"

	"custodia/apperr"
	"custodia/model"
)

// Rehabilitation applies the expungement rules of DESIGN §7 (Czech Criminal Code §105) to a
// conviction: the earliest day a court may expunge it on application, the paragraph that gave
// the date, or — with no date — why it cannot be computed now. It never expunges anything: only
// a court decision does (recordExpungement). It reads only the conviction.
//
//   - §105(1): the waiting period of lawful life runs from the day the sentence was executed,
//     pardoned or time-barred: exceptional sentence 15 years; imprisonment over 5 years 10,
//     over 1 year 5, up to 1 year or expulsion 3; house arrest, forfeiture, residence or event
//     ban, fine for an intentional offence 1 year;
//   - §105(4): after a conditional release whose probation the court found completed, the
//     sentence counts as executed on the day of the release and the period follows the time
//     actually served;
//   - §105(5), (6): several sentences — from the execution of the last, the longest period;
//   - §105(7): nothing while a protective measure is neither executed nor otherwise ended, and
//     never before its end;
//   - periods in years end on the same-numbered day (29 February → 28 February);
//   - a conviction by another state's court is not judged by the Czech periods: not computed.
func Rehabilitation(c model.Conviction) model.Rehabilitation {
	Settle(&c) // c is a copy: whether it is deemed not convicted follows from its sentences
	if country := c.Country(); country != "CZ" {
		return blocked(fmt.Sprintf("conviction by a court of %s: the Czech waiting periods (§105) do not apply and the register holds no rule of that state", country))
	}
	if c.DeemedNotConvicted {
		return model.Rehabilitation{Rule: fmt.Sprintf("not applicable: deemed not convicted by law since %s (%s); there is nothing to expunge", deref(c.DeemedNotConvictedOn), deref(c.DeemedNotConvictedReason))}
	}
	var (
		best       waiting
		last       model.Date
		measureEnd model.Date
		counted    int
		blockers   []string // every reason there is no date yet, each sentence once
	)
	for i := range c.Sentences {
		s := &c.Sentences[i]
		switch {
		case s.Kind == model.SentenceKindProtectiveMeasure && !Executed(s.Status):
			blockers = append(blockers, fmt.Sprintf("§105(7): protective measure %s is %s; nothing may be expunged before it is executed or otherwise ended", s.ID, s.Status))
		case s.Kind == model.SentenceKindProtectiveMeasure && s.EndDate == nil:
			blockers = append(blockers, fmt.Sprintf("protective measure %s has no end date recorded", s.ID))
		case s.Kind == model.SentenceKindProtectiveMeasure:
			measureEnd = later(measureEnd, *s.EndDate)
		case s.Status == model.SentenceStatusConditionallyReleased:
			blockers = append(blockers, fmt.Sprintf("§105(4): sentence %s was conditionally released on %s and is in probation; the waiting period is known once the court finds the probation completed", s.ID, deref(s.ConditionallyReleasedOn)))
		case !Executed(s.Status):
			blockers = append(blockers, fmt.Sprintf("§105(1): sentence %s (%s) is %s; the waiting period starts only when it is executed, pardoned or time-barred", s.ID, s.Kind, s.Status))
		default:
			from, p := executedPeriod(s, intentional(c))
			if from == "" {
				blockers = append(blockers, fmt.Sprintf("sentence %s (%s) has no end date recorded", s.ID, s.Kind))
				continue
			}
			counted++
			last = later(last, from)
			if counted == 1 || p.years > best.years {
				best = p
			}
		}
	}
	if len(blockers) > 0 {
		return blocked(strings.Join(blockers, "; "))
	}
	if counted == 0 && measureEnd == "" {
		return blocked("the conviction records no sentence")
	}
	if counted == 0 {
		return model.Rehabilitation{EarliestDate: &measureEnd, Rule: fmt.Sprintf("§105(7) protective measure ended on %s", measureEnd)}
	}
	date := AddYears(last, best.years)
	rule := fmt.Sprintf("%s, from %s", best.rule, last)
	if counted > 1 {
		rule = fmt.Sprintf("§105(5), (6) several sentences: the longest period (%s) from the execution of the last (%s)", best.rule, last)
	}
	if measureEnd.After(date) {
		date = measureEnd
		rule += fmt.Sprintf("; §105(7) not before the protective measure ended (%s)", measureEnd)
	}
	return model.Rehabilitation{EarliestDate: &date, Rule: rule}
}

func blocked(reason string) model.Rehabilitation {
	return model.Rehabilitation{Rule: "not computed", BlockedBy: &reason}
}

func deref[T ~string](p *T) T {
	if p == nil {
		return ""
	}
	return *p
}

func later(a, b model.Date) model.Date {
	if b.After(a) {
		return b
	}
	return a
}

func intentional(c model.Conviction) bool {
	for _, o := range c.Offences {
		if o.Intentional {
			return true
		}
	}
	return false
}

// AddYears moves a date by whole years to the same-numbered day; 29 February becomes 28
// February in a year without it (DESIGN §7), where time.AddDate would give 1 March.
func AddYears(d model.Date, years int) model.Date {
	t := d.Time()
	next := t.AddDate(years, 0, 0)
	if next.Day() != t.Day() {
		next = next.AddDate(0, 0, -next.Day()) // the last day of the month before
	}
	return model.DateOf(next)
}

// waiting is a §105(1) waiting period.
type waiting struct {
	years int
	rule  string
}

// executedPeriod gives the day a completed sentence counts as executed (pardoned,
// time-barred, ended) and its §105(1) waiting period.
func executedPeriod(s *model.Sentence, intentionalOffence bool) (model.Date, waiting) {
	from := deref(s.EndDate)
	months := 0
	if s.DurationMonths != nil {
		months = *s.DurationMonths
	}
	prefix := ""
	if s.ConditionallyReleasedOn != nil && s.Status == model.SentenceStatusProbationCompleted && s.ServedMonths != nil {
		from, months = *s.ConditionallyReleasedOn, *s.ServedMonths
		prefix = fmt.Sprintf("§105(4) conditional release after %d months actually served: ", months)
	}
	if why := deemedKind(s, intentionalOffence); why != "" {
		return from, waiting{0, why + ": no waiting period of its own"}
	}
	switch s.Kind {
	case model.SentenceKindExceptionalImprisonment:
		return from, waiting{15, prefix + "§105(1)(a) exceptional sentence: 15 years"}
	case model.SentenceKindImprisonment, model.SentenceKindSuspendedImprisonment:
		switch {
		case months > 60:
			return from, waiting{10, prefix + "§105(1)(b) imprisonment over 5 years: 10 years"}
		case months > 12:
			return from, waiting{5, prefix + "§105(1)(c) imprisonment over 1 year: 5 years"}
		}
		return from, waiting{3, prefix + "§105(1)(d) imprisonment up to 1 year: 3 years"}
	case model.SentenceKindExpulsion:
		return from, waiting{3, "§105(1)(d) expulsion: 3 years"}
	case model.SentenceKindFine:
		return from, waiting{1, "§105(1)(e) fine for an intentional offence: 1 year"}
	case model.SentenceKindCommunityService, model.SentenceKindActivityBan:
		// pardoned, time-barred or ended otherwise: the shortest period of §105(1)(e)
		return from, waiting{1, fmt.Sprintf("§105(1)(e) %s, not executed: 1 year", kindWords(s.Kind))}
	}
	return from, waiting{1, fmt.Sprintf("§105(1)(e) %s: 1 year", kindWords(s.Kind))}
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
	case model.SentenceKindCommunityService:
		return "community service"
	case model.SentenceKindActivityBan:
		return "activity ban"
	}
	return string(k)
}

// CheckExpungement says whether a court's expungement of conviction c on the given day may be
// recorded (DESIGN §7): CONFLICT naming the reason when a sentence is pending or being served, a
// fine is unpaid, a protective measure is neither executed nor ended, the conviction is deemed
// not convicted, or the waiting period is not over — unless early names the decision of an early
// expungement under §105(3), which still needs every sentence executed, pardoned or time-barred.
// It returns whether the expungement is an early one.
func CheckExpungement(c model.Conviction, on model.Date, early bool) (isEarly bool, err error) {
	Settle(&c) // c is a copy
	conflict := func(format string, args ...any) (bool, error) {
		return false, apperr.New(apperr.Conflict, "conviction %s cannot be expunged on %s: "+format, append([]any{c.ID, on}, args...)...)
	}
	if on.Before(c.FinalDate) {
		return false, apperr.BadInput("expungedOn", "expungedOn (%s) cannot be before the conviction became final (%s)", on, c.FinalDate)
	}
	if c.DeemedNotConvicted {
		return conflict("the person is deemed not convicted by law since %s (%s); there is nothing to expunge", deref(c.DeemedNotConvictedOn), deref(c.DeemedNotConvictedReason))
	}
	var reasons []string // every reason, each sentence once
	for i := range c.Sentences {
		s := &c.Sentences[i]
		switch {
		case s.Kind == model.SentenceKindProtectiveMeasure && !Executed(s.Status):
			reasons = append(reasons, fmt.Sprintf("protective measure %s is %s; nothing may be expunged before it is executed or otherwise ended (§105(7))", s.ID, s.Status))
		case s.Kind == model.SentenceKindFine && !Executed(s.Status):
			reasons = append(reasons, fmt.Sprintf("fine %s is unpaid (%s); the waiting period starts only when it is paid, pardoned or time-barred (§105(1))", s.ID, s.Status))
		case s.Status == model.SentenceStatusConditionallyReleased:
			reasons = append(reasons, fmt.Sprintf("sentence %s is CONDITIONALLY_RELEASED and in probation; it counts as executed only when the court finds the probation completed (§105(4))", s.ID))
		case !Executed(s.Status):
			reasons = append(reasons, fmt.Sprintf("sentence %s (%s) is %s; nothing may be expunged before every sentence is executed, pardoned or time-barred (§105(1), (3))", s.ID, s.Kind, s.Status))
		case s.EndDate != nil && on.Before(*s.EndDate):
			reasons = append(reasons, fmt.Sprintf("sentence %s ended only on %s; an expungement cannot come before the sentence was executed, pardoned or time-barred (§105(1), (3))", s.ID, *s.EndDate))
		}
	}
	if len(reasons) > 0 {
		return conflict("%s", strings.Join(reasons, "; "))
	}
	r := Rehabilitation(c)
	if r.EarliestDate == nil || !on.Before(*r.EarliestDate) {
		return false, nil // foreign convictions are not judged by the Czech periods
	}
	if !early {
		return conflict("the waiting period runs until %s (%s); an early expungement under §105(3) must name the court decision (earlyDecision)", *r.EarliestDate, r.Rule)
	}
	return true, nil
}
