package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

// TestPurgeKilledAfterItsRecordIsFinishedAtTheNextStart leaves the audit log as an instance
// killed during its start-up retention purge leaves it: the signed retention record is stored,
// the bodies it covers not (or only some) removed. The next start, with nothing new old enough
// to remove, finishes the removal — no body the signed record says is gone outlives it until
// some later entry passes the retention period — and verifyAuditChain reports the log valid.
func TestPurgeKilledAfterItsRecordIsFinishedAtTheNextStart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		progress int // the bodies removed, as the retention document says (0: it says nothing)
	}{
		{"killed before removing any body (the first purge)", 0},
		{"killed after removing some bodies", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var clock atomic.Pointer[time.Time]
			now := func() time.Time { return *clock.Load() }
			clock.Store(&testenv.Today)
			first := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.Now = now }})
			ctx := context.Background()
			for range 5 {
				first.MustData(model.RoleCourt, prisonsQuery, nil)
			}
			auditCol, meta := first.RawCollection("audit"), first.RawCollection("auditMeta")
			cur, err := auditCol.Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var before []bson.Raw
			if err := cur.All(ctx, &before); err != nil {
				t.Fatal(err)
			}
			// Two hours on, a purge with a retention of one hour (every entry so far passed it)
			// stores its record and removes the bodies; putting back the bodies after the
			// progress the case keeps leaves the state of a kill in between.
			later := testenv.Today.Add(2 * time.Hour)
			clock.Store(&later)
			through, err := first.Server.Trail.Purge(ctx, time.Hour)
			if err != nil || through != len(before) {
				t.Fatalf("purge: %d of %d removed, %v", through, len(before), err)
			}
			for _, d := range before {
				if seq, _ := d.Lookup("seq").AsInt64OK(); seq > int64(c.progress) {
					if _, err := auditCol.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.Lookup("_id")}}, d); err != nil {
						t.Fatal(err)
					}
				}
			}
			progress := bson.D{{Key: "$set", Value: bson.D{{Key: "bodiesRemovedThrough", Value: c.progress}}}}
			if c.progress == 0 {
				progress = bson.D{{Key: "$unset", Value: bson.D{{Key: "bodiesRemovedThrough", Value: ""}}}}
			}
			if _, err := meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "retention"}}, progress); err != nil {
				t.Fatal(err)
			}

			env := testenv.New(t, testenv.Options{Persons: 10, Database: first.Config.MongoDatabase, Mutate: func(c *app.Config) { c.Now = now }})
			if n, err := auditCol.CountDocuments(ctx, bson.D{{Key: "removed", Value: true}, {Key: "seq", Value: bson.D{{Key: "$lte", Value: through}}}}); err != nil || n != int64(through) {
				t.Fatalf("after the restart %d of the %d bodies the signed record covers are removed (%v)", n, through, err)
			}
			if n, err := auditCol.CountDocuments(ctx, bson.D{{Key: "removed", Value: true}}); err != nil || n != int64(through) {
				t.Fatalf("%d bodies removed, want only the %d the record covers (%v)", n, through, err)
			}
			if status, _ := env.Get("/readyz"); status != 200 {
				t.Fatalf("/readyz after the restart: %d", status)
			}
			env.MustData(model.RoleCourt, prisonsQuery, nil)
			report := testenv.DataAs[struct {
				VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
			}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { valid entriesChecked removedByRetention firstBrokenSequence problem } }`, nil)).VerifyAuditChain
			if !report.Valid || report.RemovedByRetention != through {
				t.Fatalf("verifyAuditChain after the restart: %+v %s", report, deref(report.Problem))
			}
		})
	}
}
