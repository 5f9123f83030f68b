package app_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/internal/testenv"
	"custodia/model"
)

// exportPage is one page of auditExport.
type exportPage struct {
	AuditExport struct {
		Lines        []string `json:"lines"`
		LastSequence int      `json:"lastSequence"`
		HasMore      bool     `json:"hasMore"`
	} `json:"auditExport"`
}

// exportedSequences pages through auditExport as AUDITOR and returns the positions its lines
// carry, in order.
func exportedSequences(t *testing.T, env *testenv.Env, first int) []int {
	t.Helper()
	var seqs []int
	after := 0
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("auditExport: more than 100 pages")
		}
		p := testenv.DataAs[exportPage](t, env.As(model.RoleAuditor, `query($a: Int, $f: Int) { auditExport(afterSequence: $a, first: $f) { lines lastSequence hasMore } }`,
			map[string]any{"a": after, "f": first}))
		for _, l := range p.AuditExport.Lines {
			var line struct {
				Seq int `json:"seq"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
			if line.Seq > 0 {
				seqs = append(seqs, line.Seq)
			}
		}
		if !p.AuditExport.HasMore {
			return seqs
		}
		after = p.AuditExport.LastSequence
	}
}

// TestRestartOverALargeAuditLog starts a server over an audit log of 3,000 entries: its first
// auditTrail page lists the newest entries. A database administrator then deletes a run of 300
// entries in the middle by hand: verifyAuditChain reports the first of them, and auditExport
// still lists every entry after the run.
func TestRestartOverALargeAuditLog(t *testing.T) {
	t.Parallel()
	first := testenv.New(t, testenv.Options{Persons: 10})
	ctx := context.Background()
	const writers, each = 20, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				subject := "bulk-" + string(rune('a'+w))
				if err := first.Server.Trail.Append(ctx, &model.AuditEntry{Kind: model.AuditKindOperation, Subject: &subject, Outcome: model.AuditOutcomeAllowed}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := first.Server.Trail.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	env := testenv.New(t, testenv.Options{Persons: 10, Database: first.Config.MongoDatabase})
	t.Logf("restart over %d entries: %v", writers*each, time.Since(started))
	head := writers * each
	p := testenv.DataAs[trailPage](t, env.As(model.RoleAuditor, trailPageQuery, map[string]any{"first": 5}))
	if len(p.AuditTrail.Edges) != 5 || !p.AuditTrail.PageInfo.HasNextPage {
		t.Fatalf("first page: %+v", p)
	}
	for i, e := range p.AuditTrail.Edges {
		// Above the bulk entries only this test's own requests (one or two) can lie.
		if e.Node.Sequence < head-5 || (i > 0 && e.Node.Sequence != p.AuditTrail.Edges[i-1].Node.Sequence-1) {
			t.Fatalf("first page after the restart: %+v (head %d)", p.AuditTrail.Edges, head)
		}
	}
	if _, err := env.RawCollection("audit").DeleteMany(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gte", Value: 1000}, {Key: "$lt", Value: 1300}}}}); err != nil {
		t.Fatal(err)
	}
	report := testenv.DataAs[struct {
		VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
	}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { entriesChecked valid firstBrokenSequence problem treeSize checkpointsChecked } }`, nil)).VerifyAuditChain
	if report.Valid || report.FirstBrokenSequence == nil || *report.FirstBrokenSequence != 1000 {
		t.Errorf("verifyAuditChain after entries 1000 to 1299 were deleted: %+v %v", report, report.Problem)
	}
	seqs := exportedSequences(t, env, 5000)
	var want []int
	for s := 1; s <= head; s++ {
		if s < 1000 || s >= 1300 {
			want = append(want, s)
		}
	}
	if len(seqs) < len(want) {
		t.Fatalf("export after a deleted run: %d entries, want at least %d (last %d)", len(seqs), len(want), seqs[len(seqs)-1])
	}
	for i, s := range want {
		if seqs[i] != s {
			t.Fatalf("export position %d: entry %d, want %d", i, seqs[i], s)
		}
	}
}
