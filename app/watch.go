package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/loaders"
	"custodia/model"
)

// websocketTransport is graphql-transport-ws (and the older graphql-ws). The token comes from
// the upgrade request's Authorization header or, for clients that cannot set headers (browsers),
// from connection_init's payload {"Authorization": "Bearer …", "X-Role": "…"}; either way it is
// verified and its grant checked like a /query request's — at connection_init, and again for
// every operation the connection carries (connectionExecutor).
func (s *Server) websocketTransport() graphql.Transport {
	return connectionTransport{s: s, Websocket: transport.Websocket{
		// A message is bounded like a /query body (gqlgen's default is 1 MiB); a larger one
		// closes the connection.
		PayloadReadLimit:      &s.limits.BodyBytes,
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: 15 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if auth.FromContext(ctx) != nil {
				return ctx, nil, nil // authenticated by the upgrade request's header
			}
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/query", nil)
			r.Header.Set("Authorization", payload.Authorization())
			if role := payload.GetString("X-Role"); role != "" {
				r.Header.Set("X-Role", role)
			}
			p, err := s.verifier.Authenticate(r)
			if err != nil {
				s.auditRefusedStream(ctx, claimedSubject(r), err)
				return ctx, nil, err
			}
			ctx = context.WithValue(ctx, connectionCredentialsKey{}, r.Header)
			if err := s.Grants.Check(ctx, p); err != nil {
				if c := apperr.CodeOf(err); c == apperr.ServiceUnavailable || c == apperr.Internal {
					return ctx, nil, apperr.Unavailable(err)
				}
				p.GrantErr = err
			}
			ctx = auth.WithPrincipal(ctx, p)
			ctx, _ = audit.WithRecord(loaders.With(ctx, loaders.New(s.Store, grants.Scope(p))))
			return ctx, nil, nil
		},
	}}
}

// connectionTransport is the websocket transport with connectionExecutor between it and the
// executor.
type connectionTransport struct {
	transport.Websocket
	s *Server
}

func (t connectionTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Websocket.Do(w, r, connectionExecutor{GraphExecutor: exec, s: t.s})
}

// connectionCredentialsKey carries, on a websocket connection authenticated at
// connection_init, the headers its payload stood for (Authorization, X-Role).
type connectionCredentialsKey struct{}

// connectionRequestKey is the operation context's Stats extension holding the request
// (principal, loaders, audit record) connectionExecutor made for the operation.
const connectionRequestKey = "custodia.connectionRequest"

// connectionRequest is what the HTTP middlewares give a /query request, made for one
// operation of a connection.
type connectionRequest struct {
	principal *auth.Principal
	loaders   *loaders.Loaders
	record    *audit.Record
}

func (c connectionRequest) attach(ctx context.Context) context.Context {
	return audit.WithExistingRecord(loaders.With(auth.WithPrincipal(ctx, c.principal), c.loaders), c.record)
}

// connectionExecutor makes every operation on a websocket connection a request of its own, as
// authenticate, checkGrant and withLoaders make a /query request: the connection's token is
// verified again (the verified-token cache makes that a lookup; an expired token or a
// withdrawn key leaves the operation unauthenticated), its grant is checked again, and the
// operation gets loaders scoped by the grant as it is now and its own audit record. Without
// it a connection kept, for as long as it stayed open, the grant and the caseload it had at
// connection_init — a revoked official went on reading persons over it — and its operations
// shared one loader cache and one audit record.
type connectionExecutor struct {
	graphql.GraphExecutor
	s *Server
}

func (e connectionExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	req := e.s.connectionRequest(ctx, params.Headers)
	if err := e.s.overRate(req.principal); err != nil {
		// Refused like a /query request over the rate: the audit entry is written as the
		// refusal's response passes the response interceptors (DispatchError).
		return nil, gqlerror.List{e.s.presenter(req.attach(ctx), err)}
	}
	rc, errs := e.GraphExecutor.CreateOperationContext(req.attach(ctx), params)
	if rc != nil {
		rc.Stats.SetExtension(connectionRequestKey, req)
	}
	return rc, errs
}

func (e connectionExecutor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	req, ok := rc.Stats.GetExtension(connectionRequestKey).(connectionRequest)
	if !ok {
		req = connectionRequest{} // never made: no principal, so the operation is refused
	}
	return e.GraphExecutor.DispatchOperation(req.attach(ctx), rc)
}

// connectionRequest authenticates one operation of a connection with the credentials of its
// connection_init (or of its upgrade request's headers) and checks the grant. A token no
// longer valid gives no principal (the operation gate answers UNAUTHENTICATED); grants that
// cannot be read leave the principal without a grant (SERVICE_UNAVAILABLE).
func (s *Server) connectionRequest(ctx context.Context, upgrade http.Header) connectionRequest {
	creds, ok := ctx.Value(connectionCredentialsKey{}).(http.Header)
	if !ok {
		creds = upgrade
	}
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/query", nil)
	r.Header.Set("Authorization", creds.Get("Authorization"))
	if role := creds.Get("X-Role"); role != "" {
		r.Header.Set("X-Role", role)
	}
	p, err := s.verifier.Authenticate(r)
	if err != nil {
		p = nil
	} else if err := s.Grants.Check(ctx, p); err != nil {
		if c := apperr.CodeOf(err); c == apperr.Internal {
			err = apperr.Unavailable(err)
		}
		p.GrantErr = err
	}
	_, record := audit.WithRecord(ctx)
	return connectionRequest{principal: p, loaders: loaders.New(s.Store, grants.Scope(p)), record: record}
}

// auditRefusedStream records a websocket connection refused at connection_init, with the
// subject its token claimed (unverified), like every refused request.
func (s *Server) auditRefusedStream(ctx context.Context, claimed string, err error) {
	e := &model.AuditEntry{Kind: model.AuditKindOperation}
	if claimed != "" {
		e.Subject = &claimed
	}
	stampOutcome(ctx, e, apperr.CodeOf(err))
	if auditErr := s.audit.Append(ctx, e); auditErr != nil {
		s.Metrics.AuditFailures.Inc()
		s.log.ErrorContext(ctx, "audit entry of a refused subscription connection not written", "request_id", requestIDFrom(ctx), "error", causeOf(auditErr))
	}
}

// sseTransport is gqlgen's Server-Sent Events transport behind custodia's request decoding:
// a body that is not one GraphQL request is answered BAD_REQUEST by writeResponse, never with
// a message quoting it (gqlgen's own SSE error would).
type sseTransport struct {
	s   *Server
	sse transport.SSE
}

var _ graphql.Transport = sseTransport{}

func (t sseTransport) Supports(r *http.Request) bool { return t.sse.Supports(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	var params graphql.RawParams
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		err = dec.Decode(&params)
	}
	if err != nil || params.Query == "" {
		e := badRequest("the body must be one JSON object with a query (a subscription)")
		if err != nil && strings.Contains(err.Error(), "too large") {
			e = apperr.New(apperr.PayloadTooLarge, "the request body is larger than %d bytes", t.s.limits.BodyBytes)
		}
		t.s.writeResponse(w, r, exec.DispatchError(r.Context(), gqlerror.List{asGQLError(e)}))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.sse.Do(w, r, exec)
}

// connectionOf is the request ID and client address of the request (or websocket connection)
// ctx belongs to, for the audit entries of deliveries.
func connectionOf(ctx context.Context) (string, string) { return requestIDFrom(ctx), clientFrom(ctx) }

// auditRefusedSubscription records a subscription refused when it was opened (NOT_FOUND,
// FORBIDDEN, TOO_MANY_SUBSCRIPTIONS…), with the persons and purpose it named.
func (s *Server) auditRefusedSubscription(ctx context.Context, operation string, err error) {
	e := &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &operation}
	grants.Actor(auth.FromContext(ctx), e)
	audit.RecordFrom(ctx).Fill(e)
	e.PersonIDs = nil // named, not disclosed
	stampOutcome(ctx, e, apperr.CodeOf(err))
	if auditErr := s.audit.Append(context.WithoutCancel(ctx), e); auditErr != nil {
		s.Metrics.AuditFailures.Inc()
		s.log.ErrorContext(ctx, "audit entry of a refused subscription not written", "request_id", requestIDFrom(ctx), "error", causeOf(auditErr))
	}
}
