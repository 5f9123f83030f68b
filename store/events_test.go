package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"custodia/model"
)

// TestAppendEventOncePerWrite: a write's event is logged once however often the write is
// retried, and a write that crashed after naming its event but before logging it gets the
// event on its retry, under an ID later than the one it named (pollers past that instant
// still see it).
func TestAppendEventOncePerWrite(t *testing.T) {
	e := startEmbedded(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{URI: e.URI(), Database: fmt.Sprintf("events_%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	ev := func() *model.PersonEvent {
		return &model.PersonEvent{Kind: model.PersonEventKindAdmitted, PersonID: "P-1", EntityID: "D-1", OccurredAt: time.Now().UTC()}
	}
	first, retry := ev(), ev()
	if err := s.AppendEvent(ctx, "subj|key-1", first); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(ctx, "subj|key-1", retry); err != nil {
		t.Fatal(err)
	}
	if retry.Key != first.Key {
		t.Fatalf("a retry logged another event: %s, then %s", first.Key, retry.Key)
	}
	// A crash between naming the event and logging it.
	named := NewEventID(time.Now().Add(-time.Hour))
	if _, err := s.db.Collection(colEventKeys).InsertOne(ctx, eventKey{ID: "subj|key-2", EventID: named}); err != nil {
		t.Fatal(err)
	}
	completed := ev()
	if err := s.AppendEvent(ctx, "subj|key-2", completed); err != nil {
		t.Fatal(err)
	}
	if completed.Key <= named {
		t.Fatalf("the completed event %s is not later than the named %s", completed.Key, named)
	}
	allPage, err := s.EventsAfter(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	all := allPage.Events
	if len(all) != 2 || all[0].Key != first.Key || all[1].Key != completed.Key || all[0].Source != "subj|key-1" {
		t.Fatalf("log holds %+v", all)
	}
	afterPage, err := s.EventsAfter(ctx, first.Key, 100)
	after := afterPage.Events
	if err != nil || len(after) != 1 || after[0].Key != completed.Key {
		t.Fatalf("EventsAfter(first) = %+v, %v", after, err)
	}
	if at, ok := EventTime(first.Key); !ok || time.Since(at) > time.Minute {
		t.Fatalf("EventTime(%s) = %v, %v", first.Key, at, ok)
	}
	if n, err := s.PurgeEvents(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("purge: %d, %v", n, err)
	}
}
