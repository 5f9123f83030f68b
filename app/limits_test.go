package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

func TestAbuseLimits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	var aliases, roots strings.Builder
	for i := 0; i < 31; i++ {
		fmt.Fprintf(&aliases, " a%d: id", i)
	}
	for i := 0; i < 11; i++ {
		fmt.Fprintf(&roots, " r%d: prisons { id }", i)
	}
	cyclic := `{ searchPersons(filter: {familyName: "novak", givenNames: "jan"}, first: 50, purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
	  edges { node { convictions(includeExpunged: true) { sentences { conviction { person { convictions(includeExpunged: true) { offences { category } sentences { kind } } } } } } } } } }`
	deep := `{ person(id: "P-000001", purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) { convictions { sentences { conviction { person { convictions { sentences { conviction { person { convictions { sentences { conviction { id } } } } } } } } } } } } }`
	cases := []struct {
		name, query, contains string
	}{
		{"complexity with list multipliers", cyclic, "complexity"},
		{"depth", deep, "levels deep"},
		{"aliases", `{ prisons {` + aliases.String() + ` } }`, "aliases"},
		{"root fields", `{` + roots.String() + ` }`, "root fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.As(model.RoleCourt, c.query, nil)
			if len(r.Errors) != 1 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" || r.Data != nil || !strings.Contains(r.Errors[0].Message, c.contains) {
				t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED about %s, got %s", c.contains, r.Raw)
			}
		})
	}
	// Ordinary operations pass: the 1,000-object page, and GraphiQL's introspection.
	env.MustData(model.RoleCourt, benchPage, map[string]any{"first": 50, "copy": true})
	env.MustData(model.RoleCourt, introspectionQuery, nil)

	big := strings.Repeat(" ", 2<<20)
	req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+"/query", strings.NewReader(`{"query":"{ prisons { id } }`+big+`"}`))
	req.Header.Set("Authorization", "Bearer "+env.Token(model.RoleCourt))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Errors []testenv.GQLError }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || len(body.Errors) != 1 || body.Errors[0].Code() != "PAYLOAD_TOO_LARGE" {
		t.Errorf("a 2 MiB body: HTTP %d %v", resp.StatusCode, body.Errors)
	}
}

const introspectionQuery = `query IntrospectionQuery { __schema { queryType { name } mutationType { name } types { ...FullType } directives { name locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name args { ...InputValue } type { ...TypeRef } isDeprecated } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

func TestRateLimitAndTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.Limits.RatePerSec, c.Limits.RateBurst = 1, 3 }})
	token := env.Token(model.RolePolice)
	var limited *testenv.Response
	for i := 0; i < 6; i++ {
		r := env.Do(token, prisonsQuery, nil)
		if r.Status == http.StatusTooManyRequests {
			limited = &r
			break
		}
	}
	if limited == nil || limited.Errors[0].Code() != "RATE_LIMITED" {
		t.Fatalf("6 requests at once with a burst of 3 must be rate limited: %v", limited)
	}
	// Another subject is not affected.
	env.MustData(model.RoleCourt, prisonsQuery, nil)

	slow := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.Limits.Timeout = time.Nanosecond }})
	r := slow.As(model.RolePolice, prisonsQuery, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" || r.Data != nil {
		t.Fatalf("a request past its time limit: %s", r.Raw)
	}
}

func TestPersistedOperations(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	query := `{ prisons(kind: SECURITY_DETENTION_INSTITUTE) { id } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	apq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	token := env.Token(model.RolePolice)
	if r := env.Post(token, map[string]any{"extensions": apq}); len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("an unknown hash: %s", r.Raw)
	}
	if r := env.Post(token, map[string]any{"query": query, "extensions": apq}); len(r.Errors) > 0 {
		t.Fatalf("registering: %s", r.Raw)
	}
	if r := env.Post(token, map[string]any{"extensions": apq}); len(r.Errors) > 0 || len(testenv.Path(r.Data, "prisons").([]any)) != 2 {
		t.Fatalf("by hash: %s", r.Raw)
	}

	// Production option: only operations from the allow-list file.
	file := filepath.Join(t.TempDir(), "operations.json")
	list, _ := json.Marshal(map[string]string{hash: query})
	if err := os.WriteFile(file, list, 0o600); err != nil {
		t.Fatal(err)
	}
	strict := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.Limits.AllowListFile = file }})
	token = strict.Token(model.RolePolice)
	if r := strict.Post(token, map[string]any{"extensions": apq}); len(r.Errors) > 0 {
		t.Fatalf("an allowed operation by hash: %s", r.Raw)
	}
	if r := strict.Post(token, map[string]any{"query": query}); len(r.Errors) > 0 {
		t.Fatalf("an allowed operation by text: %s", r.Raw)
	}
	r := strict.Post(token, map[string]any{"query": `{ prisons { id name } }`})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" || r.Data != nil {
		t.Fatalf("an operation not in the allow-list: %s", r.Raw)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.Limits.CORSOrigins = []string{"https://spis.soud.example"} }})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, env.HTTP.URL+"/query", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://spis.soud.example")
	if ok.StatusCode != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != "https://spis.soud.example" ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed origin: %d %v", ok.StatusCode, ok.Header)
	}
	if other := preflight("https://evil.example"); other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin must get no CORS headers: %v", other.Header)
	}
}
