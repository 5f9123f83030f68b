package app

import (
	"net/http"

	"custodia/apperr"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
)

// schemaSDLPath serves the caller's role schema as SDL, for frontend code generators.
const schemaSDLPath = "/schema.graphql"

// schemaSDL answers GET /schema.graphql with the SDL of the caller's role (policy.SDLFor): the
// same schema introspection shows that role. It needs a valid token but no active grant (like
// introspection), is served only where introspection is enabled, and is audited like an
// operation: the entry is written before the schema leaves the server, or the caller gets
// SERVICE_UNAVAILABLE.
func (s *Server) schemaSDL() http.Handler {
	sdl := make(map[model.Role][]byte, len(model.AllRole))
	for _, r := range model.AllRole {
		sdl[r] = []byte(s.Policy.SDLFor(r))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			s.refuse(w, r, apperr.New(apperr.Unauthenticated, "authentication required"))
			return
		}
		body, ok := sdl[p.Role]
		if !ok {
			s.refuse(w, r, apperr.New(apperr.Forbidden, "no schema for role %q", p.Role))
			return
		}
		name := "GET " + schemaSDLPath
		e := &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Coordinates: []string{"Query.__schema"}}
		grants.Actor(p, e)
		stampOutcome(r.Context(), e, "")
		if err := s.audit.Append(r.Context(), e); err != nil {
			s.Metrics.AuditFailures.Inc()
			s.log.ErrorContext(r.Context(), "audit entry not written: schema withheld", "request_id", requestIDFrom(r.Context()), "error", causeOf(err))
			s.endpointError(w, r, apperr.New(apperr.ServiceUnavailable, "the request could not be recorded in the audit trail, so no schema is returned; retry shortly"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", `inline; filename="custodia-`+string(p.Role)+`.graphql"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	})
}
