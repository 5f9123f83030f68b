package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// getSDL fetches GET /schema.graphql with a token ("" for none).
func getSDL(t *testing.T, env *testenv.Env, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/schema.graphql", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSchemaSDLIsTheCallersRoleSchema: GET /schema.graphql returns the caller's role SDL (the
// schema introspection shows that role), and each download is in the audit trail.
func TestSchemaSDLIsTheCallersRoleSchema(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	for _, role := range []model.Role{model.RolePolice, model.RoleCourt, model.RoleAuditor} {
		status, body := getSDL(t, env, env.Token(role))
		if status != http.StatusOK || body != env.Server.Policy.SDLFor(role) {
			t.Errorf("%s: got %d and a schema that is not the role's:\n%.300s", role, status, body)
		}
		o, _ := seed.OfficialFor(role)
		entriesPage, err := env.Server.Trail.Entries(context.Background(), store.AuditQuery{Subject: o.Subject, Limit: 5})
		entries := entriesPage.Entries
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[0].OperationName == nil || *entries[0].OperationName != "GET /schema.graphql" ||
			entries[0].Outcome != model.AuditOutcomeAllowed || entries[0].Role == nil || *entries[0].Role != role {
			t.Errorf("%s: the download is not the newest audit entry of %s: %+v", role, o.Subject, entries)
		}
	}
	if a, b := env.Server.Policy.SDLFor(model.RolePolice), env.Server.Policy.SDLFor(model.RoleCourt); a == b {
		t.Error("POLICE and COURT should see different schemas")
	}
}

// TestSchemaSDLRefusals: no token is 401 UNAUTHENTICATED with a GraphQL error body; where
// introspection is off, the endpoint does not exist.
func TestSchemaSDLRefusals(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	status, body := getSDL(t, env, "")
	var resp struct {
		Errors []testenv.GQLError `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || status != http.StatusUnauthorized || len(resp.Errors) != 1 || resp.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Errorf("without a token: %d %s", status, body)
	}
	off := testenv.New(t, testenv.Options{Persons: 5, Mutate: func(c *app.Config) { c.Introspection = false }})
	if status, _ := getSDL(t, off, off.Token(model.RolePolice)); status != http.StatusNotFound {
		t.Errorf("with introspection off: got %d, want 404", status)
	}
}
