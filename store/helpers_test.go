package store

import (
	"context"
	"fmt"
	"testing"

	"custodia/model"
)

// startEmbedded starts an embedded FerretDB in a temporary directory for the test and stops
// it when the test ends.
func startEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e, err := StartEmbedded(t.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}

// openOnPath opens database db of the engine at uri on one batching path ("point-lookups" or
// "in"), closed when the test ends.
func openOnPath(t testing.TB, uri, db, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URI: uri, Database: db, BatchLoads: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// appendOperations appends n audit entries named op1…opN, at positions 1…n of an empty log.
func appendOperations(t testing.TB, s *Store, n int) {
	t.Helper()
	var entries []*model.AuditEntry
	for i := range n {
		name := fmt.Sprintf("op%d", i+1)
		entries = append(entries, &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Outcome: model.AuditOutcomeAllowed})
	}
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%s|%s", e.ID, *e.OperationName) }
	if err := s.AppendAudit(context.Background(), entries, encode); err != nil {
		t.Fatal(err)
	}
}
