package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// TestBatchedLookupsOnEveryEngine loads batches larger than maxConcurrentLookups, with missing
// and blocked persons among them, on both paths: each batch returns exactly the stored persons
// the rule keeps; on the point-lookup path no more than maxConcurrentLookups finds are in flight
// at once, even with several batches at the same time; and a batch whose context ends stops
// with an error instead of reading on.
func TestBatchedLookupsOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	const stored = 3*maxConcurrentLookups + 1
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			inFlight, most := map[int64]bool{}, 0
			s, err := Open(ctx, Config{URI: e.URI(), Database: "batched_" + mode[:2], BatchLoads: mode,
				OnCommandStart: func(_ context.Context, id int64, command, collection string) {
					if command != "find" || collection != colPersons {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					inFlight[id] = true
					most = max(most, len(inFlight))
				},
				OnCommandEnd: func(id int64, _ bool) {
					mu.Lock()
					defer mu.Unlock()
					delete(inFlight, id)
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			var reg Register
			var ids, want []string
			for i := range stored {
				p := model.Person{ID: fmt.Sprintf("P-%02d", i), FamilyName: "Dávka", DateOfBirth: model.MustDate("1980-01-01"), Sex: model.SexFemale}
				if i%5 == 0 {
					p.Blocked = &model.Blocking{Since: time.Now().UTC().Truncate(time.Millisecond)}
				} else {
					want = append(want, p.ID)
				}
				reg.Persons = append(reg.Persons, p)
				ids = append(ids, p.ID, fmt.Sprintf("MISSING-%02d", i))
			}
			if err := s.LoadRegister(ctx, reg, nil); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					got, err := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, ids)
					if err != nil {
						t.Error(err)
						return
					}
					var keys []string
					for id, p := range got {
						if p == nil || p.ID != id {
							t.Errorf("%s: got %+v", id, p)
						}
						keys = append(keys, id)
					}
					slices.Sort(keys)
					if !slices.Equal(keys, want) {
						t.Errorf("persons %v, want %v (the stored, unblocked ones)", keys, want)
					}
				})
			}
			wg.Wait()
			if mode == "point-lookups" && (most > maxConcurrentLookups || most < 2) {
				t.Errorf("%d finds in flight at most, want between 2 and %d", most, maxConcurrentLookups)
			}

			ended, cancel := context.WithCancel(ctx)
			cancel()
			if got, err := s.PersonsByIDs(ended, Scope{HideBlocked: true}, ids); err == nil {
				t.Errorf("a batch with an ended context: %d persons and no error", len(got))
			}
		})
	}
}

// TestIDFilterIsTheEncodedDocument checks that the directly built {_id: id} filter is byte for
// byte what the driver's encoder makes of bson.D{{"_id", id}}.
func TestIDFilterIsTheEncodedDocument(t *testing.T) {
	for _, id := range []string{"", "P-000001", "Dvořák/2026", strings.Repeat("x", 300), "a\x00b"} {
		want, err := bson.Marshal(bson.D{{Key: "_id", Value: id}})
		if err != nil {
			t.Fatal(err)
		}
		if got := idFilter(id); !bytes.Equal(got, want) {
			t.Errorf("idFilter(%q) = %x, want %x", id, []byte(got), want)
		}
	}
}

// TestAuditLeavesOnEveryEngine reads the audit log's leaves on both paths from the start and
// from a middle position, after an entry was deleted by hand (the range query skips the gap;
// the lookups by _id skip it too, since it lies before the head) and after the head hint was
// moved far ahead by hand (the lookups stop after a run of missing positions instead of
// probing to the hint).
func TestAuditLeavesOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			s := openOnPath(t, e.URI(), "leaves_"+mode[:2], mode)
			appendOperations(t, s, 40)
			leaves := func(from int) []int {
				t.Helper()
				var seqs []int
				if err := s.AuditLeaves(ctx, from, func(l AuditLeaf) bool {
					if l.Entry == nil || *l.Entry.OperationName != fmt.Sprintf("op%d", l.Seq) || len(l.Leaf) == 0 {
						t.Errorf("leaf %d: %+v", l.Seq, l)
					}
					seqs = append(seqs, l.Seq)
					return true
				}); err != nil {
					t.Fatal(err)
				}
				return seqs
			}
			seqs := func(from, to int, except ...int) []int {
				var out []int
				for i := from; i <= to; i++ {
					if !slices.Contains(except, i) {
						out = append(out, i)
					}
				}
				return out
			}
			if got := leaves(1); !slices.Equal(got, seqs(1, 40)) {
				t.Errorf("leaves from 1: %v", got)
			}
			if got := leaves(38); !slices.Equal(got, seqs(38, 40)) {
				t.Errorf("leaves from 38: %v", got)
			}
			if got := leaves(41); len(got) != 0 {
				t.Errorf("leaves from past the end: %v", got)
			}
			if _, err := s.db.Collection(colAudit).DeleteOne(ctx, bson.D{{Key: "_id", Value: AuditID(7)}}); err != nil {
				t.Fatal(err)
			}
			if got := leaves(1); !slices.Equal(got, seqs(1, 40, 7)) {
				t.Errorf("leaves from 1 after entry 7 was deleted: %v", got)
			}
			if err := s.advanceAuditMark(ctx, auditHeadID, 1_000_000); err != nil {
				t.Fatal(err)
			}
			if got := leaves(30); !slices.Equal(got, seqs(30, 40)) {
				t.Errorf("leaves from 30 with the head hint at 1,000,000: %v", got)
			}
		})
	}
}

// TestAuditTrailOnEveryEngine lists an audit log of 3,000 entries page by page with queries
// without a person — none, a rare subject, an agency below a cursor, a time range from and to,
// a cursor past the end — on both paths, and checks that they list the same entries: the indexed queries MongoDB is
// sent, and the backward reads by _id where the server would scan, whose pages stop after
// auditScanBudget positions and say where to go on. An entry whose body retention removed is
// listed by neither.
func TestAuditTrailOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	const n = 3000
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	at := func(seq int) time.Time { return base.Add(time.Duration(seq) * time.Second) }
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%d|%s", e.Sequence, *e.Subject) }
	var entries []*model.AuditEntry
	for i := 1; i <= n; i++ {
		subject, agency := "common", []string{"A", "B"}[i%2]
		if i%1000 == 0 {
			subject = "rare"
		}
		entries = append(entries, &model.AuditEntry{Kind: model.AuditKindOperation, Subject: &subject, Agency: &agency,
			Time: at(i), Outcome: model.AuditOutcomeAllowed})
	}
	stores := map[string]*Store{}
	for _, mode := range []string{"point-lookups", "in"} {
		s, err := Open(ctx, Config{URI: e.URI(), Database: "trail", BatchLoads: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		stores[mode] = s
	}
	if err := stores["in"].EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stores["in"].AppendAudit(ctx, entries, encode); err != nil {
		t.Fatal(err)
	}
	if _, err := stores["in"].db.Collection(colAudit).UpdateOne(ctx, bson.D{{Key: "_id", Value: AuditID(n - 1)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "subject", Value: ""}, {Key: "agency", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	from, to, until := at(2500), at(101), at(2600)
	queries := []struct {
		name string
		q    AuditQuery
	}{
		{"the newest", AuditQuery{Limit: 400}},
		{"a rare subject", AuditQuery{Subject: "rare", Limit: 10}},
		{"an agency below a cursor", AuditQuery{Agency: "B", BeforeSeq: 1500, Limit: 400}},
		{"from a time", AuditQuery{From: &from, Limit: 200}},
		{"from and to a time", AuditQuery{From: &from, To: &until, Limit: 1000}},
		{"to a time long ago", AuditQuery{To: &to, Limit: 30}},
		{"below a cursor past the end", AuditQuery{BeforeSeq: 1 << 40, Limit: 500}},
	}
	for _, c := range queries {
		t.Run(c.name, func(t *testing.T) {
			listed := map[string][]int{}
			stoppedEarly := false
			for mode, s := range stores {
				q := c.q
				for pages := 0; ; pages++ {
					if pages > 100 {
						t.Fatalf("%s: more than 100 pages", mode)
					}
					p, err := s.AuditEntries(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range p.Entries {
						listed[mode] = append(listed[mode], e.Sequence)
						if e.Sequence == n-1 {
							t.Errorf("%s: the entry whose body was removed is listed", mode)
						}
					}
					if !p.More {
						break
					}
					if len(p.Entries) < q.Limit {
						stoppedEarly = true
					}
					if p.Next <= 0 || (q.BeforeSeq > 0 && p.Next >= q.BeforeSeq) {
						t.Fatalf("%s: next page below %d after %d", mode, p.Next, q.BeforeSeq)
					}
					q.BeforeSeq = p.Next
				}
			}
			if !slices.Equal(listed["point-lookups"], listed["in"]) || len(listed["in"]) == 0 {
				t.Errorf("listed by point lookups %v,\nby the indexed query %v", listed["point-lookups"], listed["in"])
			}
			if c.name == "a rare subject" && !stoppedEarly {
				t.Errorf("no page stopped after %d positions", auditScanBudget)
			}
		})
	}
}

// TestAuditLeavesAfterDeletedRuns deletes runs of entries longer than auditIndexBatch by hand
// (a database administrator tampering with the log) and reads the log in order on both paths:
// both list every entry that is still stored, in order — the walk by _id must not take a long
// run of missing positions before the head for the end of the log and hide the entries after
// it (an export would silently stop there).
func TestAuditLeavesAfterDeletedRuns(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%s|%s", e.ID, *e.OperationName) }
	const n = 2*auditIndexBatch + 100
	cases := []struct {
		name         string
		deleteFrom   int
		deleteTo     int
		from         int
		headHintFrom int // when > 0, the head hint is moved forward to this position
	}{
		{name: "a run in the middle", deleteFrom: 10, deleteTo: 10 + auditIndexBatch + 40, from: 1},
		{name: "two batches in the middle", deleteFrom: 20, deleteTo: 20 + 2*auditIndexBatch, from: 5},
		{name: "the start", deleteFrom: 1, deleteTo: auditIndexBatch + 1, from: 1},
		{name: "the tail", deleteFrom: n - auditIndexBatch - 9, deleteTo: n, from: 1},
		{name: "a run and a head hint far ahead", deleteFrom: 30, deleteTo: 30 + auditIndexBatch, from: 1, headHintFrom: 1_000_000},
	}
	for _, mode := range []string{"point-lookups", "in"} {
		for i, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				s, err := Open(ctx, Config{URI: e.URI(), Database: fmt.Sprintf("runs_%s_%d", mode[:2], i), BatchLoads: mode})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close(ctx)
				var entries []*model.AuditEntry
				for i := range n {
					name := fmt.Sprintf("op%d", i+1)
					entries = append(entries, &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Outcome: model.AuditOutcomeAllowed})
				}
				if err := s.AppendAudit(ctx, entries, encode); err != nil {
					t.Fatal(err)
				}
				if _, err := s.db.Collection(colAudit).DeleteMany(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gte", Value: tc.deleteFrom}, {Key: "$lte", Value: tc.deleteTo}}}}); err != nil {
					t.Fatal(err)
				}
				if tc.headHintFrom > 0 {
					if err := s.advanceAuditMark(ctx, auditHeadID, tc.headHintFrom); err != nil {
						t.Fatal(err)
					}
				}
				var want, got []int
				for seq := tc.from; seq <= n; seq++ {
					if seq < tc.deleteFrom || seq > tc.deleteTo {
						want = append(want, seq)
					}
				}
				if err := s.AuditLeaves(ctx, tc.from, func(l AuditLeaf) bool {
					got = append(got, l.Seq)
					return true
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("leaves from %d after %d..%d were deleted: %d leaves, want %d (got %v)", tc.from, tc.deleteFrom, tc.deleteTo, len(got), len(want), got)
				}
				// The trail, newest first, page by page, lists the same entries in a few pages.
				var listed []int
				q := AuditQuery{Limit: 50}
				for pages := 0; ; pages++ {
					if pages > n/q.Limit+3 {
						t.Fatalf("audit trail after %d..%d were deleted: more than %d pages (listed %v)", tc.deleteFrom, tc.deleteTo, pages, listed)
					}
					p, err := s.AuditEntries(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range p.Entries {
						if e.Sequence >= tc.from {
							listed = append(listed, e.Sequence)
						}
					}
					if !p.More {
						break
					}
					q.BeforeSeq = p.Next
				}
				slices.Reverse(listed)
				if !slices.Equal(listed, want) {
					t.Errorf("audit trail after %d..%d were deleted: %d entries, want %d (got %v)", tc.deleteFrom, tc.deleteTo, len(listed), len(want), listed)
				}
			})
		}
	}
}
