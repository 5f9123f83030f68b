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
// position n+1 has every position up to n. Index: _id.
func (s *Store) AppendGrantEvent(ctx context.Context, e *model.GrantEvent) error {
	defer s.lockRecord(colGrantEvents, "tail")()
	col := s.db.Collection(colGrantEvents)
	for attempt := 0; attempt < 50; attempt++ {
		var last model.GrantEvent
		err := col.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&last)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return classify(err)
		}
		e.Sequence = last.Sequence + 1
		e.ID = AuditID(e.Sequence)
		_, err = col.InsertOne(ctx, e)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return classify(err)
		}
	}
	return apperr.New(apperr.Conflict, "the grant event feed is being written by others at the same time; retry")
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
