package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/loaders"
	"custodia/web"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	gql := s.graphqlHandler()
	mux.Handle("/query", s.limitRequest(s.authenticate(s.limitRate(s.checkGrant(s.withLoaders(gql))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Store.Ping(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", s.Metrics.Handler())
	if s.cfg.GraphiQL {
		mux.Handle("GET /{$}", s.graphiqlPage())
		mux.Handle("GET "+web.AssetsPrefix+"{file}", web.Assets())
	}
	if s.devSignIn() {
		mux.Handle("GET "+devSignInPath, s.devOfficials())
	}
	if s.cfg.Introspection {
		mux.Handle("GET "+schemaSDLPath, s.limitRequest(s.authenticate(s.limitRate(s.schemaSDL()))))
	}
	return s.requestID(s.traceRequests(s.accessLog(s.cors(mux))))
}

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID takes a well-formed X-Request-ID from the caller or makes one, and returns it in
// the response header.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, clientKey{}, clientAddress(r, s.cfg.TrustProxyHeaders))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// accessLog logs one line per request: method, path, status, duration, request ID and role —
// never the query's variables, the token or any person data.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			return
		}
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "request_id", requestIDFrom(r.Context()))
	})
}

// authenticate verifies the bearer token; failures are HTTP 401 with UNAUTHENTICATED.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.verifier.Authenticate(r)
		if err != nil {
			s.Metrics.Errors.WithLabelValues(string(apperr.Unauthenticated)).Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="custodia"`)
			writeError(w, http.StatusUnauthorized, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// checkGrant looks up the principal's active access grant (DESIGN §5). Without one, the
// reason is kept on the principal: the access policy then lets only grant self-service
// operations run. If the grants cannot be read at all, the request fails closed with 503.
func (s *Server) checkGrant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.Grants.Check(r.Context(), p); err != nil {
			if code := apperr.CodeOf(err); code == apperr.ServiceUnavailable || code == apperr.Internal {
				s.log.Error("grant check failed", "request_id", requestIDFrom(r.Context()), "error", err.Error())
				writeError(w, http.StatusServiceUnavailable, apperr.Unavailable(err))
				return
			}
			p.GrantErr = err
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddress is the peer address of the request (host only) or, behind a trusted proxy,
// the address the proxy saw (the rightmost X-Forwarded-For hop, which the proxy appended).
func clientAddress(r *http.Request, trustProxy bool) string {
	if fwd := r.Header.Get("X-Forwarded-For"); trustProxy && fwd != "" {
		hops := strings.Split(fwd, ",")
		if last := strings.TrimSpace(hops[len(hops)-1]); net.ParseIP(last) != nil {
			return last
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientKey struct{}

func clientFrom(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}

// withLoaders gives the request its own DataLoaders, scoped by the principal's row rules, and
// its audit record.
func (s *Server) withLoaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := loaders.New(s.Store, grants.Scope(auth.FromContext(r.Context())))
		ctx, _ := audit.WithRecord(loaders.With(r.Context(), l))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeError answers with a GraphQL-shaped error body outside of GraphQL execution.
func writeError(w http.ResponseWriter, status int, err error) {
	code, message := apperr.CodeOf(err), "internal error"
	ext := map[string]any{}
	if e, ok := err.(*apperr.Error); ok {
		message = e.Message
		for k, v := range e.Extensions {
			ext[k] = v
		}
	}
	ext["code"] = string(code)
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": message, "extensions": ext}}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
