package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/introspection"

	"custodia/apperr"
	"custodia/auth"
	"custodia/policy"
)

// roleIntrospection serves __schema and __type from the caller's role schema, so
// introspection (and GraphiQL's docs and autocompletion) shows only what the role may read.
func roleIntrospection(pol *policy.Policy) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Query" || (fc.Field.Name != "__schema" && fc.Field.Name != "__type") {
			return next(ctx)
		}
		if graphql.GetOperationContext(ctx).DisableIntrospection {
			return nil, apperr.New(apperr.Forbidden, "introspection is disabled on this server")
		}
		p := auth.FromContext(ctx)
		if p == nil {
			return nil, apperr.New(apperr.Unauthenticated, "authentication required")
		}
		schema := pol.SchemaFor(p.Role)
		if fc.Field.Name == "__schema" {
			return introspection.WrapSchema(schema), nil
		}
		name, _ := fc.Args["name"].(string)
		def := schema.Types[name]
		if def == nil {
			return nil, nil
		}
		return introspection.WrapTypeFromDef(schema, def), nil
	}
}
