package register

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"

	"custodia/apperr"
	"custodia/model"
)

// MaxPageSize is the hard cap on any page of results; DefaultPageSize applies when the caller
// does not say.
const (
	MaxPageSize     = 50
	DefaultPageSize = 20
)

// PersonQuery is a validated, folded person search, ready for the store.
type PersonQuery struct {
	NationalID  string
	FamilyName  string
	GivenNames  []string
	DateOfBirth model.Date
	// After is the order key of the last person of the previous page ("" for the first page).
	After string
	// Limit is the page size; the store fetches one more to know whether a next page exists.
	Limit int
	// Names says which of a person's family names take part in the match: the current one
	// always, the birth and previous names only for roles that may read them (DESIGN §4: a
	// search must not be an oracle for a hidden field). The caller sets it from the policy.
	Names NameKinds
}

// NameKinds says which kinds of family name a search matches besides the current one.
type NameKinds struct {
	Birth    bool // Person.birthFamilyName
	Previous bool // Person.previousNames
}

// Search key kinds: which family name of a person a key was made from.
const (
	keyCurrent  = "n"
	keyBirth    = "b"
	keyPrevious = "p"
)

// Search key forms: a family name with a date of birth, or with one given name.
const (
	formBirthDate = "d"
	formGivenName = "g"
)

func searchKey(kind, form, family, value string) string {
	return kind + form + "|" + family + "|" + value
}

// SearchKeyIDs lists the search keys a person is found under (see PersonSearchKeyIDs), each
// once: for the current, the birth and every previous family name, that name with the date of
// birth and that name with each given name. The key says which kind of name it was made from,
// so that a search reads only the kinds the caller may match on.
func SearchKeyIDs(p *model.Person) []string {
	var keys []string
	seen := map[string]bool{}
	add := func(kind, name string) {
		family := Fold(name)
		if family == "" {
			return
		}
		candidates := []string{searchKey(kind, formBirthDate, family, string(p.DateOfBirth))}
		for _, given := range strings.Fields(Fold(p.GivenNames)) {
			candidates = append(candidates, searchKey(kind, formGivenName, family, given))
		}
		for _, k := range candidates {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	add(keyCurrent, p.FamilyName)
	if p.BirthFamilyName != nil {
		add(keyBirth, *p.BirthFamilyName)
	}
	for _, prev := range p.PreviousNames {
		add(keyPrevious, prev.FamilyName)
	}
	return keys
}

// KeyIDs lists the search keys whose persons are the candidates of a search by family name:
// the family name with the date of birth if given (the narrower key), else with the first
// given name; one key per kind of name the query may match. A search by national ID alone has
// none (it is a lookup in the national-ID keys).
func (q PersonQuery) KeyIDs() []string {
	if q.FamilyName == "" {
		return nil
	}
	form, value := formBirthDate, string(q.DateOfBirth)
	if q.DateOfBirth == "" {
		form, value = formGivenName, q.GivenNames[0]
	}
	keys := []string{searchKey(keyCurrent, form, q.FamilyName, value)}
	if q.Names.Birth {
		keys = append(keys, searchKey(keyBirth, form, q.FamilyName, value))
	}
	if q.Names.Previous {
		keys = append(keys, searchKey(keyPrevious, form, q.FamilyName, value))
	}
	return keys
}

// Matches says whether the person as stored now matches the query, on the kinds of name the
// query may match. The store checks every candidate a search key names with it, so a key
// left behind by an interrupted write (written before the person, removed after it) never
// yields a person who does not match.
func (q PersonQuery) Matches(p *model.Person) bool {
	if q.NationalID != "" && (p.NationalID == nil || *p.NationalID != q.NationalID) {
		return false
	}
	if q.DateOfBirth != "" && p.DateOfBirth != q.DateOfBirth {
		return false
	}
	if len(q.GivenNames) > 0 {
		given := strings.Fields(Fold(p.GivenNames))
		for _, g := range q.GivenNames {
			if !contains(given, g) {
				return false
			}
		}
	}
	if q.FamilyName == "" || Fold(p.FamilyName) == q.FamilyName {
		return true
	}
	if q.Names.Birth && p.BirthFamilyName != nil && Fold(*p.BirthFamilyName) == q.FamilyName {
		return true
	}
	if q.Names.Previous {
		for _, prev := range p.PreviousNames {
			if Fold(prev.FamilyName) == q.FamilyName {
				return true
			}
		}
	}
	return false
}

// NewPersonQuery checks a search against DESIGN §3: by national ID, or by family name together
// with date of birth or given names. The register cannot be browsed.
func NewPersonQuery(f model.PersonSearchInput, first *int, after *string) (PersonQuery, error) {
	q := PersonQuery{}
	var err error
	if q.Limit, err = PageSize(first); err != nil {
		return q, err
	}
	if after != nil && *after != "" {
		if q.After, err = DecodeCursor("after", *after); err != nil {
			return q, err
		}
	}
	if f.NationalID != nil && strings.TrimSpace(*f.NationalID) != "" {
		if q.NationalID, err = CanonicalNationalID("filter.nationalId", *f.NationalID); err != nil {
			return q, err
		}
	}
	if f.FamilyName != nil {
		q.FamilyName = Fold(*f.FamilyName)
		if q.FamilyName == "" && strings.TrimSpace(*f.FamilyName) != "" {
			return q, apperr.BadInput("filter.familyName", "familyName must contain letters")
		}
		if utf8.RuneCountInString(*f.FamilyName) > 100 {
			return q, apperr.BadInput("filter.familyName", "familyName is longer than 100 characters")
		}
	}
	if f.GivenNames != nil {
		if utf8.RuneCountInString(*f.GivenNames) > 200 {
			return q, apperr.BadInput("filter.givenNames", "givenNames is longer than 200 characters")
		}
		q.GivenNames = strings.Fields(Fold(*f.GivenNames))
	}
	if f.DateOfBirth != nil {
		q.DateOfBirth = *f.DateOfBirth
	}
	switch {
	case q.NationalID != "":
	case q.FamilyName != "" && (q.DateOfBirth != "" || len(q.GivenNames) > 0):
	case q.FamilyName != "":
		return q, apperr.BadInput("filter", "a search by familyName also needs dateOfBirth or givenNames")
	default:
		return q, apperr.BadInput("filter", "search needs nationalId, or familyName together with dateOfBirth or givenNames")
	}
	return q, nil
}

// PageSize validates a requested page size against the hard cap.
func PageSize(first *int) (int, error) {
	if first == nil {
		return DefaultPageSize, nil
	}
	if *first < 1 || *first > MaxPageSize {
		return 0, apperr.BadInput("first", "first must be between 1 and %d, got %d", MaxPageSize, *first)
	}
	return *first, nil
}

// cursorPrefix versions the opaque cursor format.
const cursorPrefix = "c1:"

// EncodeCursor turns an order key into an opaque cursor.
func EncodeCursor(orderKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + orderKey))
}

// DecodeCursor reverses EncodeCursor; a cursor the server did not issue is BAD_USER_INPUT.
func DecodeCursor(field, cursor string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) || !utf8.Valid(raw) {
		return "", apperr.BadInput(field, "%s is not a cursor issued by this API: pass pageInfo.endCursor of the previous page", field)
	}
	return strings.TrimPrefix(string(raw), cursorPrefix), nil
}

var nationalIDDigits = regexp.MustCompile(`^(\d{6})/?(\d{3,4})$`)

// CanonicalNationalID brings a Czech/Slovak birth number to its canonical "YYMMDD/XXXX" form,
// accepting it with or without the slash. Other shapes are BAD_USER_INPUT.
func CanonicalNationalID(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	m := nationalIDDigits.FindStringSubmatch(s)
	if m == nil {
		return "", apperr.BadInput(field, "%s must be a national ID number such as 800115/2346", field)
	}
	return m[1] + "/" + m[2], nil
}
