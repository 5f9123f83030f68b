package app

import (
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/auth"
)

// authenticate verifies the bearer token; failures are HTTP 401 with UNAUTHENTICATED, and so
// are ambiguous credentials (fail closed): two Authorization headers, or a token also in the
// URL or a cookie, where it could be logged, cached or sent by a browser on its own.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if isWebsocket(r) && r.Header.Get("Authorization") == "" && ambiguousCredentials(r) == "" {
			next.ServeHTTP(w, r) // the token comes in connection_init (websocketTransport)
			return
		}
		var p *auth.Principal
		var err error
		if problem := ambiguousCredentials(r); problem != "" {
			err = apperr.New(apperr.Unauthenticated, "authentication required: %s", problem).With("reason", "ambiguous credentials")
		} else {
			p, err = s.verifier.Authenticate(r)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="custodia"`)
			s.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// credentialNames are URL parameters and cookies that carry a token by common convention.
var credentialNames = map[string]bool{"access_token": true, "id_token": true, "token": true, "jwt": true,
	"bearer": true, "authorization": true, "auth": true}

// jwtShape matches a compact JWS (three base64url parts, the header starting with '{"').
var jwtShape = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// ambiguousCredentials says what makes the request's credentials ambiguous ("" if nothing).
func ambiguousCredentials(r *http.Request) string {
	if len(r.Header.Values("Authorization")) > 1 {
		return "send exactly one Authorization header"
	}
	if len(r.Header.Values("X-Role")) > 1 {
		return "send at most one X-Role header"
	}
	for name, values := range r.URL.Query() {
		if credentialNames[strings.ToLower(name)] {
			return "credentials in the URL are refused; send only the Authorization header"
		}
		for _, v := range values {
			if jwtShape.MatchString(v) {
				return "credentials in the URL are refused; send only the Authorization header"
			}
		}
	}
	for _, c := range r.Cookies() {
		if credentialNames[strings.ToLower(c.Name)] || jwtShape.MatchString(c.Value) {
			return "credentials in a cookie are refused; send only the Authorization header"
		}
	}
	return ""
}

// claimedSubject is the sub claim of the request's bearer token read WITHOUT verification —
// evidence for the audit trail of whom a refused token claimed to be, never an identity.
func claimedSubject(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(raw) > 16<<10 {
		return ""
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(raw), claims); err != nil {
		return ""
	}
	sub, _ := claims["sub"].(string)
	if !utf8.ValidString(sub) {
		return ""
	}
	if len(sub) > 200 {
		sub = strings.ToValidUTF8(sub[:200], "")
	}
	return sub
}
