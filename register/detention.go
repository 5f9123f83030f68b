package register

import (
	"sort"

	"custodia/model"
)

// History returns the periods newest first (by start, then by end, open periods first).
func History(periods []model.DetentionPeriod) []model.DetentionPeriod {
	out := append([]model.DetentionPeriod(nil), periods...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Start != b.Start {
			return a.Start > b.Start
		}
		return endKey(a) > endKey(b)
	})
	return out
}

func endKey(p model.DetentionPeriod) string {
	if p.End == nil {
		return "9999-12-31"
	}
	return string(*p.End)
}

// Status says whether the person is deprived of liberty on day today: true when a period has
// started on or before today and has not ended (end is null or after today). Since is the start
// of the uninterrupted chain of periods leading to the current one — a transfer or a change of
// legal title ends one period and starts the next on the same day, which does not interrupt
// the deprivation of liberty.
func Status(periods []model.DetentionPeriod, today model.Date) model.DetentionStatus {
	var current *model.DetentionPeriod
	for i := range periods {
		p := &periods[i]
		if p.Start.After(today) || (p.End != nil && !p.End.After(today)) {
			continue
		}
		if current == nil || p.Start > current.Start {
			current = p
		}
	}
	if current == nil {
		return model.DetentionStatus{DeprivedOfLiberty: false}
	}
	since, inPrisonSince := current.Start, current.Start
	samePrison := true
	for {
		prev := periodEndingOn(periods, since)
		if prev == nil {
			break
		}
		since = prev.Start
		if samePrison = samePrison && prev.PrisonID == current.PrisonID; samePrison {
			inPrisonSince = prev.Start
		}
	}
	kind := current.Kind
	prison := current.PrisonID
	return model.DetentionStatus{
		DeprivedOfLiberty:    true,
		Kind:                 &kind,
		Since:                &since,
		PrisonID:             &prison,
		InPrisonSince:        &inPrisonSince,
		ResponsibleAuthority: current.ResponsibleAuthority,
		ExpectedRelease:      current.ExpectedRelease,
	}
}

// periodEndingOn finds a period that ended exactly on day (and started before it), i.e. one the
// period starting on day continues without a break.
func periodEndingOn(periods []model.DetentionPeriod, day model.Date) *model.DetentionPeriod {
	for i := range periods {
		p := &periods[i]
		if p.End != nil && *p.End == day && p.Start.Before(day) {
			return p
		}
	}
	return nil
}
