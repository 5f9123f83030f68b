package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"custodia/metrics"
)

// requestMetrics records latency by operation (errors are counted by writeResponse, which
// sees every response).
type requestMetrics struct{ metrics *metrics.Metrics }

var _ graphql.ResponseInterceptor = requestMetrics{}

func (requestMetrics) ExtensionName() string { return "RequestMetrics" }

func (requestMetrics) Validate(schema graphql.ExecutableSchema) error { return nil }

func (m requestMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
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
