package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.32.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"custodia/metrics"
)

// Tracing is optional: spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, over the protocol OTEL_EXPORTER_OTLP_PROTOCOL
// names (http/protobuf, the default, or grpc), or to Config.TracerProvider. A W3C
// traceparent/tracestate from the caller is continued. Spans carry names, codes, roles and
// request IDs — never a query's text or variables, never a database filter or value — so no
// personal data leaves in traces.
const tracerName = "custodia"

// propagator reads and writes W3C Trace Context (traceparent, tracestate). Baggage is not
// propagated: it is caller-controlled data that would travel on into logs and collectors.
var propagator = propagation.TraceContext{}

func (s *Server) setupTracing(ctx context.Context) error {
	var tp trace.TracerProvider
	switch {
	case s.cfg.TracerProvider != nil:
		tp = s.cfg.TracerProvider
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		protocol := otlpProtocol()
		exp, err := newOTLPExporter(ctx, protocol)
		if err != nil {
			return err
		}
		res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("custodia"), semconv.ServiceVersion(metrics.Build().Version)),
			resource.WithFromEnv(), resource.WithTelemetrySDK())
		if err != nil {
			return fmt.Errorf("tracing resource: %w", err)
		}
		// The SDK's default sampler follows the caller's sampled flag (parent-based) and reads
		// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
		sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		s.shutdownTracing = sdk.Shutdown
		tp = sdk
		s.log.Info("OpenTelemetry tracing to an OTLP collector enabled", "protocol", protocol)
	default:
		tp = noop.NewTracerProvider()
	}
	s.tracerProvider = tp
	s.tracer = tp.Tracer(tracerName)
	return nil
}

// otlpProtocol is the OTLP transport for traces: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf (the specification's default).
func otlpProtocol() string {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v
		}
	}
	return "http/protobuf"
}

// newOTLPExporter makes the exporter for a protocol; both read the endpoint, headers, TLS and
// timeout settings from the standard OTEL_EXPORTER_OTLP_* variables.
func newOTLPExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	switch protocol {
	case "grpc":
		return otlptracegrpc.New(ctx)
	case "http/protobuf":
		return otlptracehttp.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported: use grpc or http/protobuf", protocol)
}

// tracesExported says whether spans go anywhere (an OTLP exporter or Config.TracerProvider):
// without, the database commands are not bracketed by spans, which spares the driver a copy of
// every command.
func (s *Server) tracesExported() bool {
	_, off := s.tracerProvider.(noop.TracerProvider)
	return !off
}

// dbSpans turns the driver's command events into spans, children of the span in the
// command's context (the GraphQL operation's, or the grant check's). They carry the command
// and collection names only: never the command's body, filter or values. (The contrib
// instrumentation for driver v2, go.opentelemetry.io/contrib/instrumentation/
// go.mongodb.org/mongo-driver/v2/mongo/otelmongo, is not obtainable from the module proxy at
// any version compatible with otel v1.36.0.)
type dbSpans struct {
	tracer trace.Tracer
	open   sync.Map // driver request ID → span
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

// traceLogHandler adds the trace and span IDs of the record's context to every log line, so
// a log line and its trace can be found from each other. Log with the *Context methods.
type traceLogHandler struct{ slog.Handler }

// withTraceIDs wraps a logger's handler with traceLogHandler (once).
func withTraceIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(traceLogHandler); ok {
		return log
	}
	return slog.New(traceLogHandler{log.Handler()})
}

func (h traceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceLogHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceLogHandler) WithGroup(name string) slog.Handler {
	return traceLogHandler{h.Handler.WithGroup(name)}
}
