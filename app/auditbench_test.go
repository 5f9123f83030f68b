package app_test

import (
	"context"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
)

// BenchmarkAuditAppend is the cost of appending one audit entry through the trail to the
// embedded database, one caller at a time (serial) and from 32 concurrent callers (group
// commit batches them): hashing, tree update and the insert.
func BenchmarkAuditAppend(b *testing.B) {
	for _, bc := range []struct {
		name        string
		parallelism int
	}{{"serial", 0}, {"32callers", 16}} { // RunParallel runs parallelism×GOMAXPROCS (2) goroutines
		b.Run(bc.name, func(b *testing.B) {
			env := testenv.New(b, testenv.Options{Persons: 5})
			ctx := context.Background()
			entry := func() *model.AuditEntry {
				role := model.RoleCourt
				s := "demo-court"
				return &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed, Subject: &s, Role: &role,
					Coordinates: []string{"Query.person", "Person.familyName"}, PersonIDs: []string{"P-000001"}}
			}
			b.ResetTimer()
			if bc.parallelism == 0 {
				for b.Loop() {
					if err := env.Server.Trail.Append(ctx, entry()); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(bc.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := env.Server.Trail.Append(ctx, entry()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
