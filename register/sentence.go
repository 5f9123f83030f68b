package register

import (
	"fmt"
	"slices"
	"strings"

	"custodia/apperr"
	"custodia/model"
)

// A sentence's lifecycle (DESIGN §3, §7a). Each status lists the statuses it may move to.
var nextStatuses = map[model.SentenceStatus][]model.SentenceStatus{
	model.SentenceStatusPending: {model.SentenceStatusBeingServed, model.SentenceStatusInProbation, model.SentenceStatusServed,
		model.SentenceStatusPardoned, model.SentenceStatusTimeBarred, model.SentenceStatusEndedOtherwise},
	model.SentenceStatusBeingServed: {model.SentenceStatusServed, model.SentenceStatusConditionallyReleased,
		model.SentenceStatusPardoned, model.SentenceStatusTimeBarred, model.SentenceStatusEndedOtherwise},
	// A failed probation sends the sentence back to PENDING: the court ordered it executed.
	model.SentenceStatusInProbation: {model.SentenceStatusProbationCompleted, model.SentenceStatusPending,
		model.SentenceStatusPardoned, model.SentenceStatusEndedOtherwise},
	model.SentenceStatusConditionallyReleased: {model.SentenceStatusProbationCompleted, model.SentenceStatusPending,
		model.SentenceStatusPardoned, model.SentenceStatusEndedOtherwise},
}

// Executed says the sentence's execution is over for §105: executed (served, probation
// completed), pardoned, time-barred or otherwise ended.
func Executed(s model.SentenceStatus) bool {
	switch s {
	case model.SentenceStatusServed, model.SentenceStatusProbationCompleted, model.SentenceStatusPardoned,
		model.SentenceStatusTimeBarred, model.SentenceStatusEndedOtherwise:
		return true
	}
	return false
}

// Custodial says the sentence deprives of liberty when executed; the prison service records
// its start and end (DESIGN §7a).
func Custodial(s *model.Sentence) bool {
	switch s.Kind {
	case model.SentenceKindImprisonment, model.SentenceKindExceptionalImprisonment, model.SentenceKindSuspendedImprisonment,
		model.SentenceKindProtectiveMeasure:
		return true
	}
	return false
}

// MayRecord says whether a role may move a sentence to a status (DESIGN §4 writers, §7a): the
// prison service records the start and end of custodial sentences (and of protective measures,
// which institutes execute); courts record everything else, and the start and end of protective
// measures too; the register office may record any step. The error is FORBIDDEN naming the rule.
func MayRecord(role model.Role, s *model.Sentence, to model.SentenceStatus) error {
	startOrEnd := to == model.SentenceStatusBeingServed || to == model.SentenceStatusServed
	var allowed []model.Role
	switch {
	case startOrEnd && s.Kind == model.SentenceKindProtectiveMeasure:
		allowed = []model.Role{model.RoleCourt, model.RolePrisonService, model.RoleRegistrar}
	case startOrEnd && Custodial(s):
		allowed = []model.Role{model.RolePrisonService, model.RoleRegistrar}
	default:
		allowed = []model.Role{model.RoleCourt, model.RoleRegistrar}
	}
	if !slices.Contains(allowed, role) {
		return apperr.New(apperr.Forbidden, "%s may not record %s of a %s sentence: that is recorded by %s (DESIGN §7a)", role, to, s.Kind, roleList(allowed)).With("field", "input.status")
	}
	return nil
}

func roleList(roles []model.Role) string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}

// ValidateStatusInput checks a lifecycle step's input alone (BAD_USER_INPUT naming the field).
func ValidateStatusInput(in model.SentenceStatusInput, today model.Date) error {
	if err := notFuture("input.on", in.On, today); err != nil {
		return err
	}
	if in.Decision != nil {
		if _, err := text("input.decision.court", in.Decision.Court, 200); err != nil {
			return err
		}
		if _, err := text("input.decision.caseReference", in.Decision.CaseReference, 64); err != nil {
			return err
		}
	}
	switch in.Status {
	case model.SentenceStatusConditionallyReleased, model.SentenceStatusProbationCompleted, model.SentenceStatusPardoned:
		if in.Decision == nil {
			return apperr.BadInput("input.decision", "%s is decided by a court (or, for a pardon, the head of state): name the decision", in.Status)
		}
	}
	if in.Status == model.SentenceStatusConditionallyReleased {
		if in.ProbationMonths == nil || *in.ProbationMonths < 1 || *in.ProbationMonths > 84 {
			return apperr.BadInput("input.probationMonths", "a conditional release names its probation period: 1 to 84 months")
		}
		if in.ServedMonths != nil && (*in.ServedMonths < 0 || *in.ServedMonths > 600) {
			return apperr.BadInput("input.servedMonths", "servedMonths must be between 0 and 600")
		}
	} else if in.ServedMonths != nil || in.ProbationMonths != nil {
		field := "input.servedMonths"
		if in.ServedMonths == nil {
			field = "input.probationMonths"
		}
		return apperr.BadInput(field, "%s is recorded only with a conditional release", field)
	}
	return nil
}

// Transition moves a sentence of conviction c to the status of in (validated by
// ValidateStatusInput), at the given version: CONFLICT naming the state and the rule when the
// step is not allowed. It sets the dates the status implies and records the step.
func Transition(c *model.Conviction, s *model.Sentence, in model.SentenceStatusInput) error {
	if s.Version != in.Version {
		return apperr.New(apperr.Conflict, "sentence %s was changed since version %d (now %d); reload and retry", s.ID, in.Version, s.Version).With("field", "input.version")
	}
	if !slices.Contains(nextStatuses[s.Status], in.Status) {
		rule := "it is final"
		if next := nextStatuses[s.Status]; len(next) > 0 {
			rule = fmt.Sprintf("it can move only to %s", statusList(next))
		}
		return apperr.New(apperr.Conflict, "sentence %s is %s and cannot become %s: %s", s.ID, s.Status, in.Status, rule).With("field", "input.status")
	}
	if c.CopyOnly() {
		return apperr.New(apperr.Conflict, "conviction %s is expunged or deemed not convicted: its sentences do not change", c.ID)
	}
	last := c.FinalDate
	if n := len(s.Transitions); n > 0 && s.Transitions[n-1].On.After(last) {
		last = s.Transitions[n-1].On
	}
	if in.On.Before(last) {
		return apperr.BadInput("input.on", "sentence %s entered %s on %s (or the conviction became final then): a later step cannot be dated %s", s.ID, s.Status, last, in.On)
	}
	suspended := s.Suspended || s.Kind == model.SentenceKindSuspendedImprisonment
	switch in.Status {
	case model.SentenceStatusInProbation:
		if !suspended {
			return apperr.New(apperr.Conflict, "sentence %s (%s) is not suspended: only a suspended sentence has a probation period of its own", s.ID, s.Kind).With("field", "input.status")
		}
	case model.SentenceStatusServed:
		if s.Status == model.SentenceStatusPending && Custodial(s) {
			return apperr.New(apperr.Conflict, "sentence %s (%s) is PENDING: a custodial sentence is served only after it was BEING_SERVED", s.ID, s.Kind).With("field", "input.status")
		}
	case model.SentenceStatusConditionallyReleased:
		if !Custodial(s) || s.Kind == model.SentenceKindProtectiveMeasure {
			return apperr.New(apperr.Conflict, "sentence %s (%s): only imprisonment ends in a conditional release", s.ID, s.Kind).With("field", "input.status")
		}
	}
	on := in.On
	switch in.Status {
	case model.SentenceStatusBeingServed, model.SentenceStatusInProbation:
		if s.StartDate == nil {
			s.StartDate = &on
		}
		s.EndDate = nil
	case model.SentenceStatusPending: // probation failed: the sentence is to be executed
		s.EndDate, s.ConditionallyReleasedOn = nil, nil
	case model.SentenceStatusConditionallyReleased:
		served := in.ServedMonths
		if served == nil {
			if s.StartDate == nil {
				return apperr.BadInput("input.servedMonths", "sentence %s has no start date: give the months actually served", s.ID)
			}
			m := MonthsBetween(*s.StartDate, on)
			served = &m
		}
		s.ServedMonths, s.ProbationMonths, s.ConditionallyReleasedOn, s.EndDate = served, in.ProbationMonths, &on, &on
	case model.SentenceStatusProbationCompleted:
		if s.ConditionallyReleasedOn == nil {
			s.EndDate = &on
		} // after a conditional release the sentence counts as executed on the release day
	default:
		s.EndDate = &on
	}
	s.Status = in.Status
	step := model.SentenceTransition{Status: in.Status, On: on}
	if in.Decision != nil {
		step.Decision = &model.CourtDecision{Court: strings.TrimSpace(in.Decision.Court), CaseReference: strings.TrimSpace(in.Decision.CaseReference)}
	}
	s.Transitions = append(s.Transitions, step)
	s.Version++
	Settle(c)
	return nil
}

func statusList(list []model.SentenceStatus) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// MonthsBetween is the number of whole months from a to b (0 when b is before a month later).
func MonthsBetween(a, b model.Date) int {
	ta, tb := a.Time(), b.Time()
	m := (tb.Year()-ta.Year())*12 + int(tb.Month()) - int(ta.Month())
	if tb.Day() < ta.Day() {
		m--
	}
	return max(m, 0)
}

// InitialTransitions gives a sentence recorded with its conviction the steps its recorded
// status and dates imply: PENDING from the final date, the start, and the end.
func InitialTransitions(s *model.Sentence, finalDate model.Date) {
	s.Transitions = []model.SentenceTransition{{Status: model.SentenceStatusPending, On: finalDate}}
	if s.Status == model.SentenceStatusPending {
		return
	}
	if s.StartDate != nil {
		started := model.SentenceStatusBeingServed
		if s.Suspended || s.Kind == model.SentenceKindSuspendedImprisonment {
			started = model.SentenceStatusInProbation
		}
		s.Transitions = append(s.Transitions, model.SentenceTransition{Status: started, On: *s.StartDate})
		if started == s.Status {
			return
		}
	}
	end := s.EndDate
	if s.Status == model.SentenceStatusConditionallyReleased {
		s.ConditionallyReleasedOn = s.EndDate
	}
	if end == nil {
		end = s.StartDate
	}
	if end == nil {
		end = &finalDate
	}
	s.Transitions = append(s.Transitions, model.SentenceTransition{Status: s.Status, On: *end})
}

// deemedKind says why an executed sentence makes its person deemed not convicted (DESIGN §2,
// §7), or "" when it does not.
func deemedKind(s *model.Sentence, intentionalOffence bool) string {
	switch {
	case s.Kind == model.SentenceKindCommunityService && s.Status == model.SentenceStatusServed:
		return "community service duly executed"
	case s.Kind == model.SentenceKindActivityBan && s.Status == model.SentenceStatusServed:
		return "activity ban executed"
	case s.Kind == model.SentenceKindFine && s.Status == model.SentenceStatusServed && !intentionalOffence:
		return "fine for a negligent offence paid"
	case (s.Suspended || s.Kind == model.SentenceKindSuspendedImprisonment) && s.Status == model.SentenceStatusProbationCompleted:
		return "suspended sentence, the court found the probation completed (TZ §83)"
	}
	return ""
}

// Settle brings a conviction's derived state up to date after its sentences changed: it is
// deemed not convicted (DESIGN §7) when every sentence is one whose execution has that effect
// (community service, activity ban, negligent-offence fine, suspended sentence with probation
// completed) and every protective measure is ended; the day is that of the last execution.
func Settle(c *model.Conviction) {
	c.DeemedNotConvicted, c.DeemedNotConvictedOn, c.DeemedNotConvictedReason = false, nil, nil
	if c.Country() != "CZ" {
		return // the effect is that of Czech law; another state's conviction keeps its own
	}
	var reasons []string
	var on model.Date
	sentences := 0
	for i := range c.Sentences {
		s := &c.Sentences[i]
		if s.Kind == model.SentenceKindProtectiveMeasure {
			if !Executed(s.Status) {
				return
			}
			if s.EndDate != nil && s.EndDate.After(on) {
				on = *s.EndDate
			}
			continue
		}
		why := deemedKind(s, intentional(*c))
		if why == "" {
			return
		}
		sentences++
		if !slices.Contains(reasons, why) {
			reasons = append(reasons, why)
		}
		if s.EndDate != nil && s.EndDate.After(on) {
			on = *s.EndDate
		}
	}
	if sentences == 0 || on == "" {
		return
	}
	reason := strings.Join(reasons, "; ") + ": the person is regarded as never convicted"
	c.DeemedNotConvicted, c.DeemedNotConvictedOn, c.DeemedNotConvictedReason = true, &on, &reason
}

// SplitConvictions keeps a criminal record's arrays right after a change: convictions that are
// expunged or deemed not convicted in ExpungedConvictions (the full copy only), the others in
// Convictions (the extract). It reports whether anything moved.
func SplitConvictions(r *model.CriminalRecord) bool {
	var extract, copyOnly []model.Conviction
	moved := false
	for _, c := range r.Convictions {
		if c.CopyOnly() {
			copyOnly, moved = append(copyOnly, c), true
		} else {
			extract = append(extract, c)
		}
	}
	for _, c := range r.ExpungedConvictions {
		if c.CopyOnly() {
			copyOnly = append(copyOnly, c)
		} else {
			extract, moved = append(extract, c), true
		}
	}
	r.Convictions, r.ExpungedConvictions = nonNil(extract), nonNil(copyOnly)
	return moved
}

// SplitPeriods keeps a detention record's arrays right: an ended period that executed one of
// the given sentences (those of expunged or deemed-not-convicted convictions) in
// CopyOnlyPeriods, every other period in Periods. It reports whether anything moved.
func SplitPeriods(r *model.DetentionRecord, copyOnlySentences map[string]bool) bool {
	var extract, copyOnly []model.DetentionPeriod
	moved := false
	hidden := func(p model.DetentionPeriod) bool {
		return p.End != nil && p.SentenceID != nil && copyOnlySentences[*p.SentenceID]
	}
	for _, p := range r.Periods {
		if hidden(p) {
			copyOnly, moved = append(copyOnly, p), true
		} else {
			extract = append(extract, p)
		}
	}
	for _, p := range r.CopyOnlyPeriods {
		if hidden(p) {
			copyOnly = append(copyOnly, p)
		} else {
			extract, moved = append(extract, p), true
		}
	}
	r.Periods, r.CopyOnlyPeriods = nonNil(extract), copyOnly
	return moved
}

func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// CloneConviction copies a conviction deeply enough for Transition to change the copy only.
func CloneConviction(c model.Conviction) model.Conviction {
	c.Sentences = slices.Clone(c.Sentences)
	for i := range c.Sentences {
		c.Sentences[i].Transitions = slices.Clone(c.Sentences[i].Transitions)
	}
	return c
}
