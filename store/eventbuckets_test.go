package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// TestEventsAfterOnEveryEngine reads the event log after cursors old and recent, a page at a
// time, on both paths (point-lookups: through the time buckets; in: the _id range): the same
// events in ID order, an event whose bucket was written but whose insert never happened is not
// invented, and a purge leaves what it should. On the point-lookup path every read of the log
// and its buckets is exactly {_id: <string>}.
func TestEventsAfterOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			var mu sync.Mutex
			var filters []string // of finds on the log and its buckets, when not {_id: <string>}
			s, err := Open(ctx, Config{URI: e.URI(), Database: fmt.Sprintf("eventbuckets_%s_%d", mode[:2], time.Now().UnixNano()), BatchLoads: mode,
				OnCommandDocument: func(name string, command []byte) {
					doc := bson.Raw(command)
					col, _ := doc.Index(0).Value().StringValueOK()
					f, ok := doc.Lookup("filter").DocumentOK()
					if name != "find" || !ok || (col != colEvents && col != colEventBuckets) {
						return
					}
					if elems, _ := f.Elements(); len(elems) == 1 && elems[0].Key() == "_id" && elems[0].Value().Type == bson.TypeString {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					filters = append(filters, col+" "+f.String())
				}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(context.Background()) })
			now := time.Now().UTC()
			var want []string // event IDs in log order
			for i, ago := range []time.Duration{3 * time.Hour, 90 * time.Minute, 30 * time.Minute, 20 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 0} {
				ev := &model.PersonEvent{Kind: model.PersonEventKindAdmitted, PersonID: "P-1", EntityID: fmt.Sprint("D-", i), OccurredAt: now.Add(-ago)}
				if err := s.AppendEvent(ctx, fmt.Sprint("subj|key-", i), ev); err != nil {
					t.Fatal(err)
				}
				want = append(want, ev.Key)
			}
			slices.Sort(want)
			// Interrupted appends: buckets naming events never inserted, an hour and a second ago.
			for _, ago := range []time.Duration{time.Hour, time.Second} {
				if err := s.bucketEvent(ctx, NewEventID(now.Add(-ago))); err != nil {
					t.Fatal(err)
				}
			}
			read := func(after string, limit int) []string {
				t.Helper()
				var got []string
				for {
					page, err := s.EventsAfter(ctx, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range page.Events {
						got = append(got, e.Key)
					}
					if !page.More {
						return got
					}
					after = page.Next
				}
			}
			cases := []struct {
				name  string
				after string
				limit int
				want  []string
			}{
				{"the whole log", "", 100, want},
				{"the whole log, pages of 2", "", 2, want},
				{"after the first event", want[0], 100, want[1:]},
				{"resume an hour back, pages of 3", EventIDAt(now.Add(-time.Hour)), 3, want[2:]},
				{"a poll's lookback", EventIDAt(now.Add(-3 * time.Second)), 100, want[4:]},
				{"within a second", want[4], 1, want[5:]},
				{"after the last", want[len(want)-1], 100, nil},
			}
			for _, c := range cases {
				if got := read(c.after, c.limit); !slices.Equal(got, c.want) {
					t.Errorf("%s: %v, want %v", c.name, got, c.want)
				}
			}
			if n, err := s.PurgeEvents(ctx, now.Add(-time.Hour)); err != nil || n != 2 {
				t.Fatalf("purge: %d, %v", n, err)
			}
			if got := read("", 100); !slices.Equal(got, want[2:]) {
				t.Errorf("after the purge: %v, want %v", got, want[2:])
			}
			if got := read(want[0], 100); !slices.Equal(got, want[2:]) {
				t.Errorf("resumed from a purged event: %v, want %v", got, want[2:])
			}
			mu.Lock()
			defer mu.Unlock()
			if mode == "point-lookups" && len(filters) > 0 {
				t.Errorf("reads of the event log that are not exactly {_id: <string>}: %v", filters)
			}
		})
	}
}
