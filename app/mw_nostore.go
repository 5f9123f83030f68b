package app

import (
	"net/http"
)

// noStore marks every /query response (CORS preflights included) as not to be stored by any
// cache: answers hold personal data and depend on the caller's token.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/query" {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
