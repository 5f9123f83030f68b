package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/graph"
	"custodia/maintenance"
	"custodia/metrics"
	"custodia/model"
	"custodia/policy"
	"custodia/resolvers"
	"custodia/selection"
)

// graphqlHandler builds the gqlgen handler with explicit transports and extensions.
func (s *Server) graphqlHandler() *handler.Server {
	writes := maintenance.New(s.Store, s.Trail, s.cfg.Now)
	writes.OnEvent = s.Watches.Hub.Publish // this instance's watchers hear of its writes at once
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
	costs := newCosts(es.Schema())
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
	h.Use(requestMetrics{metrics: s.Metrics})
	h.Use(traceOperations{tracer: s.tracer})
	h.Use(auditOperations{trail: s.audit, metrics: s.Metrics, log: s.log})
	h.Use(roleMessages{policy: s.Policy, present: s.presenter})
	h.Use(timeoutResponses{}) // innermost: the audit entry records the timeout
	h.AroundFields(roleIntrospection(s.Policy))
	h.SetErrorPresenter(s.presenter)
	h.SetRecoverFunc(func(ctx context.Context, v any) error {
		s.log.ErrorContext(ctx, "panic in resolver", "request_id", requestIDFrom(ctx), "panic", fmt.Sprint(v))
		return errors.New("internal error")
	})
	return h
}

// operationGate decides, after validation and before execution, whether the operation runs.
// One walk of the operation (package selection) gives both the coordinates it selects and its
// measure: it is refused with COMPLEXITY_LIMIT_EXCEEDED when too deep, too wide, too aliased or
// too complex for this request's variables, then with the grant error or one FORBIDDEN error
// listing every coordinate the role may not use (package policy) — and no data either way.
type operationGate struct {
	limits  Limits
	schema  *ast.Schema
	costs   costs
	policy  *policy.Policy
	metrics *metrics.Metrics
}

var (
	_ graphql.HandlerExtension        = operationGate{}
	_ graphql.OperationContextMutator = operationGate{}
)

func (operationGate) ExtensionName() string                          { return "OperationGate" }
func (operationGate) Validate(schema graphql.ExecutableSchema) error { return nil }

func (g operationGate) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if err := expired(ctx); err != nil {
		return err
	}
	p := auth.FromContext(ctx)
	if p == nil {
		e := apperr.New(apperr.Unauthenticated, "authentication required")
		return &gqlerror.Error{Message: e.Message, Err: e}
	}
	check := g.policy.NewChecker(p.Role, rc.Doc, rc.Variables)
	var roots []string
	w := selection.Walker{Schema: g.schema, Doc: rc.Doc, Lists: g.costs.lists, Fixed: g.costs.fixed, Vars: rc.Variables, MissingFragment: check.MissingFragment,
		Visit: func(f selection.Field) {
			check.Visit(f)
			if f.Root {
				roots = append(roots, f.Node.Name)
			}
		}}
	measure := w.Operation(rc.Operation)
	audit.RecordFrom(ctx).SetCoordinates(check.Selected())
	if refused := g.limits.refuseOperation(measure); refused != nil {
		return refused
	}
	if p.GrantErr != nil && !grantSelfService(roots) {
		return &gqlerror.Error{Message: p.GrantErr.Error(), Err: p.GrantErr}
	}
	denied := check.Denied()
	if len(denied) == 0 {
		return nil
	}
	g.metrics.Denials.WithLabelValues(string(p.Role)).Inc()
	e := apperr.New(apperr.Forbidden, "role %s may not read %s", p.Role, strings.Join(denied, ", ")).With("deniedCoordinates", denied)
	return &gqlerror.Error{Message: e.Message, Err: e}
}

// roleIntrospection serves __schema and __type from the caller's role schema, so
// introspection (and GraphiQL's docs and autocompletion) shows only what the role may read.
func roleIntrospection(pol *policy.Policy) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Query" || (fc.Field.Name != "__schema" && fc.Field.Name != "__type") {
			return next(ctx)
		}
		if graphql.GetOperationContext(ctx).DisableIntrospection {
			return nil, apperr.New(apperr.Forbidden, "introspection is disabled on this server")
		}
		p := auth.FromContext(ctx)
		if p == nil {
			return nil, apperr.New(apperr.Unauthenticated, "authentication required")
		}
		schema := pol.SchemaFor(p.Role)
		if fc.Field.Name == "__schema" {
			return introspection.WrapSchema(schema), nil
		}
		name, _ := fc.Args["name"].(string)
		def := schema.Types[name]
		if def == nil {
			return nil, nil
		}
		return introspection.WrapTypeFromDef(schema, def), nil
	}
}

// requestMetrics records latency by operation (errors are counted by writeResponse, which
// sees every response).
type requestMetrics struct{ metrics *metrics.Metrics }

var _ graphql.ResponseInterceptor = requestMetrics{}

func (requestMetrics) ExtensionName() string                          { return "RequestMetrics" }
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

// grantSelfServiceFields are the root fields an official may use without an active grant: to
// see who they are and their grants, to request access and to re-confirm a suspended grant.
var grantSelfServiceFields = map[string]bool{
	"me": true, "myAccessGrants": true, "requestAccess": true, "reconfirmAccessGrant": true,
	"__typename": true, "__schema": true, "__type": true,
}

func grantSelfService(roots []string) bool {
	for _, f := range roots {
		if !grantSelfServiceFields[f] {
			return false
		}
	}
	return true
}

// auditOperations writes one audit entry per operation — allowed, denied or failed — before
// the response leaves the server. If the entry cannot be written the caller gets
// SERVICE_UNAVAILABLE and none of the data (fail closed).
type auditOperations struct {
	trail   *auditAppender
	metrics *metrics.Metrics
	log     *slog.Logger
}

var _ graphql.ResponseInterceptor = auditOperations{}

func (auditOperations) ExtensionName() string                          { return "AuditTrail" }
func (auditOperations) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a auditOperations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	if graphql.HasOperationContext(ctx) && graphql.GetOperationContext(ctx).Operation != nil &&
		graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription && len(resp.Errors) == 0 {
		return resp // a delivered event: package watch audited it as a disclosure before sending
	}
	e := &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed}
	grants.Actor(auth.FromContext(ctx), e)
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if name := operationName(oc); name != "" {
			e.OperationName = &name
		}
		sum := sha256.Sum256([]byte(oc.RawQuery))
		hash := hex.EncodeToString(sum[:])
		e.OperationHash = &hash
	}
	audit.RecordFrom(ctx).Fill(e)
	var code apperr.Code
	if len(resp.Errors) > 0 {
		code = errorCode(resp.Errors[0])
	}
	stampOutcome(ctx, e, code)
	if err := a.trail.Append(ctx, e); err != nil {
		a.metrics.AuditFailures.Inc()
		a.log.ErrorContext(ctx, "audit entry not written: response withheld", "request_id", requestIDFrom(ctx), "error", causeOf(err))
		unavailable := apperr.New(apperr.ServiceUnavailable, "the request could not be recorded in the audit trail, so no data is returned; retry shortly")
		return &graphql.Response{Errors: gqlerror.List{{Message: unavailable.Message, Extensions: map[string]any{"code": string(apperr.ServiceUnavailable), "requestId": requestIDFrom(ctx)}}}}
	}
	return resp
}

// causeOf is the innermost message of an error, for logs (an *apperr.Error's caller-facing
// message hides the cause).
func causeOf(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) && e.Cause != nil {
		return e.Cause.Error()
	}
	return err.Error()
}
