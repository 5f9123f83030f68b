package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/web"
)

// productionEnv is a test server in production mode, adjusted by mutate.
func productionEnv(t *testing.T, mutate func(*app.Config)) *testenv.Env {
	t.Helper()
	env, _ := testenv.NewProduction(t, testenv.Options{Persons: 5, Mutate: mutate})
	return env
}

var pageConfig = regexp.MustCompile(`<script id="custodia-config" type="application/json">(.*?)</script>`)

// TestGraphiQLByMode: the page, its assets, the sign-in picker and persisted headers in each mode.
// The development sign-in endpoint is never registered in production, nor where the server
// does not verify with its development key.
func TestGraphiQLByMode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		env       func(t *testing.T) *testenv.Env
		page      bool
		want      web.PageConfig
		devSignIn int
	}{
		{"development", func(t *testing.T) *testenv.Env { return testenv.New(t, testenv.Options{Persons: 5}) },
			true, web.PageConfig{Endpoint: "query", DevSignIn: "dev/officials", PersistHeaders: true}, http.StatusOK},
		{"production with ENABLE_GRAPHIQL", func(t *testing.T) *testenv.Env {
			return productionEnv(t, func(c *app.Config) { c.GraphiQL = true })
		}, true, web.PageConfig{Endpoint: "query"}, http.StatusNotFound},
		{"production (default)", func(t *testing.T) *testenv.Env { return productionEnv(t, nil) },
			false, web.PageConfig{}, http.StatusNotFound},
		{"development with an identity provider's key", func(t *testing.T) *testenv.Env {
			return testenv.New(t, testenv.Options{Persons: 5, Mutate: func(c *app.Config) {
				c.JWTHS256Secret, c.JWTIssuer, c.JWTAudience = "an-identity-provider-secret-of-32-bytes!", "https://idp.justice.example", "custodia"
			}})
		}, true, web.PageConfig{Endpoint: "query", PersistHeaders: true}, http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := c.env(t)
			status, body := env.Get("/")
			_, asset := env.Get(web.AssetsPrefix + "graphiql.js")
			if !c.page {
				if status != http.StatusNotFound || len(asset) > 1000 {
					t.Errorf("GraphiQL must be off: page %d, asset of %d bytes", status, len(asset))
				}
			} else {
				m := pageConfig.FindStringSubmatch(body)
				if status != http.StatusOK || m == nil {
					t.Fatalf("page: %d %s", status, body)
				}
				var got web.PageConfig
				if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("page configuration: got %+v, want %+v", got, c.want)
				}
				if len(asset) < 100_000 {
					t.Errorf("the GraphiQL bundle is not served (%d bytes)", len(asset))
				}
			}
			if status, body := env.Get("/dev/officials"); status != c.devSignIn {
				t.Errorf("GET /dev/officials: got %d, want %d (%.200s)", status, c.devSignIn, body)
			}
		})
	}
}

// TestDevSignInTokensWorkForEveryRole: every demo official offered by the picker gets a token
// that the server accepts for that official's role.
func TestDevSignInTokensWorkForEveryRole(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	status, body := env.Get("/dev/officials")
	var list struct {
		Officials []app.DevOfficial `json:"officials"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != http.StatusOK {
		t.Fatalf("GET /dev/officials: %d %s", status, body)
	}
	if len(list.Officials) != len(model.AllRole) {
		t.Fatalf("want one official per role (%d), got %d", len(model.AllRole), len(list.Officials))
	}
	for _, o := range list.Officials {
		r := env.Do(o.Token, `{ me { subject role } }`, nil)
		var me struct {
			Subject string `json:"subject"`
			Role    string `json:"role"`
		}
		raw, _ := json.Marshal(r.Data["me"])
		_ = json.Unmarshal(raw, &me)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || me.Role != o.Role || me.Subject != o.Subject {
			t.Errorf("%s: token not accepted as %s/%s: %s", o.Role, o.Subject, o.Role, r.Raw)
		}
	}
}
