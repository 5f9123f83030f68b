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
				p := model.Person{ID: fmt.Sprintf("P-%02d", i), FamilyName: "Dávka"}
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
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%s|%s", e.ID, *e.OperationName) }
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			s, err := Open(ctx, Config{URI: e.URI(), Database: "leaves_" + mode[:2], BatchLoads: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			var entries []*model.AuditEntry
			for i := range 40 {
				name := fmt.Sprintf("op%d", i+1)
				entries = append(entries, &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Outcome: model.AuditOutcomeAllowed})
			}
			if err := s.AppendAudit(ctx, entries, encode); err != nil {
				t.Fatal(err)
			}
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
