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
// verified and its grant checked like a /query request's.
func (s *Server) websocketTransport() transport.Websocket {
	return transport.Websocket{
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
	}
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
