package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custodia/model"
	"custodia/store"
)

// TestEmbeddedIDLookupsUseAnIndex checks that the embedded engine's SQLite answers FerretDB's
// _id lookup from an index once a collection exists (store.Embedded.indexIDs), instead of
// parsing every row: the query plan of FerretDB's own _id condition names the index.
func TestEmbeddedIDLookupsUseAnIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := store.StartEmbedded(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{URI: e.URI(), Database: "idindex"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if got := s.BatchLoads(); got != "point-lookups" {
		t.Errorf("FerretDB scans $in, so batches must be point lookups; got %q", got)
	}
	if err := s.LoadRegister(ctx, store.Register{Prisons: []model.Prison{{ID: "PRS-A", Name: "A", Kind: model.PrisonKindPrison}}}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idindex.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err := db.QueryRowContext(ctx, `SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE 'prisons%custodia_id_path'`).Scan(&table)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no _id index on the prisons table: %v", err)
		}
	}
	var plan strings.Builder
	rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"PRS-A"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "; ")
	}
	rows.Close()
	if !strings.Contains(plan.String(), "USING INDEX") {
		t.Errorf("FerretDB's _id lookup scans: %s", plan.String())
	}
	found, err := s.PrisonsByIDs(ctx, []string{"PRS-A"})
	if err != nil || found["PRS-A"] == nil {
		t.Errorf("prison by _id: %v %v", found, err)
	}
}
