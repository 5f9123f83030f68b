package seed

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// generator makes the generated persons from a fixed-seed PRNG: same options, same register.
type generator struct {
	rng        *rand.Rand
	convCount  int
	supervised []string
	// nationalIDs holds every national ID handed out so far: they are unique in the register.
	nationalIDs map[string]bool
}

func newGenerator() *generator {
	return &generator{rng: rand.New(rand.NewPCG(20261101, 1975)), nationalIDs: map[string]bool{}}
}

func (g *generator) add(r *store.Register, s story) {
	finish(&s.person)
	if s.person.NationalID != nil {
		g.nationalIDs[*s.person.NationalID] = true
	}
	for i := range s.convictions {
		lifecycle(&s.convictions[i])
	}
	r.Persons = append(r.Persons, s.person)
	r.Convictions = append(r.Convictions, s.convictions...)
	if len(s.periods) > 0 {
		r.Detentions = append(r.Detentions, model.DetentionRecord{PersonID: s.person.ID, Periods: s.periods, Version: 1})
	}
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// dayBetween is a random day in [from, to].
func (g *generator) dayBetween(from, to model.Date) model.Date {
	days := int(to.Time().Sub(from.Time()).Hours() / 24)
	if days <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.rng.IntN(days+1))
}

// person generates person number n (1-based) and their story.
func (g *generator) person(n int) story {
	id := fmt.Sprintf("P-%06d", n)
	setIdx := 0
	switch x := g.rng.IntN(100); {
	case x < 62:
		setIdx = 0 // CZ
	case x < 80:
		setIdx = 1 // SK
	case x < 88:
		setIdx = 2 // PT
	case x < 94:
		setIdx = 3 // PL
	case x < 97:
		setIdx = 4 // DE
	default:
		setIdx = 5 // UA
	}
	set := nameSets[setIdx]
	female := g.chance(0.3)
	sex := model.SexMale
	given := g.pick(set.male)
	fam := set.family[g.rng.IntN(len(set.family))]
	family := fam[0]
	if female {
		sex, given, family = model.SexFemale, g.pick(set.female), fam[1]
		if g.chance(0.25) {
			given += " " + g.pick(set.female)
		}
	} else if g.chance(0.2) {
		given += " " + g.pick(set.male)
	}
	born := g.dayBetween(d("1950-01-01"), d("2007-12-31"))
	p := model.Person{
		ID: id, GivenNames: given, FamilyName: family, DateOfBirth: born, Sex: sex,
		Nationalities: []string{set.country},
		PlaceOfBirth:  &model.Place{City: g.pick(set.birthPlaces), Country: set.country},
	}
	if g.chance(0.05) {
		p.Nationalities = append(p.Nationalities, nameSets[(setIdx+1)%len(nameSets)].country)
	}
	if female && g.chance(0.35) {
		other := set.family[g.rng.IntN(len(set.family))][1]
		if other != family {
			p.BirthFamilyName = ptr(other)
			p.PreviousNames = []model.PreviousName{{FamilyName: other, UsedUntil: ptr(born.AddDate(g.between(20, 35), g.between(0, 11), 0))}}
		}
	}
	if set.country == "CZ" || set.country == "SK" {
		p.NationalID = ptr(g.uniqueBirthNumber(born, female, g.rng.IntN(1000)))
	}
	if !g.chance(0.04) { // a few persons have no known residence
		p.Residence = &model.Address{Street: fmt.Sprintf("%s %d", g.pick(streets[set.country]), g.between(1, 120)),
			City: g.pick(set.birthPlaces), PostalCode: fmt.Sprintf("%03d %02d", g.between(100, 799), g.between(0, 99)), Country: set.country}
	}
	s := story{person: p}
	switch x := g.rng.IntN(1000); {
	case x < 30:
		g.custody(&s)
	case x < 40:
		g.securityDetention(&s)
	case x < 480:
		g.criminalRecord(&s)
	}
	return s
}

// uniqueBirthNumber returns a valid birth number for the day and sex that nobody in the
// register has yet: it starts at the drawn serial and takes the next free valid one (a day
// has 1,000 serials per sex, and about 910 valid ten-digit numbers).
func (g *generator) uniqueBirthNumber(born model.Date, female bool, serial int) string {
	for i := 0; i < 1000; i++ {
		if nid, ok := birthNumber(born, female, (serial+i)%1000); ok && !g.nationalIDs[nid] {
			g.nationalIDs[nid] = true
			return nid
		}
	}
	panic(fmt.Sprintf("seed: no free birth number left for %s", born))
}

// birthNumber makes a Czech/Slovak birth number: YYMMDD (+50 on the month for women) and a
// serial; from 1954 a check digit making the ten digits divisible by 11 (ok is false for a
// serial whose nine digits leave a remainder of 10, which needs the pre-1985 exception), before
// 1954 the nine-digit form. register.CheckBirthNumber accepts every number it returns.
func birthNumber(born model.Date, female bool, serial int) (nid string, ok bool) {
	t := born.Time()
	month := int(t.Month())
	if female {
		month += 50
	}
	date := fmt.Sprintf("%02d%02d%02d", t.Year()%100, month, t.Day())
	if t.Year() < 1954 {
		return fmt.Sprintf("%s/%03d", date, serial), true
	}
	n, _ := strconv.ParseInt(fmt.Sprintf("%s%03d", date, serial), 10, 64)
	if n%11 == 10 {
		return "", false
	}
	return fmt.Sprintf("%s/%03d%d", date, serial, n%11), true
}

// custody: in pre-trial custody now, no conviction for it yet; some have an earlier record.
func (g *generator) custody(s *story) {
	start := g.dayBetween(ReferenceDay.AddDate(0, -10, 0), ReferenceDay.AddDate(0, 0, -3))
	if g.chance(0.4) {
		g.criminalRecordBefore(s, start.AddDate(-1, 0, 0))
	}
	for _, p := range s.periods {
		if p.End == nil || p.End.After(start) {
			return // still serving an earlier sentence: no new custody
		}
	}
	ref := fmt.Sprintf("%d KZV %d/%d", g.between(1, 9), g.between(10, 999), start.Time().Year())
	s.periods = append(s.periods, model.DetentionPeriod{
		ID: fmt.Sprintf("D-%s-%d", s.person.ID[2:], len(s.periods)+1), Kind: model.DetentionKindCustody, Start: start,
		PrisonID:             g.pick(prisonsOfKind(model.PrisonKindCustodyPrison)),
		ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindProsecutionOffice, Name: g.pick(prosecutionOffices), CaseReference: &ref},
	})
}

// securityDetention: a conviction imposing a protective measure executed as security detention.
func (g *generator) securityDetention(s *story) {
	start := g.dayBetween(d("2019-01-01"), ReferenceDay.AddDate(0, -1, 0))
	c := g.conviction(s, start.AddDate(0, -3, 0))
	c.Sentences = []model.Sentence{{ID: "S" + c.ID[1:] + "-1", Kind: model.SentenceKindProtectiveMeasure, StartDate: &start, Status: model.SentenceStatusBeingServed}}
	s.convictions = append(s.convictions, c)
	s.periods = append(s.periods, model.DetentionPeriod{
		ID: "D-" + s.person.ID[2:] + "-" + fmt.Sprint(len(s.periods)+1), Kind: model.DetentionKindSecurityDetention, Start: start,
		PrisonID:             g.pick(prisonsOfKind(model.PrisonKindSecurityDetentionInstitute)),
		ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: c.Court, CaseReference: &c.CaseReference},
		SentenceID:           &c.Sentences[0].ID,
	})
}

func (g *generator) criminalRecord(s *story) {
	g.criminalRecordBefore(s, ReferenceDay.AddDate(0, -2, 0))
}

// criminalRecordBefore gives the person one to three convictions decided before the day.
func (g *generator) criminalRecordBefore(s *story, before model.Date) {
	n := 1 + g.rng.IntN(3)
	from := s.person.DateOfBirth.AddDate(18, 0, 0)
	if from.After(before) {
		return
	}
	lastFree := from
	for i := 0; i < n; i++ {
		decided := g.dayBetween(lastFree, before)
		c := g.conviction(s, decided)
		kind := g.sentenceKind()
		lastFree = g.sentence(s, &c, kind, before)
		if g.chance(0.3) {
			g.sentence(s, &c, g.secondaryKind(s), before)
		}
		g.maybeExpunge(&c)
		s.convictions = append(s.convictions, c)
		if !lastFree.Before(before) {
			break
		}
	}
}

func (g *generator) conviction(s *story, decided model.Date) model.Conviction {
	g.convCount++
	off := offenceCatalogue[g.rng.IntN(len(offenceCatalogue))]
	committed := decided.AddDate(0, -g.between(2, 14), 0)
	c := model.Conviction{
		ID: fmt.Sprintf("C-%s-%d", s.person.ID[2:], len(s.convictions)+1), PersonID: s.person.ID,
		Court: g.pick(courts), CaseReference: fmt.Sprintf("%d T %d/%d", g.between(1, 60), g.between(1, 399), decided.Time().Year()),
		DecisionDate: decided, FinalDate: decided.AddDate(0, 0, g.between(15, 60)),
		Offences: []model.Offence{{LegalProvision: off.provision, Description: off.description, Category: off.category,
			Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: off.intentional, CommittedOn: &committed}},
		Sentences: []model.Sentence{},
	}
	if g.chance(0.1) {
		c.Offences[0].Completion = model.OffenceCompletionAttempted
	}
	if g.chance(0.15) {
		c.Offences[0].Participation = model.ParticipationAccomplice
	}
	if g.chance(0.2) {
		extra := offenceCatalogue[g.rng.IntN(len(offenceCatalogue))]
		c.Offences = append(c.Offences, model.Offence{LegalProvision: extra.provision, Description: extra.description, Category: extra.category,
			Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: extra.intentional, CommittedOn: &committed})
	}
	return c
}

// sentenceKind cycles through every kind for the first convictions, then draws by frequency.
func (g *generator) sentenceKind() model.SentenceKind {
	mainKinds := []model.SentenceKind{model.SentenceKindImprisonment, model.SentenceKindSuspendedImprisonment, model.SentenceKindFine,
		model.SentenceKindCommunityService, model.SentenceKindHouseArrest, model.SentenceKindExceptionalImprisonment,
		model.SentenceKindActivityBan, model.SentenceKindForfeitureOfItem, model.SentenceKindExpulsion, model.SentenceKindResidenceBan,
		model.SentenceKindEventBan, model.SentenceKindForfeitureOfProperty}
	if g.convCount <= len(mainKinds) {
		return mainKinds[g.convCount-1]
	}
	switch x := g.rng.IntN(100); {
	case x < 30:
		return model.SentenceKindImprisonment
	case x < 60:
		return model.SentenceKindSuspendedImprisonment
	case x < 75:
		return model.SentenceKindFine
	case x < 85:
		return model.SentenceKindCommunityService
	case x < 90:
		return model.SentenceKindHouseArrest
	case x < 91:
		return model.SentenceKindExceptionalImprisonment
	}
	return mainKinds[6+g.rng.IntN(len(mainKinds)-6)]
}

func (g *generator) secondaryKind(s *story) model.SentenceKind {
	kinds := []model.SentenceKind{model.SentenceKindFine, model.SentenceKindActivityBan, model.SentenceKindForfeitureOfItem,
		model.SentenceKindEventBan, model.SentenceKindResidenceBan, model.SentenceKindProtectiveMeasure}
	if s.person.Nationalities[0] != "CZ" && s.person.Nationalities[0] != "SK" {
		kinds = append(kinds, model.SentenceKindExpulsion)
	}
	return kinds[g.rng.IntN(len(kinds))]
}

// sentence adds a sentence of the kind to c (with detention periods for imprisonment) and
// returns the first day the person is free again.
func (g *generator) sentence(s *story, c *model.Conviction, kind model.SentenceKind, before model.Date) model.Date {
	sen := model.Sentence{ID: fmt.Sprintf("S-%s-%d", c.ID[2:], len(c.Sentences)+1), Kind: kind}
	start := c.FinalDate.AddDate(0, 0, g.between(10, 90))
	months := func(lo, hi int) *int { m := g.between(lo, hi); return &m }
	complete := func(end model.Date) {
		sen.StartDate, sen.EndDate = &start, &end
		sen.Status = model.SentenceStatusServed
		switch {
		case start.After(ReferenceDay): // imposed, execution not started yet
			sen.Status, sen.StartDate, sen.EndDate = model.SentenceStatusPending, nil, nil
		case end.After(ReferenceDay):
			sen.Status, sen.EndDate = model.SentenceStatusBeingServed, nil
		}
	}
	free := c.FinalDate
	switch kind {
	case model.SentenceKindImprisonment, model.SentenceKindExceptionalImprisonment:
		off := offenceCatalogue[0]
		for _, o := range offenceCatalogue {
			if o.provision == c.Offences[0].LegalProvision {
				off = o
			}
		}
		sen.DurationMonths = months(off.imprisonmentMonths[0], off.imprisonmentMonths[1])
		if kind == model.SentenceKindExceptionalImprisonment {
			sen.DurationMonths = months(252, 300)
		}
		end := start.AddDate(0, *sen.DurationMonths, 0)
		complete(end)
		if sen.Status == model.SentenceStatusServed && *sen.DurationMonths >= 18 && g.chance(0.3) {
			// conditional release after two thirds; lifecycle records the probation result
			// once the probation is over
			served := *sen.DurationMonths * 2 / 3
			end = start.AddDate(0, served, 0)
			sen.EndDate, sen.ServedMonths, sen.ProbationMonths = &end, &served, months(12, 60)
			sen.Status = model.SentenceStatusConditionallyReleased
			if end.AddDate(0, *sen.ProbationMonths, 0).After(ReferenceDay) {
				g.supervised = append(g.supervised, s.person.ID)
			}
		}
		g.imprison(s, c, &sen, start, end)
		free = end
	case model.SentenceKindSuspendedImprisonment:
		sen.DurationMonths, sen.Suspended, sen.ProbationMonths = months(3, 24), true, months(12, 60)
		start = c.FinalDate
		complete(start.AddDate(0, *sen.ProbationMonths, 0))
		if sen.Status == model.SentenceStatusBeingServed { // still in probation
			sen.Status = model.SentenceStatusInProbation
			if g.chance(0.5) {
				g.supervised = append(g.supervised, s.person.ID)
			}
		} else { // the court found the probation completed
			sen.Status = model.SentenceStatusProbationCompleted
		}
	case model.SentenceKindFine:
		sen.Amount = &model.Money{Amount: fmt.Sprintf("%d.00", g.between(2, 200)*1000), Currency: "CZK"}
		complete(start.AddDate(0, 0, g.between(10, 60)))
	case model.SentenceKindCommunityService:
		sen.DurationMonths = months(3, 12)
		complete(start.AddDate(0, *sen.DurationMonths, 0))
	case model.SentenceKindHouseArrest:
		sen.DurationMonths = months(3, 24)
		complete(start.AddDate(0, *sen.DurationMonths, 0))
	case model.SentenceKindActivityBan, model.SentenceKindResidenceBan, model.SentenceKindEventBan:
		sen.DurationMonths = months(12, 60)
		complete(start.AddDate(0, *sen.DurationMonths, 0))
	case model.SentenceKindExpulsion:
		sen.DurationMonths = months(24, 120)
		complete(start.AddDate(0, *sen.DurationMonths, 0))
	case model.SentenceKindForfeitureOfItem, model.SentenceKindForfeitureOfProperty:
		complete(start)
	case model.SentenceKindProtectiveMeasure:
		complete(start.AddDate(0, g.between(6, 36), 0))
		if g.chance(0.4) { // ordered, not yet executed: blocks expungement (§105(7))
			sen.Status, sen.StartDate, sen.EndDate = model.SentenceStatusPending, nil, nil
		}
	}
	c.Sentences = append(c.Sentences, sen)
	if free.Before(start) {
		free = start
	}
	return free.AddDate(0, 0, 1)
}

// imprison records the detention periods executing an imprisonment sentence: sometimes custody
// before it (ending on the day imprisonment starts), and up to two transfers.
func (g *generator) imprison(s *story, c *model.Conviction, sen *model.Sentence, start, end model.Date) {
	nextID := func() string { return fmt.Sprintf("D-%s-%d", s.person.ID[2:], len(s.periods)+1) }
	authority := &model.Authority{Kind: model.AuthorityKindCourt, Name: c.Court, CaseReference: &c.CaseReference}
	if g.chance(0.3) {
		cs := c.DecisionDate.AddDate(0, -g.between(2, 8), 0)
		ref := fmt.Sprintf("%d KZV %d/%d", g.between(1, 9), g.between(10, 999), cs.Time().Year())
		s.periods = append(s.periods, model.DetentionPeriod{ID: nextID(), Kind: model.DetentionKindCustody, Start: cs, End: ptr(start),
			PrisonID:             g.pick(prisonsOfKind(model.PrisonKindCustodyPrison)),
			ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindProsecutionOffice, Name: g.pick(prosecutionOffices), CaseReference: &ref},
			ReleaseReason:        ptr(model.ReleaseReasonChangeOfTitle)})
	}
	prisonKind := model.PrisonKindPrison
	if start.Before(s.person.DateOfBirth.AddDate(19, 0, 0)) {
		prisonKind = model.PrisonKindJuvenilePrison
	}
	transfers := g.rng.IntN(3)
	cut := []model.Date{start}
	for i := 0; i < transfers; i++ {
		cut = append(cut, g.dayBetween(cut[len(cut)-1].AddDate(0, 1, 0), end.AddDate(0, -1, 0)))
	}
	expected := start.AddDate(0, *sen.DurationMonths, 0)
	prison := ""
	for i, from := range cut {
		if from.After(ReferenceDay) || (i > 0 && !from.After(cut[i-1])) {
			break
		}
		p := model.DetentionPeriod{ID: nextID(), Kind: model.DetentionKindImprisonment, Start: from,
			ResponsibleAuthority: authority, SentenceID: &sen.ID, ExpectedRelease: &expected}
		for p.PrisonID == "" || p.PrisonID == prison {
			p.PrisonID = g.pick(prisonsOfKind(prisonKind))
		}
		prison = p.PrisonID
		switch {
		case i+1 < len(cut) && !cut[i+1].After(ReferenceDay) && cut[i+1].After(from):
			p.End, p.ReleaseReason = ptr(cut[i+1]), ptr(model.ReleaseReasonTransfer)
		case !end.After(ReferenceDay):
			p.End = ptr(end)
			p.ReleaseReason = ptr(model.ReleaseReasonSentenceServed)
			if sen.Status == model.SentenceStatusConditionallyReleased {
				p.ReleaseReason = ptr(model.ReleaseReasonConditionalRelease)
			}
		}
		s.periods = append(s.periods, p)
		if p.End == nil || *p.ReleaseReason != model.ReleaseReasonTransfer {
			break
		}
	}
}

// maybeExpunge has a court expunge most convictions whose waiting period is over, a few weeks
// to a year after the earliest day the law allows — never before it (register.CheckExpungement).
func (g *generator) maybeExpunge(c *model.Conviction) {
	lifecycle(c)
	rehab := register.Rehabilitation(*c)
	if rehab.EarliestDate == nil || !g.chance(0.6) {
		return
	}
	on := rehab.EarliestDate.AddDate(0, 0, g.between(20, 365))
	if on.After(ReferenceDay) {
		return
	}
	if _, err := register.CheckExpungement(*c, on, false); err != nil {
		return
	}
	ref := fmt.Sprintf("%d Nt %d/%d", g.between(1, 60), g.between(100, 999), on.Time().Year())
	c.Expunged, c.ExpungedOn = true, &on
	c.Expungement = &model.Expungement{On: on, Court: &c.Court, CaseReference: &ref}
}

// lifecycle gives the sentences of a generated conviction the steps their status and dates
// imply (once), has the court find a conditional release's probation completed when it is
// over, and settles whether the conviction is deemed not convicted.
func lifecycle(c *model.Conviction) {
	if c.CourtCountry == "" {
		c.CourtCountry = "CZ"
	}
	for i := range c.Sentences {
		sen := &c.Sentences[i]
		if sen.Transitions != nil {
			continue
		}
		register.InitialTransitions(sen, c.FinalDate)
		sen.Version = 1
		if sen.Status != model.SentenceStatusConditionallyReleased || sen.ProbationMonths == nil {
			continue
		}
		probationEnd := sen.EndDate.AddDate(0, *sen.ProbationMonths, 0)
		if probationEnd.After(ReferenceDay) {
			continue
		}
		decision := &model.CourtDecisionInput{Court: c.Court, CaseReference: fmt.Sprintf("PP %s", c.CaseReference)}
		in := model.SentenceStatusInput{Version: sen.Version, Status: model.SentenceStatusProbationCompleted, On: probationEnd, Decision: decision}
		if err := register.Transition(c, sen, in); err != nil {
			panic(fmt.Sprintf("demo sentence %s: %v", sen.ID, err))
		}
	}
	register.Settle(c)
}
