package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/metrics"
	"custodia/model"
)

// auditOperations writes one audit entry per operation — allowed, denied or failed — before
// the response leaves the server. If the entry cannot be written the caller gets
// SERVICE_UNAVAILABLE and none of the data (fail closed).
type auditOperations struct {
	trail   *auditAppender
	metrics *metrics.Metrics
	log     *slog.Logger
}

var _ graphql.ResponseInterceptor = auditOperations{}

func (auditOperations) ExtensionName() string { return "AuditTrail" }

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
