package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/store"
)

// TestAuditVerifyCommand runs `custodia audit verify` on files, as an auditor would: an export
// and a kept checkpoint verify; after an entry is edited in the database, a new export does not.
func TestAuditVerifyCommand(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 10})
	for i := 0; i < 3; i++ {
		env.MustData(model.RoleCourt, `{ prisons { id } }`, nil)
	}
	ctx := context.Background()
	cp, err := env.Server.Trail.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept.checkpoint")
	keyFile := filepath.Join(dir, "audit.pub")
	if err := os.WriteFile(kept, cp.Note, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(env.Server.Trail.Key().VerifierKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The export is taken from the running server, as an AUDITOR, two positions per page.
	exportPageSize = 2
	export := func() string {
		f := filepath.Join(dir, "export.jsonl")
		var out bytes.Buffer
		if err := auditCommand([]string{"export", "-url", env.HTTP.URL + "/query", "-token", env.Token(model.RoleAuditor), "-o", f}, &out, nil); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), `"seq":3,`) {
			t.Fatalf("export: %v %s", err, b)
		}
		return f
	}
	var out bytes.Buffer
	if err := auditCommand([]string{"verify", "-key", keyFile, "-checkpoint", kept, "-export", export()}, &out, nil); err != nil {
		t.Fatalf("an untouched log: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "the audit log verifies") || !strings.Contains(out.String(), "witnessed up to: 3") {
		t.Errorf("report: %s", out.String())
	}
	if _, err := env.RawCollection("audit").UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(2)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "someone-else"}}}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = auditCommand([]string{"verify", "-key", env.Server.Trail.Key().VerifierKey, "-checkpoint", kept, "-export", export()}, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "does NOT verify") {
		t.Fatalf("an edited log verified: %v\n%s", err, out.String())
	}
}
