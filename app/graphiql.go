package app

import (
	"net/http"
	"net/url"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/seed"
	"custodia/web"
)

// devSignInPath lists the demo officials with fresh tokens for GraphiQL's sign-in picker.
const devSignInPath = "/dev/officials"

// devSignIn reports whether the development sign-in is offered: only in development mode, and
// only while the server verifies tokens with its development key (so the tokens it mints work).
// It is never registered in production.
func (s *Server) devSignIn() bool {
	return s.cfg.Mode == Development && s.DevKey != nil &&
		s.cfg.JWTPublicKeyFile == "" && s.cfg.JWTJWKSURL == "" && s.cfg.JWTHS256Secret == ""
}

// graphiqlPage is GraphiQL served from the binary (package web): the sign-in picker and
// persisted headers in development, neither in production.
func (s *Server) graphiqlPage() http.Handler {
	cfg := web.PageConfig{Endpoint: "query"}
	if s.devSignIn() {
		cfg.DevSignIn = devSignInPath[1:] // relative to the page
	}
	cfg.PersistHeaders = s.cfg.Mode == Development
	return web.GraphiQL(cfg)
}

// endpointError answers a request to an endpoint other than /query (which answers through
// writeResponse) with a GraphQL-shaped error body, its code's HTTP status whatever the client
// accepts, and the code for the access log and metrics.
func (s *Server) endpointError(w http.ResponseWriter, r *http.Request, err error) {
	gqlErr := s.presenter(r.Context(), err)
	code := errorCode(gqlErr)
	responseInfoFrom(r.Context()).code = string(code)
	status, _ := StatusRule(code)
	writeJSON(w, status, wireResponse{Errors: gqlerror.List{gqlErr}})
}

// sameOrigin reports whether a browser request comes from the server's own pages (requests
// without the browser's Sec-Fetch-Site and Origin headers, e.g. curl, are not cross-site).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// DevOfficial is one entry of the development sign-in list.
type DevOfficial struct {
	Role    string `json:"role"`
	Subject string `json:"subject"`
	Name    string `json:"name"`
	Agency  string `json:"agency"`
	Token   string `json:"token"`
}

// devOfficials answers GET /dev/officials with every demo official and a token for each,
// signed with the development key (valid 8 hours, like `go run . token`). Only the GraphiQL page
// itself may ask: a request from another site (which development's permissive CORS would let
// read the answer) is refused, so a web page a developer visits cannot mint tokens.
func (s *Server) devOfficials() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			s.endpointError(w, r, apperr.New(apperr.Forbidden, "demo tokens are only given to this server's own GraphiQL page"))
			return
		}
		list := make([]DevOfficial, 0, len(seed.Officials))
		for _, o := range seed.Officials {
			token, err := s.DevKey.Sign(o.Identity, 8*time.Hour)
			if err != nil {
				s.endpointError(w, r, err) // INTERNAL: the presenter logs the cause
				return
			}
			list = append(list, DevOfficial{Role: string(o.Role), Subject: o.Subject, Name: o.Name, Agency: o.Agency, Token: token})
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"officials": list})
	})
}
