package app_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
)

// TestReadmeExamples runs every ```graphql block of README.md as the role named in bold
// (**ROLE**) before it, so the README's first queries keep working.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t, testenv.Options{})
	roleMark := regexp.MustCompile(`\*\*([A-Z_]+)\*\*`)
	blocks := strings.Split(string(raw), "```graphql\n")
	if len(blocks) < 6 {
		t.Fatalf("README has %d GraphQL examples, want one per role", len(blocks)-1)
	}
	for i := 1; i < len(blocks); i++ {
		marks := roleMark.FindAllStringSubmatch(blocks[i-1], -1)
		if len(marks) == 0 {
			t.Fatalf("example %d has no **ROLE** before it", i)
		}
		role := model.Role(marks[len(marks)-1][1])
		query := blocks[i][:strings.Index(blocks[i], "```")]
		t.Run(string(role), func(t *testing.T) {
			r := env.As(role, query, nil)
			if len(r.Errors) > 0 || len(r.Data) == 0 {
				t.Fatalf("README example for %s fails: %s", role, r.Raw)
			}
		})
	}
}

// TestReadmeRegistrarPurpose checks what the README says of the copy example: as REGISTRAR,
// with CRIMINAL_PROCEEDINGS, it is FORBIDDEN (the register office's grant allows only
// REGISTER_MAINTENANCE); with REGISTER_MAINTENANCE it reads the same copy.
func TestReadmeRegistrarPurpose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var example string
	for _, block := range strings.Split(string(raw), "```graphql\n")[1:] {
		if q := block[:strings.Index(block, "```")]; strings.Contains(q, "CRIMINAL_PROCEEDINGS") && strings.Contains(q, "includeExpunged: true") {
			example = q
		}
	}
	if example == "" {
		t.Fatal("README has no copy example with CRIMINAL_PROCEEDINGS")
	}
	env := testenv.New(t, testenv.Options{Persons: 10})
	r := env.As(model.RoleRegistrar, example, nil)
	if codes := r.Codes(); len(codes) != 1 || codes[0] != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "does not allow the purpose CRIMINAL_PROCEEDINGS") || r.Data["searchPersons"] != nil {
		t.Errorf("REGISTRAR with CRIMINAL_PROCEEDINGS: want FORBIDDEN naming the purpose, got %s", r.Raw)
	}
	r = env.As(model.RoleRegistrar, strings.Replace(example, "CRIMINAL_PROCEEDINGS", "REGISTER_MAINTENANCE", 1), nil)
	if len(r.Errors) > 0 || testenv.Path(r.Data, "searchPersons", "edges", 0, "node", "familyName") != "Dvořáková" {
		t.Errorf("REGISTRAR with REGISTER_MAINTENANCE: %s", r.Raw)
	}
}
