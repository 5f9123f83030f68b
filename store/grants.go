package store

import (
	"context"
	"errors"

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
		// suspendAgencyGrants / resumeAgencyGrants (GrantsOfAgency).
		{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "status", Value: 1}}, Options: options.Index().SetName("agency_status")},
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

// GrantByID reads one grant; ok is false when there is none. Index: _id.
func (s *Store) GrantByID(ctx context.Context, id string) (g model.AccessGrant, ok bool, err error) {
	err = s.db.Collection(colGrants).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&g)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return g, false, nil
	}
	return g, err == nil, classify(err)
}

// InsertGrant stores a new grant (an access request).
func (s *Store) InsertGrant(ctx context.Context, g model.AccessGrant) error {
	_, err := s.db.Collection(colGrants).InsertOne(ctx, g)
	return classify(err)
}

// ReplaceGrant writes g if the stored grant is still at version g.Version-1 (optimistic
// concurrency); ok is false when someone else changed it first. Index: _id.
func (s *Store) ReplaceGrant(ctx context.Context, g model.AccessGrant) (ok bool, err error) {
	return s.replaceAtVersion(ctx, s.db.Collection(colGrants), g.ID, g.Version-1, g)
}

// GrantQuery selects grants for the register office and auditors.
type GrantQuery struct {
	Status  *model.GrantStatus
	Role    *model.Role
	Agency  string
	Subject string
	// AfterID is the keyset cursor: grants with a smaller _id (IDs sort by creation time).
	AfterID string
	Limit   int
}

// ListGrants returns one page of grants, newest first, and whether more follow. Index:
// subject_role_agency for subject filters; the grants collection is small otherwise.
func (s *Store) ListGrants(ctx context.Context, q GrantQuery) ([]model.AccessGrant, bool, error) {
	filter := bson.D{}
	if q.Status != nil {
		filter = append(filter, bson.E{Key: "status", Value: *q.Status})
	}
	if q.Role != nil {
		filter = append(filter, bson.E{Key: "role", Value: *q.Role})
	}
	if q.Agency != "" {
		filter = append(filter, bson.E{Key: "agency", Value: q.Agency})
	}
	if q.Subject != "" {
		filter = append(filter, bson.E{Key: "subject", Value: q.Subject})
	}
	if q.AfterID != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: q.AfterID}}})
	}
	list, err := findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit+1)))
	if err != nil {
		return nil, false, err
	}
	list, more := page(list, q.Limit)
	return list, more, nil
}
