// Package testidp is a local OpenID Connect identity provider for tests: an httptest server
// on loopback that publishes a discovery document and a JWKS of real RSA keys, signs real
// tokens, can rotate or withdraw keys and go down, and counts what it was asked for.
package testidp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// JWKSPath is where the provider publishes its key set (Keycloak's path).
const JWKSPath = "/protocol/openid-connect/certs"

// IDP is a running local identity provider. Its issuer is its URL.
type IDP struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey
	enc  map[string]bool // key IDs published with "use": "enc"
	down bool
	// claimedIssuer, if set, is the issuer the discovery document names instead of the URL.
	claimedIssuer string
	// JWKSFetches and DiscoveryFetches count requests for the key set and discovery document.
	JWKSFetches, DiscoveryFetches atomic.Int32
}

// New starts a provider publishing a fresh key for each key ID; it stops with the test.
func New(t testing.TB, kids ...string) *IDP {
	t.Helper()
	idp := &IDP{keys: map[string]*rsa.PrivateKey{}, enc: map[string]bool{}}
	for _, kid := range kids {
		idp.AddKey(t, kid)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.DiscoveryFetches.Add(1)
		idp.mu.Lock()
		down, iss := idp.down, idp.claimedIssuer
		idp.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if iss == "" {
			iss = idp.srv.URL
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": idp.srv.URL + JWKSPath})
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		idp.JWKSFetches.Add(1)
		idp.mu.Lock()
		defer idp.mu.Unlock()
		if idp.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := jwkset.NewMemoryStorage()
		for kid, k := range idp.keys {
			meta := jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}
			if idp.enc[kid] {
				meta.USE = jwkset.UseEnc
			}
			jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: meta})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = set.KeyWrite(r.Context(), jwk)
		}
		raw, _ := set.JSONPublic(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

// Issuer is the provider's issuer identifier (its URL).
func (idp *IDP) Issuer() string { return idp.srv.URL }

// Client is an HTTP client for the provider.
func (idp *IDP) Client() *http.Client { return idp.srv.Client() }

// AddKey publishes a fresh RSA key under kid (a rotation).
func (idp *IDP) AddKey(t testing.TB, kid string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	idp.keys[kid] = k
	idp.mu.Unlock()
}

// AddEncryptionKey publishes a fresh RSA key under kid marked "use": "enc" (Keycloak
// publishes such keys beside its signing keys); tokens signed with it must not verify.
func (idp *IDP) AddEncryptionKey(t testing.TB, kid string) {
	t.Helper()
	idp.AddKey(t, kid)
	idp.mu.Lock()
	idp.enc[kid] = true
	idp.mu.Unlock()
}

// RemoveKey withdraws the key of kid.
func (idp *IDP) RemoveKey(kid string) {
	idp.mu.Lock()
	delete(idp.keys, kid)
	idp.mu.Unlock()
}

// SetDown makes every endpoint answer 503 (true) or serve again (false).
func (idp *IDP) SetDown(down bool) {
	idp.mu.Lock()
	idp.down = down
	idp.mu.Unlock()
}

// ClaimIssuer makes the discovery document name another issuer.
func (idp *IDP) ClaimIssuer(iss string) {
	idp.mu.Lock()
	idp.claimedIssuer = iss
	idp.mu.Unlock()
}

// Token signs claims with the key of kid, adding iss, aud, iat and exp (one hour) unless the
// claims set them. A kid the provider does not publish is signed with a throw-away key: a
// forgery.
func (idp *IDP) Token(t testing.TB, kid, audience string, claims jwt.MapClaims) string {
	t.Helper()
	idp.mu.Lock()
	k := idp.keys[kid]
	idp.mu.Unlock()
	if k == nil {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	full := jwt.MapClaims{"iss": idp.srv.URL, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for name, v := range claims {
		full[name] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, full)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// KeycloakClaims are shaped like a Keycloak access token: realm roles and client roles of
// client "custodia" in nested objects, and the agency in a nested "org" object.
func KeycloakClaims(subject, agency string, realmRoles, clientRoles []string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": subject, "typ": "Bearer", "azp": "custodia-web",
		"realm_access":    map[string]any{"roles": realmRoles},
		"resource_access": map[string]any{"custodia": map[string]any{"roles": clientRoles}, "account": map[string]any{"roles": []string{"manage-account"}}},
		"name":            "Jana Nováková", "preferred_username": "jnovakova", "email": "jana.novakova@soud.example",
		"org": map[string]any{"agency": agency},
	}
}

// EntraClaims are shaped like a Microsoft Entra ID v2 access token: app roles in "roles", the
// stable user ID in "oid" (its "sub" is pairwise per application), the sign-in name in
// "preferred_username", no "email", the agency in a directory extension claim.
func EntraClaims(oid, agency string, roles []string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "oid": oid,
		"tid": "9122040d-6c67-4c5b-b112-36a304b66dad", "ver": "2.0", "roles": roles,
		"name": "Petr Malý", "preferred_username": "petr.maly@policie.example", "extension_agency": agency,
	}
}
