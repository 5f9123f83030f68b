package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/apperr"
	"custodia/model"
)

const colGrantEvents = "grantEvents"

func init() {
	indexes[colGrantEvents] = []mongo.IndexModel{
		// grantEvents of one official, and of one agency, after a cursor.
		{Keys: bson.D{{Key: "subject", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("subject_seq")},
		{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("agency_seq")},
	}
}

// AppendGrantEvent appends an event at the end of the feed. An event's _id is its position
// (zero-padded sequence), so of two writers racing for one position exactly one insert
// succeeds and the other retries at the next: the feed has no gaps, and a reader that sees
// position n+1 has every position up to n. Index: _id (see grantEventTail).
func (s *Store) AppendGrantEvent(ctx context.Context, e *model.GrantEvent) error {
	defer s.lockRecord(colGrantEvents, "tail")()
	col := s.db.Collection(colGrantEvents)
	for attempt := 0; attempt < 50; attempt++ {
		last, err := s.grantEventTail(ctx)
		if err != nil {
			return err
		}
		e.Sequence = last + 1
		e.ID = AuditID(e.Sequence)
		_, err = col.InsertOne(ctx, e)
		if err == nil {
			s.grantTail.Store(int64(e.Sequence))
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return classify(err)
		}
	}
	return apperr.New(apperr.Conflict, "the grant event feed is being written by others at the same time; retry")
}

// grantEventTail is the position of the feed's last event (0: none). On MongoDB one query on
// the _id index, sorted. Where the server would read and sort the whole feed for that
// (Store.scansIn), the tail is found by point lookups of positions — the feed has no gaps and
// is never purged, so a position exists exactly when it is at most the tail: from the last
// tail this process saw, probing 1, 2, 4, … positions further until one is missing, then
// halving the interval; two lookups when no other instance appended meanwhile, about 2·log₂
// of the distance otherwise.
func (s *Store) grantEventTail(ctx context.Context) (int, error) {
	col := s.db.Collection(colGrantEvents)
	if !s.scansIn {
		var last model.GrantEvent
		err := col.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&last)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, classify(err)
		}
		return last.Sequence, nil
	}
	exists := func(seq int) (bool, error) {
		err := col.FindOne(ctx, bson.D{{Key: "_id", Value: AuditID(seq)}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		return err == nil, classify(err)
	}
	lo := int(s.grantTail.Load()) // a position that exists (or 0)
	if lo > 0 {
		if ok, err := exists(lo); err != nil {
			return 0, err
		} else if !ok {
			lo = 0 // the database was replaced under this process
		}
	}
	step := 1
	for {
		ok, err := exists(lo + step)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo += step
		step *= 2
	}
	hi := lo + step // missing
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// GrantEventQuery selects a page of the grant event feed.
type GrantEventQuery struct {
	// AfterSeq is the keyset cursor: events after this position.
	AfterSeq int
	// Subject or Agency, when set, restrict the feed (the caller's row rule).
	Subject string
	Agency  string
	Limit   int
}

// GrantEvents returns one page of events, oldest first, and whether more follow. Indexes:
// subject_seq, agency_seq, _id.
func (s *Store) GrantEvents(ctx context.Context, q GrantEventQuery) ([]model.GrantEvent, bool, error) {
	filter := bson.D{}
	if q.Subject != "" {
		filter = append(filter, bson.E{Key: "subject", Value: q.Subject})
	}
	if q.Agency != "" {
		filter = append(filter, bson.E{Key: "agency", Value: q.Agency})
	}
	order := "seq"
	if len(filter) == 0 {
		order = "_id" // the whole feed: the _id index, _id being the padded sequence
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: AuditID(q.AfterSeq)}}})
	} else {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$gt", Value: q.AfterSeq}}})
	}
	events, err := findAll[model.GrantEvent](ctx, s.db.Collection(colGrantEvents), filter,
		options.Find().SetSort(bson.D{{Key: order, Value: 1}}).SetLimit(int64(q.Limit+1)))
	if err != nil {
		return nil, false, err
	}
	events, more := page(events, q.Limit)
	return events, more, nil
}

// GrantsOfAgency returns the grants of an agency in one status. Index: agency_status.
func (s *Store) GrantsOfAgency(ctx context.Context, agency string, status model.GrantStatus) ([]model.AccessGrant, error) {
	return findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), bson.D{{Key: "agency", Value: agency}, {Key: "status", Value: status}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}
