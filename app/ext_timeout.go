package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
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
