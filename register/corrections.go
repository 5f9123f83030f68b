package register

import (
	"custodia/apperr"
	"custodia/model"
)

// CorrectedConvictionHeader validates the corrected court, case reference and dates of a
// conviction (correctConviction), with the rules of recording one.
func CorrectedConvictionHeader(in model.ConvictionCorrectionInput, today model.Date) (model.Conviction, error) {
	c, err := convictionHeader(in.Court, in.CaseReference, in.DecisionDate, in.FinalDate, today)
	if err != nil {
		return c, err
	}
	if in.ExpungedOn != nil {
		if in.ExpungedOn.After(today) {
			return c, apperr.BadInput("input.expungedOn", "expungedOn (%s) cannot be in the future", *in.ExpungedOn)
		}
		if in.ExpungedOn.Before(in.FinalDate) {
			return c, apperr.BadInput("input.expungedOn", "expungedOn (%s) cannot be before the conviction became final (%s)", *in.ExpungedOn, in.FinalDate)
		}
	}
	return c, nil
}

// CorrectedOffence validates a corrected offence of a conviction decided on decisionDate.
func CorrectedOffence(in model.OffenceInput, decisionDate model.Date) (model.Offence, error) {
	return newOffence("input", in, decisionDate)
}

// CorrectedSentence validates a corrected sentence of a conviction final on finalDate.
func CorrectedSentence(in model.SentenceInput, finalDate, today model.Date) (model.Sentence, error) {
	return newSentence("input", in, finalDate, today)
}

// CorrectedPeriod validates a corrected detention period on its own (dates, release reason,
// authority); CheckPeriods then checks it against the person's other periods.
func CorrectedPeriod(in model.DetentionPeriodCorrectionInput, today model.Date) (model.DetentionPeriod, error) {
	p := model.DetentionPeriod{Kind: in.Kind, Start: in.Start, End: in.End, PrisonID: in.PrisonID, SentenceID: in.SentenceID,
		ExpectedRelease: in.ExpectedRelease, ReleaseReason: in.ReleaseReason}
	if err := notFuture("input.start", in.Start, today); err != nil {
		return p, err
	}
	if in.End != nil {
		if err := notFuture("input.end", *in.End, today); err != nil {
			return p, err
		}
		if in.End.Before(in.Start) {
			return p, apperr.BadInput("input.end", "end (%s) cannot be before start (%s)", *in.End, in.Start)
		}
		if in.ReleaseReason == nil {
			return p, apperr.BadInput("input.releaseReason", "a period that ended needs its releaseReason")
		}
	} else if in.ReleaseReason != nil {
		return p, apperr.BadInput("input.releaseReason", "an ongoing period has no releaseReason")
	}
	if in.ExpectedRelease != nil && in.ExpectedRelease.Before(in.Start) {
		return p, apperr.BadInput("input.expectedRelease", "expectedRelease cannot be before start")
	}
	if in.Kind == model.DetentionKindImprisonment && in.SentenceID == nil {
		return p, apperr.BadInput("input.sentenceId", "an IMPRISONMENT period names the sentence it executes")
	}
	if a := in.ResponsibleAuthority; a != nil {
		name, err := text("input.responsibleAuthority.name", a.Name, 200)
		if err != nil {
			return p, err
		}
		p.ResponsibleAuthority = &model.Authority{Kind: a.Kind, Name: name, CaseReference: a.CaseReference}
	}
	return p, nil
}

// CheckPeriods checks that a person's periods are consistent — after a correction, and on
// every read of a stored record (a record edited by hand): none ending before it starts, at
// most one ongoing, and none overlapping another (a transfer ends one period the day the next
// starts). A violation is CONFLICT naming the periods.
func CheckPeriods(periods []model.DetentionPeriod) error {
	for i, a := range periods {
		if a.End != nil && a.End.Before(a.Start) {
			return apperr.New(apperr.Conflict, "period %s would end before it starts", a.ID)
		}
		for _, b := range periods[i+1:] {
			if a.End == nil && b.End == nil {
				return apperr.New(apperr.Conflict, "periods %s and %s would both be ongoing; a person has at most one open period", a.ID, b.ID)
			}
			if string(a.Start) < endKey(b) && string(b.Start) < endKey(a) {
				return apperr.New(apperr.Conflict, "periods %s and %s would overlap", a.ID, b.ID)
			}
		}
	}
	return nil
}
