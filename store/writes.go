package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"custodia/apperr"
	"custodia/model"
)

const colIdempotency = "idempotency"

// ErrUnchanged, returned by a mutate function, means "already applied: write nothing".
var ErrUnchanged = errors.New("unchanged")

// Idempotency is the record of one idempotency key: which mutation with which input it was
// first used for, the ID of the entity that mutation creates or changes (fixed before the
// write, so a retry after a crash writes the same entity) and, once the write completed, the
// answer it returned (so a retry returns that answer, not the entity's current state).
type Idempotency struct {
	ID        string    `bson:"_id"`
	Mutation  string    `bson:"mutation"`
	ArgsHash  string    `bson:"argsHash"`
	EntityID  string    `bson:"entityId"`
	Done      bool      `bson:"done"`
	CreatedAt time.Time `bson:"createdAt"`
	// Owners restores the owner links a stored answer does not carry.
	Owners AnswerOwners `bson:"owners,omitempty"`
	// Answer is the entity the completed write returned, in the store's own encoding.
	Answer bson.Raw `bson:"answer,omitempty"`
}

// ClaimIdempotency records the first use of a key (per subject) or returns the earlier record.
// The same key with another mutation or input is CONFLICT. Index: _id.
func (s *Store) ClaimIdempotency(ctx context.Context, subject, key, mutation, argsHash, proposedEntityID string) (Idempotency, error) {
	rec := Idempotency{ID: subject + "|" + key, Mutation: mutation, ArgsHash: argsHash, EntityID: proposedEntityID, CreatedAt: time.Now().UTC()}
	_, err := s.db.Collection(colIdempotency).InsertOne(ctx, rec)
	if err == nil {
		return rec, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return rec, classify(err)
	}
	var first Idempotency
	if err := s.db.Collection(colIdempotency).FindOne(ctx, bson.D{{Key: "_id", Value: rec.ID}}).Decode(&first); err != nil {
		return rec, classify(err)
	}
	if first.Mutation != mutation || first.ArgsHash != argsHash {
		return first, apperr.New(apperr.Conflict, "idempotencyKey %q was already used for a different request (%s); use a new key for a new request", key, first.Mutation).
			With("field", "idempotencyKey")
	}
	return first, nil
}

// CompleteIdempotency records that the write of a key completed and the answer it returned
// (a *model.Person, *model.Conviction, *model.Sentence, *model.DetentionPeriod or
// *model.Prison), and puts into answer what a retry will read (see DecodeAnswer), so the first
// caller and every retry get the same answer. Index: _id.
func (s *Store) CompleteIdempotency(ctx context.Context, rec Idempotency, answer any) error {
	raw, err := bson.Marshal(answer)
	if err != nil {
		return err
	}
	rec.Owners, rec.Answer = ownersOf(answer), raw
	_, err = s.db.Collection(colIdempotency).UpdateOne(ctx, bson.D{{Key: "_id", Value: rec.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}, {Key: "owners", Value: rec.Owners}, {Key: "answer", Value: bson.Raw(raw)}}}})
	if err != nil {
		return classify(err)
	}
	return DecodeAnswer(rec, answer)
}

// AnswerOwners are the links from an answer to its person and conviction, which the stored
// form of a conviction, sentence or detention period leaves out.
type AnswerOwners struct {
	PersonID     string `bson:"personId,omitempty"`
	ConvictionID string `bson:"convictionId,omitempty"`
	FromCopy     bool   `bson:"fromCopy,omitempty"`
}

func ownersOf(answer any) AnswerOwners {
	switch v := answer.(type) {
	case *model.Conviction:
		return AnswerOwners{PersonID: v.PersonID}
	case *model.Sentence:
		return AnswerOwners{PersonID: v.PersonID, ConvictionID: v.ConvictionID, FromCopy: v.FromCopy}
	case *model.DetentionPeriod:
		return AnswerOwners{PersonID: v.PersonID, FromCopy: v.FromCopy}
	case *model.CorrectionResult:
		switch {
		case v.Conviction != nil:
			return ownersOf(v.Conviction)
		case v.Sentence != nil:
			return ownersOf(v.Sentence)
		case v.DetentionPeriod != nil:
			return ownersOf(v.DetentionPeriod)
		}
	}
	return AnswerOwners{}
}

// DecodeAnswer reads the answer a completed write recorded into out (a pointer of the type
// given to CompleteIdempotency), checked as every stored document is (decodeRaw), and
// restores its owner links.
func DecodeAnswer(rec Idempotency, out any) error {
	if err := decodeRaw(rec.Answer, out, true); err != nil {
		return err
	}
	restoreOwners(out, rec.Owners)
	return nil
}

// AnswerPerson is the person a decoded answer belongs to ("" for a prison): the person
// itself, or the owner of a conviction, sentence or detention period.
func AnswerPerson(answer any) string {
	if p, ok := answer.(*model.Person); ok {
		return p.ID
	}
	return ownersOf(answer).PersonID
}

// restoreOwners puts the owner links back into a decoded answer.
func restoreOwners(out any, owners AnswerOwners) {
	rec := Idempotency{Owners: owners}
	switch v := out.(type) {
	case *model.CorrectionResult:
		if v.Conviction != nil {
			restoreOwners(v.Conviction, owners)
		}
		if v.Sentence != nil {
			restoreOwners(v.Sentence, owners)
		}
		if v.DetentionPeriod != nil {
			restoreOwners(v.DetentionPeriod, owners)
		}
	case *model.Conviction:
		fillOwners(v, rec.Owners.PersonID, inCopy(v))
	case *model.Sentence:
		v.PersonID, v.ConvictionID, v.FromCopy = rec.Owners.PersonID, rec.Owners.ConvictionID, rec.Owners.FromCopy
	case *model.DetentionPeriod:
		v.PersonID, v.FromCopy = rec.Owners.PersonID, rec.Owners.FromCopy
	}
}

// InTransaction runs fn in a multi-document transaction when the server supports them
// (a MongoDB replica set or sharded cluster), and directly otherwise (FerretDB): callers order
// their writes so that every intermediate state is consistent either way.
func (s *Store) InTransaction(ctx context.Context, fn func(ctx context.Context) error) error {
	if !s.transactions {
		return fn(ctx)
	}
	sess, err := s.client.StartSession()
	if err != nil {
		return classify(err)
	}
	defer sess.EndSession(ctx)
	_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) { return nil, fn(ctx) })
	return classify(err)
}

// SupportsTransactions says whether InTransaction uses real transactions.
func (s *Store) SupportsTransactions() bool { return s.transactions }

// detectTransactions asks the server whether it is a replica set member or mongos.
func (s *Store) detectTransactions(ctx context.Context) {
	var hello bson.M
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return
	}
	_, replicaSet := hello["setName"]
	s.transactions = replicaSet || hello["msg"] == "isdbgrid"
}

// ClaimNationalID reserves a national ID for a person in the nationalIds collection (whose
// _id keeps national IDs unique). A reservation left by a write that never completed (its
// person does not exist or no longer carries the number) is taken over; one held by another
// person is CONFLICT. The takeover applies only while the reservation still names the owner
// read: atomically on MongoDB, against this process's writers on FerretDB (see writeIf; a
// claim of a free number is always decided by the insert's unique _id). Index: _id.
func (s *Store) ClaimNationalID(ctx context.Context, nationalID, personID string) error {
	col := s.db.Collection(colNationalIDs)
	defer s.lockRecord(colNationalIDs, nationalID)()
	_, err := col.InsertOne(ctx, bson.D{{Key: "_id", Value: nationalID}, {Key: "personId", Value: personID}})
	if err == nil || !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	var owner struct {
		PersonID string `bson:"personId"`
	}
	if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: nationalID}}).Decode(&owner); err != nil {
		return classify(err)
	}
	if owner.PersonID == personID {
		return nil
	}
	holder, err := s.PersonsByIDs(ctx, Scope{}, []string{owner.PersonID})
	if err != nil {
		return err
	}
	if p := holder[owner.PersonID]; p != nil && p.NationalID != nil && *p.NationalID == nationalID {
		return apperr.New(apperr.Conflict, "national ID %s is already registered to another person", nationalID).With("field", "input.nationalId")
	}
	// The owner was read under the lock above: on a scanning engine no second read.
	ok, err := s.writeIf(ctx, col, nationalID, "personId", owner.PersonID, true, func(filter bson.D) (bool, error) {
		res, err := col.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "personId", Value: personID}}}})
		if err != nil {
			return false, err
		}
		return res.MatchedCount == 1, nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Conflict, "national ID %s was claimed at the same time by another write; retry", nationalID)
	}
	return nil
}

// ReleaseNationalID drops a person's reservation of a national ID (after a change of number),
// only while the reservation still names that person (see writeIf for what is atomic on which
// engine); a reservation meanwhile taken over by another person is left alone. Index: _id.
func (s *Store) ReleaseNationalID(ctx context.Context, nationalID, personID string) error {
	col := s.db.Collection(colNationalIDs)
	defer s.lockRecord(colNationalIDs, nationalID)()
	_, err := s.writeIf(ctx, col, nationalID, "personId", personID, false, func(filter bson.D) (bool, error) {
		res, err := col.DeleteOne(ctx, filter)
		if err != nil {
			return false, err
		}
		return res.DeletedCount == 1, nil
	})
	return err
}

// InsertPerson stores a new person with its search keys (WritePerson); inserting the same ID
// again (a retry) is not an error.
func (s *Store) InsertPerson(ctx context.Context, p model.Person) error {
	_, err := s.WritePerson(ctx, nil, p)
	return err
}

// ReplacePerson writes p, with its search keys (WritePerson), if the stored person is at
// expectedVersion; ok is false otherwise. The person's blocking and corrections are carried
// over (see WritePerson). Callers that hold the stored person should call
// WritePerson with it directly (one read fewer). Index: _id.
func (s *Store) ReplacePerson(ctx context.Context, p model.Person, expectedVersion int) (ok bool, err error) {
	found, err := s.PersonsByIDs(ctx, Scope{}, []string{p.ID})
	if err != nil {
		return false, err
	}
	before := found[p.ID]
	if before == nil || before.Version != expectedVersion {
		return false, nil
	}
	return s.WritePerson(ctx, before, p)
}

// casUpdate reads one document by _id (or starts from fresh when there is none), lets mutate
// change it and writes it back only if nobody else changed it meanwhile (version check; see
// writeIf for what is atomic on which engine),
// retrying on a lost race with a fresh read; mutate sees the latest state each time, so rules
// such as "at most one open detention period" hold under concurrency. Within this process the
// whole read-modify-write is serialised per record (see Store.recordLocks). Index: _id.
func casUpdate[T any](ctx context.Context, s *Store, c *mongo.Collection, id string, fresh func() T, version func(*T) *int, mutate func(*T) error) (T, error) {
	defer s.lockRecord(c.Name(), id)()
	for attempt := 0; attempt < 50; attempt++ {
		doc := fresh()
		exists := true
		err := decodeOne(c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}), &doc, true)
		if errors.Is(err, mongo.ErrNoDocuments) {
			doc, exists = fresh(), false
		} else if err != nil {
			return doc, classify(err)
		}
		old := *version(&doc)
		if err := mutate(&doc); err != nil {
			if errors.Is(err, ErrUnchanged) {
				return doc, nil
			}
			return doc, err
		}
		*version(&doc) = old + 1
		if !exists {
			_, err = c.InsertOne(ctx, doc)
			if mongo.IsDuplicateKeyError(err) {
				continue // created at the same moment by another writer: read it and retry
			}
			return doc, classify(err)
		}
		// Read at old under the lock above: on a scanning engine no second read (writeIf).
		ok, err := s.writeIf(ctx, c, id, "version", old, true, replaceWith(ctx, c, doc))
		if err != nil {
			return doc, err
		}
		if ok {
			return doc, nil
		}
	}
	var zero T
	return zero, apperr.New(apperr.Conflict, "the record is being changed by others at the same time; retry")
}

// UpdateCriminalRecord changes a person's criminal record atomically (see casUpdate).
func (s *Store) UpdateCriminalRecord(ctx context.Context, personID string, mutate func(*model.CriminalRecord) error) (model.CriminalRecord, error) {
	rec, err := casUpdate(ctx, s, s.db.Collection(colRecords), personID,
		func() model.CriminalRecord {
			return model.CriminalRecord{PersonID: personID, Convictions: []model.Conviction{}, ExpungedConvictions: []model.Conviction{}}
		},
		func(r *model.CriminalRecord) *int { return &r.Version }, mutate)
	for i := range rec.Convictions {
		fillOwners(&rec.Convictions[i], personID, false)
	}
	for i := range rec.ExpungedConvictions {
		fillOwners(&rec.ExpungedConvictions[i], personID, true)
	}
	return rec, err
}

// UpdateDetentionRecord changes a person's detention record atomically (see casUpdate): two
// admissions at the same moment cannot both find the person free.
func (s *Store) UpdateDetentionRecord(ctx context.Context, personID string, mutate func(*model.DetentionRecord) error) (model.DetentionRecord, error) {
	rec, err := casUpdate(ctx, s, s.db.Collection(colDetentions), personID,
		func() model.DetentionRecord {
			return model.DetentionRecord{PersonID: personID, Periods: []model.DetentionPeriod{}}
		},
		func(r *model.DetentionRecord) *int { return &r.Version }, mutate)
	for i := range rec.CopyOnlyPeriods {
		rec.CopyOnlyPeriods[i].FromCopy = true
	}
	fillPeriodOwners(&rec)
	return rec, err
}

// InsertPrison stores a new prison; the same ID again (a retry) is not an error.
func (s *Store) InsertPrison(ctx context.Context, p model.Prison) error {
	_, err := s.db.Collection(colPrisons).InsertOne(ctx, p)
	s.forgetPrisons()
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return classify(err)
}

// ReplacePrison writes p if the stored prison is at expectedVersion; ok is false otherwise.
func (s *Store) ReplacePrison(ctx context.Context, p model.Prison, expectedVersion int) (ok bool, err error) {
	defer s.forgetPrisons()
	return s.replaceAtVersion(ctx, s.db.Collection(colPrisons), p.ID, expectedVersion, p)
}
