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
					for _, n := range graphQLName.FindAllString(e.Message, -1) {
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
