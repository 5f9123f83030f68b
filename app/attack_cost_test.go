package app_test

import (
	"strings"
	"testing"

	"custodia/internal/testenv"
)

// TestAuditReadsAreCountedByTheirWork: an AUDITOR's reads of the whole log cost what they do.
// verifyAuditChain reads and hashes every entry (10 aliased copies took ten times the work of
// one in a single request); an auditExport page reads `first` entries. Asking for more than
// one verification, or for exports beyond the complexity limit, is refused before any of it
// is done; one of each, as the offline exporter asks, runs.
func TestAuditReadsAreCountedByTheirWork(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	aliased := func(n int, field string) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			b.WriteString("a" + string(rune('a'+i)) + ": " + field + " ")
		}
		return b.String() + "}"
	}
	const (
		verify = `verifyAuditChain { valid entriesChecked }`
		export = `auditExport(first: 5000) { lines lastSequence hasMore }`
	)
	cases := []struct {
		name, query string
		refused     bool
	}{
		{"one verification", "{ " + verify + " auditCheckpoint { size } }", false},
		{"two verifications", aliased(2, verify), true},
		{"ten verifications", aliased(10, verify), true},
		{"one export page of 5000, as the exporter asks", "{ " + export + " }", false},
		{"ten export pages of 5000", aliased(10, "auditExport(first: 5000) { lines }"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := env.DBCommands()
			r := env.As(AU, c.query, nil)
			work := env.DBCommands() - before
			if !c.refused {
				if len(r.Errors) > 0 {
					t.Fatalf("refused: %s", r.Raw)
				}
				return
			}
			if r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
				t.Fatalf("want no data and COMPLEXITY_LIMIT_EXCEEDED, got %.300s", r.Raw)
			}
			if work > 5 { // the grant check and the audit entry of the refusal
				t.Errorf("the refusal took %d database commands", work)
			}
		})
	}
}
