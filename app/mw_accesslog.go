package app

import (
	"context"
	"net/http"
	"time"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// responseInfo is what the handlers tell the access log and metrics about a response: the
// code of its first error.
type responseInfo struct{ code string }

type responseInfoKey struct{}

func responseInfoFrom(ctx context.Context) *responseInfo {
	if info, ok := ctx.Value(responseInfoKey{}).(*responseInfo); ok {
		return info
	}
	return &responseInfo{}
}

// accessLog logs one line per request — method, path, status, error code, duration, request
// ID — and counts every response by HTTP status and code. Never the query, its variables, the
// token or any person data.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		info := &responseInfo{}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), responseInfoKey{}, info)))
		s.Metrics.Response(rec.status, info.code)
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			return
		}
		s.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "code", info.code,
			"duration_ms", time.Since(start).Milliseconds(), "request_id", requestIDFrom(r.Context()))
	})
}
