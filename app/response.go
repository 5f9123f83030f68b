package app

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
)

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

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
