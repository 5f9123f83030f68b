package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/auth"
	"custodia/graph"
	"custodia/metrics"
	"custodia/policy"
	"custodia/resolvers"
)

// graphqlHandler builds the gqlgen handler with explicit transports and extensions.
func (s *Server) graphqlHandler() *handler.Server {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: s.Store, Now: s.cfg.Now}})
	h := handler.New(es)
	h.AddTransport(transport.Options{})
	h.AddTransport(transport.GET{})
	h.AddTransport(transport.POST{})
	h.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	h.SetDisableSuggestion(true) // suggestions would name fields a role may not see
	if s.cfg.Mode == Development {
		h.Use(extension.Introspection{})
	}
	h.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	h.Use(accessPolicy{policy: s.Policy, metrics: s.Metrics})
	h.Use(requestMetrics{metrics: s.Metrics})
	h.AroundFields(roleIntrospection(s.Policy))
	h.SetErrorPresenter(apperr.Presenter(s.log, requestIDFrom))
	h.SetRecoverFunc(func(ctx context.Context, v any) error {
		s.log.ErrorContext(ctx, "panic in resolver", "request_id", requestIDFrom(ctx), "panic", fmt.Sprint(v))
		return errors.New("internal error")
	})
	return h
}

// accessPolicy is the gqlgen extension that enforces package policy after validation and
// before execution: one FORBIDDEN error listing every denied coordinate, and no data.
type accessPolicy struct {
	policy  *policy.Policy
	metrics *metrics.Metrics
}

var (
	_ graphql.HandlerExtension        = accessPolicy{}
	_ graphql.OperationContextMutator = accessPolicy{}
)

func (accessPolicy) ExtensionName() string                          { return "AccessPolicy" }
func (accessPolicy) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a accessPolicy) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	p := auth.FromContext(ctx)
	if p == nil {
		e := apperr.New(apperr.Unauthenticated, "authentication required")
		return &gqlerror.Error{Message: e.Message, Err: e}
	}
	denied := a.policy.Denied(p.Role, rc.Doc, rc.Operation, rc.Variables)
	if len(denied) == 0 {
		return nil
	}
	a.metrics.Denials.WithLabelValues(string(p.Role)).Inc()
	e := apperr.New(apperr.Forbidden, "role %s may not read %s", p.Role, strings.Join(denied, ", ")).With("deniedCoordinates", denied)
	return &gqlerror.Error{Message: e.Message, Err: e}
}

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

// requestMetrics records latency by operation and errors by code for every response,
// including refused and invalid operations.
type requestMetrics struct{ metrics *metrics.Metrics }

var _ graphql.ResponseInterceptor = requestMetrics{}

func (requestMetrics) ExtensionName() string                          { return "RequestMetrics" }
func (requestMetrics) Validate(schema graphql.ExecutableSchema) error { return nil }

func (m requestMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if resp != nil {
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = "UNKNOWN"
			}
			m.metrics.Errors.WithLabelValues(code).Inc()
		}
	}
	if !oc.Stats.OperationStart.IsZero() {
		m.metrics.RequestDuration.WithLabelValues(m.metrics.OperationLabel(operationName(oc))).Observe(graphql.Now().Sub(oc.Stats.OperationStart).Seconds())
	}
	return resp
}

// operationName is the name of the operation being executed (from the document when the
// request did not name it).
func operationName(oc *graphql.OperationContext) string {
	if oc.Operation != nil && oc.Operation.Name != "" {
		return oc.Operation.Name
	}
	return oc.OperationName
}
