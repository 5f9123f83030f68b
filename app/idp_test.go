package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/internal/testidp"
	"custodia/model"
	"custodia/seed"
)

// TestProductionWithAnIdentityProvider runs production mode against a local OpenID Connect
// provider found by discovery, once shaped like Keycloak (lower-case realm roles, nested
// agency) and once like Entra ID (app roles, oid as subject), both with a role mapping table:
// /readyz is 503 while no verification key is held and 200 once the provider answers, and a
// mapped token of the demo court official reads data through the real handler.
func TestProductionWithAnIdentityProvider(t *testing.T) {
	t.Parallel()
	dev := testenv.New(t, testenv.Options{Persons: 10}) // a database with the demo grants
	o, _ := seed.OfficialFor(model.RoleCourt)
	cases := []struct {
		name    string
		claims  auth.ClaimNames
		roleMap string
		token   jwt.MapClaims
	}{
		{name: "Keycloak", roleMap: "court=COURT,police=POLICE",
			claims: auth.ClaimNames{Agency: "org.agency", Roles: "realm_access.roles,resource_access.custodia.roles"},
			token: func() jwt.MapClaims {
				c := testidp.KeycloakClaims(o.Subject, o.Agency, []string{"offline_access", "uma_authorization"}, []string{"court"})
				c["name"], c["preferred_username"], c["email"] = o.Name, o.Username, o.Email
				return c
			}()},
		{name: "Entra ID", roleMap: "Custodia.Court=COURT,Custodia.Police=POLICE",
			claims: auth.ClaimNames{Subject: "oid", Agency: "extension_agency"},
			token: func() jwt.MapClaims {
				c := testidp.EntraClaims(o.Subject, o.Agency, []string{"Custodia.Court"})
				c["name"], c["preferred_username"], c["email"] = o.Name, o.Username, o.Email
				return c
			}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			idp := testidp.New(t, "k-1")
			idp.SetDown(true)
			roleMap, err := auth.ParseRoleMap(c.roleMap)
			if err != nil {
				t.Fatal(err)
			}
			cfg := app.Config{Mode: app.Production, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: dev.Config.MongoURI,
				MongoDatabase: dev.Config.MongoDatabase, JWTDiscovery: true, JWTIssuer: idp.Issuer(), JWTAudience: "custodia",
				JWKSMinRefreshInterval: 100 * time.Millisecond, RoleMap: roleMap, Claims: c.claims,
				DBTimeout: 2 * time.Second, Now: func() time.Time { return testenv.Today },
				AuditSigningKeyFile: testenv.AuditKeyFile(t, dev.Config.MongoDatabase)}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			srv, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()

			if status, _ := getStatus(hs.URL + "/readyz"); status != http.StatusServiceUnavailable {
				t.Errorf("/readyz without any verification key: %d, want 503", status)
			}
			idp.SetDown(false)
			status := 0
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if status, _ = getStatus(hs.URL + "/readyz"); status == http.StatusOK {
					break
				}
			}
			if status != http.StatusOK {
				t.Fatalf("/readyz once the provider answers: %d, want 200", status)
			}

			req, _ := http.NewRequest(http.MethodPost, hs.URL+"/query", strings.NewReader(`{"query":"{ me { subject role agency } prisons { id } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+idp.Token(t, "k-1", "custodia", c.token))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Data struct {
					Me struct {
						Subject, Role, Agency string
					} `json:"me"`
					Prisons []struct{ ID string } `json:"prisons"`
				} `json:"data"`
				Errors []testenv.GQLError `json:"errors"`
			}
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
			if resp.StatusCode != http.StatusOK || len(body.Errors) > 0 || len(body.Data.Prisons) == 0 {
				t.Fatalf("a %s token with a mapped court role: %d %s", c.name, resp.StatusCode, raw)
			}
			if me := body.Data.Me; me.Subject != o.Subject || me.Role != "COURT" || me.Agency != o.Agency {
				t.Errorf("me: %+v, want %s COURT %s", me, o.Subject, o.Agency)
			}
		})
	}
}
