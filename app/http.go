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
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/loaders"
	"custodia/model"
	"custodia/web"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	gql := s.graphqlHandler()
	mux.Handle("/query", streams(s.limitRequest(s.authenticate(s.limitRate(s.checkGrant(s.withLoaders(gql)))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /audit/checkpoint", s.auditCheckpoint)
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
	return s.requestID(s.traceRequests(s.accessLog(noStore(s.cors(mux)))))
}

// noStore marks every /query response (CORS preflights included) as not to be stored by any
// cache: answers hold personal data and depend on the caller's token.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/query" {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// ready is /readyz: 503 while the register's database or the audit trail cannot be used
// (DESIGN §6: no audit, no service). After an audit append failed, it probes with an append of
// its own, so it turns ready again as soon as appends succeed — even with no traffic.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if s.AuditStore != s.Store {
		if err := s.AuditStore.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "audit database unreachable"})
			return
		}
	}
	if s.audit.failing.Load() {
		probe := &model.AuditEntry{Kind: model.AuditKindReadinessProbe, Outcome: model.AuditOutcomeAllowed}
		if id := requestIDFrom(r.Context()); id != "" {
			probe.RequestID = &id
		}
		if err := s.audit.Append(ctx, probe); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "audit trail not writable"})
			return
		}
	}
	if err := s.Store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	if err := s.verifier.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no token verification key"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// auditAppender appends to the audit trail and remembers whether the last append failed, for
// /readyz.
type auditAppender struct {
	trail   *audit.Trail
	failing atomic.Bool
}

// Append writes e; it is written even if the client has gone away (the attempt happened).
func (a *auditAppender) Append(ctx context.Context, e *model.AuditEntry) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := a.trail.Append(wctx, e)
	a.failing.Store(err != nil)
	return err
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

// authenticate verifies the bearer token; failures are HTTP 401 with UNAUTHENTICATED, and so
// are ambiguous credentials (fail closed): two Authorization headers, or a token also in the
// URL or a cookie, where it could be logged, cached or sent by a browser on its own.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if isWebsocket(r) && r.Header.Get("Authorization") == "" && ambiguousCredentials(r) == "" {
			next.ServeHTTP(w, r) // the token comes in connection_init (websocketTransport)
			return
		}
		var p *auth.Principal
		var err error
		if problem := ambiguousCredentials(r); problem != "" {
			err = apperr.New(apperr.Unauthenticated, "authentication required: %s", problem).With("reason", "ambiguous credentials")
		} else {
			p, err = s.verifier.Authenticate(r)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custodia"`)
			s.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// credentialNames are URL parameters and cookies that carry a token by common convention.
var credentialNames = map[string]bool{"access_token": true, "id_token": true, "token": true, "jwt": true,
	"bearer": true, "authorization": true, "auth": true}

// jwtShape matches a compact JWS (three base64url parts, the header starting with '{"').
var jwtShape = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// ambiguousCredentials says what makes the request's credentials ambiguous ("" if nothing).
func ambiguousCredentials(r *http.Request) string {
	if len(r.Header.Values("Authorization")) > 1 {
		return "send exactly one Authorization header"
	}
	if len(r.Header.Values("X-Role")) > 1 {
		return "send at most one X-Role header"
	}
	for name, values := range r.URL.Query() {
		if credentialNames[strings.ToLower(name)] {
			return "credentials in the URL are refused; send only the Authorization header"
		}
		for _, v := range values {
			if jwtShape.MatchString(v) {
				return "credentials in the URL are refused; send only the Authorization header"
			}
		}
	}
	for _, c := range r.Cookies() {
		if credentialNames[strings.ToLower(c.Name)] || jwtShape.MatchString(c.Value) {
			return "credentials in a cookie are refused; send only the Authorization header"
		}
	}
	return ""
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
				if code == apperr.Internal {
					err = apperr.Unavailable(err)
				}
				s.refuse(w, r, err) // the presenter logs the cause
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

// refuse answers a /query request refused before GraphQL execution (authentication, rate,
// body size, grants unreadable) through writeResponse, after recording the refusal in the
// audit trail: with the verified principal, or the subject a refused token claimed, marked
// unverified. If the refusal cannot be audited the caller gets SERVICE_UNAVAILABLE.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	gqlErr := s.presenter(ctx, err)
	e := &model.AuditEntry{Kind: model.AuditKindOperation}
	if p := auth.FromContext(ctx); p != nil {
		grants.Actor(p, e)
	} else if sub := claimedSubject(r); sub != "" {
		e.Subject = &sub // SubjectVerified stays false: a claim, never trusted
	}
	stampOutcome(ctx, e, errorCode(gqlErr))
	if auditErr := s.audit.Append(ctx, e); auditErr != nil {
		s.Metrics.AuditFailures.Inc()
		s.log.ErrorContext(ctx, "audit entry of a refused request not written", "request_id", requestIDFrom(ctx), "error", causeOf(auditErr))
		gqlErr = s.presenter(ctx, apperr.New(apperr.ServiceUnavailable, "the request could not be recorded in the audit trail; retry shortly"))
	}
	s.writeResponse(w, r, &graphql.Response{Errors: gqlerror.List{gqlErr}})
}

// stampOutcome fills what every operation entry says about its request: outcome, error code,
// request ID and client address.
func stampOutcome(ctx context.Context, e *model.AuditEntry, code apperr.Code) {
	e.Outcome = model.AuditOutcomeAllowed
	if code != "" {
		c := string(code)
		e.ErrorCode = &c
		e.Outcome = model.AuditOutcomeFailed
		switch code {
		case apperr.Forbidden, apperr.Unauthenticated, apperr.GrantRequired, apperr.GrantSuspended, apperr.GrantRevoked,
			apperr.GrantExpired, apperr.PurposeRequired, apperr.RateLimited, apperr.MethodNotAllowed:
			e.Outcome = model.AuditOutcomeDenied
		}
	}
	if id := requestIDFrom(ctx); id != "" {
		e.RequestID = &id
	}
	if c := clientFrom(ctx); c != "" {
		e.ClientAddress = &c
	}
}

// claimedSubject is the sub claim of the request's bearer token read WITHOUT verification —
// evidence for the audit trail of whom a refused token claimed to be, never an identity.
func claimedSubject(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(raw) > 16<<10 {
		return ""
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(raw), claims); err != nil {
		return ""
	}
	sub, _ := claims["sub"].(string)
	if !utf8.ValidString(sub) {
		return ""
	}
	if len(sub) > 200 {
		sub = strings.ToValidUTF8(sub[:200], "")
	}
	return sub
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
