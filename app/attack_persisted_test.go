package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
)

// TestPersistedQueriesAreNoOracleForOthersQueries: automatic persisted queries are the
// caller's own. Shared by every official, a hash told another official whether someone had
// recently sent that exact text — an analyst's GraphiQL query naming a person and a case, say:
// it ran (as the caller, within the caller's rights) instead of PERSISTED_QUERY_NOT_FOUND.
func TestPersistedQueriesAreNoOracleForOthersQueries(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	query := `{ person(id: "P-000001", purpose: {caseReference: "3 T 87/2014", reason: CRIMINAL_PROCEEDINGS}) { id } }`
	sum := sha256.Sum256([]byte(query))
	apq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	if r := env.Post(env.Token(C), map[string]any{"query": query, "extensions": apq}); len(r.Errors) > 0 {
		t.Fatalf("COURT registering its query: %s", r.Raw)
	}
	if r := env.Post(env.Token(C), map[string]any{"extensions": apq}); len(r.Errors) > 0 {
		t.Fatalf("COURT by hash: %s", r.Raw)
	}
	for _, role := range []model.Role{PR, PO} {
		if r := env.Post(env.Token(role), map[string]any{"extensions": apq}); r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Errorf("%s sending COURT's hash: want PERSISTED_QUERY_NOT_FOUND, got %s", role, r.Raw)
		}
	}
}
