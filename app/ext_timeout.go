package app

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// timeoutResponses turns the response of an operation whose request context ended during
// execution into SERVICE_UNAVAILABLE without data. It is the innermost response interceptor,
// so the audit entry records what the caller got.
type timeoutResponses struct{}

var _ graphql.ResponseInterceptor = timeoutResponses{}

func (timeoutResponses) ExtensionName() string { return "TimeoutResponses" }

func (timeoutResponses) Validate(schema graphql.ExecutableSchema) error { return nil }

func (timeoutResponses) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || ctx.Err() == nil {
		return resp
	}
	e := timedOut(ctx)
	return &graphql.Response{Errors: gqlerror.List{{Message: e.Message, Extensions: map[string]any{"code": string(e.Code), "requestId": requestIDFrom(ctx)}}}}
}

// boundOperations gives every query and mutation REQUEST_TIMEOUT, whatever transport carries
// it: a /query request has it from limitRequest already, but an operation on a websocket
// connection or in a text/event-stream response (both long-lived, so left without a deadline
// for their subscriptions) had none. Subscriptions keep living until they end.
type boundOperations struct{ timeout time.Duration }

var _ graphql.OperationInterceptor = boundOperations{}

func (boundOperations) ExtensionName() string { return "BoundOperations" }

func (boundOperations) Validate(schema graphql.ExecutableSchema) error { return nil }

func (b boundOperations) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if b.timeout <= 0 || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		defer cancel() // a query or mutation has one response
		return responses(ctx)
	}
}
