package app

import (
	"net/http"

	"custodia/apperr"
	"custodia/auth"
)

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
