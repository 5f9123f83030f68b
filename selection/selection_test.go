package selection_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"custodia/selection"
)

const sdl = `
type Query { person(id: ID!): Person  people(first: Int): [Person!]! }
type Person { id: ID! name: String friends: [Person!]! }
`

func schema(t testing.TB) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: sdl})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var lists = map[string]selection.Multiplier{
	"Query.people":   {Length: 20, PageArg: "first"},
	"Person.friends": {Length: 5},
}

// TestMeasure checks each measure on small documents, before validation (parsed only) and after.
func TestMeasure(t *testing.T) {
	s := schema(t)
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		want  selection.Measure
	}{
		{"leaf", `{ person(id: 1) { id } }`, nil, selection.Measure{Depth: 2, Fields: 1, Complexity: 2}},
		{"list default length", `{ people { id name } }`, nil, selection.Measure{Depth: 2, Fields: 1, Complexity: 1 + 20*2}},
		{"page argument", `{ people(first: 3) { id } }`, nil, selection.Measure{Depth: 2, Fields: 1, Complexity: 1 + 3}},
		{"page variable", `query($n: Int) { people(first: $n) { id } }`, map[string]any{"n": json.Number("7")}, selection.Measure{Depth: 2, Fields: 1, Complexity: 1 + 7}},
		{"nested lists multiply", `{ people(first: 2) { friends { id } } }`, nil, selection.Measure{Depth: 3, Fields: 1, Complexity: 1 + 2*(1+5)}},
		{"aliases, introspection included", `{ a: person(id: 1) { b: id } s: __schema { types { name } } __typename }`, nil, selection.Measure{Depth: 2, Aliases: 3, Fields: 3, Complexity: 2 + 3 + 1}},
		{"fragment spread twice in a set counts once", `{ person(id: 1) { ...F ...F } } fragment F on Person { id name }`, nil, selection.Measure{Depth: 2, Fields: 1, Complexity: 3}},
		{"fragment in two places counts twice", `{ a: person(id: 1) { ...F } b: person(id: 2) { ...F } } fragment F on Person { x: id }`, nil, selection.Measure{Depth: 2, Aliases: 4, Fields: 2, Complexity: 4}},
		{"inline fragment", `{ person(id: 1) { ... on Person { id } } }`, nil, selection.Measure{Depth: 2, Fields: 1, Complexity: 2}},
		{"huge page saturates", `{ people(first: 99999999999999999999) { friends { friends { id } } } }`, nil, selection.Measure{Depth: 4, Fields: 1, Complexity: selection.Saturated}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parsed, err := parser.ParseQuery(&ast.Source{Input: c.query})
			if err != nil {
				t.Fatal(err)
			}
			w := selection.Walker{Schema: s, Doc: parsed, Lists: lists, Vars: c.vars}
			if got := w.Operation(parsed.Operations[0]); got != c.want {
				t.Errorf("parsed: %+v, want %+v", got, c.want)
			}
			validated, errs := gqlparser.LoadQuery(s, c.query)
			if errs != nil {
				return // over-limit numbers are not valid GraphQL Ints; the parsed walk is what bounds them
			}
			w = selection.Walker{Doc: validated, Lists: lists, Vars: c.vars}
			if got := w.Operation(validated.Operations[0]); got != c.want {
				t.Errorf("validated: %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestVisitOncePerNode checks that every field node is visited exactly once, with its
// coordinate and whether it is a root field, whatever the fragment fan-out.
func TestVisitOncePerNode(t *testing.T) {
	doc, errs := gqlparser.LoadQuery(schema(t), `{ ...Q ...Q person(id: 1) { ...F } } fragment Q on Query { people { ...F ...F } } fragment F on Person { id friends { ...F2 } } fragment F2 on Person { name }`)
	if errs != nil {
		t.Fatal(errs)
	}
	seen := map[*ast.Field]int{}
	var coords, roots []string
	w := selection.Walker{Doc: doc, Visit: func(f selection.Field) {
		seen[f.Node]++
		coords = append(coords, f.Coordinate())
		if f.Root {
			roots = append(roots, f.Node.Name)
		}
	}}
	w.Operation(doc.Operations[0])
	for n, times := range seen {
		if times != 1 {
			t.Errorf("%s visited %d times", n.Name, times)
		}
	}
	if got := strings.Join(coords, " "); got != "Query.people Person.id Person.friends Person.name Query.person" {
		t.Errorf("coordinates %s", got)
	}
	if got := strings.Join(roots, " "); got != "people person" {
		t.Errorf("roots %s", got)
	}
}

// TestDocumentIsLinear walks 2^1000 paths of doubled fragment spreads: memoised, the walk meets
// each fragment once, and the document measure sees every fragment and spread.
func TestDocumentIsLinear(t *testing.T) {
	const levels = 1000
	var q strings.Builder
	q.WriteString("query A { ...F0 } query B { person(id: 1) { id } }\n")
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&q, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&q, "fragment F%d on Query { people { friends { id } } }\n", levels)
	q.WriteString("fragment Unused on Person { a: id b: id c: id }\n")
	doc, err := parser.ParseQuery(&ast.Source{Input: q.String()})
	if err != nil {
		t.Fatal(err)
	}
	visits := 0
	w := selection.Walker{Schema: schema(t), Lists: lists, Visit: func(selection.Field) { visits++ }}
	d := w.Document(doc)
	want := selection.Document{Worst: selection.Measure{Depth: 3, Aliases: 3, Fields: 1, Complexity: 1 + 20*(1+5)},
		TotalComplexity: 1 + 20*(1+5) + 2, Widest: 3, Operations: 2, Spreads: 2*levels + 1}
	if d != want {
		t.Errorf("document %+v, want %+v", d, want)
	}
	if visits != 3+2+3 {
		t.Errorf("%d field visits, want 8", visits)
	}
}

// TestOverlaps counts the same-named field pairs validation compares, and stops at its budget.
func TestOverlaps(t *testing.T) {
	s := schema(t)
	cases := []struct {
		name          string
		query         string
		budget, limit int
		want          int
	}{
		{"distinct fields", `{ person(id: 1) { id name friends { id } } }`, 100, 100, 0},
		{"a field twice", `{ person(id: 1) { id id } }`, 100, 100, 1},
		{"merged children", `{ person(id: 1) { friends { id } friends { id name } } }`, 100, 100, 1 + 1},
		{"through a fragment", `{ person(id: 1) { id ...F } } fragment F on Person { id }`, 100, 100, 1},
		{"fragment spread twice counts once", `{ person(id: 1) { ...F ...F } } fragment F on Person { id }`, 100, 100, 0},
		{"over the pair limit", `{ person(id: 1) { id id id id } }`, 100, 5, selection.Saturated},
		{"over the node budget", `{ person(id: 1) { id name } }`, 2, 100, selection.Saturated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: c.query})
			if err != nil {
				t.Fatal(err)
			}
			w := selection.Walker{Schema: s, Doc: doc}
			if got := w.Overlaps(doc.Operations[0], c.budget, c.limit); got != c.want {
				t.Errorf("overlaps %d, want %d", got, c.want)
			}
		})
	}
}
