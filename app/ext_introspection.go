package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/auth"
	"custodia/policy"
)

// roleIntrospection serves __schema and __type from the caller's role schema, so
// introspection (and GraphiQL's docs and autocompletion) shows only what the role may read.
//
// It decides once per operation, after validation, whether the operation asks for __schema or
// __type at its root (directly, or through fragments and inline fragments — the only places
// these fields exist), and only then wraps the operation's field middleware. Every other
// operation executes without a field middleware: a page of 50 persons has ≈ 9,000 fields, and
// a wrapper around each cost ≈ 4 % of the API's CPU (docs/performance.md).
type roleIntrospection struct{ policy *policy.Policy }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = roleIntrospection{}

// ExtensionName names the extension for gqlgen.
func (roleIntrospection) ExtensionName() string { return "RoleIntrospection" }

// Validate accepts any schema.
func (roleIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext installs the introspection middleware for operations that introspect.
func (r roleIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !introspects(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	next := oc.ResolverMiddleware
	serve := r.serve
	oc.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		if res, ok, err := serve(ctx); ok {
			return res, err
		}
		return next(ctx, resolve)
	}
	return nil
}

// introspects reports whether a root selection set selects __schema or __type, through any
// fragment.
func introspects(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil && introspects(doc, f.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}

// serve answers a root __schema or __type field from the caller's role schema; ok is false
// for every other field.
func (r roleIntrospection) serve(ctx context.Context) (res any, ok bool, err error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Query" || (fc.Field.Name != "__schema" && fc.Field.Name != "__type") {
		return nil, false, nil
	}
	if graphql.GetOperationContext(ctx).DisableIntrospection {
		return nil, true, apperr.New(apperr.Forbidden, "introspection is disabled on this server")
	}
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, true, apperr.New(apperr.Unauthenticated, "authentication required")
	}
	schema := r.policy.SchemaFor(p.Role)
	if fc.Field.Name == "__schema" {
		return introspection.WrapSchema(schema), true, nil
	}
	name, _ := fc.Args["name"].(string)
	def := schema.Types[name]
	if def == nil {
		return nil, true, nil
	}
	return introspection.WrapTypeFromDef(schema, def), true, nil
}
