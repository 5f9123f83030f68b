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
