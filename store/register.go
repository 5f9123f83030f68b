package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
	"custodia/register"
)

// Scope is the row rule for persons (DESIGN §4): a nil Caseload means every person; otherwise
// only the listed person IDs exist for the caller. It is applied inside every person query.
type Scope struct {
	Caseload []string
	// Restricted is true when Caseload applies (an empty caseload then matches nobody).
	Restricted bool
}

// personFilter adds the caseload rule to a person filter.
func (sc Scope) personFilter(f bson.D) bson.D {
	if sc.Restricted {
		caseload := sc.Caseload
		if caseload == nil {
			caseload = []string{}
		}
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: caseload}}})
	}
	return f
}

// PersonsByIDs returns the persons with these IDs that the scope lets the caller see, keyed by
// ID; missing and out-of-scope IDs are simply absent. Index: _id.
func (s *Store) PersonsByIDs(ctx context.Context, scope Scope, ids []string) (map[string]*model.Person, error) {
	filter := bson.D{{Key: "$and", Value: bson.A{in("_id", ids), scope.personFilter(bson.D{})}}}
	if !scope.Restricted {
		filter = in("_id", ids)
	}
	persons, err := findAll[model.Person](ctx, s.db.Collection(colPersons), filter)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.Person, len(persons))
	for i := range persons {
		out[persons[i].ID] = &persons[i]
	}
	return out, nil
}

// SearchPersons runs a validated search, one page ordered by the search order key, and says
// whether there is a further page. Index: nationalId, or search_family_order.
func (s *Store) SearchPersons(ctx context.Context, scope Scope, q register.PersonQuery) ([]model.Person, bool, error) {
	filter := bson.D{}
	if q.NationalID != "" {
		filter = append(filter, bson.E{Key: "nationalId", Value: q.NationalID})
	}
	if q.FamilyName != "" {
		filter = append(filter, bson.E{Key: "search.familyNames", Value: q.FamilyName})
	}
	if q.DateOfBirth != "" {
		filter = append(filter, bson.E{Key: "dateOfBirth", Value: q.DateOfBirth})
	}
	for _, given := range q.GivenNames {
		filter = append(filter, bson.E{Key: "search.givenNames", Value: given})
	}
	if q.After != "" {
		filter = append(filter, bson.E{Key: "search.order", Value: bson.D{{Key: "$gt", Value: q.After}}})
	}
	filter = scope.personFilter(filter)
	opts := options.Find().SetSort(bson.D{{Key: "search.order", Value: 1}}).SetLimit(int64(q.Limit + 1))
	persons, err := findAll[model.Person](ctx, s.db.Collection(colPersons), filter, opts)
	if err != nil {
		return nil, false, err
	}
	if len(persons) > q.Limit {
		return persons[:q.Limit], true, nil
	}
	return persons, false, nil
}

// PersonIDByNationalID finds the ID of the person with this canonical national ID within the
// scope; ok is false when there is none. Index: nationalId.
func (s *Store) PersonIDByNationalID(ctx context.Context, scope Scope, nationalID string) (id string, ok bool, err error) {
	var doc struct {
		ID string `bson:"_id"`
	}
	filter := scope.personFilter(bson.D{{Key: "nationalId", Value: nationalID}})
	err = s.db.Collection(colPersons).FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(err)
	}
	return doc.ID, true, nil
}

// DetentionsByPersonIDs returns the detention records of these persons, keyed by person ID;
// persons never detained have none. Index: _id.
func (s *Store) DetentionsByPersonIDs(ctx context.Context, personIDs []string) (map[string]*model.DetentionRecord, error) {
	records, err := findAll[model.DetentionRecord](ctx, s.db.Collection(colDetentions), in("_id", personIDs))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.DetentionRecord, len(records))
	for i := range records {
		out[records[i].PersonID] = &records[i]
	}
	return out, nil
}

// ConvictionsByPersonIDs returns the convictions of these persons, newest decision first,
// grouped by person ID. Expunged convictions are excluded in the query unless
// includeExpunged is set (the caller has checked that the role may read the copy).
// Index: personId_expunged.
func (s *Store) ConvictionsByPersonIDs(ctx context.Context, personIDs []string, includeExpunged bool) (map[string][]model.Conviction, error) {
	filter := in("personId", personIDs)
	if !includeExpunged {
		filter = append(filter, bson.E{Key: "expunged", Value: false})
	}
	opts := options.Find().SetSort(bson.D{{Key: "decisionDate", Value: -1}, {Key: "_id", Value: 1}})
	convictions, err := findAll[model.Conviction](ctx, s.db.Collection(colConvictions), filter, opts)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]model.Conviction, len(personIDs))
	for _, c := range convictions {
		fillSentenceOwners(&c)
		out[c.PersonID] = append(out[c.PersonID], c)
	}
	return out, nil
}

// ConvictionsByIDs returns the convictions with these IDs, keyed by ID. Unless includeExpunged
// is set (the caller reached them through the full copy), an expunged conviction is treated as
// absent. Index: _id.
func (s *Store) ConvictionsByIDs(ctx context.Context, ids []string, includeExpunged bool) (map[string]*model.Conviction, error) {
	filter := in("_id", ids)
	if !includeExpunged {
		filter = append(filter, bson.E{Key: "expunged", Value: false})
	}
	convictions, err := findAll[model.Conviction](ctx, s.db.Collection(colConvictions), filter)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.Conviction, len(convictions))
	for i := range convictions {
		fillSentenceOwners(&convictions[i])
		out[convictions[i].ID] = &convictions[i]
	}
	return out, nil
}

// SentencesByIDs returns the sentences with these IDs that belong to unexpunged convictions,
// keyed by sentence ID, and the convictions they belong to. Index: sentences_id.
func (s *Store) SentencesByIDs(ctx context.Context, ids []string) (map[string]*model.Sentence, []*model.Conviction, error) {
	filter := append(in("sentences.id", ids), bson.E{Key: "expunged", Value: false})
	convictions, err := findAll[model.Conviction](ctx, s.db.Collection(colConvictions), filter)
	if err != nil {
		return nil, nil, err
	}
	wanted := make(map[string]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	out := make(map[string]*model.Sentence, len(ids))
	owners := make([]*model.Conviction, len(convictions))
	for i := range convictions {
		fillSentenceOwners(&convictions[i])
		owners[i] = &convictions[i]
		for j := range convictions[i].Sentences {
			if sentence := &convictions[i].Sentences[j]; wanted[sentence.ID] {
				out[sentence.ID] = sentence
			}
		}
	}
	return out, owners, nil
}

func fillSentenceOwners(c *model.Conviction) {
	for i := range c.Sentences {
		c.Sentences[i].ConvictionID = c.ID
		c.Sentences[i].ConvictionExpunged = c.Expunged
	}
}

// PrisonsByIDs returns the prisons with these IDs, keyed by ID. Index: _id.
func (s *Store) PrisonsByIDs(ctx context.Context, ids []string) (map[string]*model.Prison, error) {
	prisons, err := findAll[model.Prison](ctx, s.db.Collection(colPrisons), in("_id", ids))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*model.Prison, len(prisons))
	for i := range prisons {
		out[prisons[i].ID] = &prisons[i]
	}
	return out, nil
}

// ListPrisons returns every prison, or those of one kind, ordered by name. Index: kind_name
// (a collection of a few dozen documents when unfiltered).
func (s *Store) ListPrisons(ctx context.Context, kind *model.PrisonKind) ([]model.Prison, error) {
	filter := bson.D{}
	if kind != nil {
		filter = bson.D{{Key: "kind", Value: *kind}}
	}
	return findAll[model.Prison](ctx, s.db.Collection(colPrisons), filter, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}))
}
