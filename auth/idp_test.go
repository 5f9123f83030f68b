package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/model"
)

// testIDP is a local OpenID Connect provider on loopback: a discovery document, a JWKS whose
// keys can be rotated, and counters of what was fetched. Its keys are real RSA keys.
type testIDP struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey
	down      bool   // answer 503 everywhere
	issuer    string // the issuer the discovery document names (default: the server's URL)
	jwksHits  atomic.Int32
	discovery atomic.Int32
}

func newTestIDP(t *testing.T, kids ...string) *testIDP {
	t.Helper()
	idp := &testIDP{keys: map[string]*rsa.PrivateKey{}}
	for _, kid := range kids {
		idp.addKey(t, kid)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.discovery.Add(1)
		idp.mu.Lock()
		down, iss := idp.down, idp.issuer
		idp.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if iss == "" {
			iss = idp.srv.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": idp.srv.URL + "/protocol/openid-connect/certs"})
	})
	mux.HandleFunc("GET /protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		idp.jwksHits.Add(1)
		idp.mu.Lock()
		defer idp.mu.Unlock()
		if idp.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := jwkset.NewMemoryStorage()
		for kid, k := range idp.keys {
			jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
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

func (idp *testIDP) addKey(t *testing.T, kid string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	idp.keys[kid] = k
	idp.mu.Unlock()
}

func (idp *testIDP) setDown(down bool) {
	idp.mu.Lock()
	idp.down = down
	idp.mu.Unlock()
}

// token signs claims (iss and aud filled in) with the key of kid; a kid the provider does not
// publish is signed with a fresh key (a forgery).
func (idp *testIDP) token(t *testing.T, kid string, c jwt.MapClaims) string {
	t.Helper()
	idp.mu.Lock()
	k := idp.keys[kid]
	idp.mu.Unlock()
	if k == nil {
		k, _ = rsa.GenerateKey(rand.Reader, 1024)
	}
	now := time.Now()
	full := jwt.MapClaims{"iss": idp.srv.URL, "aud": testAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for name, v := range c {
		full[name] = v
	}
	return sign(t, jwt.SigningMethodRS256, k, kid, full)
}

func (idp *testIDP) verifier(t *testing.T, edit func(*VerifierConfig)) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := VerifierConfig{Issuer: idp.srv.URL, Audience: testAudience, Discovery: true, HTTPClient: idp.srv.Client(),
		JWKSMinRefreshInterval: 200 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewVerifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keycloakClaims are shaped like a Keycloak access token: realm roles and client roles in
// nested objects, lower-case role names.
func keycloakClaims(realmRoles, clientRoles []string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "f:3c1e-4a2b:jnovakova", "typ": "Bearer", "azp": "custodia-web",
		"realm_access":    map[string]any{"roles": realmRoles},
		"resource_access": map[string]any{"custodia": map[string]any{"roles": clientRoles}, "account": map[string]any{"roles": []string{"manage-account"}}},
		"name":            "Jana Nováková", "preferred_username": "jnovakova", "email": "jana.novakova@soud.example",
		"org": map[string]any{"agency": "KS-PRAHA"},
	}
}

// entraClaims are shaped like a Microsoft Entra ID access token: app roles in "roles", the
// stable user ID in "oid", the sign-in name in "preferred_username", no "email".
func entraClaims(roles []string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
		"tid": "9122040d-6c67-4c5b-b112-36a304b66dad", "ver": "2.0", "roles": roles,
		"name": "Petr Malý", "preferred_username": "petr.maly@policie.example", "extension_agency": "PCR-KRPA",
	}
}

func TestIdentityProviderShapes(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t, "kc-1")
	keycloak := idp.verifier(t, func(c *VerifierConfig) {
		c.Claims = ClaimNames{Agency: "org.agency", Roles: "realm_access.roles, resource_access.custodia.roles"}
		c.RoleMap = map[string]model.Role{"court": model.RoleCourt, "prosecutor": model.RoleProsecutor, "registrar": model.RoleRegistrar}
	})
	entra := idp.verifier(t, func(c *VerifierConfig) {
		c.Claims = ClaimNames{Subject: "oid", Email: "preferred_username", Agency: "extension_agency"}
		c.RoleMap = map[string]model.Role{"Custodia.Police": model.RolePolice, "Custodia.Court": model.RoleCourt}
	})
	plain := idp.verifier(t, nil)
	cases := []struct {
		name      string
		v         *Verifier
		claims    jwt.MapClaims
		xRole     string
		want      *Principal // nil: refused
		wantError string
	}{
		{name: "Keycloak realm role mapped", v: keycloak, claims: keycloakClaims([]string{"court", "offline_access"}, nil),
			want: &Principal{Subject: "f:3c1e-4a2b:jnovakova", Name: "Jana Nováková", Username: "jnovakova", Email: "jana.novakova@soud.example", Agency: "KS-PRAHA", Role: model.RoleCourt}},
		{name: "Keycloak client role mapped", v: keycloak, claims: keycloakClaims([]string{"offline_access"}, []string{"registrar"}),
			want: &Principal{Subject: "f:3c1e-4a2b:jnovakova", Name: "Jana Nováková", Username: "jnovakova", Email: "jana.novakova@soud.example", Agency: "KS-PRAHA", Role: model.RoleRegistrar}},
		{name: "Keycloak realm and client roles together need X-Role", v: keycloak, claims: keycloakClaims([]string{"court"}, []string{"prosecutor"}),
			wantError: "several roles"},
		{name: "Keycloak realm and client roles, X-Role chooses", v: keycloak, claims: keycloakClaims([]string{"court"}, []string{"prosecutor"}), xRole: "PROSECUTOR",
			want: &Principal{Subject: "f:3c1e-4a2b:jnovakova", Name: "Jana Nováková", Username: "jnovakova", Email: "jana.novakova@soud.example", Agency: "KS-PRAHA", Role: model.RoleProsecutor}},
		{name: "with a role table, an unlisted value grants nothing, even a custodia role name", v: keycloak, claims: keycloakClaims([]string{"AUDITOR", "offline_access"}, nil),
			wantError: "no known role"},
		{name: "Keycloak token without the nested agency", v: keycloak, claims: func() jwt.MapClaims { c := keycloakClaims([]string{"court"}, nil); delete(c, "org"); return c }(),
			wantError: "lacks the subject or agency"},
		{name: "Keycloak token where the role path holds an object, not a list", v: keycloak, claims: func() jwt.MapClaims {
			c := keycloakClaims(nil, nil)
			c["realm_access"] = map[string]any{"roles": map[string]any{"court": true}}
			return c
		}(), wantError: "no known role"},
		{name: "Entra app role mapped, oid as subject", v: entra, claims: entraClaims([]string{"Custodia.Police"}),
			want: &Principal{Subject: "00000000-0000-0000-66f3-3332eca7ea81", Name: "Petr Malý", Username: "petr.maly@policie.example", Email: "petr.maly@policie.example", Agency: "PCR-KRPA", Role: model.RolePolice}},
		{name: "Entra token without oid", v: entra, claims: func() jwt.MapClaims { c := entraClaims([]string{"Custodia.Police"}); delete(c, "oid"); return c }(),
			wantError: "lacks the subject or agency"},
		{name: "Entra role value not mapped", v: entra, claims: entraClaims([]string{"Custodia.Janitor"}), wantError: "no known role"},
		{name: "plain roles without a table: custodia names", v: plain, claims: jwt.MapClaims{"sub": "u-2", "agency": "PMS", "roles": []string{"REINTEGRATION"}},
			want: &Principal{Subject: "u-2", Agency: "PMS", Role: model.RoleReintegration}},
		{name: "plain roles without a table: lower case is not a role", v: plain, claims: jwt.MapClaims{"sub": "u-2", "agency": "PMS", "roles": []string{"reintegration"}},
			wantError: "no known role"},
		{name: "plain: Keycloak-nested roles are not read by the default path", v: plain, claims: func() jwt.MapClaims {
			c := keycloakClaims([]string{"COURT"}, nil)
			c["agency"] = "KS"
			return c
		}(), wantError: "no known role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.v.Authenticate(request(idp.token(t, "kc-1", c.claims), "X-Role", c.xRole))
			if c.want == nil {
				if err == nil || apperr.CodeOf(err) != apperr.Unauthenticated || !containsMessage(err, c.wantError) {
					t.Fatalf("want UNAUTHENTICATED mentioning %q, got %+v, %v", c.wantError, p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if *p != *c.want {
				t.Errorf("principal\n got %+v\nwant %+v", *p, *c.want)
			}
		})
	}
}

func containsMessage(err error, part string) bool {
	e, ok := err.(*apperr.Error)
	return ok && (part == "" || strings.Contains(e.Message, part))
}

// TestKeyRotationUnderForgedKeyIDs: while a stream of tokens with random key IDs arrives, the
// provider rotates in a new key. A token signed with it is accepted within the minimum refresh
// interval, and the forged key IDs never make the verifier fetch the key set more than once
// per interval.
func TestKeyRotationUnderForgedKeyIDs(t *testing.T) {
	t.Parallel()
	const minInterval = 300 * time.Millisecond
	idp := newTestIDP(t, "old")
	v := idp.verifier(t, func(c *VerifierConfig) { c.JWKSMinRefreshInterval = minInterval })
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	if _, err := v.Authenticate(request(idp.token(t, "old", claims))); err != nil {
		t.Fatalf("token with the published key: %v", err)
	}
	forged := make([]string, 8)
	for i := range forged {
		forged[i] = idp.token(t, fmt.Sprintf("forged-%d", i), claims)
	}
	start := time.Now()
	hitsBefore := idp.jwksHits.Load()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var forgedAccepted atomic.Int32
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Authenticate(request(forged[i%len(forged)])); err == nil {
					forgedAccepted.Add(1)
				}
			}
		}()
	}
	time.Sleep(2 * minInterval) // the stream has used up the refresh budget
	idp.addKey(t, "new")
	rotated := time.Now()
	newToken := idp.token(t, "new", claims)
	var pickedUp time.Duration
	for deadline := time.Now().Add(10 * minInterval); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := v.Authenticate(request(newToken)); err == nil {
			pickedUp = time.Since(rotated)
			break
		}
	}
	time.Sleep(2 * minInterval)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	hits := int(idp.jwksHits.Load() - hitsBefore)
	if pickedUp == 0 {
		t.Fatalf("the rotated-in key was not picked up within %s under forged key IDs", 10*minInterval)
	}
	if pickedUp > 2*minInterval {
		t.Errorf("the rotated-in key took %s to be picked up; want at most %s", pickedUp, 2*minInterval)
	}
	if limit := int(elapsed/minInterval) + 1; hits > limit {
		t.Errorf("%d key-set fetches in %s; at most one per %s (%d) allowed", hits, elapsed.Round(time.Millisecond), minInterval, limit)
	}
	if forgedAccepted.Load() != 0 {
		t.Errorf("%d forged tokens accepted", forgedAccepted.Load())
	}
	t.Logf("rotation picked up after %s; %d fetches in %s under forged key IDs", pickedUp.Round(time.Millisecond), hits, elapsed.Round(time.Millisecond))
}

// TestWithdrawnKeyIsRefused: a key the provider no longer publishes stops verifying after
// the next fetch.
func TestWithdrawnKeyIsRefused(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t, "a", "b")
	v := idp.verifier(t, func(c *VerifierConfig) { c.JWKSRefreshInterval = 100 * time.Millisecond })
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	tokenA := idp.token(t, "a", claims)
	if _, err := v.Authenticate(request(tokenA)); err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	delete(idp.keys, "a")
	idp.mu.Unlock()
	deadline := time.Now().Add(3 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := v.Authenticate(request(tokenA)); err != nil {
			return
		}
	}
	t.Fatal("a withdrawn key still verifies tokens")
}

// TestReadinessFollowsTheKeySet: without a key (provider down, or its discovery document naming
// another issuer) the verifier is not ready and refuses tokens; it becomes ready by itself once
// the provider answers.
func TestReadinessFollowsTheKeySet(t *testing.T) {
	t.Parallel()
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	t.Run("provider down at start, then up", func(t *testing.T) {
		t.Parallel()
		idp := newTestIDP(t, "k")
		idp.setDown(true)
		v := idp.verifier(t, nil)
		if err := v.Ready(); err == nil {
			t.Fatal("ready without any key")
		}
		if _, err := v.Authenticate(request(idp.token(t, "k", claims))); err == nil {
			t.Fatal("a token accepted without any key")
		}
		idp.setDown(false)
		deadline := time.Now().Add(3 * time.Second)
		for v.Ready() != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := v.Ready(); err != nil {
			t.Fatalf("still not ready after the provider came back: %v", err)
		}
		if _, err := v.Authenticate(request(idp.token(t, "k", claims))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		t.Parallel()
		idp := newTestIDP(t, "k")
		idp.issuer = "https://evil.example"
		v := idp.verifier(t, nil)
		if err := v.Ready(); err == nil || !strings.Contains(err.Error(), "names issuer") {
			t.Fatalf("want not ready because of the issuer, got %v", err)
		}
	})
	t.Run("a JWKS URL without discovery", func(t *testing.T) {
		t.Parallel()
		idp := newTestIDP(t, "k")
		v := idp.verifier(t, func(c *VerifierConfig) {
			c.Discovery, c.JWKSURL = false, idp.srv.URL+"/protocol/openid-connect/certs"
		})
		if err := v.Ready(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Authenticate(request(idp.token(t, "k", claims))); err != nil {
			t.Fatal(err)
		}
		if n := idp.discovery.Load(); n != 0 {
			t.Errorf("discovery fetched %d times though a JWKS URL is configured", n)
		}
	})
}

func TestConfigurableLeeway(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t, "k")
	expired90s := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}, "exp": time.Now().Add(-90 * time.Second).Unix()}
	cases := []struct {
		leeway time.Duration
		ok     bool
	}{{0, false}, {2 * time.Minute, true}, {time.Minute, false}}
	for _, c := range cases {
		v := idp.verifier(t, func(cfg *VerifierConfig) { cfg.Leeway = c.leeway })
		if _, err := v.Authenticate(request(idp.token(t, "k", expired90s))); (err == nil) != c.ok {
			t.Errorf("leeway %s, token expired 90 s ago: accepted=%v, want %v (%v)", c.leeway, err == nil, c.ok, err)
		}
	}
	if _, err := NewVerifier(context.Background(), VerifierConfig{Issuer: "i", Audience: "a", HS256Secret: make([]byte, 32), Leeway: time.Hour}); err == nil {
		t.Error("a leeway of an hour must be refused")
	}
}

func TestClaimPaths(t *testing.T) {
	t.Parallel()
	claims := map[string]any{"a": map[string]any{"b.c": map[string]any{"d": "deep"}, "list": []any{"x"}}, "top": "t"}
	cases := []struct {
		path string
		want any
		bad  bool
	}{
		{path: "top", want: "t"},
		{path: `a.b\.c.d`, want: "deep"},
		{path: "a.b.c.d", want: nil},
		{path: "a.list.0", want: nil},
		{path: "missing.x", want: nil},
		{path: "top.x", want: nil},
		{path: "a..b", bad: true},
		{path: "", bad: true},
		{path: ".a", bad: true},
	}
	for _, c := range cases {
		p, err := parseClaimPath(c.path)
		if c.bad {
			if err == nil {
				t.Errorf("%q: want an error", c.path)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		if got := p.lookup(claims); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q: got %v, want %v", c.path, got, c.want)
		}
	}
}

func TestParseRoleMap(t *testing.T) {
	t.Parallel()
	m, err := ParseRoleMap(" court = COURT, Custodia.Police=police ,registrar=REGISTRAR")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]model.Role{"court": model.RoleCourt, "Custodia.Police": model.RolePolice, "registrar": model.RoleRegistrar}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", m, want)
	}
	if m, err := ParseRoleMap(""); err != nil || m != nil {
		t.Errorf("empty: %v %v", m, err)
	}
	for _, bad := range []string{"court", "court=JUDGE", "=COURT", "court=COURT,court=POLICE"} {
		if _, err := ParseRoleMap(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
