package app

import (
	"errors"
	"net/http"

	"custodia/apperr"
	"custodia/auth"
	"custodia/store"
)

// checkGrant looks up the principal's active access grant (DESIGN §5). Without one, the
// reason is kept on the principal: the access policy then lets only grant self-service
// operations run. If the grants cannot be read at all, the request fails closed with 503
// (500 when a grant document is corrupt).
func (s *Server) checkGrant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.Grants.Check(r.Context(), p); err != nil {
			if code := apperr.CodeOf(err); code == apperr.ServiceUnavailable || code == apperr.Internal {
				// A grant document edited into one custodia never writes stays INTERNAL: a retry
				// cannot help. Any other failure to read the grants is the database's (503).
				var corrupt *store.CorruptError
				if code == apperr.Internal && !errors.As(err, &corrupt) {
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
