package store

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// BenchmarkRoundTrip measures the client's CPU per database round trip, the floor under the
// API's own CPU per operation (issue 14 point 4, docs/performance.md): one `_id` lookup sent
// with the driver directly and decoded into bson.Raw, the same lookup through the store
// (PersonsByIDs of one person), and a batch of 50 through the store on the point-lookup path
// (per lookup). Each runs from one goroutine and from 8 at once. cpu-µs/lookup is this
// process's user and system CPU per lookup (getrusage): with BENCH_MONGODB_URI naming a
// database in a process of its own (`custodia db`), that is the client's CPU alone; without, the
// benchmark starts the embedded engine in-process and the figure includes the engine's CPU.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	uri := os.Getenv("BENCH_MONGODB_URI")
	if uri == "" {
		uri = startEmbedded(b).URI()
	}
	s, err := Open(ctx, Config{URI: uri, Database: "bench_roundtrip", BatchLoads: "point-lookups"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.db.Drop(ctx); err != nil { // a register of an earlier run, in a database of its own
		b.Fatal(err)
	}
	var reg Register
	var ids []string
	for i := range 50 {
		p := model.Person{ID: fmt.Sprintf("P-RT-%02d", i), FamilyName: "Okružní", GivenNames: "Jan", DateOfBirth: model.MustDate("1980-01-01"), Sex: model.SexMale}
		reg.Persons, ids = append(reg.Persons, p), append(ids, p.ID)
	}
	if err := s.LoadRegister(ctx, reg, nil); err != nil {
		b.Fatal(err)
	}
	persons := s.db.Collection(colPersons)
	ops := []struct {
		name    string
		lookups int
		run     func(i int) error
	}{
		{"driver", 1, func(i int) error {
			var raw bson.Raw
			return persons.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i%len(ids)]}}).Decode(&raw)
		}},
		{"store", 1, func(i int) error {
			got, err := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, ids[i%len(ids):i%len(ids)+1])
			if err == nil && len(got) != 1 {
				err = fmt.Errorf("%d persons, want 1", len(got))
			}
			return err
		}},
		{"store-batch50", len(ids), func(int) error {
			got, err := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, ids)
			if err == nil && len(got) != len(ids) {
				err = fmt.Errorf("%d persons, want %d", len(got), len(ids))
			}
			return err
		}},
	}
	for _, op := range ops {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", op.name, clients), func(b *testing.B) {
				b.SetParallelism(max(1, clients/2))
				if clients == 1 {
					b.SetParallelism(1)
				}
				cpu := rusageCPU()
				b.ResetTimer()
				if clients == 1 {
					for i := 0; b.Loop(); i++ {
						if err := op.run(i); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for i := 0; pb.Next(); i++ {
							if err := op.run(i); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				b.ReportMetric(float64((rusageCPU()-cpu).Microseconds())/float64(b.N*op.lookups), "cpu-µs/lookup")
			})
		}
	}
}

// rusageCPU is the user and system CPU this process has used.
func rusageCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
