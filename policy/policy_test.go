package policy_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
	"custodia/internal/benchops"
	"custodia/model"
	"custodia/policy"
)

var update = flag.Bool("update", false, "rewrite docs/access-matrix.md from the schema")

func load(t testing.TB) (*policy.Policy, *ast.Schema) {
	t.Helper()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	p, err := policy.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	return p, schema
}

// TestEveryFieldHasADecision is the deny-by-default guard: a field added to the schema without
// an @access decision (on the field or its type) fails here.
func TestEveryFieldHasADecision(t *testing.T) {
	p, _ := load(t)
	if undecided := p.Undecided(); len(undecided) > 0 {
		t.Fatalf("fields without an @access decision (add one in schema.graphqls): %v", undecided)
	}
}

func TestUndecidedFieldIsReportedAndDenied(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Name: "t", Input: `
		directive @access(roles: [Role!]!) on OBJECT | FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION
		enum Role { COURT PROSECUTOR POLICE REINTEGRATION PRISON_SERVICE REGISTRAR AUDITOR }
		type Query { open: String @access(roles: [COURT]) forgotten: String }`})
	p, err := policy.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Undecided(); !slices.Equal(got, []string{"Query.forgotten"}) {
		t.Fatalf("Undecided() = %v", got)
	}
	for _, r := range model.AllRole {
		if p.Allows(r, "Query.forgotten") {
			t.Errorf("%s may read an undecided field", r)
		}
	}
}

func TestAccessMatrixDocument(t *testing.T) {
	p, _ := load(t)
	path := filepath.Join("..", "docs", "access-matrix.md")
	want := p.MatrixMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./policy -run TestAccessMatrixDocument -update)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/access-matrix.md is out of date with schema.graphqls: run go test ./policy -run TestAccessMatrixDocument -update")
	}
}

// TestDeniedWalksEverything checks the walker directly on tricky documents.
func TestDeniedWalksEverything(t *testing.T) {
	p, schema := load(t)
	cases := []struct {
		name   string
		role   model.Role
		query  string
		vars   map[string]any
		denied []string
	}{
		{"alias", model.RoleReintegration, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { id n: nationalId } }`, nil, []string{"Person.nationalId"}},
		{"named fragment", model.RoleReintegration, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { ...F } } fragment F on Person { id nationalId }`, nil, []string{"Person.nationalId"}},
		{"inline fragment", model.RoleReintegration, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { ... on Person { nationalId } } }`, nil, []string{"Person.nationalId"}},
		{"fragment spread twice", model.RolePrisonService, `query { a: person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { ...F } b: person(id: "y", purpose: {caseReference: "a", reason: SUPERVISION}) { ...F } } fragment F on Person { residence { city } }`, nil, []string{"Person.residence"}},
		{"argument literal true", model.RolePolice, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { convictions(includeExpunged: true) { id } } }`, nil, []string{"Person.convictions(includeExpunged:)"}},
		{"argument literal false", model.RolePolice, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { convictions(includeExpunged: false) { id } } }`, nil, nil},
		{"argument variable true", model.RolePolice, `query($c: Boolean) { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { convictions(includeExpunged: $c) { id } } }`, map[string]any{"c": true}, []string{"Person.convictions(includeExpunged:)"}},
		{"argument variable unset", model.RolePolice, `query($c: Boolean) { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { convictions(includeExpunged: $c) { id } } }`, nil, nil},
		{"input field in variable", model.RoleReintegration, `query($f: PersonSearchInput!) { searchPersons(filter: $f, purpose: {caseReference: "a", reason: SUPERVISION}) { pageInfo { hasNextPage } } }`, map[string]any{"f": map[string]any{"nationalId": "800115/2346"}}, []string{"PersonSearchInput.nationalId"}},
		{"input field inline", model.RoleReintegration, `query { searchPersons(filter: {nationalId: "800115/2346"}, purpose: {caseReference: "a", reason: SUPERVISION}) { pageInfo { hasNextPage } } }`, nil, []string{"PersonSearchInput.nationalId"}},
		{"nested through connection", model.RolePrisonService, `query { searchPersons(filter: {familyName: "x", givenNames: "y"}, purpose: {caseReference: "a", reason: SUPERVISION}) { edges { node { convictions { id } } } } }`, nil, []string{"Person.convictions"}},
		{"auditor on person data", model.RoleAuditor, `query { person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { __typename id } }`, nil, []string{"Query.person"}},
		{"hidden type named by the caller", model.RolePrisonService, `query { searchPersons(filter: {familyName: "x", givenNames: "y"}, purpose: {caseReference: "a", reason: SUPERVISION}) { edges { node { convictions { ...C } } } } } fragment C on Conviction { id }`, nil, []string{"Conviction.id", "Person.convictions"}},
		{"police on the audit trail", model.RolePolice, `query { auditTrail { edges { node { id } } } }`, nil, []string{"Query.auditTrail"}},
		{"typename and introspection are open", model.RoleAuditor, `query { __typename __schema { queryType { name } } }`, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, c.query)
			if errs != nil {
				t.Fatalf("invalid test query: %v", errs)
			}
			got := p.Denied(c.role, doc, doc.Operations[0], c.vars)
			if !slices.Equal(got, c.denied) {
				t.Errorf("denied = %v, want %v", got, c.denied)
			}
		})
	}
}

// TestDeniedNamesNoHiddenType: for every role, what a FORBIDDEN error lists for operations
// reaching deep into what the role may not read names no type outside the role's schema.
func TestDeniedNamesNoHiddenType(t *testing.T) {
	p, schema := load(t)
	purpose := `purpose: {caseReference: "a", reason: SUPERVISION}`
	queries := []string{
		`query { auditTrail { edges { cursor node { id kind subject coordinates } } pageInfo { hasNextPage } } }`,
		`query { person(id: "x", ` + purpose + `) { id nationalId birthFamilyName residence { city } convictions(includeExpunged: true) { id court offences { legalProvision } sentences { id kind } rehabilitation { earliestDate } } detentionHistory { id prison { name address { city } } sentence { id } } } }`,
		`query { searchPersons(filter: {familyName: "x", givenNames: "y"}, ` + purpose + `) { edges { node { convictions { id sentences { id } } } } } }`,
	}
	for _, role := range model.AllRole {
		visible := p.SchemaFor(role).Types
		for i, q := range queries {
			doc, errs := gqlparser.LoadQuery(schema, q)
			if errs != nil {
				t.Fatalf("invalid test query %d: %v", i, errs)
			}
			for _, coord := range p.Denied(role, doc, doc.Operations[0], nil) {
				typ, _, _ := strings.Cut(coord, ".")
				if visible[typ] == nil && typ != "Query" {
					t.Errorf("%s, query %d: FORBIDDEN names %s, a type outside the role's schema", role, i, coord)
				}
			}
		}
	}
}

func BenchmarkDenied(b *testing.B) {
	p, schema := load(b)
	doc, errs := gqlparser.LoadQuery(schema, authorizationBenchQuery)
	if errs != nil {
		b.Fatal(errs)
	}
	vars := map[string]any{"first": 50, "copy": true}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Denied(model.RoleCourt, doc, doc.Operations[0], vars); len(d) != 0 {
			b.Fatal(d)
		}
	}
}

// authorizationBenchQuery is the page of 50 persons with every relation (about 1,000 objects
// in the result) that the end-to-end benchmark executes.
const authorizationBenchQuery = benchops.SearchPage
