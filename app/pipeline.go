package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"custodia/graph"
	"custodia/maintenance"
	"custodia/resolvers"
	"custodia/web"
)

// This file is the whole path of a request, in order. Each HTTP middleware has a file of its
// own (mw_*.go), and so has each gqlgen extension (ext_*.go); the endpoints other than /query
// live beside what they serve (readyz.go, auditlog.go, graphiql.go, schemasdl.go).
//
// A request to /query passes, outermost first:
//
//	requestID      request ID and client address on the context       mw_requestid.go
//	traceRequests  W3C trace context, the request span                mw_trace.go
//	accessLog      one log line and the response metrics per request  mw_accesslog.go
//	noStore        Cache-Control: no-store on every /query answer     mw_nostore.go
//	cors           browsers from the allowed origins                  mw_cors.go
//	  (the mux: /query, /readyz, /healthz, /metrics, /audit/checkpoint, GraphiQL, SDL)
//	streams        subscriptions keep their connection open           mw_streams.go
//	limitRequest   body size (413) and REQUEST_TIMEOUT                mw_limitrequest.go
//	authenticate   bearer token → principal, ambiguous → 401          mw_authenticate.go
//	limitRate      per-subject rate limit (429)                       mw_ratelimit.go
//	checkGrant     the active access grant (DESIGN §5)                mw_grant.go
//	withLoaders    per-request DataLoaders and audit record           mw_loaders.go
//	gqlgen         transports, then the extensions of graphqlHandler, in the order listed there
//
// Every refusal on this path is answered by refuse/writeResponse (response.go, transport.go):
// one code → HTTP status table, one audit entry.

// middleware wraps a handler in one step of the pipeline.
type middleware func(http.Handler) http.Handler

// chain wraps h in steps, the first listed outermost, so a pipeline reads in request order.
func chain(h http.Handler, steps ...middleware) http.Handler {
	for i := len(steps) - 1; i >= 0; i-- {
		h = steps[i](h)
	}
	return h
}

// routes is the server's HTTP handler: every endpoint and every step a request passes through.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/query", chain(s.graphqlHandler(),
		streams, s.limitRequest, s.authenticate, s.limitRate, s.checkGrant, s.withLoaders))
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
		mux.Handle("GET "+schemaSDLPath, chain(s.schemaSDL(), s.limitRequest, s.authenticate, s.limitRate))
	}
	return chain(mux, s.requestID, s.traceRequests, s.accessLog, noStore, s.cors)
}

// graphqlHandler builds the gqlgen handler: explicit transports (websocket, SSE, then
// custodia's GraphQL-over-HTTP for GET and POST), and the extensions in the order a request meets
// them — before parsing (allow-list or persisted queries, boundDocument), after validation
// (operationGate: policy and limits), around the response (metrics, tracing, audit, role
// messages, timeouts) and, only for operations that introspect, around fields (role introspection).
func (s *Server) graphqlHandler() *handler.Server {
	writes := maintenance.New(s.Store, s.Trail, s.cfg.Now)
	writes.OnEvent = s.Watches.Hub.Publish // this instance's watchers hear of its writes at once
	writes.Policy = s.Policy
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: s.Store, Grants: s.Grants, Trail: s.Trail,
		Maintenance: writes, Watches: s.Watches, Connection: connectionOf, Refused: s.auditRefusedSubscription, Policy: s.Policy, Now: s.cfg.Now}})
	h := handler.New(es)
	h.AddTransport(s.websocketTransport())
	h.AddTransport(sseTransport{s: s, sse: transport.SSE{KeepAlivePingInterval: 15 * time.Second}})
	h.AddTransport(graphqlHTTP{s: s}) // GET and POST; every error through writeResponse
	cache := newDocumentCache()
	h.SetQueryCache(cache)
	h.SetParserTokenLimit(s.limits.Tokens)
	h.SetDisableSuggestion(true) // suggestions come from the caller's role schema (roleMessages)
	costs := newCosts(es.Schema(), s.limits.Complexity)
	if s.cfg.Introspection {
		h.Use(extension.Introspection{})
	}
	if s.allowList != nil {
		h.Use(*s.allowList) // only registered operations; no automatic persisting
	} else {
		h.Use(persistedQueries{extension.AutomaticPersistedQuery{Cache: newPersistedTexts()}})
	}
	// Before parsing and validation (after the allow-list or APQ has supplied the text).
	h.Use(boundDocument{limits: s.limits, schema: es.Schema(), costs: costs, cache: cache, policy: s.Policy})
	h.Use(operationGate{limits: s.limits, schema: es.Schema(), costs: costs, policy: s.Policy, metrics: s.Metrics})
	h.Use(boundOperations{timeout: s.limits.Timeout}) // REQUEST_TIMEOUT on every transport
	h.Use(requestMetrics{metrics: s.Metrics})
	h.Use(traceOperations{tracer: s.tracer})
	h.Use(auditOperations{trail: s.audit, metrics: s.Metrics, log: s.log})
	h.Use(roleMessages{policy: s.Policy, present: s.presenter})
	h.Use(timeoutResponses{})                  // innermost: the audit entry records the timeout
	h.Use(roleIntrospection{policy: s.Policy}) // a field middleware only for operations that introspect
	h.SetErrorPresenter(s.presenter)
	h.SetRecoverFunc(func(ctx context.Context, v any) error {
		s.log.ErrorContext(ctx, "panic in resolver", "request_id", requestIDFrom(ctx), "panic", fmt.Sprint(v))
		return errors.New("internal error")
	})
	return h
}
