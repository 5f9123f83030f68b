package app

import (
	"context"
	"net/http"
	"os"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"custodia/auth"
)

// Tracing is optional: spans go to an OTLP/HTTP collector when OTEL_EXPORTER_OTLP_ENDPOINT is
// set (or to Config.TracerProvider). Spans carry names, codes, roles and request IDs — never a
// query's text or variables, never a database filter, so no personal data leaves in traces.
const tracerName = "custodia"

func (s *Server) setupTracing(ctx context.Context) error {
	switch {
	case s.cfg.TracerProvider != nil:
		s.tracer = s.cfg.TracerProvider.Tracer(tracerName)
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		s.shutdownTracing = tp.Shutdown
		s.tracer = tp.Tracer(tracerName)
		s.log.Info("OpenTelemetry tracing to OTLP/HTTP collector enabled")
	default:
		s.tracer = noop.NewTracerProvider().Tracer(tracerName)
	}
	return nil
}

// traceRequests opens one span per HTTP request.
func (s *Server) traceRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := s.tracer.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
				attribute.String("custodia.request_id", requestIDFrom(r.Context()))))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

// traceOperations is the gqlgen extension that opens a span per GraphQL operation.
type traceOperations struct{ tracer trace.Tracer }

var _ graphql.ResponseInterceptor = traceOperations{}

func (traceOperations) ExtensionName() string                          { return "Tracing" }
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

// dbSpans turns the driver's command events into spans (command and collection names only).
type dbSpans struct {
	tracer trace.Tracer
	open   sync.Map // request ID → span
}

func (d *dbSpans) started(ctx context.Context, requestID int64, command, collection string) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return // only within a traced request
	}
	_, span := d.tracer.Start(ctx, "db "+command, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "mongodb"), attribute.String("db.operation.name", command),
			attribute.String("db.collection.name", collection)))
	d.open.Store(requestID, span)
}

func (d *dbSpans) finished(requestID int64, failed bool) {
	if v, ok := d.open.LoadAndDelete(requestID); ok {
		span := v.(trace.Span)
		if failed {
			span.SetStatus(codes.Error, "failed")
		}
		span.End()
	}
}
