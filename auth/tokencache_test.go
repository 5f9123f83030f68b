package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/internal/testidp"
	"custodia/model"
)

// result is what Authenticate answered, comparable between the cached and a fresh path.
type result struct {
	Principal Principal
	Code      apperr.Code
	Message   string
	Reason    any
}

func resultOf(p *Principal, err error) result {
	if err != nil {
		var e *apperr.Error
		if !errors.As(err, &e) {
			return result{Message: "not an apperr: " + err.Error()}
		}
		return result{Code: e.Code, Message: e.Message, Reason: e.Extensions["reason"]}
	}
	return result{Principal: *p}
}

// uncached is v without its cache: the same keys, key set, clock and options, verifying
// every token afresh. It is the oracle the cached verifier must agree with.
func uncached(v *Verifier) func(*http.Request) result {
	fresh := *v
	fresh.cache = newTokenCache(1)
	return func(r *http.Request) result {
		fresh.cache.entries.Purge()
		return resultOf(fresh.Authenticate(r))
	}
}

// clockedVerifier is a verifier of Ed25519 tokens (kid "ed") whose clock the test sets.
func clockedVerifier(t *testing.T, k keys) (*Verifier, *time.Time) {
	t.Helper()
	v, err := NewVerifier(context.Background(), VerifierConfig{PublicKeys: map[string]crypto.PublicKey{"ed": k.ed.Public()},
		Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v.now = func() time.Time { return now }
	return v, &now
}

func cached(v *Verifier, token string) bool {
	return v.cache.entries.Contains(sha256.Sum256([]byte(token)))
}

// TestTokenCacheAnswersAsAFreshVerification: a token is sent again and again, with various
// X-Role headers, while the clock moves; every answer (principal, or error with its reason)
// is the one a verification without the cache gives at that moment, and is the expected one.
func TestTokenCacheAnswersAsAFreshVerification(t *testing.T) {
	k := newKeys(t)
	base := time.Now().Truncate(time.Second)
	const leeway = 30 * time.Second // the default
	type step struct {
		at       time.Time // the clock
		xRole    string
		role     model.Role // accepted in this role; "" = refused
		message  string     // part of the refusal's message
		reason   string     // the refusal's reason, if any
		inCache  bool       // the token is cached afterwards
		fromSelf bool       // …and the accepted answer came from the cache (checked by marking the entry)
	}
	police := func(at time.Time, fromCache bool) step {
		return step{at: at, role: model.RolePolice, inCache: true, fromSelf: fromCache}
	}
	cases := []struct {
		name   string
		claims jwt.MapClaims
		steps  []step
	}{
		{name: "a repeated token gives the same principal, the second time from the cache",
			claims: claims(nil),
			steps:  []step{police(base, false), police(base, true), police(base.Add(time.Minute), true)}},
		{name: "two roles: X-Role is honoured per request on a cached token",
			claims: claims(func(c jwt.MapClaims) { c["roles"] = []string{"POLICE", "PROSECUTOR"} }),
			steps: []step{
				{at: base, xRole: "PROSECUTOR", role: model.RoleProsecutor, inCache: true},
				{at: base, xRole: "POLICE", role: model.RolePolice, inCache: true, fromSelf: true},
				{at: base, message: "several roles", inCache: true},
				{at: base, xRole: "REGISTRAR", message: "does not carry", inCache: true},
				{at: base, xRole: "PROSECUTOR", role: model.RoleProsecutor, inCache: true, fromSelf: true},
			}},
		{name: "a cached token is refused once past exp and the leeway, to the nanosecond",
			claims: claims(func(c jwt.MapClaims) { c["iat"], c["exp"] = base.Unix(), base.Add(time.Hour).Unix() }),
			steps: []step{
				police(base, false),
				police(base.Add(time.Hour+leeway-time.Nanosecond), true),
				{at: base.Add(time.Hour + leeway), message: "invalid or expired", reason: "expired"},
				{at: base.Add(2 * time.Hour), message: "invalid or expired", reason: "expired"},
			}},
		{name: "a token refused as not yet valid is not cached, and accepted once valid",
			claims: claims(func(c jwt.MapClaims) { c["nbf"] = base.Add(10 * time.Minute).Unix() }),
			steps: []step{
				{at: base, message: "invalid or expired", reason: "not yet valid"},
				{at: base.Add(10*time.Minute - leeway - time.Nanosecond), message: "invalid or expired", reason: "not yet valid"},
				police(base.Add(10*time.Minute-leeway), false),
				police(base.Add(11*time.Minute), true),
			}},
		{name: "a cached token is refused when the clock is set back before its nbf",
			claims: claims(func(c jwt.MapClaims) { c["iat"], c["nbf"] = base.Unix(), base.Unix() }),
			steps: []step{
				police(base, false),
				{at: base.Add(-leeway - time.Second), message: "invalid or expired", reason: "not yet valid"},
				police(base, false),
			}},
		{name: "a token without a role is refused and not cached",
			claims: claims(func(c jwt.MapClaims) { c["roles"] = []string{"JANITOR"} }),
			steps:  []step{{at: base, message: "no known role"}, {at: base, message: "no known role"}}},
		{name: "a token without an agency is refused and not cached",
			claims: claims(func(c jwt.MapClaims) { delete(c, "agency") }),
			steps:  []step{{at: base, message: "lacks the subject or agency"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, now := clockedVerifier(t, k)
			fresh := uncached(v)
			token := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", c.claims)
			for i, s := range c.steps {
				*now = s.at
				if e, ok := v.cache.entries.Peek(sha256.Sum256([]byte(token))); ok {
					e.identity.Name = "marked in the cache" // seen only if the answer comes from the entry
				}
				got := resultOf(v.Authenticate(request(token, "X-Role", s.xRole)))
				if want := fresh(request(token, "X-Role", s.xRole)); s.fromSelf {
					want.Principal.Name = "marked in the cache"
					if got != want {
						t.Fatalf("step %d: from the cache\n got %+v\nwant %+v", i, got, want)
					}
				} else if got != want {
					t.Fatalf("step %d: the cached verifier answered\n %+v\na fresh verification\n %+v", i, got, want)
				}
				if s.role != "" {
					if got.Code != "" || got.Principal.Role != s.role || got.Principal.Subject != "u-1" || got.Principal.Agency != "PCR" {
						t.Fatalf("step %d: want accepted as %s, got %+v", i, s.role, got)
					}
				} else if got.Code != apperr.Unauthenticated || !strings.Contains(got.Message, s.message) || (s.reason != "" && got.Reason != s.reason) {
					t.Fatalf("step %d: want UNAUTHENTICATED %q (reason %q), got %+v", i, s.message, s.reason, got)
				}
				if cached(v, token) != s.inCache {
					t.Fatalf("step %d: cached=%v, want %v", i, cached(v, token), s.inCache)
				}
			}
		})
	}
}

// TestCachedTokenDoesNotVouchForAnotherSignature: with a token cached, the same header and
// claims under another signature (a forgery, or a token of a key not trusted) are refused —
// the cache is keyed by the whole raw token.
func TestCachedTokenDoesNotVouchForAnotherSignature(t *testing.T) {
	k := newKeys(t)
	v, _ := clockedVerifier(t, k)
	c := claims(nil)
	good := sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", c)
	other := sign(t, jwt.SigningMethodEdDSA, k.other, "ed", c)
	signed := good[:strings.LastIndex(good, ".")]
	if !strings.HasPrefix(other, signed+".") {
		t.Fatal("the test needs the same header and claims under both signatures")
	}
	for name, token := range map[string]string{
		"another key's signature": other,
		"no signature":            signed + ".",
		"the signature doubled":   good + good[strings.LastIndex(good, ".")+1:],
		"a signature of garbage":  signed + ".AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Authenticate(request(good)); err != nil || !cached(v, good) {
				t.Fatalf("the good token: %v, cached %v", err, cached(v, good))
			}
			p, err := v.Authenticate(request(token))
			if got := resultOf(p, err); got.Code != apperr.Unauthenticated || got.Reason != "signature or algorithm not accepted" && got.Reason != "malformed" {
				t.Fatalf("want refused, got %+v", got)
			}
			if cached(v, token) {
				t.Fatal("a refused token was cached")
			}
		})
	}
}

// TestCachedTokenFollowsTheKeySet: a token verified by a key of the identity provider's key
// set is refused as soon as the verifier's fetched set no longer holds that key (withdrawn, or
// another key published under its key ID), exactly when a fresh verification refuses it;
// a change that keeps the key keeps the token accepted.
func TestCachedTokenFollowsTheKeySet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		change   func(t *testing.T, idp *testidp.IDP)
		accepted bool // after the verifier fetched the changed set
	}{
		{"the key is withdrawn", func(t *testing.T, idp *testidp.IDP) { idp.RemoveKey("a") }, false},
		{"another key is published under its key ID", func(t *testing.T, idp *testidp.IDP) { idp.AddKey(t, "a") }, false},
		{"another key is added", func(t *testing.T, idp *testidp.IDP) { idp.AddKey(t, "c") }, true},
		{"another key is withdrawn", func(t *testing.T, idp *testidp.IDP) { idp.RemoveKey("b") }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			idp := testidp.New(t, "a", "b")
			// No refresh by the timer during the test: the test fetches the set itself.
			v := idpVerifier(t, idp, func(cfg *VerifierConfig) { cfg.JWKSRefreshInterval = time.Hour })
			fresh := uncached(v)
			token := idpToken(t, idp, "a", jwt.MapClaims{"sub": "u-1", "agency": "PCR", "roles": []string{"POLICE"}})
			check := func(when string, accepted bool) {
				t.Helper()
				got := resultOf(v.Authenticate(request(token)))
				if want := fresh(request(token)); got != want {
					t.Fatalf("%s: the cached verifier answered\n %+v\na fresh verification\n %+v", when, got, want)
				}
				if (got.Code == "") != accepted {
					t.Fatalf("%s: accepted=%v, want %v: %+v", when, got.Code == "", accepted, got)
				}
				if cached(v, token) != accepted {
					t.Fatalf("%s: cached=%v, want %v", when, cached(v, token), accepted)
				}
			}
			check("first use", true)
			check("from the cache", true)
			c.change(t, idp)
			check("changed at the provider, not yet fetched", true)
			if !v.jwks.refresh(context.Background(), true) {
				t.Fatal("no fetch")
			}
			check("after the verifier fetched the changed set", c.accepted)
			if !c.accepted {
				got := resultOf(v.Authenticate(request(token)))
				if got.Reason != "signature or algorithm not accepted" {
					t.Errorf("reason %v", got.Reason)
				}
			}
		})
	}
}

// TestTokenCacheIsBounded: distinct valid tokens beyond the bound never grow the cache past
// it (the least recently used are evicted and verified afresh when they come back); refused
// tokens never enter it.
func TestTokenCacheIsBounded(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("k", 40)) // HS256: cheap to sign and verify this many
	v, err := NewVerifier(context.Background(), VerifierConfig{HS256Secret: secret, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	token := func(sub string, mod func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodHS256, secret, "", claims(func(c jwt.MapClaims) {
			c["sub"] = sub
			if mod != nil {
				mod(c)
			}
		}))
	}
	for name, bad := range map[string]string{
		"another secret": sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", claims(nil)),
		"expired":        token("u-x", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		"wrong audience": token("u-x", func(c jwt.MapClaims) { c["aud"] = "other" }),
		"no role":        token("u-x", func(c jwt.MapClaims) { delete(c, "roles") }),
		"no subject":     token("", nil),
	} {
		if _, err := v.Authenticate(request(bad)); err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if n := v.cache.entries.Len(); n != 0 {
			t.Fatalf("%s: a refused token entered the cache (%d entries)", name, n)
		}
	}
	const extra = 500
	tokens := make([]string, tokenCacheSize+extra)
	for i := range tokens {
		tokens[i] = token(fmt.Sprintf("u-%d", i), nil)
		p, err := v.Authenticate(request(tokens[i]))
		if err != nil || p.Subject != fmt.Sprintf("u-%d", i) {
			t.Fatalf("token %d: %+v %v", i, p, err)
		}
		if n := v.cache.entries.Len(); n > tokenCacheSize {
			t.Fatalf("after %d tokens the cache holds %d entries; the bound is %d", i+1, n, tokenCacheSize)
		}
	}
	if n := v.cache.entries.Len(); n != tokenCacheSize {
		t.Errorf("the cache holds %d entries, want it full (%d)", n, tokenCacheSize)
	}
	if cached(v, tokens[extra-1]) || !cached(v, tokens[extra]) || !cached(v, tokens[len(tokens)-1]) {
		t.Error("not the least recently used tokens were evicted")
	}
	if p, err := v.Authenticate(request(tokens[0])); err != nil || p.Subject != "u-0" || !cached(v, tokens[0]) {
		t.Errorf("an evicted token comes back: %+v %v", p, err)
	}
}

// TestTokenCacheUnderConcurrentUse: many goroutines authenticate the same few tokens with
// different roles at once; every answer is right (run with -race to check the locking).
func TestTokenCacheUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	v, err := NewVerifier(context.Background(), VerifierConfig{PublicKeys: map[string]crypto.PublicKey{"ed": k.ed.Public()},
		Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, 4)
	for i := range tokens {
		tokens[i] = sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(func(c jwt.MapClaims) {
			c["sub"], c["roles"] = fmt.Sprintf("u-%d", i), []string{"POLICE", "COURT"}
		}))
	}
	roles := []model.Role{model.RolePolice, model.RoleCourt}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				n, role := (g+i)%len(tokens), roles[i%2]
				p, err := v.Authenticate(request(tokens[n], "X-Role", string(role)))
				if err != nil || p.Subject != fmt.Sprintf("u-%d", n) || p.Role != role {
					errs <- fmt.Errorf("token %d as %s: %+v %v", n, role, p, err)
					return
				}
				p.Grant = &model.AccessGrant{} // callers fill in the principal; the cache must not share it
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkAuthenticate compares a token verified afresh (miss: the cache is emptied before
// each call) with one taken from the cache (hit), for the development key's Ed25519 and an
// identity provider's RS256 from a JWKS; hit-parallel shows the cache's lock under load.
func BenchmarkAuthenticate(b *testing.B) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edVerifier, err := NewVerifier(context.Background(), VerifierConfig{PublicKeys: map[string]crypto.PublicKey{"ed": edKey.Public()},
		Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		b.Fatal(err)
	}
	idp := testidp.New(b, "rs")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rsVerifier, err := NewVerifier(ctx, VerifierConfig{Issuer: idp.Issuer(), Audience: testAudience, Discovery: true, HTTPClient: idp.Client()})
	if err != nil {
		b.Fatal(err)
	}
	identity := claims(func(c jwt.MapClaims) { c["roles"] = []string{"POLICE", "COURT"} })
	edToken := sign(b, jwt.SigningMethodEdDSA, edKey, "ed", identity)
	delete(identity, "iss") // the provider's token names the provider
	rsToken := idp.Token(b, "rs", testAudience, identity)
	for _, c := range []struct {
		name  string
		v     *Verifier
		token string
	}{{"EdDSA", edVerifier, edToken}, {"RS256", rsVerifier, rsToken}} {
		r := request(c.token, "X-Role", "COURT")
		if _, err := c.v.Authenticate(r); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/miss", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.v.cache.entries.Purge()
				if _, err := c.v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/hit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/hit-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := request(c.token, "X-Role", "COURT")
				for pb.Next() {
					if _, err := c.v.Authenticate(r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
