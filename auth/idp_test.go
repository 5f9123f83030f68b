package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/internal/testidp"
	"custodia/model"
)

func idpToken(t *testing.T, idp *testidp.IDP, kid string, c jwt.MapClaims) string {
	return idp.Token(t, kid, testAudience, c)
}

func idpVerifier(t *testing.T, idp *testidp.IDP, edit func(*VerifierConfig)) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := VerifierConfig{Issuer: idp.Issuer(), Audience: testAudience, Discovery: true, HTTPClient: idp.Client(),
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

func keycloakClaims(realmRoles, clientRoles []string) jwt.MapClaims {
	return testidp.KeycloakClaims("f:3c1e-4a2b:jnovakova", "KS-PRAHA", realmRoles, clientRoles)
}

func entraClaims(roles []string) jwt.MapClaims {
	return testidp.EntraClaims("00000000-0000-0000-66f3-3332eca7ea81", "PCR-KRPA", roles)
}

func TestIdentityProviderShapes(t *testing.T) {
	t.Parallel()
	idp := testidp.New(t, "kc-1")
	keycloak := idpVerifier(t, idp, func(c *VerifierConfig) {
		c.Claims = ClaimNames{Agency: "org.agency", Roles: "realm_access.roles, resource_access.custodia.roles"}
		c.RoleMap = map[string]model.Role{"court": model.RoleCourt, "prosecutor": model.RoleProsecutor, "registrar": model.RoleRegistrar}
	})
	entra := idpVerifier(t, idp, func(c *VerifierConfig) {
		c.Claims = ClaimNames{Subject: "oid", Email: "preferred_username", Agency: "extension_agency"}
		c.RoleMap = map[string]model.Role{"Custodia.Police": model.RolePolice, "Custodia.Court": model.RoleCourt}
	})
	plain := idpVerifier(t, idp, nil)
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
			p, err := c.v.Authenticate(request(idpToken(t, idp, "kc-1", c.claims), "X-Role", c.xRole))
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
	idp := testidp.New(t, "old")
	v := idpVerifier(t, idp, func(c *VerifierConfig) { c.JWKSMinRefreshInterval = minInterval })
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	if _, err := v.Authenticate(request(idpToken(t, idp, "old", claims))); err != nil {
		t.Fatalf("token with the published key: %v", err)
	}
	forged := make([]string, 8)
	for i := range forged {
		forged[i] = idpToken(t, idp, fmt.Sprintf("forged-%d", i), claims)
	}
	start := time.Now()
	hitsBefore := idp.JWKSFetches.Load()
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
	idp.AddKey(t, "new")
	rotated := time.Now()
	newToken := idpToken(t, idp, "new", claims)
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
	hits := int(idp.JWKSFetches.Load() - hitsBefore)
	if pickedUp == 0 {
		t.Fatalf("the rotated-in key was not picked up within %s under forged key IDs", 10*minInterval)
	}
	// At most one interval until the next allowed fetch, plus the fetch and the polling, on a
	// busy machine.
	if pickedUp > 4*minInterval {
		t.Errorf("the rotated-in key took %s to be picked up; want at most %s", pickedUp, 4*minInterval)
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
	idp := testidp.New(t, "a", "b")
	v := idpVerifier(t, idp, func(c *VerifierConfig) { c.JWKSRefreshInterval = 100 * time.Millisecond })
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	tokenA := idpToken(t, idp, "a", claims)
	if _, err := v.Authenticate(request(tokenA)); err != nil {
		t.Fatal(err)
	}
	idp.RemoveKey("a")
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
		idp := testidp.New(t, "k")
		idp.SetDown(true)
		v := idpVerifier(t, idp, nil)
		if err := v.Ready(); err == nil {
			t.Fatal("ready without any key")
		}
		if _, err := v.Authenticate(request(idpToken(t, idp, "k", claims))); err == nil {
			t.Fatal("a token accepted without any key")
		}
		idp.SetDown(false)
		deadline := time.Now().Add(3 * time.Second)
		for v.Ready() != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := v.Ready(); err != nil {
			t.Fatalf("still not ready after the provider came back: %v", err)
		}
		if _, err := v.Authenticate(request(idpToken(t, idp, "k", claims))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		t.Parallel()
		idp := testidp.New(t, "k")
		idp.ClaimIssuer("https://evil.example")
		v := idpVerifier(t, idp, nil)
		if err := v.Ready(); err == nil || !strings.Contains(err.Error(), "names issuer") {
			t.Fatalf("want not ready because of the issuer, got %v", err)
		}
	})
	t.Run("a JWKS URL without discovery", func(t *testing.T) {
		t.Parallel()
		idp := testidp.New(t, "k")
		v := idpVerifier(t, idp, func(c *VerifierConfig) {
			c.Discovery, c.JWKSURL = false, idp.Issuer()+testidp.JWKSPath
		})
		if err := v.Ready(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Authenticate(request(idpToken(t, idp, "k", claims))); err != nil {
			t.Fatal(err)
		}
		if n := idp.DiscoveryFetches.Load(); n != 0 {
			t.Errorf("discovery fetched %d times though a JWKS URL is configured", n)
		}
	})
}

func TestConfigurableLeeway(t *testing.T) {
	t.Parallel()
	idp := testidp.New(t, "k")
	expired90s := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}, "exp": time.Now().Add(-90 * time.Second).Unix()}
	cases := []struct {
		leeway time.Duration
		ok     bool
	}{{0, false}, {2 * time.Minute, true}, {time.Minute, false}}
	for _, c := range cases {
		v := idpVerifier(t, idp, func(cfg *VerifierConfig) { cfg.Leeway = c.leeway })
		if _, err := v.Authenticate(request(idpToken(t, idp, "k", expired90s))); (err == nil) != c.ok {
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

func TestSecureURL(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"https://idp.justice.example/certs": true,
		"http://127.0.0.1:8081/certs":       true,
		"http://localhost/certs":            true,
		"http://[::1]:9000/certs":           true,
		"http://idp.justice.example/certs":  false,
		"http://127.0.0.1.evil.example/":    false,
		"ftp://idp.justice.example/":        false,
		"idp.justice.example":               false,
	} {
		if got := SecureURL(u); got != want {
			t.Errorf("SecureURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestEncryptionKeysDoNotVerify: a key the provider publishes for encryption ("use": "enc")
// is not a signing key.
func TestEncryptionKeysDoNotVerify(t *testing.T) {
	t.Parallel()
	idp := testidp.New(t, "sig")
	idp.AddEncryptionKey(t, "enc")
	v := idpVerifier(t, idp, nil)
	claims := jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}}
	if _, err := v.Authenticate(request(idpToken(t, idp, "sig", claims))); err != nil {
		t.Fatalf("signing key: %v", err)
	}
	if _, err := v.Authenticate(request(idpToken(t, idp, "enc", claims))); err == nil {
		t.Fatal("a token signed with an encryption key was accepted")
	}
}
