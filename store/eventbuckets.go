package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

// colEventBuckets indexes the event log by time, for engines that serve only
// {_id: <string>} from an index (FerretDB v1), where the log's _id range would read every
// event: a second document ("s" and the Unix second, secondBucketID) lists the IDs of the
// events made in that second, an hour document ("h" and the Unix hour, hourBucketID) lists the
// seconds of that hour that have events, and the "floor" document holds the instant before
// which the log was purged. A read of the log after a cursor then costs one lookup per second
// since the cursor when it is recent (the watch hub's poll, EventsAfter's short path), or one
// per hour since the cursor plus one per second with events (a resume, a callback behind),
// plus one per event — never a read of the whole log.
//
// Written without transactions before the event (AppendEvent), like the search keys: a bucket
// may list an event that was never inserted or was purged, never miss one; a reader loads the
// listed events by _id and keeps those that exist.
const colEventBuckets = "eventBuckets"

const (
	eventFloorID = "floor"
	// eventShortSpan is how far back a cursor may be for EventsAfter to read the second
	// documents directly instead of going through the hour documents.
	eventShortSpan = 10 * time.Second
	// eventHorizon bounds how far back EventsAfter reads the buckets when no purge ever
	// recorded a floor: a cursor older than that is read from it.
	eventHorizon = 31 * 24 * time.Hour
	// eventSkew is how far past this instance's clock a read goes, for events written through
	// an instance whose clock is ahead.
	eventSkew = time.Second
	// secondsPerRead is how many second documents a read loads at once.
	secondsPerRead = 32
)

// secondBucketID and hourBucketID are the _ids of the bucket documents of a Unix second and a
// Unix hour, zero-padded so that _id order is time order (for the purge's range delete).
func secondBucketID(sec int64) string { return fmt.Sprintf("s%012d", sec) }
func hourBucketID(hour int64) string  { return fmt.Sprintf("h%09d", hour) }

// bucketDoc is a bucket document: event IDs (second documents) or seconds (hour documents).
type bucketDoc struct {
	ID string `bson:"_id"`
	In []any  `bson:"in"`
}

// bucketEvent lists an event ID in its second's document and the second in its hour's, in
// one update command, before the event is inserted. Index: _id.
func (s *Store) bucketEvent(ctx context.Context, eventID string) error {
	t, ok := EventTime(eventID)
	if !ok {
		return fmt.Errorf("event log: %q is not an event ID", eventID)
	}
	sec := t.Unix()
	return s.addToSets(ctx, s.db.Collection(colEventBuckets), "in", map[string][]any{
		secondBucketID(sec):      {eventID},
		hourBucketID(sec / 3600): {sec},
	})
}

// eventsAfterByBuckets is EventsAfter on an engine that serves only {_id: <string>} from an
// index: the seconds from the cursor's (or, for a cursor older than the log's floor or than
// eventHorizon, from that) to now are read in time order, a batch of second documents at a
// time, and the events they list loaded by _id, until limit events after the cursor are found
// or KeyScanBudget second documents and listed events were looked up: then the page has More
// and Next, the position up to which the buckets were examined (an event ID or an instant),
// with fewer events than asked for (possibly none) — a bucket bloated by hand costs each read
// a bounded number of lookups, and the next read goes on from where this one stopped.
func (s *Store) eventsAfterByBuckets(ctx context.Context, after string, limit int) (EventPage, error) {
	now := time.Now()
	start, ok := cursorTime(after)
	if !ok || now.Sub(start) > eventShortSpan {
		floor, err := s.eventFloor(ctx, now)
		if err != nil {
			return EventPage{}, err
		}
		if !ok || start.Before(floor) {
			start = floor
		}
	}
	first, last := start.Unix(), now.Add(eventSkew).Unix()
	var secs []int64
	if now.Sub(start) <= eventShortSpan {
		for sec := first; sec <= last; sec++ {
			secs = append(secs, sec)
		}
	} else {
		ids := []string{}
		for h := first / 3600; h <= last/3600; h++ {
			ids = append(ids, hourBucketID(h))
		}
		hours, err := findByIDs[bucketDoc](ctx, s, s.db.Collection(colEventBuckets), ids)
		if err != nil {
			return EventPage{}, err
		}
		for _, h := range hours {
			for _, v := range h.In {
				if sec, ok := v.(int64); ok && sec >= first && sec <= last {
					secs = append(secs, sec)
				}
			}
		}
		slices.Sort(secs)
		secs = slices.Compact(secs)
	}
	budget := newScanBudget()
	var out []model.PersonEvent
	pos := after // every listed event up to pos has been examined
	stop := func() EventPage { return EventPage{Events: out, More: true, Next: pos} }
	for len(secs) > 0 {
		n := budget.take(min(len(secs), secondsPerRead))
		if n == 0 {
			return stop(), nil
		}
		ids := make([]string, n)
		for i, sec := range secs[:n] {
			ids[i] = secondBucketID(sec)
		}
		buckets, err := findByIDs[bucketDoc](ctx, s, s.db.Collection(colEventBuckets), ids)
		if err != nil {
			return EventPage{}, err
		}
		byID := keyed(buckets, func(b *bucketDoc) string { return b.ID })
		for i, sec := range secs[:n] {
			listed := listedEvents(byID[ids[i]], sec, pos)
			for len(listed) > 0 {
				k := budget.take(min(len(listed), limit-len(out)))
				if k == 0 {
					return stop(), nil
				}
				events, err := findByIDs[model.PersonEvent](ctx, s, s.db.Collection(colEvents), listed[:k])
				if err != nil {
					return EventPage{}, err
				}
				slices.SortFunc(events, func(a, b model.PersonEvent) int { return strings.Compare(a.Key, b.Key) })
				out, pos, listed = append(out, events...), listed[k-1], listed[k:]
				if len(out) == limit {
					return EventPage{Events: out, More: true, Next: out[limit-1].Key}, nil
				}
			}
			pos = max(pos, EventIDAt(time.Unix(sec+1, 0))) // the whole second examined
		}
		secs = secs[n:]
	}
	return EventPage{Events: out}, nil
}

// listedEvents returns, in ID order and each once, the event IDs a second's bucket lists that
// are after pos and of that second — the only ones bucketEvent lists there; anything else was
// put there by hand and is skipped unread.
func listedEvents(b *bucketDoc, sec int64, pos string) []string {
	if b == nil {
		return nil
	}
	lo, hi := EventIDAt(time.Unix(sec, 0)), EventIDAt(time.Unix(sec+1, 0))
	var ids []string
	for _, v := range b.In {
		if id, ok := v.(string); ok && len(id) == 24 && id > pos && id >= lo && id < hi {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// cursorTime is the instant of a cursor: an event ID, or the smallest ID of an instant
// (EventIDAt, the watch hub's poll); false for anything else.
func cursorTime(after string) (time.Time, bool) {
	if len(after) < 16 {
		return time.Time{}, false
	}
	if len(after) == 16 {
		after += "00000000"
	}
	return EventTime(after[:24])
}

// eventFloor is the earliest instant the log may still hold events of: the last purge's
// cutoff, or eventHorizon before now when no purge recorded one (or it is older). Index: _id.
func (s *Store) eventFloor(ctx context.Context, now time.Time) (time.Time, error) {
	floor := now.Add(-eventHorizon)
	var d struct {
		Before string `bson:"before"`
	}
	err := s.db.Collection(colEventBuckets).FindOne(ctx, bson.D{{Key: "_id", Value: eventFloorID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return floor, nil
	}
	if err != nil {
		return time.Time{}, classify(err)
	}
	if t, ok := cursorTime(d.Before); ok && t.After(floor) {
		floor = t
	}
	return floor, nil
}

// setEventFloor records that the log holds no event before t. Index: _id.
func (s *Store) setEventFloor(ctx context.Context, t time.Time) error {
	_, err := s.db.Collection(colEventBuckets).UpdateOne(ctx, bson.D{{Key: "_id", Value: eventFloorID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "before", Value: EventIDAt(t)}}}}, options.UpdateOne().SetUpsert(true))
	return classify(err)
}

// purgeEventRanges deletes the events and bucket documents before t by _id ranges (served by
// the _id index on MongoDB), then records the floor.
func (s *Store) purgeEventRanges(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.Collection(colEvents).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: EventIDAt(before)}}}})
	if err != nil {
		return 0, classify(err)
	}
	sec := before.Unix()
	for _, r := range [][2]string{{"s", secondBucketID(sec)}, {"h", hourBucketID(sec / 3600)}} {
		if _, err := s.db.Collection(colEventBuckets).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gte", Value: r[0]}, {Key: "$lt", Value: r[1]}}}}); err != nil {
			return 0, classify(err)
		}
	}
	return int(res.DeletedCount), s.setEventFloor(ctx, before)
}

// purgeEventBuckets is PurgeEvents where the server serves only {_id: <string>} from an index:
// it walks the buckets from the floor to t (the hour documents, the seconds before t, the
// events they list) and deletes what it found by _id — events, second documents and the hour
// documents wholly before t — then moves the floor to t. Its cost follows the events purged and
// the hours since the last purge, not the size of the log. Interrupted, the next purge starts
// again from the old floor.
func (s *Store) purgeEventBuckets(ctx context.Context, before time.Time) (int, error) {
	now := time.Now()
	floor, err := s.eventFloor(ctx, now)
	if err != nil {
		return 0, err
	}
	if !floor.Before(before) {
		return 0, nil
	}
	cutoff, last := EventIDAt(before), before.Unix()
	var hours, seconds, events []string
	for h := floor.Unix() / 3600; h <= last/3600; h++ {
		hours = append(hours, hourBucketID(h))
	}
	hourDocs, err := findByIDs[bucketDoc](ctx, s, s.db.Collection(colEventBuckets), hours)
	if err != nil {
		return 0, err
	}
	for _, h := range hourDocs {
		for _, v := range h.In {
			if sec, ok := v.(int64); ok && sec <= last {
				seconds = append(seconds, secondBucketID(sec))
			}
		}
	}
	secondDocs, err := findByIDs[bucketDoc](ctx, s, s.db.Collection(colEventBuckets), seconds)
	if err != nil {
		return 0, err
	}
	var whole []string // second documents all of whose events are before the cutoff
	for _, d := range secondDocs {
		all := true
		for _, v := range d.In {
			if id, ok := v.(string); ok && id < cutoff {
				events = append(events, id)
			} else {
				all = false
			}
		}
		if all {
			whole = append(whole, d.ID)
		}
	}
	n, err := s.deleteByIDs(ctx, s.db.Collection(colEvents), events)
	if err != nil {
		return 0, err
	}
	hours = slices.DeleteFunc(hours, func(id string) bool { return id >= hourBucketID(last/3600) })
	if _, err := s.deleteByIDs(ctx, s.db.Collection(colEventBuckets), append(whole, hours...)); err != nil {
		return 0, err
	}
	return n, s.setEventFloor(ctx, before)
}

// deleteByIDs deletes the documents with these _ids in one delete command of one statement
// per _id (each served by the _id index on every engine) and returns how many it deleted.
func (s *Store) deleteByIDs(ctx context.Context, c *mongo.Collection, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	models := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})
	}
	res, err := c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, classify(err)
	}
	return int(res.DeletedCount), nil
}

// ensureEventBuckets lists, once per database, the events logged before eventBuckets existed in
// their buckets, and records the floor (the first event's instant, or eventHorizon ago):
// one read of the whole event log at the start-up that finds no floor, then never again
// (AppendEvent keeps the buckets complete on every engine). Idempotent, so instances starting
// together may both run it; events appended meanwhile list themselves.
func (s *Store) ensureEventBuckets(ctx context.Context) error {
	if absent, err := absent(ctx, s.db.Collection(colEventBuckets), eventFloorID); !absent || err != nil {
		return err
	}
	type idOnly struct {
		ID string `bson:"_id"`
	}
	events, err := findAll[idOnly](ctx, s.db.Collection(colEvents), bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return err
	}
	floor := time.Now().Add(-eventHorizon) // not now: an instance whose clock is behind may log earlier IDs
	add := map[string][]any{}
	for _, e := range events {
		t, ok := EventTime(e.ID)
		if !ok {
			continue
		}
		if t.Before(floor) {
			floor = t
		}
		add[secondBucketID(t.Unix())] = append(add[secondBucketID(t.Unix())], e.ID)
		add[hourBucketID(t.Unix()/3600)] = append(add[hourBucketID(t.Unix()/3600)], t.Unix())
	}
	if err := s.addToSets(ctx, s.db.Collection(colEventBuckets), "in", add); err != nil {
		return err
	}
	return s.setEventFloor(ctx, floor)
}
