package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"custodia/auth"
)

// traceOperations is the gqlgen extension that opens a span per GraphQL operation.
type traceOperations struct{ tracer trace.Tracer }

var _ graphql.ResponseInterceptor = traceOperations{}

func (traceOperations) ExtensionName() string { return "Tracing" }

func (traceOperations) Validate(schema graphql.ExecutableSchema) error { return nil }

func (t traceOperations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	name := "graphql"
	attrs := []attribute.KeyValue{}
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if n := operationName(oc); n != "" {
			name = "graphql " + n
			attrs = append(attrs, attribute.String("graphql.operation.name", n))
		}
		if oc.Operation != nil {
			attrs = append(attrs, attribute.String("graphql.operation.type", string(oc.Operation.Operation)))
		}
	}
	if p := auth.FromContext(ctx); p != nil {
		attrs = append(attrs, attribute.String("custodia.role", string(p.Role)))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		var codesSeen []string
		for _, e := range resp.Errors {
			if c, ok := e.Extensions["code"].(string); ok {
				codesSeen = append(codesSeen, c)
			}
		}
		span.SetAttributes(attribute.StringSlice("custodia.error_codes", codesSeen))
		span.SetStatus(codes.Error, "graphql errors")
	}
	return resp
}
