package examples_test

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/policy"
)

var update = flag.Bool("update", false, "rewrite schema/<ROLE>.graphql from the policy")

// TestRoleSchemasAreCurrent: schema/<ROLE>.graphql is exactly what `go run . schema -role <ROLE>`
// prints, for every role (go test ./examples -run TestRoleSchemasAreCurrent -update rewrites them).
func TestRoleSchemasAreCurrent(t *testing.T) {
	pol, err := policy.New(graph.NewExecutableSchema(graph.Config{}).Schema())
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range model.AllRole {
		file := filepath.Join("schema", string(role)+".graphql")
		want := pol.SDLFor(role)
		if *update {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("%s is out of date (%v): run go test ./examples -run TestRoleSchemasAreCurrent -update, then node codegen.mjs", file, err)
		}
	}
}

type operationFile struct {
	role      model.Role
	path      string
	text      string
	variables map[string]any // nil: not run (mutations, or no variables file)
}

func operationFiles(t *testing.T) []operationFile {
	t.Helper()
	dirs, err := os.ReadDir("operations")
	if err != nil {
		t.Fatal(err)
	}
	var out []operationFile
	for _, d := range dirs {
		role := model.Role(d.Name())
		if !d.IsDir() || !role.IsValid() {
			t.Errorf("operations/%s: want one folder per role, named like the role", d.Name())
			continue
		}
		files, _ := filepath.Glob(filepath.Join("operations", d.Name(), "*.graphql"))
		for _, f := range files {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			op := operationFile{role: role, path: f, text: string(text)}
			if raw, err := os.ReadFile(strings.TrimSuffix(f, ".graphql") + ".variables.json"); err == nil {
				if err := json.Unmarshal(raw, &op.variables); err != nil {
					t.Fatalf("%s variables: %v", f, err)
				}
			}
			out = append(out, op)
		}
	}
	if len(out) == 0 {
		t.Fatal("no example operations")
	}
	return out
}

// TestOperationsAreValidForTheirRole validates every example operation against its role's
// schema file — the schema the role's code generator sees.
func TestOperationsAreValidForTheirRole(t *testing.T) {
	schemas := map[model.Role]*ast.Schema{}
	for _, op := range operationFiles(t) {
		s := schemas[op.role]
		if s == nil {
			sdl, err := os.ReadFile(filepath.Join("schema", string(op.role)+".graphql"))
			if err != nil {
				t.Fatal(err)
			}
			if s, err = gqlparser.LoadSchema(&ast.Source{Name: string(op.role) + ".graphql", Input: string(sdl)}); err != nil {
				t.Fatalf("%s schema: %v", op.role, err)
			}
			schemas[op.role] = s
		}
		if _, errs := gqlparser.LoadQuery(s, op.text); len(errs) > 0 {
			t.Errorf("%s is not valid for %s: %v", op.path, op.role, errs)
		}
	}
}

// TestExampleQueriesRunAsTheirRole runs every example query that has a variables file against a
// real server as the demo official of its role: no errors, and data for every root field.
func TestExampleQueriesRunAsTheirRole(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 20})
	ran, roles := 0, map[model.Role]bool{}
	for _, op := range operationFiles(t) {
		if op.variables == nil {
			continue
		}
		ran++
		roles[op.role] = true
		r := env.Do(env.Token(op.role), op.text, op.variables)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || len(r.Data) == 0 {
			t.Errorf("%s as %s: HTTP %d %s", op.path, op.role, r.Status, r.Raw)
			continue
		}
		for field, v := range r.Data {
			if v == nil {
				t.Errorf("%s as %s: no data for %s", op.path, op.role, field)
			}
		}
	}
	if ran < 4 || len(roles) < 4 {
		t.Errorf("ran %d example queries for roles %v; want at least four roles covered", ran, roles)
	}
}
