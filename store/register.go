package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

// Scope is the row rule for persons (DESIGN §4): a nil Caseload means every person; otherwise
// only the listed person IDs exist for the caller. It is applied inside every person query.
type Scope struct {
	Caseload []string
	// Restricted is true when Caseload applies (an empty caseload then matches nobody).
	Restricted bool
	// HideBlocked leaves blocked persons and blocked items out (DESIGN §7a): blocked items by
	// a projection, blocked persons by the query filter or right after the decode (see
	// blockedRule). Set for every role but the register office.
	HideBlocked bool
}

// visible keeps the IDs the scope lets the caller see.
func (sc Scope) visible(ids []string) []string {
	allowed := make(map[string]bool, len(sc.Caseload))
	for _, id := range sc.Caseload {
		allowed[id] = true
	}
	var out []string
	for _, id := range ids {
		if allowed[id] {
			out = append(out, id)
		}
	}
	return out
}

// noPerson is an ID no person has (IDs are never empty): PersonsByIDs reads it when it has
// nothing else to read.
const noPerson = ""

// blockedRule is the blocking rule on whole persons (DESIGN §7a): with HideBlocked, a blocked
// person does not exist for the caller. Its filter and its test on a decoded person are one
// rule (a blocking is stored as the field blocked, absent while the person is not blocked).
func (sc Scope) blockedRule() rowRule[model.Person] {
	if !sc.HideBlocked {
		return rowRule[model.Person]{}
	}
	return rowRule[model.Person]{
		filter: bson.D{{Key: "blocked", Value: bson.D{{Key: "$exists", Value: false}}}},
		keep:   func(p *model.Person) bool { return p.Blocked == nil },
	}
}

// PersonsByIDs returns the persons with these IDs that the scope lets the caller see, keyed by
// ID; missing, out-of-scope and (for HideBlocked) blocked IDs are simply absent. The scope
// narrows the queried IDs before the query is built, so out-of-scope persons are never read;
// the blocking rule is in the query on MongoDB and applied right after the decode where the
// query must be exactly {_id} (see rowRule). Index: _id.
//
// It always reads the collection, at least once: when no ID is left to read (none given, or
// none in the scope) it reads noPerson. So a lookup of persons the scope hides costs what a
// lookup of persons who do not exist costs, and callers that find no candidates read here
// all the same (DESIGN §4, §7a: hidden reads as absent, in time too).
func (s *Store) PersonsByIDs(ctx context.Context, scope Scope, ids []string) (map[string]*model.Person, error) {
	if scope.Restricted {
		ids = scope.visible(ids)
	}
	if len(ids) == 0 {
		ids = []string{noPerson}
	}
	persons, err := findByIDsWhere(ctx, s, s.db.Collection(colPersons), ids, scope.blockedRule())
	return keyed(persons, func(p *model.Person) string { return p.ID }), err
}

// PersonIDByNationalID finds the ID of the person with this canonical national ID in the
// nationalIds collection (keyed by the national ID, which also keeps national IDs unique); ok
// is false when there is none. The caller loads the person through its scope. Index: _id.
func (s *Store) PersonIDByNationalID(ctx context.Context, nationalID string) (id string, ok bool, err error) {
	var doc struct {
		PersonID string `bson:"personId"`
	}
	err = s.db.Collection(colNationalIDs).FindOne(ctx, bson.D{{Key: "_id", Value: nationalID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(err)
	}
	return doc.PersonID, true, nil
}

// DetentionsByPersonIDs returns the detention records of these persons, keyed by person ID;
// persons never detained have none. The extract (includeCopyOnly false) is a projection that
// leaves the periods of expunged and deemed-not-convicted convictions in the database;
// includeCopyOnly is set only when the caller's role may read the full copy and asked for it,
// and then Periods holds every period. Blocked periods are projected out unless the scope
// shows them (then they are among Periods, those of copy-only convictions only in the copy).
// Index: _id.
func (s *Store) DetentionsByPersonIDs(ctx context.Context, scope Scope, personIDs []string, includeCopyOnly bool) (map[string]*model.DetentionRecord, error) {
	records, err := s.detentionRecords(ctx, scope, personIDs, includeCopyOnly)
	out := make(map[string]*model.DetentionRecord, len(records))
	for i := range records {
		r := detentionsAsRead(&records[i], includeCopyOnly)
		out[r.PersonID] = &r
	}
	return out, err
}

// DetentionsCopyAndExtract returns both the full copy and the extract of these persons'
// detention records from one read of the copy: the extract is derived from it exactly as
// DetentionsByPersonIDs(…, false) would read it. Only for a caller whose role may read the
// full copy and who asked for it in the same request (the extract alone is still read as a
// projection that leaves the copy-only periods in the database). Index: _id.
func (s *Store) DetentionsCopyAndExtract(ctx context.Context, scope Scope, personIDs []string) (copy, extract map[string]*model.DetentionRecord, err error) {
	records, err := s.detentionRecords(ctx, scope, personIDs, true)
	if err != nil {
		return nil, nil, err
	}
	copy = make(map[string]*model.DetentionRecord, len(records))
	extract = make(map[string]*model.DetentionRecord, len(records))
	for i := range records {
		c, e := detentionsAsRead(&records[i], true), detentionsAsRead(&records[i], false)
		copy[c.PersonID], extract[e.PersonID] = &c, &e
	}
	return copy, extract, nil
}

// detentionRecords reads detention records as stored, with the row rules in the projection:
// blocked periods unless the scope shows them, copy-only periods unless includeCopyOnly.
func (s *Store) detentionRecords(ctx context.Context, scope Scope, personIDs []string, includeCopyOnly bool) ([]model.DetentionRecord, error) {
	projection := scope.itemProjection("blockedPeriods")
	if !includeCopyOnly {
		projection = append(projection, bson.E{Key: "copyOnlyPeriods", Value: 0})
	}
	return findByIDs[model.DetentionRecord](ctx, s, s.db.Collection(colDetentions), personIDs, projectionOpt(projection))
}

// detentionsAsRead is a stored record as the extract (includeCopyOnly false) or the full copy
// shows it: Periods holds what the reader gets, CopyOnlyPeriods and BlockedPeriods are empty.
// It builds new period lists, so r can be read again for the other view.
func detentionsAsRead(r *model.DetentionRecord, includeCopyOnly bool) model.DetentionRecord {
	out := *r
	out.Periods, out.CopyOnlyPeriods, out.BlockedPeriods = make([]model.DetentionPeriod, 0, len(r.Periods)+len(r.BlockedPeriods)+len(r.CopyOnlyPeriods)), nil, nil
	out.Periods = append(out.Periods, r.Periods...)
	var copyOnly []model.DetentionPeriod
	if includeCopyOnly {
		copyOnly = append(copyOnly, r.CopyOnlyPeriods...)
	}
	for _, q := range r.BlockedPeriods {
		switch {
		case q.Blocked == nil || !q.Blocked.CopyOnly:
			out.Periods = append(out.Periods, q)
		case includeCopyOnly:
			copyOnly = append(copyOnly, q)
		}
	}
	for j := range copyOnly {
		copyOnly[j].FromCopy = true
	}
	out.Periods = append(out.Periods, copyOnly...)
	fillPeriodOwners(&out)
	return out
}

func fillPeriodOwners(r *model.DetentionRecord) {
	for _, list := range [][]model.DetentionPeriod{r.Periods, r.CopyOnlyPeriods} {
		for j := range list {
			list[j].PersonID = r.PersonID
		}
	}
}

// ConvictionsByPersonIDs returns the convictions of these persons, newest decision first,
// grouped by person ID. The extract (includeExpunged false) is a projection that leaves the
// expunged convictions in the database; includeExpunged is set only when the caller's role may
// read the full copy and asked for it. Index: _id.
func (s *Store) ConvictionsByPersonIDs(ctx context.Context, scope Scope, personIDs []string, includeExpunged bool) (map[string][]model.Conviction, error) {
	records, err := s.criminalRecords(ctx, scope, personIDs, includeExpunged)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]model.Conviction, len(records))
	for i := range records {
		out[records[i].PersonID] = convictionsAsRead(&records[i], includeExpunged)
	}
	return out, nil
}

// ConvictionsCopyAndExtract returns both the full copy and the extract of these persons'
// criminal records from one read of the copy: the extract is derived from it exactly as
// ConvictionsByPersonIDs(…, false) would read it. Only for a caller whose role may read the
// full copy and who asked for it in the same request (the extract alone is still read as a
// projection that leaves the expunged convictions in the database). Index: _id.
func (s *Store) ConvictionsCopyAndExtract(ctx context.Context, scope Scope, personIDs []string) (copy, extract map[string][]model.Conviction, err error) {
	records, err := s.criminalRecords(ctx, scope, personIDs, true)
	if err != nil {
		return nil, nil, err
	}
	copy = make(map[string][]model.Conviction, len(records))
	extract = make(map[string][]model.Conviction, len(records))
	for i := range records {
		r := &records[i]
		copy[r.PersonID], extract[r.PersonID] = convictionsAsRead(r, true), convictionsAsRead(r, false)
	}
	return copy, extract, nil
}

// criminalRecords reads criminal records as stored, with the row rules in the projection:
// blocked convictions and sentences unless the scope shows them, expunged convictions unless
// includeExpunged.
func (s *Store) criminalRecords(ctx context.Context, scope Scope, personIDs []string, includeExpunged bool) ([]model.CriminalRecord, error) {
	projection := scope.itemProjection("blockedConvictions", "blockedSentences")
	if !includeExpunged {
		projection = append(projection, bson.E{Key: "expungedConvictions", Value: 0})
	}
	return findByIDs[model.CriminalRecord](ctx, s, s.db.Collection(colRecords), personIDs, projectionOpt(projection))
}

// convictionsAsRead is a stored record's convictions as the extract (includeExpunged false:
// the expunged ones left out, whether or not they were read) or the full copy shows them,
// newest decision first. It builds new lists (the offences and sentences too), so r can be
// read again for the other view.
func convictionsAsRead(r *model.CriminalRecord, includeExpunged bool) []model.Conviction {
	list := make([]model.Conviction, 0, len(r.Convictions)+len(r.ExpungedConvictions)+len(r.BlockedConvictions))
	for _, c := range r.Convictions {
		// A conviction of the copy only never reaches the extract, also when it lies in the
		// extract's array (a document edited by hand): the conviction's own flags decide.
		if includeExpunged || !c.CopyOnly() {
			list = append(list, c)
		}
	}
	if includeExpunged {
		list = append(list, r.ExpungedConvictions...)
	}
	list = withBlocked(list, r, includeExpunged)
	for i := range list {
		fillOwners(&list[i], r.PersonID, includeExpunged)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].DecisionDate != list[j].DecisionDate {
			return list[i].DecisionDate > list[j].DecisionDate
		}
		return list[i].ID < list[j].ID
	})
	return list
}

// itemProjection leaves out, unless the scope shows blocked data, the arrays of a record that
// hold blocked items: the row rule of DESIGN §7a, in the query. (The corrections kept in a
// record are not projected out: a projection on them made every read several times slower on
// FerretDB, and they are never shown through the record.)
func (sc Scope) itemProjection(blockedFields ...string) bson.D {
	p := bson.D{}
	if sc.HideBlocked {
		for _, f := range blockedFields {
			p = append(p, bson.E{Key: f, Value: 0})
		}
	}
	return p
}

// withBlocked adds, for a reader who may see them (they were not projected out), the blocked
// convictions of the extract or copy and puts blocked sentences back under their convictions.
// The offences and sentences of list are copied before they are filled in.
func withBlocked(list []model.Conviction, r *model.CriminalRecord, includeExpunged bool) []model.Conviction {
	for _, c := range r.BlockedConvictions {
		if includeExpunged || !c.CopyOnly() {
			list = append(list, c)
		}
	}
	for i := range list {
		list[i].Offences, list[i].Sentences = slices.Clone(list[i].Offences), slices.Clone(list[i].Sentences)
	}
	for _, b := range r.BlockedSentences {
		for i := range list {
			if list[i].ID == b.ConvictionID {
				list[i].Sentences = append(list[i].Sentences, b.Sentence)
			}
		}
	}
	return list
}

// OffenceID is the ID of the offence at an index of a conviction.
func OffenceID(convictionID string, index int) string {
	return fmt.Sprintf("O%s-%d", strings.TrimPrefix(convictionID, "C"), index+1)
}

// inCopy says a conviction belongs to the full copy only (expunged or deemed not convicted), so that its sentences
// look their conviction up in the copy.
func inCopy(c *model.Conviction) bool { return c.CopyOnly() }

func fillOwners(c *model.Conviction, personID string, fromCopy bool) {
	c.PersonID = personID
	for i := range c.Offences {
		c.Offences[i].ID = OffenceID(c.ID, i)
	}
	for i := range c.Sentences {
		c.Sentences[i].PersonID = personID
		c.Sentences[i].ConvictionID = c.ID
		c.Sentences[i].FromCopy = fromCopy
	}
}

// PrisonsByIDs returns the prisons with these IDs, keyed by ID, with one $in query on every
// engine: prisons are reference data of a few dozen documents (a country's prison service has
// at most a few hundred), so even where the server scans for $in one query over them costs
// less than a lookup per prison. Index: _id.
func (s *Store) PrisonsByIDs(ctx context.Context, ids []string) (map[string]*model.Prison, error) {
	prisons, err := findAll[model.Prison](ctx, s.db.Collection(colPrisons), in("_id", ids))
	return keyed(prisons, func(p *model.Prison) string { return p.ID }), err
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

// projectionOpt is a find-one option with the projection, or none when it is empty.
func projectionOpt(p bson.D) options.Lister[options.FindOneOptions] {
	if len(p) == 0 {
		return options.FindOne()
	}
	return options.FindOne().SetProjection(p)
}
