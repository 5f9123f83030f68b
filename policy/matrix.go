package policy

import (
	"fmt"
	"slices"
	"strings"

	"custodia/model"
)

// MatrixMarkdown renders the access matrix (coordinate × role) as docs/access-matrix.md shows
// it. It is generated from the schema's @access directives; a test keeps the file in sync.
func (p *Policy) MatrixMarkdown() string {
	var b strings.Builder
	b.WriteString("# Access matrix\n\n")
	b.WriteString("Generated from the `@access` directives in `schema.graphqls` by `go test ./policy -run TestAccessMatrixDocument -update`;\n")
	b.WriteString("a test fails when this file and the schema disagree. ✓ = the role may read the coordinate;\n")
	b.WriteString("anything not listed is denied. `Type.field(arg:)` and `Input.field` rows apply when the argument or input\n")
	b.WriteString("field is given a value other than its default. Row rules (REINTEGRATION caseload, expunged convictions)\n")
	b.WriteString("apply on top, in the database query (DESIGN §4).\n\n")
	b.WriteString("| coordinate |")
	for _, r := range model.AllRole {
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString("\n|---|")
	for range model.AllRole {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range p.Matrix() {
		fmt.Fprintf(&b, "| `%s` |", c.Name)
		for _, r := range model.AllRole {
			mark := "–"
			if slices.Contains(c.Roles, r) {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}
