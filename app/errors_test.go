package app_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"custodia/app"
	"custodia/apperr"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated error tables of docs/errors.md and README.md")

const (
	tableBegin = "<!-- error table: generated from app.ErrorTableMarkdown by `go test ./app -run TestErrorTablesMatchTheCode -update` -->\n"
	tableEnd   = "<!-- end of error table -->"
)

// TestErrorTablesMatchTheCode: every code has one HTTP status and a description, and the
// tables of docs/errors.md and README.md are exactly what the code says, so they cannot drift.
func TestErrorTablesMatchTheCode(t *testing.T) {
	seen := map[apperr.Code]bool{}
	for _, c := range apperr.Codes {
		if seen[c.Code] || c.When == "" {
			t.Errorf("code %s listed twice or without a description", c.Code)
		}
		seen[c.Code] = true
		if status, _ := app.StatusRule(c.Code); status < 400 || (status == 500) != (c.Code == apperr.Internal) {
			t.Errorf("code %s: HTTP %d (only INTERNAL is 500; every code is an error status)", c.Code, status)
		}
	}
	want := app.ErrorTableMarkdown()
	for _, path := range []string{"../docs/errors.md", "../README.md"} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(raw)
		begin, end := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
		if begin < 0 || end < begin {
			t.Fatalf("%s has no generated error table (markers %q … %q)", path, tableBegin, tableEnd)
		}
		got := doc[begin+len(tableBegin) : end]
		if got == want {
			continue
		}
		if !*updateDocs {
			t.Errorf("%s: the error table differs from the code; run go test ./app -run TestErrorTablesMatchTheCode -update", path)
			continue
		}
		if err := os.WriteFile(path, []byte(doc[:begin+len(tableBegin)]+want+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
