package app_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
	"custodia/internal/testenv"
	"custodia/model"
)

// schemaNames lists the names a schema declares: types, fields, arguments, input fields, enum
// values.
func schemaNames(s *ast.Schema) map[string]bool {
	out := map[string]bool{}
	for name, def := range s.Types {
		out[name] = true
		for _, f := range def.Fields {
			out[f.Name] = true
			for _, a := range f.Arguments {
				out[a.Name] = true
			}
		}
		for _, v := range def.EnumValues {
			out[v.Name] = true
		}
	}
	return out
}

var graphQLName = regexp.MustCompile(`[_A-Za-z][_0-9A-Za-z]*`)

// messageNames lists the names a message may be naming from the schema: every name inside
// double quotes (gqlparser and gqlgen quote the schema names they mention), and outside them
// every name that is not a plain lowercase word of the message's English ("on", "to", "field",
// which are also field names somewhere in the schema).
func messageNames(message string) []string {
	var out []string
	for i, segment := range strings.Split(message, `"`) {
		for _, n := range graphQLName.FindAllString(segment, -1) {
			if i%2 == 1 || strings.ToLower(n) != n || strings.ContainsAny(n, "_0123456789") {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestMessagesStayReadable: the English of a validation message is not redacted when a word of
// it is also the name of a field hidden from the role (Disclosure.field for COURT, an "on" date
// for AUDITOR), while the names in quotes are.
func TestMessagesStayReadable(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	cases := []struct {
		role  model.Role
		query string
		want  string
	}{
		{model.RoleCourt, `{ prisons { nam } }`, `Cannot query field "nam" on type "Prison". Did you mean "name"?`},
		{model.RoleAuditor, `{ disclosures(personId: "P-000001") { recipient } }`, `Cannot query field "recipient" on type "Disclosure".`},
		{model.RolePolice, `{ prisons { nam } }`, `Cannot query field "nam" on type "Prison". Did you mean "name"?`},
	}
	for _, c := range cases {
		r := env.As(c.role, c.query, nil)
		if len(r.Errors) != 1 || r.Errors[0].Message != c.want {
			t.Errorf("%s %s: %s, want the message %q", c.role, c.query, r.Raw, c.want)
		}
	}
}

// TestMessagesNameNothingHidden sends, for every role, malformed operations that make gqlparser
// and gqlgen suggest or list names (misspelt fields, arguments, input fields, enum values and
// types, missing subselections, wrong variable values) and checks that no message names
// anything outside the role's schema that the caller did not write.
func TestMessagesNameNothingHidden(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	full := schemaNames(graph.NewExecutableSchema(graph.Config{}).Schema())
	const purpose = `purpose: {caseReference: "4 T 1/2026", reason: SUPERVISION}`
	cases := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"misspelt field", `{ person(id: "P-000001", ` + purpose + `) { nationalI birthFamilyNam rehabilitatio } }`, nil},
		{"misspelt root field", `{ auditTrai { edges { node { id } } } recipientsToNotif }`, nil},
		{"misspelt argument", `{ person(id: "P-000001", ` + purpose + `) { convictions(includeExpunge: true) { id } detentionHistory(includeExpunge: true) { id } } }`, nil},
		{"misspelt input field", `{ searchPersons(filter: {nationalI: "1", birthFamilyNam: "x"}, ` + purpose + `) { pageInfo { hasNextPage } } }`, nil},
		{"misspelt enum value", `{ person(id: "P-000001", purpose: {caseReference: "a", reason: SUPERVISON}) { id } }`, nil},
		{"misspelt type", `query($f: AuditFiltr, $g: AccessGrantFiltr) { me { subject } }`, nil},
		{"missing subselection of a hidden field", `{ auditTrail disclosures(personId: "P-000001") person(id: "P-000001", ` + purpose + `) { convictions rehabilitation } }`, nil},
		{"hidden enum in a variable", `query($f: AuditFilter) { auditTrail(filter: $f) { edges { node { id } } } }`, map[string]any{"f": map[string]any{"kind": "NOPE", "outcome": "NOPE"}}},
		{"hidden input object in a variable", `query($f: AuditFilter) { auditTrail(filter: $f) { edges { node { id } } } }`, map[string]any{"f": "not an object"}},
		{"wrong variable type", `query($id: Int) { person(id: $id, ` + purpose + `) { id } }`, nil},
		{"missing purpose", `{ person(id: "P-000001") { id } }`, nil},
	}
	for _, role := range model.AllRole {
		visible := schemaNames(env.Server.Policy.SchemaFor(role))
		token := env.Token(role)
		for _, c := range cases {
			t.Run(string(role)+"/"+c.name, func(t *testing.T) {
				r := env.Do(token, c.query, c.vars)
				if len(r.Errors) == 0 {
					t.Fatalf("a malformed operation passed: %s", r.Raw)
				}
				typed := map[string]bool{}
				for _, n := range graphQLName.FindAllString(c.query, -1) {
					typed[n] = true
				}
				for _, e := range r.Errors {
					for _, n := range messageNames(e.Message) {
						if full[n] && !visible[n] && !typed[n] {
							t.Errorf("message names %q, hidden from %s: %s", n, role, e.Message)
						}
					}
				}
			})
		}
	}
	// Suggestions still help with what the role may see.
	r := env.As(model.RoleCourt, `{ person(id: "P-000001", `+purpose+`) { convictions(includeExpunge: true) { id } } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, `Did you mean "includeExpunged"?`) {
		t.Errorf("COURT should be offered includeExpunged: %s", r.Raw)
	}
	r = env.As(model.RolePolice, `{ person(id: "P-000001", `+purpose+`) { convictions(includeExpunge: true) { id } } }`, nil)
	if len(r.Errors) == 0 || strings.Contains(r.Raw, "includeExpunged") {
		t.Errorf("POLICE must not be offered includeExpunged: %s", r.Raw)
	}
}

// TestForbiddenNamesNothingHidden sends, for every role, valid operations that reach deep into
// what roles may not read and checks that a FORBIDDEN error's message and deniedCoordinates
// name nothing outside the role's schema that the caller did not write (the audit trail's
// connection types for POLICE, the conviction types for PRISON_SERVICE, …).
func TestForbiddenNamesNothingHidden(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	full := schemaNames(graph.NewExecutableSchema(graph.Config{}).Schema())
	const purpose = `purpose: {caseReference: "4 T 1/2026", reason: SUPERVISION}`
	queries := []string{
		`{ auditTrail { edges { cursor node { id kind subject coordinates } } pageInfo { hasNextPage } } }`,
		`{ person(id: "P-000001", ` + purpose + `) { id nationalId birthFamilyName residence { city } convictions(includeExpunged: true) { id court offences { legalProvision } sentences { id kind } rehabilitation { earliestDate } } detentionHistory { id prison { name address { city } } sentence { id } } } }`,
		`{ searchPersons(filter: {familyName: "x", givenNames: "y"}, ` + purpose + `) { edges { node { convictions { id sentences { id } } } } } }`,
	}
	forbidden := 0
	for _, role := range model.AllRole {
		visible := schemaNames(env.Server.Policy.SchemaFor(role))
		token := env.Token(role)
		for i, q := range queries {
			r := env.Do(token, q, nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
				continue
			}
			typed := map[string]bool{}
			for _, n := range graphQLName.FindAllString(q, -1) {
				typed[n] = true
			}
			coords, _ := r.Errors[0].Extensions["deniedCoordinates"].([]any)
			if len(coords) > 0 {
				forbidden++ // refused by the policy (others are refused later, by purpose)
			}
			for _, text := range append([]any{r.Errors[0].Message}, coords...) {
				s, _ := text.(string)
				for _, n := range graphQLName.FindAllString(s, -1) {
					if full[n] && !visible[n] && !typed[n] {
						t.Errorf("%s, query %d: FORBIDDEN names %q, hidden from the role: %s", role, i, n, s)
					}
				}
			}
		}
	}
	if r := env.As(model.RolePolice, queries[0], nil); len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "Query.auditTrail") {
		t.Errorf("POLICE on the audit trail: want one FORBIDDEN naming Query.auditTrail, got %s", r.Raw)
	}
	if forbidden < len(model.AllRole) {
		t.Errorf("only %d of the operations were FORBIDDEN", forbidden)
	}
}
