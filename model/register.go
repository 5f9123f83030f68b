package model

// Address is a postal address.
type Address struct {
	Street     string `bson:"street" json:"street"`
	City       string `bson:"city" json:"city"`
	PostalCode string `bson:"postalCode" json:"postalCode"`
	Country    string `bson:"country" json:"country"`
}

// Place is a place of birth.
type Place struct {
	City    string `bson:"city" json:"city"`
	Country string `bson:"country" json:"country"`
}

// PreviousName is a name a person used before.
type PreviousName struct {
	FamilyName string  `bson:"familyName" json:"familyName"`
	GivenNames *string `bson:"givenNames,omitempty" json:"givenNames"`
	UsedUntil  *Date   `bson:"usedUntil,omitempty" json:"usedUntil"`
}

// Person is a person in the register (collection "persons").
type Person struct {
	ID              string         `bson:"_id" json:"id"`
	GivenNames      string         `bson:"givenNames" json:"givenNames"`
	FamilyName      string         `bson:"familyName" json:"familyName"`
	BirthFamilyName *string        `bson:"birthFamilyName,omitempty" json:"birthFamilyName"`
	PreviousNames   []PreviousName `bson:"previousNames" json:"previousNames"`
	DateOfBirth     Date           `bson:"dateOfBirth" json:"dateOfBirth"`
	PlaceOfBirth    *Place         `bson:"placeOfBirth,omitempty" json:"placeOfBirth"`
	Sex             Sex            `bson:"sex" json:"sex"`
	Nationalities   []string       `bson:"nationalities" json:"nationalities"`
	NationalID      *string        `bson:"nationalId,omitempty" json:"nationalId"`
	Residence       *Address       `bson:"residence,omitempty" json:"residence"`
	// Search holds the normalised keys the search matches on; maintained by the register
	// package whenever names change, never shown.
	Search  PersonSearchKeys `bson:"search" json:"-"`
	Version int              `bson:"version" json:"version"`
	// LastWrite is the idempotency key of the write that produced this version, so a retried
	// update is recognised as already applied.
	LastWrite string `bson:"lastWrite,omitempty" json:"-"`
}

// PersonSearchKeys are a person's names folded to lower case without diacritics.
type PersonSearchKeys struct {
	// FamilyNames holds the current, birth and previous family names.
	FamilyNames []string `bson:"familyNames"`
	// GivenNames holds each given name separately.
	GivenNames []string `bson:"givenNames"`
	// Order is the unique sort key of search results and their cursors:
	// family name, given names, date of birth and ID.
	Order string `bson:"order"`
}

// Prison is a prison or detention institute (collection "prisons").
type Prison struct {
	ID      string     `bson:"_id" json:"id"`
	Name    string     `bson:"name" json:"name"`
	Kind    PrisonKind `bson:"kind" json:"kind"`
	Address Address    `bson:"address" json:"address"`
	Phone   *string    `bson:"phone,omitempty" json:"phone"`
	Email   *string    `bson:"email,omitempty" json:"email"`
	Version int        `bson:"version" json:"version"`
	// LastWrite is the idempotency key of the write that produced this version.
	LastWrite string `bson:"lastWrite,omitempty" json:"-"`
}

// Authority is the body a detention answers to, with its case reference.
type Authority struct {
	Kind          AuthorityKind `bson:"kind" json:"kind"`
	Name          string        `bson:"name" json:"name"`
	CaseReference *string       `bson:"caseReference,omitempty" json:"caseReference"`
}

// DetentionRecord is everything the register knows about one person's detention (collection
// "detentions", keyed by the person's ID). Keeping all periods of a person in one document
// makes every admission, transfer and release a single atomic write, so "at most one open
// period" holds without transactions.
//
// Periods that executed a sentence of an expunged or deemed-not-convicted conviction are kept
// apart in CopyOnlyPeriods, so that the extract is a projection that leaves them in the
// database (DESIGN §4 row rules), like CriminalRecord.ExpungedConvictions.
type DetentionRecord struct {
	PersonID        string            `bson:"_id"`
	Periods         []DetentionPeriod `bson:"periods"`
	CopyOnlyPeriods []DetentionPeriod `bson:"copyOnlyPeriods,omitempty"`
	Version         int               `bson:"version"`
}

// DetentionPeriod is one stay in one prison under one legal title.
type DetentionPeriod struct {
	ID string `bson:"id" json:"id"`
	// PersonID is filled in when the period is read.
	PersonID string `bson:"-" json:"-"`
	// FromCopy says the period was read from the full copy (CopyOnlyPeriods), so its sentence
	// is looked up in the copy too.
	FromCopy             bool           `bson:"-" json:"-"`
	Kind                 DetentionKind  `bson:"kind" json:"kind"`
	Start                Date           `bson:"start" json:"start"`
	End                  *Date          `bson:"end,omitempty" json:"end"`
	PrisonID             string         `bson:"prisonId" json:"-"`
	ResponsibleAuthority *Authority     `bson:"responsibleAuthority,omitempty" json:"responsibleAuthority"`
	SentenceID           *string        `bson:"sentenceId,omitempty" json:"-"`
	ExpectedRelease      *Date          `bson:"expectedRelease,omitempty" json:"expectedRelease"`
	ReleaseReason        *ReleaseReason `bson:"releaseReason,omitempty" json:"releaseReason"`
}

// DetentionStatus is a person's detention today, computed by package register.
type DetentionStatus struct {
	DeprivedOfLiberty    bool           `json:"deprivedOfLiberty"`
	Kind                 *DetentionKind `json:"kind"`
	Since                *Date          `json:"since"`
	PrisonID             *string        `json:"-"`
	InPrisonSince        *Date          `json:"inPrisonSince"`
	ResponsibleAuthority *Authority     `json:"responsibleAuthority"`
	ExpectedRelease      *Date          `json:"expectedRelease"`
}

// CriminalRecord is everything the register holds about one person's convictions (collection
// "records", keyed by the person's ID). Convictions of the extract and those only in the full
// copy (expunged or deemed not convicted) are kept in separate arrays, so that an extract is a
// projection that leaves the copy-only array in the database, and every conviction write is
// one atomic single-document update.
type CriminalRecord struct {
	PersonID            string       `bson:"_id"`
	Convictions         []Conviction `bson:"convictions"`
	ExpungedConvictions []Conviction `bson:"expungedConvictions"`
	Version             int          `bson:"version"`
}

// Conviction is a final judgment, stored inside its person's CriminalRecord with its offences
// and sentences. PersonID is filled in when it is read.
type Conviction struct {
	ID       string `bson:"id" json:"id"`
	PersonID string `bson:"-" json:"-"`
	Court    string `bson:"court" json:"court"`
	// CourtCountry is the ISO 3166-1 alpha-2 code of the court's state; empty means CZ.
	CourtCountry  string     `bson:"courtCountry,omitempty" json:"-"`
	CaseReference string     `bson:"caseReference" json:"caseReference"`
	DecisionDate  Date       `bson:"decisionDate" json:"decisionDate"`
	FinalDate     Date       `bson:"finalDate" json:"finalDate"`
	Offences      []Offence  `bson:"offences" json:"offences"`
	Sentences     []Sentence `bson:"sentences" json:"sentences"`
	Expunged      bool       `bson:"expunged" json:"expunged"`
	ExpungedOn    *Date      `bson:"expungedOn,omitempty" json:"expungedOn"`
	// Expungement is the court decision that expunged the conviction.
	Expungement *Expungement `bson:"expungement,omitempty" json:"expungement"`
	// DeemedNotConvicted is set by package register when the law regards the person as never
	// convicted (DESIGN §7); the conviction then belongs to the full copy only.
	DeemedNotConvicted       bool    `bson:"deemedNotConvicted,omitempty" json:"deemedNotConvicted"`
	DeemedNotConvictedOn     *Date   `bson:"deemedNotConvictedOn,omitempty" json:"deemedNotConvictedOn"`
	DeemedNotConvictedReason *string `bson:"deemedNotConvictedReason,omitempty" json:"deemedNotConvictedReason"`
}

// CopyOnly says the conviction belongs to the full copy only: expunged or deemed not convicted.
func (c *Conviction) CopyOnly() bool { return c.Expunged || c.DeemedNotConvicted }

// Country is the state of the deciding court (CZ when not recorded otherwise).
func (c *Conviction) Country() string {
	if c.CourtCountry == "" {
		return "CZ"
	}
	return c.CourtCountry
}

// Expungement is the court decision that expunged a conviction.
type Expungement struct {
	On            Date    `bson:"on" json:"on"`
	Early         bool    `bson:"early" json:"early"`
	Court         *string `bson:"court,omitempty" json:"court"`
	CaseReference *string `bson:"caseReference,omitempty" json:"caseReference"`
}

// SentenceTransition is one step of a sentence's lifecycle.
type SentenceTransition struct {
	Status   SentenceStatus `bson:"status" json:"status"`
	On       Date           `bson:"on" json:"on"`
	Decision *CourtDecision `bson:"decision,omitempty" json:"decision"`
}

// CourtDecision names a decision by its court and case reference.
type CourtDecision struct {
	Court         string `bson:"court" json:"court"`
	CaseReference string `bson:"caseReference" json:"caseReference"`
}

// Offence is one offence of a conviction.
type Offence struct {
	LegalProvision string            `bson:"legalProvision" json:"legalProvision"`
	Description    string            `bson:"description" json:"description"`
	Category       string            `bson:"category" json:"category"`
	Completion     OffenceCompletion `bson:"completion" json:"completion"`
	Participation  Participation     `bson:"participation" json:"participation"`
	Intentional    bool              `bson:"intentional" json:"intentional"`
	CommittedOn    *Date             `bson:"committedOn,omitempty" json:"committedOn"`
}

// Sentence is a sentence imposed by a conviction. PersonID, ConvictionID and FromCopy are
// filled in when it is read.
type Sentence struct {
	ID           string `bson:"id" json:"id"`
	PersonID     string `bson:"-" json:"-"`
	ConvictionID string `bson:"-" json:"-"`
	// FromCopy says the sentence was read as part of the full copy (includeExpunged), so its
	// conviction is looked up in the copy too.
	FromCopy        bool           `bson:"-" json:"-"`
	Kind            SentenceKind   `bson:"kind" json:"kind"`
	Life            bool           `bson:"life,omitempty" json:"life"`
	DurationMonths  *int           `bson:"durationMonths,omitempty" json:"durationMonths"`
	Amount          *Money         `bson:"amount,omitempty" json:"amount"`
	Suspended       bool           `bson:"suspended" json:"suspended"`
	ProbationMonths *int           `bson:"probationMonths,omitempty" json:"probationMonths"`
	StartDate       *Date          `bson:"startDate,omitempty" json:"startDate"`
	EndDate         *Date          `bson:"endDate,omitempty" json:"endDate"`
	Status          SentenceStatus `bson:"status" json:"status"`
	// ServedMonths is the time actually served, recorded on conditional release; it decides
	// the rehabilitation period (DESIGN §7, §105(4)).
	ServedMonths            *int                 `bson:"servedMonths,omitempty" json:"servedMonths"`
	ConditionallyReleasedOn *Date                `bson:"conditionallyReleasedOn,omitempty" json:"conditionallyReleasedOn"`
	Transitions             []SentenceTransition `bson:"transitions" json:"transitions"`
	Version                 int                  `bson:"version" json:"version"`
}

// Money is an amount in a currency; Amount is a decimal string.
type Money struct {
	Amount   string `bson:"amount" json:"amount"`
	Currency string `bson:"currency" json:"currency"`
}
