package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// TestHiddenReadsAsAbsentInWorkToo: a person the row rules hide from the caller — blocked
// (DESIGN §7a), or outside a REINTEGRATION caseload (§4) — must look exactly like one that
// does not exist: the same answer, and the same work, counted in database commands (a proxy
// for the time an attacker could measure). A national-ID lookup or a search that found a
// hidden person's keys read the persons collection where a miss did not.
func TestHiddenReadsAsAbsentInWorkToo(t *testing.T) {
	t.Parallel()
	// Grants are cached for the whole test and background work is put off, so no database
	// command but the requests' own falls between two counts.
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) {
		c.GrantCacheTTL, c.AuditPersonIndexInterval, c.Watch.Poll = time.Minute, time.Hour, time.Hour
	}})
	block(t, env, true, "oracle-block", seed.NamedDvorakova, model.RecordItemKindPerson, "")
	// Six women named Tereza Malá, none in the REINTEGRATION caseload: a search pages through
	// its candidates, and the hidden ones must not cost rounds (with first: 1 and a cursor
	// moved by hand, the rounds told their number and birth dates).
	for i := range 6 {
		in := personInput("")
		in["dateOfBirth"] = fmt.Sprintf("199%d-03-08", i)
		if r := env.As(RG, registerPerson, map[string]any{"in": in, "key": fmt.Sprintf("oracle-mala-%d", i), "p": registrarPurpose()}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	const (
		byNationalID = `query($v: String!, $p: PurposeInput!) { personByNationalId(nationalId: $v, purpose: $p) { id } }`
		byID         = `query($v: ID!, $p: PurposeInput!) { person(id: $v, purpose: $p) { id } }`
		search       = `query($f: PersonSearchInput!, $p: PurposeInput!) { searchPersons(filter: $f, purpose: $p) { edges { node { id } } pageInfo { hasNextPage } } }`
	)
	byName := func(family, given string) map[string]any {
		return map[string]any{"f": map[string]any{"familyName": family, "givenNames": given}}
	}
	cases := []struct {
		name            string
		role            model.Role
		query           string
		hidden, missing map[string]any
	}{
		{"blocked person by national ID", PO, byNationalID, map[string]any{"v": "755630/4129"}, map[string]any{"v": "755630/4130"}},
		{"blocked person by ID", PO, byID, map[string]any{"v": seed.NamedDvorakova}, map[string]any{"v": "P-999999"}},
		{"blocked person searched by national ID", PO, search, map[string]any{"f": map[string]any{"nationalId": "755630/4129"}}, map[string]any{"f": map[string]any{"nationalId": "755630/4130"}}},
		{"blocked person searched by name and birth date", PO, search,
			map[string]any{"f": map[string]any{"familyName": "dvorakova", "dateOfBirth": "1975-06-30"}}, map[string]any{"f": map[string]any{"familyName": "dvorakovx", "dateOfBirth": "1975-06-30"}}},
		{"blocked person searched by names", C, search, byName("Dvořáková", "Marie"), byName("Dvořákovx", "Marie")},
		{"outside the caseload searched by names", RE, search, byName("Novák", "Jan"), byName("Novákx", "Jan")},
		{"six outside the caseload, a page of one", RE, `query($f: PersonSearchInput!, $p: PurposeInput!) { searchPersons(filter: $f, first: 1, purpose: $p) { edges { node { id } } } }`,
			byName("Malá", "Tereza"), byName("Malx", "Tereza")},
		{"outside the caseload by ID", RE, byID, map[string]any{"v": seed.NamedNovak}, map[string]any{"v": "P-999999"}},
	}
	// work runs a request three times and keeps the fewest commands (background work only
	// adds), with the answer made independent of the value asked for.
	work := func(role model.Role, query string, vars map[string]any) (int, string) {
		vars["p"] = testenv.Purpose(role)
		fewest, answer := -1, ""
		for range 3 {
			before := env.DBCommands()
			r := env.As(role, query, vars)
			n := env.DBCommands() - before
			if fewest < 0 || n < fewest {
				fewest = n
			}
			answer = r.Raw
		}
		if v, ok := vars["v"].(string); ok {
			answer = strings.ReplaceAll(answer, v, "<asked>")
		}
		return fewest, answer
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hiddenWork, hiddenAnswer := work(c.role, c.query, c.hidden)
			missingWork, missingAnswer := work(c.role, c.query, c.missing)
			if hiddenAnswer != missingAnswer {
				t.Errorf("the answers differ:\n  hidden  %s\n  missing %s", hiddenAnswer, missingAnswer)
			}
			if hiddenWork != missingWork {
				t.Errorf("a hidden person costs %d database commands, a missing one %d", hiddenWork, missingWork)
			}
		})
	}
}
