package app

import (
	"context"
	"net/http"

	"custodia/apperr"
)

// limitRequest bounds the body size and the time a request may take. A body announced larger
// than the limit is refused at once; a chunked one is cut at the limit by the reader, and the
// transport answers PAYLOAD_TOO_LARGE (HTTP 413) too.
func (s *Server) limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.limits.BodyBytes {
			s.refuse(w, r, apperr.New(apperr.PayloadTooLarge, "the request body is larger than %d bytes", s.limits.BodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.limits.BodyBytes)
		if isStream(r) { // a subscription lives until it ends or the client leaves
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.limits.Timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
