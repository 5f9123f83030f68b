package loaders_test

import (
	"context"
	"testing"

	"custodia/internal/testenv"
	"custodia/loaders"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// TestPrefetchedLookupsDoNotWait checks that lookups whose keys a root field's direct load or
// the prefetch already answered are served without a batch (and so without a batch window),
// and that a key nobody prefetched does go through one.
func TestPrefetchedLookupsDoNotWait(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	ctx := context.Background()
	l := loaders.New(env.Server.Store, store.Scope{})
	p, err := l.PersonNow(ctx, seed.NamedNovak)
	if err != nil || p == nil {
		t.Fatalf("person: %v %v", p, err)
	}
	want := loaders.Selection{Detentions: true, Prisons: true, PeriodSentences: true, Convictions: true, ConvictionsCopy: true}
	if err := l.PrefetchPersons(ctx, []*model.Person{p}, want); err != nil {
		t.Fatal(err)
	}
	rec, err := l.Detention.Load(ctx, p.ID)
	if err != nil || rec == nil || len(rec.Periods) == 0 {
		t.Fatalf("detention record: %v %v", rec, err)
	}
	lookups := []struct {
		name string
		load func() error
	}{
		{"person", func() error { _, err := l.Person.Load(ctx, p.ID); return err }},
		{"extract", func() error { _, err := l.Convictions(ctx, p.ID, false); return err }},
		{"copy", func() error { _, err := l.Convictions(ctx, p.ID, true); return err }},
		{"prison of each period", func() error {
			for _, period := range rec.Periods {
				if _, err := l.Prison.Load(ctx, period.PrisonID); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, c := range lookups {
		if err := c.load(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := l.Batches.Load(); n != 0 {
			t.Fatalf("%s: %d batches sent for keys the prefetch held", c.name, n)
		}
	}
	if _, err := l.Person.Load(ctx, seed.NamedSvoboda); err != nil {
		t.Fatal(err)
	}
	if n := l.Batches.Load(); n != 1 {
		t.Errorf("a key nobody prefetched: %d batches, want 1", n)
	}
}
