package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// indexes lists, per collection, the indexes that serve the queries in this package; each
// query names the index it relies on. _id is indexed by the server; the persons, records,
// detentions, nationalIds, searchKeys and grantSubjects collections are read by _id only (a
// search reads its key documents and then the persons by _id, see search.go).
var indexes = map[string][]mongo.IndexModel{
	colPrisons: {
		// prisons(kind), ordered by name.
		{Keys: bson.D{{Key: "kind", Value: 1}, {Key: "name", Value: 1}}, Options: options.Index().SetName("kind_name")},
	},
}

// EnsureIndexes creates every declared index, and the grantSubjects, auditPersons and
// eventBuckets documents of a database from before they existed (ensureGrantSubjects,
// ensureEventBuckets; the auditPersons index catches up in the background, IndexAuditPersons); it is idempotent and runs at start-up.
// Indexes are created one per command: FerretDB v1 fails a multi-index createIndexes when the
// indexes already exist (a restart).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := s.ensureGrantSubjects(ctx); err != nil {
		return err
	}
	if err := s.ensureEventBuckets(ctx); err != nil {
		return err
	}
	for col, models := range indexes {
		for _, m := range models {
			if _, err := s.db.Collection(col).Indexes().CreateOne(ctx, m); err != nil {
				return classify(err)
			}
		}
	}
	return nil
}
