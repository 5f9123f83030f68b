package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// TestBatchedLookupsOnEveryEngine loads batches larger than maxConcurrentLookups, with missing
// and blocked persons among them, on both paths: each batch returns exactly the stored persons
// the rule keeps; on the point-lookup path no more than maxConcurrentLookups finds are in flight
// at once, even with several batches at the same time; and a batch whose context ends stops
// with an error instead of reading on.
func TestBatchedLookupsOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	const stored = 3*maxConcurrentLookups + 1
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			inFlight, most := map[int64]bool{}, 0
			s, err := Open(ctx, Config{URI: e.URI(), Database: "batched_" + mode[:2], BatchLoads: mode,
				OnCommandStart: func(_ context.Context, id int64, command, collection string) {
					if command != "find" || collection != colPersons {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					inFlight[id] = true
					most = max(most, len(inFlight))
				},
				OnCommandEnd: func(id int64, _ bool) {
					mu.Lock()
					defer mu.Unlock()
					delete(inFlight, id)
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			var reg Register
			var ids, want []string
			for i := range stored {
				p := model.Person{ID: fmt.Sprintf("P-%02d", i), FamilyName: "Dávka"}
				if i%5 == 0 {
					p.Blocked = &model.Blocking{Since: time.Now().UTC().Truncate(time.Millisecond)}
				} else {
					want = append(want, p.ID)
				}
				reg.Persons = append(reg.Persons, p)
				ids = append(ids, p.ID, fmt.Sprintf("MISSING-%02d", i))
			}
			if err := s.LoadRegister(ctx, reg, nil); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					got, err := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, ids)
					if err != nil {
						t.Error(err)
						return
					}
					var keys []string
					for id, p := range got {
						if p == nil || p.ID != id {
							t.Errorf("%s: got %+v", id, p)
						}
						keys = append(keys, id)
					}
					slices.Sort(keys)
					if !slices.Equal(keys, want) {
						t.Errorf("persons %v, want %v (the stored, unblocked ones)", keys, want)
					}
				})
			}
			wg.Wait()
			if mode == "point-lookups" && (most > maxConcurrentLookups || most < 2) {
				t.Errorf("%d finds in flight at most, want between 2 and %d", most, maxConcurrentLookups)
			}

			ended, cancel := context.WithCancel(ctx)
			cancel()
			if got, err := s.PersonsByIDs(ended, Scope{HideBlocked: true}, ids); err == nil {
				t.Errorf("a batch with an ended context: %d persons and no error", len(got))
			}
		})
	}
}

// TestIDFilterIsTheEncodedDocument checks that the directly built {_id: id} filter is byte for
// byte what the driver's encoder makes of bson.D{{"_id", id}}.
func TestIDFilterIsTheEncodedDocument(t *testing.T) {
	for _, id := range []string{"", "P-000001", "Dvořák/2026", strings.Repeat("x", 300), "a\x00b"} {
		want, err := bson.Marshal(bson.D{{Key: "_id", Value: id}})
		if err != nil {
			t.Fatal(err)
		}
		if got := idFilter(id); !bytes.Equal(got, want) {
			t.Errorf("idFilter(%q) = %x, want %x", id, []byte(got), want)
		}
	}
}
