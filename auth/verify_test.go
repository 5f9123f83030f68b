package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/model"
)

const (
	testIssuer   = "https://idp.justice.example"
	testAudience = "custodia"
)

type keys struct {
	ed    ed25519.PrivateKey
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	other ed25519.PrivateKey
}

func newKeys(t *testing.T) keys {
	t.Helper()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return keys{ed: ed, rsa: r, ec: ec, other: other}
}

// pemFile writes public keys to a PEM file with kid headers.
func pemFile(t *testing.T, pubs map[string]crypto.PublicKey, order []string) string {
	t.Helper()
	var b strings.Builder
	for _, kid := range order {
		der, err := x509.MarshalPKIXPublicKey(pubs[kid])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"kid": kid}, Bytes: der}))
	}
	path := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "u-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": "Jana Nováková", "preferred_username": "jnovakova", "email": "jana@police.example", "agency": "PCR", "roles": []string{"POLICE"}}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func request(token string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/query", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func TestVerifierWithKeyFile(t *testing.T) {
	k := newKeys(t)
	path := pemFile(t, map[string]crypto.PublicKey{"ed": k.ed.Public(), "rsa": k.rsa.Public(), "ec": k.ec.Public()}, []string{"ed", "rsa", "ec"})
	pubs, err := LoadPublicKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), VerifierConfig{PublicKeys: pubs, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	hmacWithPublicKey, _ := x509.MarshalPKIXPublicKey(k.rsa.Public())
	edPub := k.ed.Public().(ed25519.PublicKey)
	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"Ed25519", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(nil)), true},
		{"Ed25519 without kid uses the first key", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(nil)), true},
		{"RS256", sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", claims(nil)), true},
		{"ES256", sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(nil)), true},
		{"expired", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })), false},
		{"expired within leeway", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })), true},
		{"not yet valid", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() })), false},
		{"issued in the future", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() })), false},
		{"without exp", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { delete(c, "exp") })), false},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), false},
		{"without issuer", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { delete(c, "iss") })), false},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["aud"] = "other-api" })), false},
		{"wrong key", sign(t, jwt.SigningMethodEdDSA, k.other, "ed", claims(nil)), false},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, k.ed, "nope", claims(nil)), false},
		{"kid of a key of another type", sign(t, jwt.SigningMethodEdDSA, k.ed, "rsa", claims(nil)), false},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ed", claims(nil)), false},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, hmacWithPublicKey, "rsa", claims(nil)), false},
		{"HS256 signed with the Ed25519 public key", sign(t, jwt.SigningMethodHS256, []byte(edPub), "ed", claims(nil)), false},
		{"HS256 not configured", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("s", 32)), "", claims(nil)), false},
		{"truncated", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(nil))[:60], false},
		{"signature cut off", strings.TrimRight(sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(nil)), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") + "x", false},
		{"no agency", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { delete(c, "agency") })), false},
		{"unknown role", sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) { c["roles"] = []string{"JANITOR"} })), false},
		{"garbage", "eyJhbGciOiJFZERTQSJ9.garbage.garbage", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Authenticate(request(c.token))
			if c.ok {
				if err != nil {
					t.Fatalf("should be accepted: %v", err)
				}
				if p.Role != model.RolePolice || p.Subject != "u-1" || p.Agency != "PCR" || p.Email != "jana@police.example" {
					t.Errorf("claims not read: %+v", p)
				}
				return
			}
			if err == nil || apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Fatalf("should be UNAUTHENTICATED, got %v", err)
			}
		})
	}
}

func TestHS256OnlyWhenConfigured(t *testing.T) {
	secret := []byte(strings.Repeat("k", 40))
	v, err := NewVerifier(context.Background(), VerifierConfig{HS256Secret: secret, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(request(sign(t, jwt.SigningMethodHS256, secret, "", claims(nil)))); err != nil {
		t.Errorf("configured HS256 should be accepted: %v", err)
	}
	if _, err := v.Authenticate(request(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", claims(nil)))); err == nil {
		t.Errorf("HS256 with another secret must be refused")
	}
	if _, err := NewVerifier(context.Background(), VerifierConfig{HS256Secret: []byte("short"), Issuer: testIssuer, Audience: testAudience}); err == nil {
		t.Errorf("a short HS256 secret must be refused")
	}
}

func TestVerifierConfiguration(t *testing.T) {
	k := newKeys(t)
	pubs := map[string]crypto.PublicKey{"": k.ed.Public()}
	for name, cfg := range map[string]VerifierConfig{
		"no keys":     {Issuer: testIssuer, Audience: testAudience},
		"no issuer":   {PublicKeys: pubs, Audience: testAudience},
		"no audience": {PublicKeys: pubs, Issuer: testIssuer},
	} {
		if _, err := NewVerifier(context.Background(), cfg); err == nil {
			t.Errorf("%s: the verifier must refuse to start", name)
		}
	}
}

func TestRoleSelection(t *testing.T) {
	k := newKeys(t)
	v, _ := NewVerifier(context.Background(), VerifierConfig{PublicKeys: map[string]crypto.PublicKey{"": k.ed.Public()}, Issuer: testIssuer, Audience: testAudience})
	multi := sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(func(c jwt.MapClaims) { c["roles"] = []string{"POLICE", "PROSECUTOR"} }))
	if _, err := v.Authenticate(request(multi)); err == nil {
		t.Errorf("several roles without X-Role must be refused")
	}
	p, err := v.Authenticate(request(multi, "X-Role", "PROSECUTOR"))
	if err != nil || p.Role != model.RoleProsecutor {
		t.Errorf("X-Role PROSECUTOR: %+v %v", p, err)
	}
	if _, err := v.Authenticate(request(multi, "X-Role", "REGISTRAR")); err == nil {
		t.Errorf("X-Role naming a role the token does not carry must be refused")
	}
	single := sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(func(c jwt.MapClaims) { c["roles"] = "COURT" }))
	if p, err := v.Authenticate(request(single)); err != nil || p.Role != model.RoleCourt {
		t.Errorf("a single role as a string: %+v %v", p, err)
	}
}
