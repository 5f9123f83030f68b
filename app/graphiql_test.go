package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
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

// TestDevSignInOnlyForTheServersOwnPage: a browser request from another site (development's
// CORS would let it read the answer) gets no demo tokens; the page itself and curl do.
func TestDevSignInOnlyForTheServersOwnPage(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	host := strings.TrimPrefix(env.HTTP.URL, "http://")
	cases := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"curl", nil, http.StatusOK},
		{"the GraphiQL page", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"the GraphiQL page, with Origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + host}, http.StatusOK},
		{"another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"another site, old browser", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"a sibling site", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/dev/officials", nil)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Officials []app.DevOfficial  `json:"officials"`
			Errors    []testenv.GQLError `json:"errors"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: got %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == http.StatusForbidden && (len(body.Officials) > 0 || len(body.Errors) != 1 || body.Errors[0].Code() != "FORBIDDEN") {
			t.Errorf("%s: want FORBIDDEN and no tokens, got %+v", c.name, body)
		}
	}
}
