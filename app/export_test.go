package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
	"custodia/policy"
)

var (
	benchSchema    = graph.NewExecutableSchema(graph.Config{}).Schema()
	benchPolicy, _ = policy.New(benchSchema)
)

// BoundDocument runs the step that bounds a document before validation, with the default
// limits and an empty query cache, and returns its refusal (nil if the document passed and was
// validated). For benchmarks in package app_test.
func BoundDocument(query string, vars map[string]any) error {
	bd := boundDocument{limits: DefaultLimits, schema: benchSchema, costs: newCosts(benchSchema, DefaultLimits.Complexity), cache: lru.New[*ast.QueryDocument](1), policy: benchPolicy}
	if err := bd.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: query, Variables: vars}); err != nil {
		return err
	}
	return nil
}
