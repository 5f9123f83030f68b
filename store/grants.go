package store

import (
	"context"
	"errors"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

const colGrants = "grants"

// colGrantSubjects keys the grants by subject: one document per subject listing the IDs of its
// grants (every role and agency). Where the server serves only {_id: <string>} from an index
// (Store.scansIn) the per-request grant check and myAccessGrants read it and then the grants by
// _id, instead of a filter on subject, role and agency, which would read every grant. Kept
// right without transactions by the order of the writes: a grant's ID is added before the
// grant is inserted, and grants are never deleted nor change subject; a listed ID with no
// grant (an interrupted request) reads as nothing. Written on every engine, so that it is
// complete whichever engine reads it; a database from before it existed is indexed once at
// start-up (ensureGrantSubjects).
const colGrantSubjects = "grantSubjects"

// grantSubjectDoc is one subject's entry of colGrantSubjects.
type grantSubjectDoc struct {
	ID     string   `bson:"_id"`
	Grants []string `bson:"grants"`
}

// grantSubjectsMarkerID marks, in meta, a database whose grantSubjects are complete.
const grantSubjectsMarkerID = "grantSubjects"

func init() {
	indexes[colGrants] = []mongo.IndexModel{
		// The per-request grant check and myAccessGrants.
		{Keys: bson.D{{Key: "subject", Value: 1}, {Key: "role", Value: 1}, {Key: "agency", Value: 1}}, Options: options.Index().SetName("subject_role_agency")},
		// suspendAgencyGrants / resumeAgencyGrants (GrantsOfAgency).
		{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "status", Value: 1}}, Options: options.Index().SetName("agency_status")},
	}
}

// GrantsFor returns every grant of a subject in one role and agency, newest request first.
// Index: subject_role_agency; where only _id is served, grantSubjects and _id.
func (s *Store) GrantsFor(ctx context.Context, subject string, role model.Role, agency string) ([]model.AccessGrant, error) {
	if s.scansIn {
		list, err := s.grantsOfSubject(ctx, subject)
		return slices.DeleteFunc(list, func(g model.AccessGrant) bool { return g.Role != role || g.Agency != agency }), err
	}
	filter := bson.D{{Key: "subject", Value: subject}, {Key: "role", Value: role}, {Key: "agency", Value: agency}}
	return findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), filter, options.Find().SetSort(bson.D{{Key: "requestedAt", Value: -1}}))
}

// GrantsOfSubject returns every grant of a subject, newest request first. Index:
// subject_role_agency (prefix); where only _id is served, grantSubjects and _id.
func (s *Store) GrantsOfSubject(ctx context.Context, subject string) ([]model.AccessGrant, error) {
	if s.scansIn {
		return s.grantsOfSubject(ctx, subject)
	}
	return findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), bson.D{{Key: "subject", Value: subject}},
		options.Find().SetSort(bson.D{{Key: "requestedAt", Value: -1}}))
}

// grantsOfSubject reads a subject's grants by point lookups: its grantSubjects document, then
// the grants by _id (a grant of another subject, which the document cannot list unless it was
// tampered with, is dropped), newest request first. Index: _id.
func (s *Store) grantsOfSubject(ctx context.Context, subject string) ([]model.AccessGrant, error) {
	var doc grantSubjectDoc
	err := s.db.Collection(colGrantSubjects).FindOne(ctx, bson.D{{Key: "_id", Value: subject}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	list, err := findByIDsWhere(ctx, s, s.db.Collection(colGrants), doc.Grants, rowRule[model.AccessGrant]{
		keep: func(g *model.AccessGrant) bool { return g.Subject == subject },
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(list, func(a, b model.AccessGrant) int { return b.RequestedAt.Compare(a.RequestedAt) })
	return list, nil
}

// addGrantSubject lists a grant under its subject (before the grant is written). Index: _id.
func (s *Store) addGrantSubject(ctx context.Context, subject, grantID string) error {
	_, err := s.db.Collection(colGrantSubjects).UpdateOne(ctx, bson.D{{Key: "_id", Value: subject}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "grants", Value: grantID}}}}, options.UpdateOne().SetUpsert(true))
	return classify(err)
}

// grantSubjectDocs builds the grantSubjects documents of a set of grants (the seed).
func grantSubjectDocs(grants []model.AccessGrant) []any {
	bySubject := map[string]*grantSubjectDoc{}
	var out []any
	for _, g := range grants {
		d := bySubject[g.Subject]
		if d == nil {
			d = &grantSubjectDoc{ID: g.Subject}
			bySubject[g.Subject] = d
			out = append(out, d)
		}
		d.Grants = append(d.Grants, g.ID)
	}
	return out
}

// ensureGrantSubjects indexes, once per database, grants written before grantSubjects existed:
// one read of the whole grants collection at the start-up that finds no marker, then never
// again (the seed and InsertGrant keep it complete). Idempotent, so instances starting
// together may both run it.
func (s *Store) ensureGrantSubjects(ctx context.Context) error {
	meta := s.db.Collection(colMeta)
	if absent, err := absent(ctx, meta, grantSubjectsMarkerID); !absent || err != nil {
		return err
	}
	grants, err := findAll[model.AccessGrant](ctx, s.db.Collection(colGrants), bson.D{},
		options.Find().SetProjection(bson.D{{Key: "subject", Value: 1}}))
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := s.addGrantSubject(ctx, g.Subject, g.ID); err != nil {
			return err
		}
	}
	if _, err := meta.InsertOne(ctx, bson.D{{Key: "_id", Value: grantSubjectsMarkerID}}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	return nil
}

// GrantByID reads one grant; ok is false when there is none. Index: _id.
func (s *Store) GrantByID(ctx context.Context, id string) (g model.AccessGrant, ok bool, err error) {
	err = decodeOne(s.db.Collection(colGrants).FindOne(ctx, bson.D{{Key: "_id", Value: id}}), &g, true)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return g, false, nil
	}
	return g, err == nil, classify(err)
}

// InsertGrant stores a new grant (an access request), listed under its subject first (see
// colGrantSubjects).
func (s *Store) InsertGrant(ctx context.Context, g model.AccessGrant) error {
	if err := s.addGrantSubject(ctx, g.Subject, g.ID); err != nil {
		return err
	}
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

// absent says whether the document with this _id does not exist (a start-up's marker not
// written yet). Index: _id.
func absent(ctx context.Context, c *mongo.Collection, id string) (bool, error) {
	err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	return false, classify(err)
}
