package store

import (
	"context"
	"errors"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/apperr"
	"custodia/model"
)

// UpdatePersonRecord changes a stored person atomically, with its blocking and corrections
// (see casUpdate); a person that does not exist is NOT_FOUND and is never created here.
func (s *Store) UpdatePersonRecord(ctx context.Context, id string, mutate func(*model.Person) error) (model.Person, error) {
	return casUpdate(ctx, s, s.db.Collection(colPersons), id,
		func() model.Person { return model.Person{} },
		func(p *model.Person) *int { return &p.Version },
		func(p *model.Person) error {
			if p.ID == "" {
				return apperr.NotFoundf("no person with ID %q", id)
			}
			return mutate(p)
		})
}

// Corrections returns every correction, blocking and unblocking of a person's data (identity,
// convictions, detention), newest first. Blocked data included: only the register office and
// auditors call it. Index: _id (three lookups).
func (s *Store) Corrections(ctx context.Context, personID string) ([]model.Correction, error) {
	var out []model.Correction
	only := options.FindOne().SetProjection(bson.D{{Key: "corrections", Value: 1}})
	for _, col := range []string{colPersons, colRecords, colDetentions} {
		var doc struct {
			Corrections []model.Correction `bson:"corrections"`
		}
		err := decodeOne(s.db.Collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: personID}}, only), &doc, true)
		if errors.Is(err, mongo.ErrNoDocuments) {
			if col == colPersons {
				return nil, apperr.NotFoundf("no person with ID %q", personID)
			}
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, doc.Corrections...)
	}
	for i := range out {
		out[i].PersonID = personID
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Snapshot is the stored form of a record item as relaxed Extended JSON: what a correction
// keeps as the previous version.
func Snapshot(item any) (string, error) {
	b, err := bson.MarshalExtJSON(item, false, false)
	return string(b), err
}

// FillOwners sets the owner links (person, conviction, copy) of a conviction read from a
// record, and its offences' IDs.
func FillOwners(c *model.Conviction, personID string, fromCopy bool) {
	fillOwners(c, personID, fromCopy)
}
