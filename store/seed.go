package store

import (
	"context"
	"errors"
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

const seedMarkerID = "demo-seed"

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
		{colPersons, anySlice(r.Persons)},
		{colNationalIDs, nationalIDs},
		{colRecords, recordDocs},
		{colDetentions, anySlice(r.Detentions)},
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
	for _, col := range []string{colPersons, colPrisons, colRecords, colNationalIDs, colDetentions, colGrants} {
		n, err := s.db.Collection(col).CountDocuments(ctx, bson.D{})
		if err != nil {
			return nil, classify(err)
		}
		out[col] = n
	}
	return out, nil
}
