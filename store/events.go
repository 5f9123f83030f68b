package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

const (
	// colEvents is the event log: one document per event, _id ordered by time.
	colEvents = "events"
	// colEventKeys maps a write (its idempotency record's _id) to the event it logged, so a
	// retried write logs its event once.
	colEventKeys = "eventKeys"
)

// EventIDAt is the smallest event ID of the instant t. Event IDs are 16 hex digits of the
// Unix time in nanoseconds followed by 8 random hex digits, so their string order is their
// time order and every read of the log is an _id range (the only index FerretDB v1 uses).
func EventIDAt(t time.Time) string { return fmt.Sprintf("%016x", t.UnixNano()) }

// NewEventID is a fresh event ID for the instant t.
func NewEventID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return EventIDAt(t) + hex.EncodeToString(b[:])
}

// EventTime is the instant an event ID was made; false if id is not an event ID.
func EventTime(id string) (time.Time, bool) {
	if len(id) != 24 {
		return time.Time{}, false
	}
	var n int64
	if _, err := fmt.Sscanf(id[:16], "%016x", &n); err != nil {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(id[16:]); err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}

type eventKey struct {
	ID      string `bson:"_id"`
	EventID string `bson:"eventId"`
}

// AppendEvent logs e for the write identified by writeID (its idempotency record's _id) and
// sets e.Key. Ordered writes, no transaction: first the write's key record names the event
// ID, then the event is inserted. A retry of the write (after a crash anywhere in between)
// finds the key record and inserts the event under the same ID if it is missing, so a write
// logs its event exactly once. Before the event, its ID is listed in its time bucket
// (eventBuckets), which EventsAfter reads on engines that scan _id ranges. Indexes: _id of
// the three collections.
func (s *Store) AppendEvent(ctx context.Context, writeID string, e *model.PersonEvent) error {
	keys, events := s.db.Collection(colEventKeys), s.db.Collection(colEvents)
	k := eventKey{ID: writeID, EventID: NewEventID(e.OccurredAt)}
	if _, err := keys.InsertOne(ctx, k); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return classify(err)
		}
		if err := keys.FindOne(ctx, bson.D{{Key: "_id", Value: writeID}}).Decode(&k); err != nil {
			return classify(err)
		}
		if n, err := events.CountDocuments(ctx, bson.D{{Key: "_id", Value: k.EventID}}); err != nil {
			return classify(err)
		} else if n > 0 {
			e.Key = k.EventID
			return nil
		}
		// The first attempt named the event but crashed before logging it: log it now, under a
		// fresh ID, so pollers that moved past the old instant still see it.
		fresh := NewEventID(e.OccurredAt)
		if _, err := keys.UpdateOne(ctx, bson.D{{Key: "_id", Value: writeID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "eventId", Value: fresh}}}}); err != nil {
			return classify(err)
		}
		k.EventID = fresh
	}
	e.Key, e.Source = k.EventID, writeID
	// Its time bucket before the event (eventbuckets.go): a bucket may name an event that is
	// not there, never miss one that is.
	if err := s.bucketEvent(ctx, e.Key); err != nil {
		return err
	}
	if _, err := events.InsertOne(ctx, e); err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	return nil
}

// EventPage is a read of the event log, in ID order. When More, the log may hold further
// events: read on after Next — the last event's ID for a full page, or the position up to which
// the time buckets were examined when the read stopped at KeyScanBudget (then with fewer events
// than asked for, possibly none). Next is a cursor for EventsAfter only, not an event ID.
type EventPage struct {
	Events []model.PersonEvent
	More   bool
	Next   string
}

// EventsAfter reads up to limit events with an ID greater than after (all if after is ""), in
// ID order. Index: _id (range scan). Where the server serves only {_id: <string>} from an
// index (Store.scansIn), the range would read the whole log: the events are found through
// their time buckets instead (eventsAfterByBuckets), up to eventSkew past this instance's
// clock and from no earlier than the last purge's cutoff (or eventHorizon ago), looking up at
// most KeyScanBudget listed IDs per read.
func (s *Store) EventsAfter(ctx context.Context, after string, limit int) (EventPage, error) {
	if s.scansIn {
		return s.eventsAfterByBuckets(ctx, after, limit)
	}
	filter := bson.D{}
	if after != "" {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
	}
	cur, err := s.db.Collection(colEvents).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return EventPage{}, classify(err)
	}
	var out []model.PersonEvent
	if err := cur.All(ctx, &out); err != nil {
		return EventPage{}, classify(err)
	}
	p := EventPage{Events: out, More: len(out) == limit}
	if p.More {
		p.Next = out[limit-1].Key
	}
	return p, nil
}

// PurgeEvents removes events logged before t and their time buckets, and returns how many
// events. Index: _id (ranges on MongoDB; where the server serves only {_id: <string>} from an
// index, the buckets are walked from the last purge's floor and everything deleted by _id).
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int, error) {
	if s.scansIn {
		return s.purgeEventBuckets(ctx, before)
	}
	return s.purgeEventRanges(ctx, before)
}

// colCallbacks holds agency callbacks (few documents, read whole by the deliverer).
const colCallbacks = "eventCallbacks"

// InsertCallback stores a new callback.
func (s *Store) InsertCallback(ctx context.Context, c model.EventCallback) error {
	_, err := s.db.Collection(colCallbacks).InsertOne(ctx, c)
	return classify(err)
}

// Callbacks lists every registered callback. The collection holds one document per agency
// endpoint, so this is a scan of a handful of documents, not of the register.
func (s *Store) Callbacks(ctx context.Context) ([]model.EventCallback, error) {
	cur, err := s.db.Collection(colCallbacks).Find(ctx, bson.D{})
	if err != nil {
		return nil, classify(err)
	}
	var out []model.EventCallback
	if err := cur.All(ctx, &out); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// LeaseCallback takes the callback for owner until `until` if no other owner holds it now; it
// reports whether owner holds it. Index: _id. On FerretDB v1 two instances racing for one
// lease can both win (the filter and the write are not atomic): a receiver may see an event
// twice and deduplicates by its ID.
func (s *Store) LeaseCallback(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := s.db.Collection(colCallbacks).UpdateOne(ctx, bson.D{{Key: "_id", Value: id},
		{Key: "$or", Value: bson.A{bson.D{{Key: "leaseUntil", Value: bson.D{{Key: "$lt", Value: now}}}}, bson.D{{Key: "leaseOwner", Value: owner}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "leaseUntil", Value: until}, {Key: "leaseOwner", Value: owner}}}})
	if err != nil {
		return false, classify(err)
	}
	return res.MatchedCount == 1, nil
}

// SaveCallbackProgress records the delivery state of a callback. Index: _id.
func (s *Store) SaveCallbackProgress(ctx context.Context, id, cursor string, attempts int, next time.Time) error {
	_, err := s.db.Collection(colCallbacks).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "cursor", Value: cursor}, {Key: "attempts", Value: attempts}, {Key: "nextAttempt", Value: next}}}})
	return classify(err)
}
