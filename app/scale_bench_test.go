package app_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// The scale benchmarks run the person card, a search page of 50 with every relation and the
// detention status of 50 against registers of several sizes (docs/performance.md). The sizes
// come from BENCH_PERSONS (default 1000; the recorded table uses 1000,10000,100000): the
// persons they read are stored last in every table (lastInTables), and each register is
// seeded once per test binary into a database of its own and kept for every
// -count round, and nothing here runs without -bench, so `go test ./...` never seeds them.
// BENCH_MONGODB_URI points them at a database in another process (`custodia db`, or MongoDB),
// so that the CPU this process reports is the API's own; BENCH_BATCH_LOADS=in makes the API
// batch as it does against MongoDB (one $in per relation and level) whatever the server.

func benchSizes(b *testing.B) []int {
	b.Helper()
	spec := os.Getenv("BENCH_PERSONS")
	if spec == "" {
		spec = "1000"
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 600 {
			b.Fatalf("BENCH_PERSONS: %q is not a register size of at least 600", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

var scaleSeeded sync.Map // database name → *sync.Once

// scaleEnv serves a register of n persons (50 of them share a family name and date of birth,
// each with convictions and detention history), seeding it on first use.
func scaleEnv(b *testing.B, n int) *testenv.Env {
	b.Helper()
	uri := os.Getenv("BENCH_MONGODB_URI")
	if uri == "" {
		uri = testenv.SharedDatabaseURI(b)
	}
	db := fmt.Sprintf("bench_%d", n)
	once, _ := scaleSeeded.LoadOrStore(db, &sync.Once{})
	var err error
	once.(*sync.Once).Do(func() {
		ctx := context.Background()
		var s *store.Store
		if s, err = store.Open(ctx, store.Config{URI: uri, Database: db, Timeout: 10 * time.Second}); err != nil {
			return
		}
		defer s.Close(ctx)
		var seeded bool
		if seeded, err = s.Seeded(ctx); err != nil || seeded {
			return
		}
		if err = s.DropDatabase(ctx); err != nil {
			return
		}
		if err = s.EnsureIndexes(ctx); err != nil {
			return
		}
		start := time.Now()
		reg := crowdRegisterOf(n, 50)
		lastInTables(&reg, func(p *model.Person) bool {
			return p.ID == seed.NamedNovak || p.ID == seed.NamedHorvath || p.FamilyName == "Zkušební"
		})
		err = s.LoadRegister(ctx, reg, nil)
		b.Logf("seeded %d persons in %s", n, time.Since(start).Round(time.Second))
	})
	if err != nil {
		b.Fatalf("seed %s: %v", db, err)
	}
	return testenv.New(b, testenv.Options{MongoURI: uri, Database: db, Mutate: func(c *app.Config) { c.BatchLoads = os.Getenv("BENCH_BATCH_LOADS") }})
}

// lastInTables moves the persons the benchmarks read (and their convictions and detention
// records) to the end of the register, so that they are stored last in every table: where a
// filter is not served by an index, FerretDB reads a table in storage order until the limit is
// reached, so a person stored first would hide such a scan (a find-one of the first row reads
// one row), and one stored last shows its full cost.
func lastInTables(r *store.Register, read func(*model.Person) bool) {
	last := map[string]bool{}
	for i := range r.Persons {
		if read(&r.Persons[i]) {
			last[r.Persons[i].ID] = true
		}
	}
	sortLast(r.Persons, func(p model.Person) bool { return last[p.ID] })
	sortLast(r.Convictions, func(c model.Conviction) bool { return last[c.PersonID] })
	sortLast(r.Detentions, func(d model.DetentionRecord) bool { return last[d.PersonID] })
}

// sortLast moves the elements for which last is true to the end, keeping the order otherwise.
func sortLast[T any](xs []T, last func(T) bool) {
	slices.SortStableFunc(xs, func(a, b T) int {
		switch la, lb := last(a), last(b); {
		case la == lb:
			return 0
		case la:
			return 1
		}
		return -1
	})
}

// processCPU is the CPU time this process has used (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type scaleOp struct {
	name  string
	role  model.Role
	query string
	vars  map[string]any
}

func scaleOps() []scaleOp {
	return []scaleOp{
		{"card", model.RoleCourt, personCard, map[string]any{"id": "P-000001", "purpose": testenv.Purpose(model.RoleCourt), "copy": true}},
		{"page50", model.RoleCourt, benchPage, map[string]any{"first": 50, "copy": true}},
		{"status50", model.RolePrisonService, benchStatus, map[string]any{"first": 50}},
	}
}

// BenchmarkScale runs each operation by one client, one after the other: time, database
// commands and CPU (of this process) per operation; the reads of scaleOps, then a write
// (benchAdmitRelease).
func BenchmarkScale(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("persons=%d", n), func(b *testing.B) {
			env := scaleEnv(b, n)
			for _, op := range scaleOps() {
				b.Run(op.name, func(b *testing.B) {
					cpu := processCPU()
					runBench(b, env, op.role, op.query, op.vars)
					b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
				})
			}
			b.Run("admit+release", func(b *testing.B) {
				cpu := processCPU()
				benchAdmitRelease(b, env)
				b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		})
	}
}

// benchAdmitRelease measures a write: the prison service admits one person to custody and
// releases them the next day (two version-checked writes of the detention record, with the
// person read, the idempotency record, the audit entry and the event of each), one operation
// per admission and release. Each operation's dates follow the person's latest period (read
// once, so the benchmark also runs on a database kept from earlier runs), and its idempotency
// keys are new.
func benchAdmitRelease(b *testing.B, env *testenv.Env) {
	b.Helper()
	token, purpose := env.Token(model.RolePrisonService), testenv.Purpose(model.RolePrisonService)
	type history struct {
		Person struct {
			DetentionHistory []struct {
				Start string
				End   *string
			}
		}
	}
	h := testenv.DataAs[history](b, env.Do(token, statusQuery, map[string]any{"pid": seed.NamedHorvath, "p": purpose}))
	day := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range h.Person.DetentionHistory {
		for _, d := range []*string{&p.Start, p.End} {
			if t, err := time.Parse(time.DateOnly, deref(d)); err == nil && !t.Before(day) {
				day = t.AddDate(0, 0, 1)
			}
		}
	}
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	i := 0
	before := env.DBCommands()
	for b.Loop() {
		if !day.AddDate(0, 0, 1).Before(testenv.Today) {
			b.Fatalf("no past day left for another admission of %s", seed.NamedHorvath)
		}
		admit := custody("PRS-BRNO-VV", day.Format(time.DateOnly))
		release := map[string]any{"date": day.AddDate(0, 0, 1).Format(time.DateOnly), "reason": "CUSTODY_ENDED"}
		for _, w := range []struct {
			query string
			in    map[string]any
		}{{admitQuery, admit}, {releaseQuery, release}} {
			i++
			vars := map[string]any{"pid": seed.NamedHorvath, "in": w.in, "k": fmt.Sprintf("bench-%s-%d", run, i), "p": purpose}
			if r := env.Do(token, w.query, vars); len(r.Errors) > 0 {
				b.Fatal(r.Raw)
			}
		}
		day = day.AddDate(0, 0, 2)
	}
	b.ReportMetric(float64(env.DBCommands()-before)/float64(b.N), "dbcmds/op")
}

// BenchmarkConcurrent8 runs each operation from 8 concurrent clients and reports the CPU this
// process spends per operation — with BENCH_MONGODB_URI, the API's own CPU per request.
func BenchmarkConcurrent8(b *testing.B) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("persons=%d", n), func(b *testing.B) {
			env := scaleEnv(b, n)
			for _, op := range scaleOps() {
				b.Run(op.name, func(b *testing.B) {
					token := env.Token(op.role)
					if r := env.Do(token, op.query, op.vars); len(r.Errors) > 0 {
						b.Fatal(r.Raw)
					}
					b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // 8 clients on 1, 2, 4 or 8 procs
					cpu := processCPU()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if r := env.Do(token, op.query, op.vars); len(r.Errors) > 0 {
								b.Error(r.Raw)
								return
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
				})
			}
		})
	}
}
