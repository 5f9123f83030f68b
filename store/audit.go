package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

const (
	colAudit     = "audit"
	colAuditMeta = "auditMeta"
	auditHeadID  = "head"
	auditAnchor  = "anchor"
)

func init() {
	indexes[colAudit] = []mongo.IndexModel{
		// auditTrail by person and disclosures.
		{Keys: bson.D{{Key: "personIds", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("personIds_seq")},
		// auditTrail by subject / agency.
		{Keys: bson.D{{Key: "subject", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("subject_seq")},
		{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("agency_seq")},
		// auditTrail by time range; retention purge.
		{Keys: bson.D{{Key: "time", Value: 1}}, Options: options.Index().SetName("time")},
		// auditTrail unfiltered, newest first; verification in order.
		{Keys: bson.D{{Key: "seq", Value: -1}}, Options: options.Index().SetName("seq")},
	}
}

// AuditID is the _id of the entry at a sequence number: zero-padded, so _id order is chain
// order and each position can be taken only once.
func AuditID(seq int) string { return fmt.Sprintf("%012d", seq) }

// ChainLink is a position in the audit chain: a sequence number and the hash there.
type ChainLink struct {
	Seq  int    `bson:"seq"`
	Hash string `bson:"hash"`
}

// auditLink reads a meta link (the head hint or the retention anchor); absent means position 0.
func (s *Store) auditLink(ctx context.Context, id string) (ChainLink, error) {
	var l ChainLink
	err := s.db.Collection(colAuditMeta).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&l)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ChainLink{}, nil
	}
	return l, classify(err)
}

// AppendAudit appends entries, in order, at the end of the chain. seal fills in Hash from an
// entry (with Sequence, ID and PreviousHash already set). Appending is safe under concurrency
// and across server instances without transactions: an entry's _id is its position, so of two
// appenders racing for one position exactly one insert succeeds. The entries are written with
// one ordered insertMany; when another appender took a position first (a duplicate _id at
// index k), the first k entries are in, and the rest is chained again after the winner. The
// head document is only a hint that saves reading the whole chain.
func (s *Store) AppendAudit(ctx context.Context, entries []*model.AuditEntry, seal func(*model.AuditEntry) string) error {
	head, err := s.auditLink(ctx, auditHeadID)
	if err != nil {
		return err
	}
	col := s.db.Collection(colAudit)
	pending := entries
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 10000 {
			return errors.New("audit chain: too much contention")
		}
		prev := head
		docs := make([]any, len(pending))
		for i, e := range pending {
			e.Sequence, e.ID, e.PreviousHash = prev.Seq+1, AuditID(prev.Seq+1), prev.Hash
			e.Hash = seal(e)
			prev = ChainLink{Seq: e.Sequence, Hash: e.Hash}
			docs[i] = e
		}
		_, err := col.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		if err == nil {
			s.advanceAuditHead(ctx, prev)
			return nil
		}
		k, taken := firstDuplicate(err)
		if !taken {
			return classify(err)
		}
		var winner model.AuditEntry
		if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: pending[k].ID}}).Decode(&winner); err != nil {
			return classify(err)
		}
		head = ChainLink{Seq: winner.Sequence, Hash: winner.Hash}
		pending = pending[k:]
	}
	return nil
}

// firstDuplicate reports the index of the first entry an ordered insertMany refused because
// its _id was taken (everything before it was inserted).
func firstDuplicate(err error) (int, bool) {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 || bwe.WriteConcernError != nil {
		return 0, false
	}
	first := bwe.WriteErrors[0]
	for _, we := range bwe.WriteErrors {
		if we.Index < first.Index {
			first = we
		}
	}
	if first.Code != 11000 {
		return 0, false
	}
	return first.Index, true
}

// advanceAuditHead moves the head hint forward (never back). Failure is harmless: the next
// appender walks forward from an older hint.
func (s *Store) advanceAuditHead(ctx context.Context, l ChainLink) {
	_, err := s.db.Collection(colAuditMeta).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: auditHeadID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: l.Seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: l.Seq}, {Key: "hash", Value: l.Hash}}}},
		options.UpdateOne().SetUpsert(true))
	_ = err // a duplicate key here means another appender is already further ahead
}

// AuditLinks returns the retention anchor (the last purged position, 0 when nothing was
// purged) and the head hint (the furthest position known to be taken).
func (s *Store) AuditLinks(ctx context.Context) (anchor, head ChainLink, err error) {
	if anchor, err = s.auditLink(ctx, auditAnchor); err != nil {
		return
	}
	head, err = s.auditLink(ctx, auditHeadID)
	return
}

// AuditChain streams the entries after position from, in chain order, to visit; visit
// returning false stops early. Index: seq.
func (s *Store) AuditChain(ctx context.Context, from int, visit func(*model.AuditEntry) bool) error {
	cur, err := s.db.Collection(colAudit).Find(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: from}}}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return classify(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var e model.AuditEntry
		if err := cur.Decode(&e); err != nil {
			return err
		}
		if !visit(&e) {
			break
		}
	}
	return classify(cur.Err())
}

// PurgeAudit deletes, oldest first, the entries older than before (retention). The anchor is
// moved to each entry before it is deleted, so verification always starts from a known link.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	anchor, err := s.auditLink(ctx, auditAnchor)
	if err != nil {
		return 0, err
	}
	purged := 0
	for {
		var e model.AuditEntry
		err := s.db.Collection(colAudit).FindOne(ctx, bson.D{{Key: "_id", Value: AuditID(anchor.Seq + 1)}}).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && !e.Time.Before(before)) {
			return purged, nil
		}
		if err != nil {
			return purged, classify(err)
		}
		anchor = ChainLink{Seq: e.Sequence, Hash: e.Hash}
		if _, err := s.db.Collection(colAuditMeta).UpdateOne(ctx, bson.D{{Key: "_id", Value: auditAnchor}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: anchor.Seq}, {Key: "hash", Value: anchor.Hash}}}},
			options.UpdateOne().SetUpsert(true)); err != nil {
			return purged, classify(err)
		}
		if _, err := s.db.Collection(colAudit).DeleteOne(ctx, bson.D{{Key: "_id", Value: e.ID}}); err != nil {
			return purged, classify(err)
		}
		purged++
	}
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	PersonID, Subject, Agency string
	From, To                  *time.Time
	BeforeSeq                 int // keyset: only entries with a smaller sequence (0 = from the newest)
	Limit                     int
}

// AuditEntries runs an audit trail query and says whether more entries follow. Indexes:
// personIds_seq, subject_seq, agency_seq, time, seq.
func (s *Store) AuditEntries(ctx context.Context, q AuditQuery) ([]model.AuditEntry, bool, error) {
	filter := bson.D{}
	if q.PersonID != "" {
		filter = append(filter, bson.E{Key: "personIds", Value: q.PersonID})
	}
	if q.Subject != "" {
		filter = append(filter, bson.E{Key: "subject", Value: q.Subject})
	}
	if q.Agency != "" {
		filter = append(filter, bson.E{Key: "agency", Value: q.Agency})
	}
	if q.From != nil || q.To != nil {
		r := bson.D{}
		if q.From != nil {
			r = append(r, bson.E{Key: "$gte", Value: *q.From})
		}
		if q.To != nil {
			r = append(r, bson.E{Key: "$lt", Value: *q.To})
		}
		filter = append(filter, bson.E{Key: "time", Value: r})
	}
	if q.BeforeSeq > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: q.BeforeSeq}}})
	}
	entries, err := findAll[model.AuditEntry](ctx, s.db.Collection(colAudit), filter,
		options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(int64(q.Limit+1)))
	if err != nil {
		return nil, false, err
	}
	entries, more := page(entries, q.Limit)
	return entries, more, nil
}

// Disclosures lists the allowed operations that returned data about a person, oldest first.
// Index: personIds_seq.
func (s *Store) Disclosures(ctx context.Context, personID string) ([]model.AuditEntry, error) {
	return findAll[model.AuditEntry](ctx, s.db.Collection(colAudit),
		bson.D{{Key: "personIds", Value: personID}, {Key: "kind", Value: model.AuditKindOperation}, {Key: "outcome", Value: model.AuditOutcomeAllowed}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
}
