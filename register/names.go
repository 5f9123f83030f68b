package register

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"custodia/model"
)

// letterFolds covers letters that Unicode does not decompose into a base letter and a mark.
var letterFolds = map[rune]string{
	'ß': "ss", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'æ': "ae", 'Æ': "ae",
	'œ': "oe", 'Œ': "oe", 'ı': "i", 'þ': "th", 'Þ': "th",
}

// Fold lower-cases s, removes diacritics and punctuation other than hyphens and apostrophes,
// and collapses white space, so that "  DVOŘÁKOVÁ " and "dvorakova" fold to the same key.
func Fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case letterFolds[r] != "":
			b.WriteString(letterFolds[r])
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '\'':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
			continue
		}
		space = false
	}
	return b.String()
}

// SearchKeys computes the folded keys a person is found by: every family name they are known
// under, each given name, and the unique order key of search results.
func SearchKeys(p *model.Person) model.PersonSearchKeys {
	keys := model.PersonSearchKeys{}
	addFamily := func(name string) {
		if f := Fold(name); f != "" && !contains(keys.FamilyNames, f) {
			keys.FamilyNames = append(keys.FamilyNames, f)
		}
	}
	addFamily(p.FamilyName)
	if p.BirthFamilyName != nil {
		addFamily(*p.BirthFamilyName)
	}
	for _, prev := range p.PreviousNames {
		addFamily(prev.FamilyName)
	}
	keys.GivenNames = strings.Fields(Fold(p.GivenNames))
	keys.Order = Fold(p.FamilyName) + "\x00" + Fold(p.GivenNames) + "\x00" + string(p.DateOfBirth) + "\x00" + p.ID
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
