package store

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"custodia/model"
	"custodia/register"
)

// Register is a whole register's documents, as the demo seed produces them. Convictions name
// their person (PersonID) and are grouped into per-person records when loaded.
type Register struct {
	Prisons     []model.Prison
	Persons     []model.Person
	Convictions []model.Conviction
	Detentions  []model.DetentionRecord
	Grants      []model.AccessGrant
}

const (
	seedMarkerID = "demo-seed"
	// seedClaimID is the document an instance inserts to become the one that seeds; its beat
	// counter is its heartbeat while it seeds.
	seedClaimID = "demo-seed-claim"
)

// Seed-claim timing: the seeding instance beats every seedBeat; a waiting instance takes
// over a claim whose beat has not moved for seedStale (its owner died mid-seed).
var (
	seedBeat  = time.Second
	seedStale = 15 * time.Second
	seedPoll  = 200 * time.Millisecond
)

// SeedOnce makes sure exactly one of the instances starting on this database at the same time
// seeds it: the first to insert the seed claim clears whatever an interrupted seed left
// (every collection but the claim), creates the indexes and runs load, which must end with
// LoadRegister's completion marker; the others wait for that marker — or take over a claim
// whose owner stopped beating. It reports whether this instance seeded. Without a
// multi-document transaction (FerretDB v1), the claim's _id is the lock. It logs (log, nil for
// none) when it finds another's claim and waits, and when it takes a stale claim over: an
// instance restarted after a kill mid-seed waits seedStale with nothing else to show.
func (s *Store) SeedOnce(ctx context.Context, load func(context.Context) error, log *slog.Logger) (bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	meta := s.db.Collection(colMeta)
	var lastBeat int64 = -1
	lastChange := time.Now()
	waiting := false
	for {
		if done, err := s.Seeded(ctx); err != nil || done {
			return false, err
		}
		_, err := meta.InsertOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}, {Key: "beat", Value: int64(0)}})
		if err == nil {
			// The previous holder may have completed the seed and released the claim since
			// we looked: its marker is written before its release, so look again.
			if done, err := s.Seeded(ctx); err != nil || done {
				_, relErr := meta.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: seedClaimID}})
				return false, errors.Join(err, classify(relErr))
			}
			return true, s.seedClaimed(ctx, load)
		}
		if !mongo.IsDuplicateKeyError(err) {
			return false, classify(err)
		}
		var claim struct {
			Beat int64 `bson:"beat"`
		}
		switch err := meta.FindOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}}).Decode(&claim); {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // released or taken over meanwhile: try again
		case err != nil:
			return false, classify(err)
		}
		if !waiting {
			waiting = true
			log.Info("demo seed: another instance holds the seed claim; waiting for it to finish (a claim without a heartbeat is taken over)",
				"takeover_after", seedStale.String())
		}
		if claim.Beat != lastBeat {
			lastBeat, lastChange = claim.Beat, time.Now()
		} else if time.Since(lastChange) > seedStale {
			// Its owner stopped beating: remove exactly the claim we saw, then race for a new one.
			if _, err := meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}, {Key: "beat", Value: claim.Beat}}); err != nil {
				return false, classify(err)
			}
			log.Warn("demo seed: the seed claim's owner stopped beating (it died mid-seed); taking it over and seeding again",
				"stale_for", time.Since(lastChange).Round(time.Second).String())
			continue
		}
		select {
		case <-ctx.Done():
			return false, classify(ctx.Err())
		case <-time.After(seedPoll):
		}
	}
}

// seedClaimed seeds under a claim this instance holds, beating while it works, and releases
// the claim at the end (after the completion marker, or on failure so another may retry).
func (s *Store) seedClaimed(ctx context.Context, load func(context.Context) error) error {
	meta := s.db.Collection(colMeta)
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for {
			select {
			case <-stop:
				return
			case <-time.After(seedBeat):
				_, _ = meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "beat", Value: 1}}}})
			}
		}
	}()
	err := s.clearForSeed(ctx)
	if err == nil {
		err = s.EnsureIndexes(ctx)
	}
	if err == nil {
		err = load(ctx)
	}
	close(stop)
	<-beating
	if _, relErr := meta.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: seedClaimID}}); err == nil {
		err = classify(relErr)
	}
	return err
}

// clearForSeed drops every collection of the database except the seed claim: the remains of
// an interrupted seed (development data only).
func (s *Store) clearForSeed(ctx context.Context) error {
	defer s.forgetCaches()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return classify(err)
	}
	for _, name := range names {
		if name == colMeta {
			_, err = s.db.Collection(colMeta).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: seedClaimID}}}})
		} else {
			err = s.db.Collection(name).Drop(ctx)
		}
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// Seeded reports whether a demo seed has completed in this database.
func (s *Store) Seeded(ctx context.Context) (bool, error) {
	err := s.db.Collection(colMeta).FindOne(ctx, bson.D{{Key: "_id", Value: seedMarkerID}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, classify(err)
}

// LoadRegister writes a whole register into an empty database and, as its last write, the
// marker that says the seed completed. A seed interrupted before the marker is detected by
// Seeded and redone from scratch by the caller (development data only).
func (s *Store) LoadRegister(ctx context.Context, r Register, info map[string]any) error {
	// A seed allocates a few hundred thousand short-lived documents next to a register held in
	// memory: collecting less often saves a fifth of its CPU (development start-up only).
	defer debug.SetGCPercent(debug.SetGCPercent(300))
	records := map[string]*model.CriminalRecord{}
	var recordOrder []string
	for _, c := range r.Convictions {
		rec := records[c.PersonID]
		if rec == nil {
			rec = &model.CriminalRecord{PersonID: c.PersonID, Convictions: []model.Conviction{}, ExpungedConvictions: []model.Conviction{}, Version: 1}
			records[c.PersonID] = rec
			recordOrder = append(recordOrder, c.PersonID)
		}
		if c.CopyOnly() {
			rec.ExpungedConvictions = append(rec.ExpungedConvictions, c)
		} else {
			rec.Convictions = append(rec.Convictions, c)
		}
	}
	hidden := map[string]bool{}
	for _, c := range r.Convictions {
		if c.CopyOnly() {
			for _, sen := range c.Sentences {
				hidden[sen.ID] = true
			}
		}
	}
	for i := range r.Detentions {
		register.SplitPeriods(&r.Detentions[i], hidden)
	}
	recordDocs := make([]any, len(recordOrder))
	for i, id := range recordOrder {
		recordDocs[i] = records[id]
	}
	var nationalIDs []any
	for _, p := range r.Persons {
		if p.NationalID != nil {
			nationalIDs = append(nationalIDs, bson.D{{Key: "_id", Value: *p.NationalID}, {Key: "personId", Value: p.ID}})
		}
	}
	steps := []struct {
		col  string
		docs []any
	}{
		{colPrisons, anySlice(r.Prisons)},
		{colSearchKeys, searchKeyDocs(r.Persons)},
		{colPersons, anySlice(r.Persons)},
		{colNationalIDs, nationalIDs},
		{colRecords, recordDocs},
		{colDetentions, anySlice(r.Detentions)},
		{colGrantSubjects, grantSubjectDocs(r.Grants)},
		{colGrants, anySlice(r.Grants)},
	}
	for _, step := range steps {
		for start := 0; start < len(step.docs); start += 500 {
			end := min(start+500, len(step.docs))
			if _, err := s.db.Collection(step.col).InsertMany(ctx, step.docs[start:end]); err != nil {
				return classify(err)
			}
		}
	}
	// The grants above are listed under their subjects: no start-up indexing needed.
	if _, err := s.db.Collection(colMeta).InsertOne(ctx, bson.D{{Key: "_id", Value: grantSubjectsMarkerID}}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	marker := bson.D{{Key: "_id", Value: seedMarkerID}, {Key: "at", Value: time.Now().UTC()}}
	for k, v := range info {
		marker = append(marker, bson.E{Key: k, Value: v})
	}
	_, err := s.db.Collection(colMeta).InsertOne(ctx, marker)
	return classify(err)
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = xs[i]
	}
	return out
}

// Counts returns the number of documents of each register collection (for start-up logs and
// checks).
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, col := range []string{colPersons, colPrisons, colRecords, colNationalIDs, colSearchKeys, colDetentions, colGrants} {
		n, err := s.db.Collection(col).CountDocuments(ctx, bson.D{})
		if err != nil {
			return nil, classify(err)
		}
		out[col] = n
	}
	return out, nil
}
