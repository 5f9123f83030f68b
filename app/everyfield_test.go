package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// selectAll builds a selection of every field of a type that the schema (a role's reduced
// schema) offers, following object fields without revisiting a type on the current path.
func selectAll(s *ast.Schema, typeName string, path map[string]bool) string {
	def := s.Types[typeName]
	if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface) {
		return ""
	}
	path[typeName] = true
	defer delete(path, typeName)
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		inner := f.Type.Name()
		if d := s.Types[inner]; d != nil && d.Kind == ast.Object {
			if path[inner] {
				continue
			}
			sub := selectAll(s, inner, path)
			if sub == "" {
				continue
			}
			parts = append(parts, f.Name+" "+sub)
			continue
		}
		parts = append(parts, f.Name)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// TestEveryReadableFieldOfEveryType asks, for every role, for every field that role may read
// below each of its root queries, and expects data without errors.
func TestEveryReadableFieldOfEveryType(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 30})
	env.MustData(model.RolePolice, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { id } }`, map[string]any{"p": testenv.Purpose(model.RolePolice)})
	if _, err := env.Server.Trail.Checkpoint(context.Background()); err != nil { // for the proofs
		t.Fatal(err)
	}
	roots := map[string]string{
		"person":                `person(id: "%s", purpose: $p)`,
		"personByNationalId":    `personByNationalId(nationalId: "755630/4129", purpose: $p)`,
		"searchPersons":         `searchPersons(filter: {familyName: "dvorakova", dateOfBirth: "1975-06-30"}, purpose: $p)`,
		"prisons":               `prisons`,
		"prison":                `prison(id: "PRS-PANKRAC")`,
		"me":                    `me`,
		"myAccessGrants":        `myAccessGrants`,
		"accessGrants":          `accessGrants(first: 5)`,
		"auditTrail":            `auditTrail(first: 5)`,
		"disclosures":           `disclosures(personId: "P-000002")`,
		"verifyAuditChain":      `verifyAuditChain`,
		"auditCheckpoint":       `auditCheckpoint`,
		"auditInclusionProof":   `auditInclusionProof(sequence: 1)`,
		"auditConsistencyProof": `auditConsistencyProof(fromSize: 1)`,
		"auditExport":           `auditExport(first: 5)`,
		"recipientsToNotify":    `recipientsToNotify(personId: "P-000002", since: "2020-01-01T00:00:00Z")`,
	}
	for _, role := range model.AllRole {
		schema := env.Server.Policy.SchemaFor(role)
		for _, f := range schema.Query.Fields {
			call, ok := roots[f.Name]
			if !ok {
				if !strings.HasPrefix(f.Name, "__") {
					t.Errorf("no test call for root query %s", f.Name)
				}
				continue
			}
			t.Run(string(role)+"/"+f.Name, func(t *testing.T) {
				if strings.Contains(call, "%s") {
					call = fmt.Sprintf(call, seed.NamedDvorakova) // in the REINTEGRATION caseload
				}
				sel := selectAll(schema, f.Type.Name(), map[string]bool{})
				vars, params := map[string]any{}, ""
				if strings.Contains(call, "$p") {
					vars["p"], params = testenv.Purpose(role), "($p: PurposeInput!)"
				}
				q := "query" + params + " { " + call + " " + sel + " }"
				r := env.As(role, q, vars)
				if len(r.Errors) > 0 || r.Data == nil {
					t.Fatalf("%s\n%s", q, r.Raw)
				}
			})
		}
	}
}
