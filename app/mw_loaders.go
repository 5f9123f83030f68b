package app

import (
	"net/http"

	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/loaders"
)

// withLoaders gives the request its own DataLoaders, scoped by the principal's row rules, and
// its audit record.
func (s *Server) withLoaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := loaders.New(s.Store, grants.Scope(auth.FromContext(r.Context())))
		ctx, _ := audit.WithRecord(loaders.With(r.Context(), l))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
