package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// TestAuditPersonsIndexNeitherMissesNorInvents checks, on both query paths (point-lookups:
// answered from auditPersons and the entries after its watermark; in: the personIds_seq query),
// that Disclosures and the person's audit trail list exactly the entries that name the person
// before the background indexer has run, after it has caught up, and in between (entries
// appended after the watermark, by this instance and another); an index that lists a position
// whose entry names someone else invents nothing; retention removes what it removed; and a
// dropped index (a database from before it) is answered right at once and rebuilt.
func TestAuditPersonsIndexNeitherMissesNorInvents(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			db := fmt.Sprintf("auditpersons_%s_%d", mode[:2], time.Now().UnixNano())
			open := func() *Store {
				s, err := Open(ctx, Config{URI: e.URI(), Database: db, BatchLoads: mode})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close(context.Background()) })
				if err := s.EnsureIndexes(ctx); err != nil {
					t.Fatal(err)
				}
				return s
			}
			encode := func(e *model.AuditEntry) []byte {
				return fmt.Appendf(nil, "%s|%s|%v", e.ID, *e.OperationName, e.PersonIDs)
			}
			entry := func(name string, outcome model.AuditOutcome, persons ...string) *model.AuditEntry {
				return &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Outcome: outcome, PersonIDs: persons,
					Time: time.Now().UTC().Truncate(time.Millisecond)}
			}
			appendAs := func(s *Store, entries ...*model.AuditEntry) {
				t.Helper()
				if err := s.AppendAudit(ctx, entries, encode); err != nil {
					t.Fatal(err)
				}
			}
			a, b := open(), open()
			appendAs(a, entry("a1", model.AuditOutcomeAllowed, "P-1", "P-2"), entry("a2", model.AuditOutcomeDenied, "P-1"))
			appendAs(b, entry("b1", model.AuditOutcomeAllowed, "P-2"))
			// The index lists position 4 for P-1 (a hand edit, or an index from another log):
			// nothing is there yet, and the entry that will take it names P-3.
			lost := entry("lost", model.AuditOutcomeAllowed, "P-1")
			lost.Sequence = 4
			if err := a.indexAuditPositions(ctx, []*model.AuditEntry{lost}); err != nil {
				t.Fatal(err)
			}
			var check func(step string, s *Store, person string, wantDisclosed, wantTrail []string)
			checkOnce := func(step string, s *Store, person string, wantDisclosed, wantTrail []string) {
				t.Helper()
				got, err := s.Disclosures(ctx, person)
				if err != nil {
					t.Fatal(err)
				}
				if names := opNames(got); !slices.Equal(names, wantDisclosed) {
					t.Errorf("%s: disclosures of %s %v, want %v", step, person, names, wantDisclosed)
				}
				// The trail, newest first, a page of one at a time (keyset on the sequence).
				var trail []string
				for before := 0; ; {
					got, err := s.AuditEntries(ctx, AuditQuery{PersonID: person, BeforeSeq: before, Limit: 1})
					if err != nil {
						t.Fatal(err)
					}
					page, more := got.Entries, got.More
					trail = append(trail, opNames(page)...)
					if !more || len(page) == 0 {
						break
					}
					before = page[len(page)-1].Sequence
				}
				if !slices.Equal(trail, wantTrail) {
					t.Errorf("%s: audit trail of %s %v, want %v", step, person, trail, wantTrail)
				}
			}
			check = func(step string, s *Store, person string, wantDisclosed, wantTrail []string) {
				t.Helper()
				checkOnce(step, s, person, wantDisclosed, wantTrail)
				for { // the background indexer's work, then the same answers from the index
					n, err := s.IndexAuditPersons(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				checkOnce(step+" (indexed)", s, person, wantDisclosed, wantTrail)
			}
			check("nothing indexed yet", a, "P-1", []string{"a1"}, []string{"a2", "a1"})
			// b takes position 4 for an entry about P-3, then a appends about P-1: its insert at
			// 3 (after its own last entry) collides with b1, and it goes on after b's entries, at
			// 5. Positions 4 and 5 are after the watermark; the index lists 4 for P-1 in excess.
			appendAs(b, entry("b2", model.AuditOutcomeAllowed, "P-3"))
			late := entry("a3", model.AuditOutcomeAllowed, "P-1")
			appendAs(a, late)
			if late.Sequence != 5 {
				t.Fatalf("a3 at %d, want 5 (after b's entries)", late.Sequence)
			}
			for _, s := range []*Store{a, b} {
				check("another instance took listed positions", s, "P-1", []string{"a1", "a3"}, []string{"a3", "a2", "a1"})
				check("another instance took listed positions", s, "P-3", []string{"b2"}, []string{"b2"})
				check("another instance took listed positions", s, "P-2", []string{"a1", "b1"}, []string{"b1", "a1"})
			}
			// The other conditions of a trail query apply to the person's entries.
			from := time.Now().Add(time.Hour)
			if got, err := a.AuditEntries(ctx, AuditQuery{PersonID: "P-1", From: &from, Limit: 10}); err != nil || len(got.Entries) != 0 {
				t.Errorf("trail of P-1 from an hour ahead: %v, %v", opNames(got.Entries), err)
			}
			// Retention removes the bodies of 1..2: what they disclosed is gone.
			if err := a.RemoveAuditBodies(ctx, 2, []byte("retention")); err != nil {
				t.Fatal(err)
			}
			check("after retention", a, "P-1", []string{"a3"}, []string{"a3"})
			check("after retention", a, "P-2", []string{"b1"}, []string{"b1"})
			// A database from before the index (or a dropped one): answered from the log at once,
			// then rebuilt by the indexer from the watermark 0.
			if err := a.db.Collection(colAuditPersons).Drop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := a.db.Collection(colAuditMeta).DeleteOne(ctx, bson.D{{Key: "_id", Value: auditPersonsIndexedID}}); err != nil {
				t.Fatal(err)
			}
			rebuilt := open()
			check("index dropped", rebuilt, "P-1", []string{"a3"}, []string{"a3"})
			check("index dropped", rebuilt, "P-3", []string{"b2"}, []string{"b2"})
		})
	}
}

func opNames(entries []model.AuditEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, *e.OperationName)
	}
	return out
}

// TestIndexingManyPersonsAtOnceDoesNotStallTheEngine indexes, in one run, entries naming more
// persons whose index documents already exist than the embedded engine has connections (100).
// FerretDB v1 keeps each update statement's cursor open until its whole update command ends,
// so one command of that many statements took every connection and waited for one more: the
// engine stalled for every client (seen after a restart, when the indexer caught up a backlog).
func TestIndexingManyPersonsAtOnceDoesNotStallTheEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	s := openOnPath(t, e.URI(), "manypersons", "point-lookups")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const persons = 120
	appendNaming := func() {
		t.Helper()
		entries := make([]*model.AuditEntry, persons)
		for i := range entries {
			name := "read"
			entries[i] = &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &name, Outcome: model.AuditOutcomeAllowed,
				Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), PersonIDs: []string{fmt.Sprintf("P-%06d", i)}}
		}
		if err := s.AppendAudit(ctx, entries, func(e *model.AuditEntry) []byte { return []byte(e.ID) }); err != nil {
			t.Fatal(err)
		}
	}
	for round := 1; round <= 2; round++ { // the second round updates existing documents
		appendNaming()
		if n, err := s.IndexAuditPersons(ctx); err != nil || n != persons {
			t.Fatalf("round %d: indexed %d, %v", round, n, err)
		}
	}
	seqs, err := s.auditPositionsOf(ctx, "P-000007")
	if err != nil || !slices.Equal(seqs, []int{8, persons + 8}) {
		t.Fatalf("P-000007's positions: %v, %v", seqs, err)
	}
}
