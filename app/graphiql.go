package app

import (
	"net/http"
	"time"

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

// DevOfficial is one entry of the development sign-in list.
type DevOfficial struct {
	Role    string `json:"role"`
	Subject string `json:"subject"`
	Name    string `json:"name"`
	Agency  string `json:"agency"`
	Token   string `json:"token"`
}

// devOfficials answers GET /dev/officials with every demo official and a token for each,
// signed with the development key (valid 8 hours, like `go run . token`).
func (s *Server) devOfficials() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list := make([]DevOfficial, 0, len(seed.Officials))
		for _, o := range seed.Officials {
			token, err := s.DevKey.Sign(o.Identity, 8*time.Hour)
			if err != nil {
				s.log.Error("development token not signed", "error", err.Error())
				writeError(w, http.StatusInternalServerError, err)
				return
			}
			list = append(list, DevOfficial{Role: string(o.Role), Subject: o.Subject, Name: o.Name, Agency: o.Agency, Token: token})
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"officials": list})
	})
}
