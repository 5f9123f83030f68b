package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"custodia/model"
)

// BenchmarkLogSize measures, on the embedded engine, the reads that used to grow with the
// audit log and the event log (docs/performance.md): Disclosures of a person (what a
// correction and a blocking read to name the recipients to notify), the watch hub's poll of the
// event log's tail (the last 3 s), and a resume from an hour back, with logs of 1,000 and
// 20,000 entries and events. The person is named in 20 entries and 10 events fall in the last
// hour whatever the size. Each read runs on both paths: point-lookups (what the store does on
// FerretDB v1: auditPersons, eventBuckets) and in (the filters MongoDB serves from its indexes,
// which FerretDB v1 answers by reading the whole collection — the cost before this change).
func BenchmarkLogSize(b *testing.B) {
	e := startEmbedded(b)
	ctx := context.Background()
	for _, n := range []int{1000, 20000} {
		db := fmt.Sprintf("logsize_%d", n)
		seed, err := Open(ctx, Config{URI: e.URI(), Database: db})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seedLogs(b, seed, n)
		b.Logf("%d audit entries and events written in %s", n, time.Since(start).Round(time.Second))
		_ = seed.Close(ctx)
		time.Sleep(idIndexInterval + time.Second) // the engine gives the new collections their _id index
		for _, mode := range []string{"point-lookups", "in"} {
			s, err := Open(ctx, Config{URI: e.URI(), Database: db, BatchLoads: mode})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("log=%d/%s/disclosures", n, mode), func(b *testing.B) {
				for b.Loop() {
					if got, err := s.Disclosures(ctx, "P-BENCH"); err != nil || len(got) != 20 {
						b.Fatalf("%d disclosures, %v", len(got), err)
					}
				}
			})
			b.Run(fmt.Sprintf("log=%d/%s/poll", n, mode), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.EventsAfter(ctx, EventIDAt(time.Now().Add(-3*time.Second)), 500); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("log=%d/%s/resume1h", n, mode), func(b *testing.B) {
				for b.Loop() {
					if got, err := s.EventsAfter(ctx, EventIDAt(time.Now().Add(-time.Hour)), 500); err != nil || len(got.Events) < 10 {
						b.Fatalf("%d events in the last hour, %v", len(got.Events), err)
					}
				}
			})
			_ = s.Close(ctx)
		}
	}
}

// seedLogs appends n audit entries (each naming one of 10 persons, so that the set-up writes
// few index documents; P-BENCH in 20 of them) through AppendAudit, and logs n events over the
// last six days, 100 to a second (10 of them in the last hour, in seconds of their own), through
// AppendEvent's writes — buckets, then the events, in bulk.
func seedLogs(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	agency, role := "Okresní soud", model.RoleCourt
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%s|%v", e.ID, e.PersonIDs) }
	now := time.Now().UTC()
	for done := 0; done < n; {
		batch := make([]*model.AuditEntry, min(1000, n-done))
		for i := range batch {
			k := done + i
			person := fmt.Sprintf("P-%06d", k%10) // few index documents: a quick set-up
			if k%(n/20) == 0 {
				person = "P-BENCH"
			}
			batch[i] = &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed, Agency: &agency, Role: &role,
				PersonIDs: []string{person}, Time: now.Add(-time.Duration(n-k) * time.Second).Truncate(time.Millisecond)}
		}
		if err := s.AppendAudit(ctx, batch, encode); err != nil {
			b.Fatal(err)
		}
		done += len(batch)
	}
	for { // what the audit trail's background indexer does
		n, err := s.IndexAuditPersons(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	events := make([]any, 0, n)
	buckets := map[string][]any{}
	for k := range n {
		at := now.Add(-2*time.Hour - time.Duration(k/100)*6*24*time.Hour/time.Duration(n/100)).Add(-time.Duration(k%100) * time.Microsecond)
		if k < 10 {
			at = now.Add(-time.Duration(k+1) * time.Minute)
		}
		id := NewEventID(at)
		events = append(events, model.PersonEvent{Key: id, Kind: model.PersonEventKindAdmitted, PersonID: fmt.Sprintf("P-%06d", k%5000), OccurredAt: at})
		buckets[secondBucketID(at.Unix())] = append(buckets[secondBucketID(at.Unix())], id)
		buckets[hourBucketID(at.Unix()/3600)] = append(buckets[hourBucketID(at.Unix()/3600)], at.Unix())
	}
	if err := s.addToSets(ctx, s.db.Collection(colEventBuckets), "in", buckets); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.Collection(colEvents).InsertMany(ctx, events); err != nil {
		b.Fatal(err)
	}
}
