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

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/internal/testidp"
	"custodia/model"
	"custodia/seed"
)

// TestProductionWithAnIdentityProvider runs production mode against a local OpenID Connect
// provider found by discovery, with Keycloak-shaped tokens whose lower-case realm roles are
// mapped: /readyz is 503 while no verification key is held and 200 once the provider
// answers, and a mapped token reads data through the real handler.
func TestProductionWithAnIdentityProvider(t *testing.T) {
	t.Parallel()
	dev := testenv.New(t, testenv.Options{Persons: 10}) // a database with the demo grants
	idp := testidp.New(t, "kc-1")
	idp.SetDown(true)
	roleMap, err := auth.ParseRoleMap("court=COURT,police=POLICE")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{Mode: app.Production, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: dev.Config.MongoURI,
		MongoDatabase: dev.Config.MongoDatabase, JWTDiscovery: true, JWTIssuer: idp.Issuer(), JWTAudience: "custodia",
		JWKSMinRefreshInterval: 100 * time.Millisecond, RoleMap: roleMap,
		Claims:    auth.ClaimNames{Agency: "org.agency", Roles: "realm_access.roles,resource_access.custodia.roles"},
		DBTimeout: 2 * time.Second, Now: func() time.Time { return testenv.Today }}
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
	deadline := time.Now().Add(5 * time.Second)
	status := 0
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if status, _ = getStatus(hs.URL + "/readyz"); status == http.StatusOK {
			break
		}
	}
	if status != http.StatusOK {
		t.Fatalf("/readyz once the provider answers: %d, want 200", status)
	}

	o, _ := seed.OfficialFor(model.RoleCourt)
	claims := testidp.KeycloakClaims(o.Subject, o.Agency, []string{"court", "offline_access", "uma_authorization"}, nil)
	claims["name"], claims["preferred_username"], claims["email"] = o.Name, o.Username, o.Email
	token := idp.Token(t, "kc-1", "custodia", claims)
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/query", strings.NewReader(`{"query":"{ prisons { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Prisons []struct{ ID string } `json:"prisons"`
		} `json:"data"`
		Errors []testenv.GQLError `json:"errors"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK || len(body.Errors) > 0 || len(body.Data.Prisons) == 0 {
		t.Errorf("a Keycloak token with the mapped role court: %d %s", resp.StatusCode, raw)
	}
}
