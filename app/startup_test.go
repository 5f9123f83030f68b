package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/seed"
)

// TestInstancesStartTogetherOnAnEmptyDatabase starts four development instances at once on
// one fresh database: none fails, exactly one seeds, the others wait for its seed and keep it,
// and each serves the complete register.
func TestInstancesStartTogetherOnAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	uri := testenv.SharedDatabaseURI(t)
	db := fmt.Sprintf("together_%d", time.Now().UnixNano())
	const instances = 4
	servers := make([]*app.Server, instances)
	logs := make([]*strings.Builder, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		logs[i] = &strings.Builder{}
		cfg := app.Config{Mode: app.Development, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: uri, MongoDatabase: db,
			DemoPersons: 40, Claims: auth.DefaultClaimNames, DBTimeout: 5 * time.Second, Now: func() time.Time { return testenv.Today }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(&lockedBuilder{b: logs[i]}, nil)))
		}()
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			defer s.Close()
		}
		if errs[i] != nil {
			t.Fatalf("instance %d did not start: %v", i, errs[i])
		}
	}
	seeded := 0
	var counts []map[string]int64
	for i, s := range servers {
		if strings.Contains(logs[i].String(), "demo register seeded") {
			seeded++
		}
		c, err := s.Store.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, c)
	}
	if seeded != 1 {
		t.Fatalf("want exactly one instance to seed, got %d", seeded)
	}
	want := seed.Build(seed.Options{Persons: 40})
	for i, c := range counts {
		if c["persons"] != int64(len(want.Persons)) || c["grants"] != int64(len(want.Grants)) || c["prisons"] != int64(len(want.Prisons)) {
			t.Fatalf("instance %d sees an incomplete or doubled register: %v (want %d persons, %d grants, %d prisons)", i, c, len(want.Persons), len(want.Grants), len(want.Prisons))
		}
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
