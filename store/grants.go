package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

const colGrants = "grants"

func init() {
	indexes[colGrants] = []mongo.IndexModel{
		// The per-request grant check and myAccessGrants.
		{Keys: bson.D{{Key: "subject", Value: 1}, {Key: "role", Value: 1}, {Key: "agency", Value: 1}}, Options: options.Index().SetName("subject_role_agency")},
	}
}

// GrantsFor returns every grant of a subject in one role and agency, newest request first.
// Index: subject_role_agency.
func (s *Store) GrantsFor(ctx context.Context, subject string, role model.Role, agency string) ([]model.AccessGrant, error) {
	filter := bson.D{{Key: "subject", Value: subject}, {Key: "role", Value: role}, {Key: "agency", Value: agency}}
	return findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), filter, options.Find().SetSort(bson.D{{Key: "requestedAt", Value: -1}}))
}

// GrantsOfSubject returns every grant of a subject, newest request first. Index:
// subject_role_agency (prefix).
func (s *Store) GrantsOfSubject(ctx context.Context, subject string) ([]model.AccessGrant, error) {
	return findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), bson.D{{Key: "subject", Value: subject}},
		options.Find().SetSort(bson.D{{Key: "requestedAt", Value: -1}}))
}

// SetGrantStatus moves a grant from one status to another if it is still at the expected
// version; ok is false when another writer got there first. Index: _id.
func (s *Store) SetGrantStatus(ctx context.Context, id string, version int, status model.GrantStatus, reason string) (ok bool, err error) {
	res, err := s.db.Collection(colGrants).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "version", Value: version}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: status}, {Key: "statusReason", Value: reason}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
	if err != nil {
		return false, classify(err)
	}
	return res.ModifiedCount == 1, nil
}
