package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/internal/testidp"
	"custodia/model"
	"custodia/seed"
)

// TestCachedTokensThroughTheHandler: the same bearer token sent again and again through the
// real handler (its later uses answered from the verifier's cache of verified tokens) has
// the X-Role header honoured per request, and is refused — and the refusal audited — once it
// expires while cached.
func TestCachedTokensThroughTheHandler(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	o, _ := seed.OfficialFor(PO)
	multi := o.Identity
	multi.Roles = []model.Role{PO, C}
	type step struct {
		xRole   string
		expired bool // wait until the token is past exp and the leeway (30 s)
		status  int
		role    string // accepted in this role
		code    string // or refused with this code
		reason  string // and this reason
		audited bool   // the refusal is in the audit trail
	}
	cases := []struct {
		name  string
		token func() string // signed when the case starts
		steps []step
	}{
		{name: "X-Role per request on a cached token", token: func() string { return env.TokenFor(multi, time.Hour) }, steps: []step{
			{xRole: "POLICE", status: http.StatusOK, role: "POLICE"},
			{xRole: "POLICE", status: http.StatusOK, role: "POLICE"},
			{xRole: "", status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
			{xRole: "REGISTRAR", status: http.StatusUnauthorized, code: "UNAUTHENTICATED"},
			{xRole: "COURT", status: http.StatusOK, code: "GRANT_REQUIRED"},
			{xRole: "POLICE", status: http.StatusOK, role: "POLICE"},
		}},
		// Valid for 1–2 s more: exp is 28 s ago in whole seconds, the leeway 30 s.
		{name: "a cached token expires", token: func() string { return env.TokenFor(o.Identity, -28*time.Second) }, steps: []step{
			{status: http.StatusOK, role: "POLICE"},
			{status: http.StatusOK, role: "POLICE"},
			{expired: true, status: http.StatusUnauthorized, code: "UNAUTHENTICATED", reason: "expired", audited: true},
			{status: http.StatusUnauthorized, code: "UNAUTHENTICATED", reason: "expired", audited: true},
		}},
	}
	newestEntry := func() testenv.AuditEntry {
		entries := env.AuditEntries(o.Subject) // newest first
		if len(entries) == 0 {
			return testenv.AuditEntry{}
		}
		return entries[0]
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := c.token()
			var claims jwt.RegisteredClaims
			if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
				t.Fatal(err)
			}
			for i, s := range c.steps {
				if s.expired {
					time.Sleep(time.Until(claims.ExpiresAt.Add(30 * time.Second)))
				}
				var before testenv.AuditEntry
				if s.audited {
					before = newestEntry()
				}
				r := env.Do(token, `{ me { role } prisons { id } }`, nil, "X-Role", s.xRole)
				if r.Status != s.status {
					t.Fatalf("step %d: HTTP %d, want %d: %s", i, r.Status, s.status, r.Raw)
				}
				if s.code == "" {
					if role := testenv.Path(r.Data, "me", "role"); role != s.role || len(r.Errors) > 0 {
						t.Fatalf("step %d: want role %s, got %s", i, s.role, r.Raw)
					}
					continue
				}
				if len(r.Errors) != 1 || r.Errors[0].Code() != s.code || r.Data != nil {
					t.Fatalf("step %d: want one %s error and no data: %s", i, s.code, r.Raw)
				}
				if reason, _ := r.Errors[0].Extensions["reason"].(string); s.reason != "" && reason != s.reason {
					t.Errorf("step %d: reason %q, want %q", i, reason, s.reason)
				}
				if s.audited {
					if e := newestEntry(); e.Sequence <= before.Sequence || e.Outcome != "DENIED" || e.SubjectVerified ||
						e.ErrorCode == nil || *e.ErrorCode != "UNAUTHENTICATED" {
						t.Errorf("step %d: the refusal is not the subject's newest audit entry: %+v", i, e)
					}
				}
			}
		})
	}
}

// TestCachedTokenAfterTheProviderWithdrawsItsKey: in production with an identity provider's
// key set, a token accepted (and cached) is refused through the real handler once the provider
// withdraws the key that signed it and the server has fetched the set again — the cache does
// not outlive the key.
func TestCachedTokenAfterTheProviderWithdrawsItsKey(t *testing.T) {
	t.Parallel()
	dev := testenv.New(t, testenv.Options{Persons: 10}) // a database with the demo grants
	o, _ := seed.OfficialFor(PO)
	idp := testidp.New(t, "withdrawn", "kept")
	const refresh = 200 * time.Millisecond
	cfg := app.Config{Mode: app.Production, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: dev.Config.MongoURI,
		MongoDatabase: dev.Config.MongoDatabase, JWTDiscovery: true, JWTIssuer: idp.Issuer(), JWTAudience: "custodia",
		JWKSRefreshInterval: refresh, JWKSMinRefreshInterval: refresh, DBTimeout: 2 * time.Second,
		Now: func() time.Time { return testenv.Today }, AuditSigningKeyFile: testenv.AuditKeyFile(t, dev.Config.MongoDatabase)}
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
	identity := jwt.MapClaims{"sub": o.Subject, "agency": o.Agency, "roles": []string{"POLICE"}}
	withdrawn, kept := idp.Token(t, "withdrawn", "custodia", identity), idp.Token(t, "kept", "custodia", identity)
	status := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/query", strings.NewReader(`{"query":"{ me { role } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, _ := getStatus(hs.URL + "/readyz"); s == http.StatusOK {
			break
		}
	}
	for i := 0; i < 3; i++ {
		if s1, s2 := status(withdrawn), status(kept); s1 != http.StatusOK || s2 != http.StatusOK {
			t.Fatalf("use %d: HTTP %d and %d, want 200", i, s1, s2)
		}
	}
	idp.RemoveKey("withdrawn")
	start := time.Now()
	for status(withdrawn) == http.StatusOK {
		if time.Since(start) > 20*refresh {
			t.Fatalf("a token of the withdrawn key still accepted %s after the withdrawal (key set refreshed every %s)", time.Since(start), refresh)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := status(withdrawn); s != http.StatusUnauthorized {
		t.Errorf("the withdrawn key's token: HTTP %d, want 401", s)
	}
	if s := status(kept); s != http.StatusOK {
		t.Errorf("the kept key's token: HTTP %d, want 200", s)
	}
	t.Logf("refused %s after the withdrawal", time.Since(start).Round(time.Millisecond))
}
