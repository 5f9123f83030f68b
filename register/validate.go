package register

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"custodia/apperr"
	"custodia/model"
)

// countryCodes are the ISO 3166-1 alpha-2 codes.
var countryCodes = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI
KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC
NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM
SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
ZM ZW XK`) {
		countryCodes[c] = true
	}
}

// text checks a required free-text field.
func text(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.BadInput(field, "%s must not be empty", field)
	}
	if utf8.RuneCountInString(s) > max {
		return "", apperr.BadInput(field, "%s is longer than %d characters", field, max)
	}
	return s, nil
}

func optText(field string, s *string, max int) (*string, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	v, err := text(field, *s, max)
	return &v, err
}

func country(field, c string) error {
	if !countryCodes[c] {
		return apperr.BadInput(field, "%s must be an ISO 3166-1 alpha-2 country code such as CZ, got %q", field, c)
	}
	return nil
}

// notFuture refuses a date after today where that cannot be.
func notFuture(field string, d model.Date, today model.Date) error {
	if d.After(today) {
		return apperr.BadInput(field, "%s (%s) cannot be in the future", field, d)
	}
	return nil
}

func address(field string, a *model.AddressInput) (*model.Address, error) {
	if a == nil {
		return nil, nil
	}
	out := &model.Address{Country: a.Country}
	var err error
	if out.Street, err = text(field+".street", a.Street, 200); err != nil {
		return nil, err
	}
	if out.City, err = text(field+".city", a.City, 100); err != nil {
		return nil, err
	}
	if out.PostalCode, err = text(field+".postalCode", a.PostalCode, 20); err != nil {
		return nil, err
	}
	return out, country(field+".country", a.Country)
}

// NewPerson validates a person's data (DESIGN §3) and returns the person to store (ID, version
// and search keys are set by the caller).
func NewPerson(in model.PersonInput, today model.Date) (model.Person, error) {
	p := model.Person{Sex: in.Sex, DateOfBirth: in.DateOfBirth, PreviousNames: []model.PreviousName{}}
	var err error
	if p.GivenNames, err = text("input.givenNames", in.GivenNames, 200); err != nil {
		return p, err
	}
	if p.FamilyName, err = text("input.familyName", in.FamilyName, 100); err != nil {
		return p, err
	}
	if p.BirthFamilyName, err = optText("input.birthFamilyName", in.BirthFamilyName, 100); err != nil {
		return p, err
	}
	if err := notFuture("input.dateOfBirth", in.DateOfBirth, today); err != nil {
		return p, err
	}
	if in.DateOfBirth.Before("1900-01-01") {
		return p, apperr.BadInput("input.dateOfBirth", "dateOfBirth %s is before 1900", in.DateOfBirth)
	}
	for i, pn := range in.PreviousNames {
		field := fmt.Sprintf("input.previousNames[%d]", i)
		name, err := text(field+".familyName", pn.FamilyName, 100)
		if err != nil {
			return p, err
		}
		given, err := optText(field+".givenNames", pn.GivenNames, 200)
		if err != nil {
			return p, err
		}
		if pn.UsedUntil != nil && (pn.UsedUntil.Before(in.DateOfBirth) || pn.UsedUntil.After(today)) {
			return p, apperr.BadInput(field+".usedUntil", "usedUntil must lie between the date of birth and today")
		}
		p.PreviousNames = append(p.PreviousNames, model.PreviousName{FamilyName: name, GivenNames: given, UsedUntil: pn.UsedUntil})
	}
	if in.PlaceOfBirth != nil {
		city, err := text("input.placeOfBirth.city", in.PlaceOfBirth.City, 100)
		if err != nil {
			return p, err
		}
		if err := country("input.placeOfBirth.country", in.PlaceOfBirth.Country); err != nil {
			return p, err
		}
		p.PlaceOfBirth = &model.Place{City: city, Country: in.PlaceOfBirth.Country}
	}
	if len(in.Nationalities) == 0 {
		return p, apperr.BadInput("input.nationalities", "at least one nationality is required")
	}
	for i, c := range in.Nationalities {
		if err := country(fmt.Sprintf("input.nationalities[%d]", i), c); err != nil {
			return p, err
		}
	}
	p.Nationalities = in.Nationalities
	if in.NationalID != nil && strings.TrimSpace(*in.NationalID) != "" {
		nid, err := CheckBirthNumber("input.nationalId", *in.NationalID, in.DateOfBirth, in.Sex)
		if err != nil {
			return p, err
		}
		p.NationalID = &nid
	}
	if p.Residence, err = address("input.residence", in.Residence); err != nil {
		return p, err
	}
	return p, nil
}

// CheckBirthNumber validates a Czech/Slovak birth number (rodné číslo): YYMMDD/XXX(X), the
// month +50 for women (+20 or +70 when a day's numbers ran out, since 2004), the date equal to
// the date of birth, and ten-digit numbers divisible by 11 (the 1985 rule of a remainder of 10
// with check digit 0 is accepted). Nine-digit numbers exist only before 1954.
func CheckBirthNumber(field, s string, born model.Date, sex model.Sex) (string, error) {
	nid, err := CanonicalNationalID(field, s)
	if err != nil {
		return "", err
	}
	digits := strings.Replace(nid, "/", "", 1)
	yy, _ := strconv.Atoi(digits[0:2])
	mm, _ := strconv.Atoi(digits[2:4])
	dd, _ := strconv.Atoi(digits[4:6])
	female := false
	switch {
	case mm > 70:
		mm, female = mm-70, true
	case mm > 50:
		mm, female = mm-50, true
	case mm > 20:
		mm -= 20
	}
	birth := born.Time()
	if birth.Year()%100 != yy || int(birth.Month()) != mm || birth.Day() != dd {
		return "", apperr.BadInput(field, "%s does not match the date of birth %s", field, born)
	}
	if (sex == model.SexFemale) != female && sex != model.SexOther {
		return "", apperr.BadInput(field, "%s does not match the sex %s (women's birth numbers add 50 to the month)", field, sex)
	}
	switch len(digits) {
	case 9:
		if birth.Year() >= 1954 {
			return "", apperr.BadInput(field, "%s: nine-digit birth numbers exist only before 1954", field)
		}
	case 10:
		n, _ := strconv.ParseInt(digits, 10, 64)
		first9, _ := strconv.ParseInt(digits[:9], 10, 64)
		if n%11 != 0 && !(first9%11 == 10 && digits[9] == '0') {
			return "", apperr.BadInput(field, "%s fails the birth-number checksum", field)
		}
	}
	return nid, nil
}

var offenceCategory = regexp.MustCompile(`^\d{4} \d{2}$`)

// NewConviction validates a conviction (DESIGN §3, §7): dates in order and not in the future,
// known codes, and each sentence kind with the fields it needs.
func NewConviction(in model.ConvictionInput, today model.Date) (model.Conviction, error) {
	c, err := convictionHeader(in.Court, in.CaseReference, in.DecisionDate, in.FinalDate, today)
	if err != nil {
		return c, err
	}
	c.CourtCountry = "CZ"
	if in.CourtCountry != nil {
		if !countryCodes[*in.CourtCountry] {
			return c, apperr.BadInput("input.courtCountry", "courtCountry must be an ISO 3166-1 alpha-2 code such as CZ, got %q", *in.CourtCountry)
		}
		c.CourtCountry = *in.CourtCountry
	}
	if len(in.Offences) == 0 {
		return c, apperr.BadInput("input.offences", "a conviction needs at least one offence")
	}
	for i, o := range in.Offences {
		off, err := newOffence(fmt.Sprintf("input.offences[%d]", i), o, in.DecisionDate)
		if err != nil {
			return c, err
		}
		c.Offences = append(c.Offences, off)
	}
	if len(in.Sentences) == 0 {
		return c, apperr.BadInput("input.sentences", "a conviction needs at least one sentence")
	}
	for i, s := range in.Sentences {
		sen, err := newSentence(fmt.Sprintf("input.sentences[%d]", i), s, in.FinalDate, today)
		if err != nil {
			return c, err
		}
		InitialTransitions(&sen, in.FinalDate)
		sen.Version = 1
		c.Sentences = append(c.Sentences, sen)
	}
	Settle(&c)
	return c, nil
}

// convictionHeader validates a conviction's court, case reference and dates.
func convictionHeader(court, caseReference string, decisionDate, finalDate, today model.Date) (model.Conviction, error) {
	c := model.Conviction{DecisionDate: decisionDate, FinalDate: finalDate}
	var err error
	if c.Court, err = text("input.court", court, 200); err != nil {
		return c, err
	}
	if c.CaseReference, err = text("input.caseReference", caseReference, 64); err != nil {
		return c, err
	}
	if err := notFuture("input.decisionDate", decisionDate, today); err != nil {
		return c, err
	}
	if err := notFuture("input.finalDate", finalDate, today); err != nil {
		return c, err
	}
	if finalDate.Before(decisionDate) {
		return c, apperr.BadInput("input.finalDate", "finalDate (%s) cannot be before decisionDate (%s)", finalDate, decisionDate)
	}
	return c, nil
}

// newOffence validates one offence of a conviction decided on decisionDate.
func newOffence(field string, o model.OffenceInput, decisionDate model.Date) (model.Offence, error) {
	off := model.Offence{Completion: o.Completion, Participation: o.Participation, Intentional: o.Intentional, CommittedOn: o.CommittedOn}
	var err error
	if off.LegalProvision, err = text(field+".legalProvision", o.LegalProvision, 100); err != nil {
		return off, err
	}
	if off.Description, err = text(field+".description", o.Description, 500); err != nil {
		return off, err
	}
	if !offenceCategory.MatchString(o.Category) {
		return off, apperr.BadInput(field+".category", "%s.category must be an offence category code such as 0801 00, got %q", field, o.Category)
	}
	off.Category = o.Category
	if o.CommittedOn != nil && o.CommittedOn.After(decisionDate) {
		return off, apperr.BadInput(field+".committedOn", "an offence cannot be committed after the decision (%s)", decisionDate)
	}
	return off, nil
}

var moneyAmount = regexp.MustCompile(`^\d{1,12}(\.\d{1,2})?$`)
var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func newSentence(field string, in model.SentenceInput, finalDate, today model.Date) (model.Sentence, error) {
	s := model.Sentence{Kind: in.Kind, Status: in.Status, DurationMonths: in.DurationMonths, ProbationMonths: in.ProbationMonths,
		StartDate: in.StartDate, EndDate: in.EndDate, ServedMonths: in.ServedMonths}
	need := func(name string, ok bool) error {
		if !ok {
			return apperr.BadInput(field+"."+name, "a %s sentence needs %s", in.Kind, name)
		}
		return nil
	}
	positive := func(name string, v *int, max int) error {
		if v != nil && (*v < 1 || *v > max) {
			return apperr.BadInput(field+"."+name, "%s must be between 1 and %d", name, max)
		}
		return nil
	}
	for _, check := range []error{positive("durationMonths", in.DurationMonths, 600), positive("probationMonths", in.ProbationMonths, 120), positive("servedMonths", in.ServedMonths, 600)} {
		if check != nil {
			return s, check
		}
	}
	switch in.Kind {
	case model.SentenceKindExceptionalImprisonment:
		if in.Life != nil && *in.Life {
			if in.DurationMonths != nil {
				return s, apperr.BadInput(field+".durationMonths", "a life sentence has no durationMonths")
			}
			s.Life = true
			break
		}
		if err := need("durationMonths", in.DurationMonths != nil); err != nil {
			return s, err
		}
	case model.SentenceKindImprisonment, model.SentenceKindHouseArrest,
		model.SentenceKindCommunityService, model.SentenceKindActivityBan, model.SentenceKindResidenceBan,
		model.SentenceKindEventBan, model.SentenceKindExpulsion:
		if err := need("durationMonths", in.DurationMonths != nil); err != nil {
			return s, err
		}
	case model.SentenceKindSuspendedImprisonment:
		if err := need("durationMonths", in.DurationMonths != nil); err != nil {
			return s, err
		}
		if err := need("probationMonths", in.ProbationMonths != nil); err != nil {
			return s, err
		}
		s.Suspended = true
	case model.SentenceKindFine:
		if err := need("amount", in.Amount != nil); err != nil {
			return s, err
		}
		if !moneyAmount.MatchString(in.Amount.Amount) {
			return s, apperr.BadInput(field+".amount.amount", "amount must be a decimal number such as 25000.00")
		}
		if !currencyCode.MatchString(in.Amount.Currency) {
			return s, apperr.BadInput(field+".amount.currency", "currency must be an ISO 4217 code such as CZK")
		}
		s.Amount = &model.Money{Amount: in.Amount.Amount, Currency: in.Amount.Currency}
	}
	if in.Life != nil && *in.Life && in.Kind != model.SentenceKindExceptionalImprisonment {
		return s, apperr.BadInput(field+".life", "only an EXCEPTIONAL_IMPRISONMENT can be for life")
	}
	suspended := in.Kind == model.SentenceKindSuspendedImprisonment
	if (in.Status == model.SentenceStatusInProbation || in.Status == model.SentenceStatusProbationCompleted) && !suspended {
		return s, apperr.BadInput(field+".status", "%s is recorded with a conviction only for a suspended sentence; a conditional release is recorded by recordSentenceStatus", in.Status)
	}
	if in.Status == model.SentenceStatusConditionallyReleased && (in.ServedMonths == nil || in.ProbationMonths == nil) {
		return s, apperr.BadInput(field+".servedMonths", "a CONDITIONALLY_RELEASED sentence needs servedMonths and probationMonths")
	}
	if in.Kind != model.SentenceKindFine && in.Amount != nil {
		return s, apperr.BadInput(field+".amount", "only a FINE has an amount")
	}
	if in.ServedMonths != nil && in.Status != model.SentenceStatusConditionallyReleased {
		return s, apperr.BadInput(field+".servedMonths", "servedMonths is recorded only for a conditional release")
	}
	if in.StartDate != nil && in.StartDate.Before(finalDate) && in.Kind != model.SentenceKindProtectiveMeasure {
		return s, apperr.BadInput(field+".startDate", "a sentence cannot start before the conviction is final (%s)", finalDate)
	}
	if in.StartDate != nil && in.EndDate != nil && in.EndDate.Before(*in.StartDate) {
		return s, apperr.BadInput(field+".endDate", "endDate cannot be before startDate")
	}
	switch in.Status {
	case model.SentenceStatusServed, model.SentenceStatusPardoned, model.SentenceStatusTimeBarred, model.SentenceStatusConditionallyReleased,
		model.SentenceStatusProbationCompleted, model.SentenceStatusEndedOtherwise:
		if in.EndDate == nil {
			return s, apperr.BadInput(field+".endDate", "a sentence with status %s needs endDate", in.Status)
		}
		if err := notFuture(field+".endDate", *in.EndDate, today); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Admit opens a detention period: the person must not be deprived of liberty now (CONFLICT),
// the start not in the future and not inside an earlier period.
func Admit(periods []model.DetentionPeriod, p model.DetentionPeriod, today model.Date) error {
	if err := notFuture("input.start", p.Start, today); err != nil {
		return err
	}
	if open := openPeriod(periods); open != nil {
		return apperr.New(apperr.Conflict, "the person is already deprived of liberty (%s since %s); transfer or release instead", open.Kind, open.Start)
	}
	for _, q := range periods {
		if q.End != nil && p.Start.Before(*q.End) {
			return apperr.BadInput("input.start", "the admission (%s) overlaps an earlier period that ended %s", p.Start, *q.End)
		}
	}
	if p.ExpectedRelease != nil && p.ExpectedRelease.Before(p.Start) {
		return apperr.BadInput("input.expectedRelease", "expectedRelease cannot be before start")
	}
	return nil
}

// OpenPeriod returns the person's ongoing period, for transfers and releases; CONFLICT when
// the person is not deprived of liberty.
func OpenPeriod(periods []model.DetentionPeriod, verb string) (*model.DetentionPeriod, error) {
	open := openPeriod(periods)
	if open == nil {
		return nil, apperr.New(apperr.Conflict, "cannot %s: the person is not deprived of liberty", verb)
	}
	return open, nil
}

func openPeriod(periods []model.DetentionPeriod) *model.DetentionPeriod {
	for i := range periods {
		if periods[i].End == nil {
			return &periods[i]
		}
	}
	return nil
}

// EndPeriod checks the day a period ends: not before it started (release not before
// admission) and not in the future.
func EndPeriod(open *model.DetentionPeriod, day model.Date, today model.Date) error {
	if err := notFuture("input.date", day, today); err != nil {
		return err
	}
	if day.Before(open.Start) {
		return apperr.BadInput("input.date", "the date (%s) cannot be before the admission (%s)", day, open.Start)
	}
	return nil
}

// PrisonAccepts says whether a prison kind may hold a detention kind.
func PrisonAccepts(prison model.PrisonKind, kind model.DetentionKind) bool {
	switch kind {
	case model.DetentionKindSecurityDetention:
		return prison == model.PrisonKindSecurityDetentionInstitute || prison == model.PrisonKindPrisonHospital
	default:
		return prison != model.PrisonKindSecurityDetentionInstitute
	}
}

// NewPrison validates prison data.
func NewPrison(in model.PrisonInput) (model.Prison, error) {
	p := model.Prison{Kind: in.Kind}
	var err error
	if p.Name, err = text("input.name", in.Name, 200); err != nil {
		return p, err
	}
	addr, err := address("input.address", &in.Address)
	if err != nil {
		return p, err
	}
	p.Address = *addr
	if p.Phone, err = optText("input.phone", in.Phone, 40); err != nil {
		return p, err
	}
	if p.Email, err = optText("input.email", in.Email, 200); err != nil {
		return p, err
	}
	if p.Email != nil && !strings.Contains(*p.Email, "@") {
		return p, apperr.BadInput("input.email", "email must be an e-mail address")
	}
	return p, nil
}

// OpenPeriodOf is the open period among periods, nil for none.
func OpenPeriodOf(periods []model.DetentionPeriod) *model.DetentionPeriod { return openPeriod(periods) }
