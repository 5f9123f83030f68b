package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"custodia/app"
	"custodia/audit"
)

// ProductionIssuer and ProductionAudience are the iss and aud production test servers expect.
const (
	ProductionIssuer   = "https://idp.justice.example"
	ProductionAudience = "custodia"
)

// NewProduction starts a server in production mode: an identity provider's Ed25519 key (its
// private half is returned, to sign tokens), an audit signing key provided beforehand, no demo
// data, no development key, and GraphiQL and introspection off unless opts.Mutate turns them on.
func NewProduction(t testing.TB, opts Options) (*Env, ed25519.PrivateKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	mutate := opts.Mutate
	opts.Mutate = func(c *app.Config) {
		c.Mode, c.JWTPublicKeyFile, c.JWTIssuer, c.JWTAudience = app.Production, keyFile, ProductionIssuer, ProductionAudience
		c.GraphiQL, c.Introspection = false, false
		// Production never creates its audit signing key; the deployment provides it.
		if _, err := audit.LoadOrCreateKey(c.AuditSigningKeyFile); err != nil {
			t.Fatalf("audit signing key: %v", err)
		}
		if mutate != nil {
			mutate(c)
		}
	}
	return New(t, opts), key
}
