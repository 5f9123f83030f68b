package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

func TestProductionRefusesToStartHalfConfigured(t *testing.T) {
	t.Parallel()
	full := app.Config{Mode: app.Production, MongoURI: "mongodb://db:27017", JWTPublicKeyFile: "/keys.pem", JWTIssuer: "https://idp", JWTAudience: "custodia",
		AuditSigningKeyFile: "/keys/audit-signing.key"}
	cases := []struct {
		name    string
		edit    func(*app.Config)
		missing string
	}{
		{"no database", func(c *app.Config) { c.MongoURI = "" }, "MONGODB_URI"},
		{"no keys", func(c *app.Config) { c.JWTPublicKeyFile = "" }, "JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL"},
		{"no issuer", func(c *app.Config) { c.JWTIssuer = "" }, "JWT_ISSUER"},
		{"no audience", func(c *app.Config) { c.JWTAudience = "" }, "JWT_AUDIENCE"},
		{"the development issuer", func(c *app.Config) { c.JWTIssuer = auth.DevIssuer }, "development token issuer"},
		{"a JWKS URL over plain http", func(c *app.Config) { c.JWTJWKSURL = "http://idp.justice.example/certs" }, "https JWT_JWKS_URL"},
		{"discovery from a plain http issuer", func(c *app.Config) {
			c.JWTPublicKeyFile, c.JWTDiscovery, c.JWTIssuer = "", true, "http://idp.justice.example"
		}, "https JWT_ISSUER"},
		{"no audit signing key", func(c *app.Config) { c.AuditSigningKeyFile = "" }, "AUDIT_SIGNING_KEY_FILE"},
		{"audit retention under three years", func(c *app.Config) { c.AuditRetention = 1000 * 24 * time.Hour }, "three years"},
	}
	if err := full.Validate(); err != nil {
		t.Fatalf("a complete production configuration: %v", err)
	}
	for _, c := range cases {
		cfg := full
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.missing) {
			t.Errorf("%s: want an error naming %s, got %v", c.name, c.missing, err)
		}
	}
}

// TestProductionNeverTrustsTheDevelopmentKey runs production mode against the test database
// with the identity provider's key: its tokens work, development tokens do not, and nothing
// is seeded.
func TestProductionNeverTrustsTheDevelopmentKey(t *testing.T) {
	t.Parallel()
	dev := testenv.New(t, testenv.Options{Persons: 10}) // a database with demo grants, and a dev key
	pub, idpKey, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	keyFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{Mode: app.Production, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: dev.Config.MongoURI,
		MongoDatabase: dev.Config.MongoDatabase, JWTPublicKeyFile: keyFile, JWTIssuer: "https://idp.justice.example",
		JWTAudience: "custodia", Claims: auth.DefaultClaimNames, DBTimeout: 2 * time.Second, Now: func() time.Time { return testenv.Today },
		AuditSigningKeyFile: testenv.AuditKeyFile(t, dev.Config.MongoDatabase)}
	srv, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.DevKey != nil {
		t.Fatal("production mode must not load a development key")
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	post := func(token string, query ...string) (int, string) {
		body := `{"query":"{ prisons { id } }"}`
		if len(query) > 0 {
			body = query[0]
		}
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/query", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if status, body := post(dev.Token(model.RoleCourt)); status != http.StatusUnauthorized {
		t.Errorf("a development token in production: %d %s", status, body)
	}
	o, _ := seed.OfficialFor(model.RoleCourt)
	claims := jwt.MapClaims{"iss": "https://idp.justice.example", "aud": "custodia", "sub": o.Subject, "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "name": o.Name, "preferred_username": o.Username, "email": o.Email, "agency": o.Agency, "roles": []string{"COURT"}}
	token, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(idpKey)
	if status, body := post(token); status != http.StatusOK || strings.Contains(body, "errors") {
		t.Errorf("an identity-provider token in production: %d %s", status, body)
	}
	if _, body := post(token, `{"query":"{ __schema { types { name } } }"}`); !strings.Contains(body, "introspection is disabled") || strings.Contains(body, `"Person"`) {
		t.Errorf("introspection must be off in production: %s", body)
	}
	if status, _ := getStatus(hs.URL + "/"); status != http.StatusNotFound {
		t.Errorf("GraphiQL must be off in production, got %d", status)
	}
}

func getStatus(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
