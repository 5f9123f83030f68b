package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestRetentionRemovesBodiesOnEveryEngine removes the bodies of an audit log's oldest entries
// on both paths — one update by the seq index (MongoDB's), updates by _id of the positions not
// yet removed (the scanning engine's) — and checks that exactly the positions up to each
// record lose their bodies: after a first purge, after a purge that was interrupted after
// writing its record (the next one finishes it), and under a record written before the
// progress was kept (every position up to the new record is visited).
func TestRetentionRemovesBodiesOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			s := openOnPath(t, e.URI(), "retention_"+mode[:2], mode)
			removed := func() []int {
				t.Helper()
				var seqs []int
				if err := s.AuditLeaves(ctx, 1, func(l AuditLeaf) bool {
					if l.Entry == nil {
						seqs = append(seqs, l.Seq)
					} else if *l.Entry.OperationName != fmt.Sprintf("op%d", l.Seq) {
						t.Errorf("entry %d: %q", l.Seq, *l.Entry.OperationName)
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
				return seqs
			}
			upTo := func(n int) []int {
				var out []int
				for i := 1; i <= n; i++ {
					out = append(out, i)
				}
				return out
			}
			setRecord := func(update bson.D) {
				t.Helper()
				if _, err := s.db.Collection(colAuditMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: auditRetentionID}}, update, options.UpdateOne().SetUpsert(true)); err != nil {
					t.Fatal(err)
				}
			}
			appendOperations(t, s, 1100) // more than two rounds of retentionProgressEvery

			if err := s.RemoveAuditBodies(ctx, 600, []byte("first")); err != nil {
				t.Fatal(err)
			}
			if got := removed(); !slices.Equal(got, upTo(600)) {
				t.Errorf("after removing through 600: %d removed (%v…)", len(got), got[:min(len(got), 5)])
			}
			if through, note, err := s.AuditRetention(ctx); err != nil || through != 600 || string(note) != "first" {
				t.Errorf("record: %d %q %v", through, note, err)
			}
			// Interrupted after writing its record through 800, before removing anything.
			setRecord(bson.D{{Key: "$set", Value: bson.D{{Key: "through", Value: 800}, {Key: "note", Value: "interrupted"}}}})
			if err := s.RemoveAuditBodies(ctx, 900, []byte("second")); err != nil {
				t.Fatal(err)
			}
			if got := removed(); !slices.Equal(got, upTo(900)) {
				t.Errorf("after an interrupted purge and one through 900: %d removed", len(got))
			}
			// A record from before the progress was kept, through 1000, whose removal stopped
			// early: the positions past 900 still have their bodies.
			setRecord(bson.D{{Key: "$set", Value: bson.D{{Key: "through", Value: 1000}}}, {Key: "$unset", Value: bson.D{{Key: "bodiesRemovedThrough", Value: ""}}}})
			if err := s.RemoveAuditBodies(ctx, 1050, []byte("third")); err != nil {
				t.Fatal(err)
			}
			if got := removed(); !slices.Equal(got, upTo(1050)) {
				t.Errorf("after a record without progress and one through 1050: %d removed", len(got))
			}
		})
	}
}
