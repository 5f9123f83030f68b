package app_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// BenchmarkWatch1000Subscribers: 1,000 graphql-transport-ws subscribers (one official each
// would exceed the per-official bound, so the bound is raised) watch one person on one
// instance; each iteration is one recorded conviction, timed from the write's
// acknowledgement to each subscriber's receipt. Reports heap per subscriber (server and the
// in-process client together) and delivery latency p50/p99.
func BenchmarkWatch1000Subscribers(b *testing.B) {
	const n = 1000
	env := testenv.New(b, testenv.Options{Mutate: func(c *app.Config) { c.Watch.PerSubject = n + 10; c.DBTimeout = 10 * time.Second }})
	token := env.Token(model.RoleCourt)
	vars := map[string]any{"id": seed.NamedDvorakova, "p": testenv.Purpose(model.RoleCourt)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	streams := make([]*testenv.Stream, n)
	for i := range streams {
		streams[i] = env.SubscribeWS(token, watchPerson, vars)
	}
	time.Sleep(2 * time.Second) // every subscription registered
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	var latencies []time.Duration
	b.ResetTimer()
	for i := range b.N {
		field := "recordConviction"
		r := env.As(model.RoleCourt, recordConviction, map[string]any{"pid": seed.NamedDvorakova, "in": benchConviction,
			"k": fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i), "p": testenv.Purpose(model.RoleCourt)})
		acked := time.Now()
		if len(r.Errors) > 0 {
			b.Fatalf("%s: %s", field, r.Raw)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := s.Next(30 * time.Second)
				if m.Done || len(m.Errors) > 0 {
					b.Errorf("subscriber ended: %+v", m)
					return
				}
				d := time.Since(acked)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(heap, "heap-B/subscriber")
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
	for _, s := range streams {
		s.Close()
	}
}

const recordConviction = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id } }`

var benchConviction = map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 9/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01",
	"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
	"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "5000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2020-03-01", "endDate": "2020-04-01"}}}
