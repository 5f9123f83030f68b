package app

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests opens one server span per HTTP request with otelhttp, continuing the caller's
// trace when it sends a W3C traceparent. The span is named by method and path (never the query
// string) and carries the request ID.
func (s *Server) traceRequests(next http.Handler) http.Handler {
	tagged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("custodia.request_id", requestIDFrom(r.Context())))
		next.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(tagged, "http",
		otelhttp.WithTracerProvider(s.tracerProvider),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }),
	)
}
