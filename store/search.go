package store

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
	"custodia/register"
)

// colSearchKeys holds the person search keys: one document per folded search key
// (register.SearchKeyIDs: family name with date of birth or with a given name, per kind of
// family name), listing the search-order keys (model.PersonSearchKeys.Order, which ends in the
// person's ID) of the persons found under it. A search page is then a read of one to three key
// documents and point lookups of the persons by _id: its cost does not depend on the size of
// the register on FerretDB, which serves only _id equality from an index.
//
// The documents are kept right without transactions by the order of the writes (WritePerson):
// a person's new keys are written before the person, the keys it no longer has are removed
// after it; a reader checks every candidate against the person as stored now
// (register.PersonQuery.Matches and the current order key) and drops those that no longer
// match. An interrupted write therefore leaves at most extra entries, which read as nothing.
const colSearchKeys = "searchKeys"

// searchKeyDoc is one search key document.
type searchKeyDoc struct {
	ID string `bson:"_id"`
	// Entries are the search-order keys of the persons found under the key, in no particular
	// order (readers sort them).
	Entries []string `bson:"entries"`
}

// orderKeyID returns the person ID at the end of a search-order key.
func orderKeyID(order string) string {
	return order[strings.LastIndexByte(order, 0)+1:]
}

// lockKey serialises this process's writers of one search key document: FerretDB v1 applies
// update operators by reading and rewriting the document, so two concurrent $addToSet could
// lose one. Separate from recordLocks, so a writer may hold a person's lock while it takes
// key locks one at a time (never two key locks at once: no lock-order cycles).
func (s *Store) lockKey(key string) (unlock func()) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
	m.Lock()
	return m.Unlock
}

// WritePerson writes a person together with its search keys, in the order that keeps searches
// right without transactions: first the keys after has and before lacked, then the person (an
// insert when before is nil — a retried insert is not an error — else a replace at
// before.Version), then the removal of the keys before had and after lacks. It computes
// after.Search itself. ok is false, and nothing is removed, when the stored person was no
// longer at before.Version. Every write of a person — registration, update, correction — goes
// through here; the caller runs it in InTransaction where it also reserves national IDs.
// Index: _id (persons, searchKeys).
func (s *Store) WritePerson(ctx context.Context, before *model.Person, after model.Person) (ok bool, err error) {
	if before != nil && after.Corrections == nil {
		// An identity write (updatePerson) keeps the person's blocking and corrections; a
		// correction (correctPerson) passes them itself.
		after.Blocked, after.Corrections = before.Blocked, before.Corrections
	}
	after.Search = register.SearchKeys(&after)
	if after.PreviousNames == nil {
		after.PreviousNames = []model.PreviousName{}
	}
	defer s.lockRecord(colPersons, after.ID)()
	var old []string
	oldOrder := ""
	if before != nil {
		old, oldOrder = register.SearchKeyIDs(before), register.SearchKeys(before).Order
	}
	keys := register.SearchKeyIDs(&after)
	for _, k := range keys {
		if oldOrder == after.Search.Order && slices.Contains(old, k) {
			continue // already there with the same entry
		}
		if err := s.addSearchEntry(ctx, k, after.Search.Order); err != nil {
			return false, err
		}
	}
	if err := s.interrupted(StepSearchKeysAdded); err != nil {
		return false, err
	}
	col := s.db.Collection(colPersons)
	if before == nil {
		if _, err := col.InsertOne(ctx, after); err != nil && !mongo.IsDuplicateKeyError(err) {
			return false, classify(err)
		}
	} else {
		ok, err := s.writeIf(ctx, col, after.ID, "version", before.Version, false, replaceWith(ctx, col, after))
		if err != nil || !ok {
			return false, err
		}
	}
	if err := s.interrupted(StepPersonWritten); err != nil {
		return true, err
	}
	for _, k := range old {
		if oldOrder == after.Search.Order && slices.Contains(keys, k) {
			continue
		}
		if err := s.removeSearchEntry(ctx, k, oldOrder); err != nil {
			return true, err
		}
	}
	return true, nil
}

// Steps of WritePerson after which SetInterrupt can stop it.
const (
	StepSearchKeysAdded = "search keys added"
	StepPersonWritten   = "person written"
)

// SetInterrupt makes WritePerson stop after a step with the error f returns for it (nil: go
// on), as a crash between two documents would; nil removes it. Tests use it to check that
// every intermediate state reads consistently.
func (s *Store) SetInterrupt(f func(step string) error) {
	if f == nil {
		s.interrupt.Store(nil)
		return
	}
	s.interrupt.Store(&f)
}

func (s *Store) interrupted(step string) error {
	if f := s.interrupt.Load(); f != nil {
		return (*f)(step)
	}
	return nil
}

// addSearchEntry adds a person's order key to a search key document, creating it if needed.
// Index: _id.
func (s *Store) addSearchEntry(ctx context.Context, key, order string) error {
	defer s.lockKey(key)()
	_, err := s.db.Collection(colSearchKeys).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "entries", Value: order}}}}, options.UpdateOne().SetUpsert(true))
	return classify(err)
}

// removeSearchEntry removes a person's order key from a search key document. Index: _id.
func (s *Store) removeSearchEntry(ctx context.Context, key, order string) error {
	defer s.lockKey(key)()
	_, err := s.db.Collection(colSearchKeys).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$pullAll", Value: bson.D{{Key: "entries", Value: []string{order}}}}})
	return classify(err)
}

// searchKeyDocs builds the search key documents of a whole register (the seed).
func searchKeyDocs(persons []model.Person) []any {
	entries := map[string][]string{}
	var order []string
	for i := range persons {
		p := &persons[i]
		for _, k := range register.SearchKeyIDs(p) {
			if _, ok := entries[k]; !ok {
				order = append(order, k)
			}
			entries[k] = append(entries[k], p.Search.Order)
		}
	}
	docs := make([]any, len(order))
	for i, k := range order {
		docs[i] = searchKeyDoc{ID: k, Entries: entries[k]}
	}
	return docs
}

// SearchPersons runs a validated search: one page in search order, within the scope, and
// whether a further page exists. The candidates come from point lookups — the search key
// documents of the kinds of name the query may match (register.PersonQuery.KeyIDs), or the
// national-ID key — and are loaded by _id through PersonsByIDs, so the scope and every other
// person row rule apply as in any person read; a candidate that no longer matches (a key left
// by an interrupted write) is dropped. Index: _id (searchKeys, nationalIds, persons).
//
// Its work does not depend on whether the persons its keys name are hidden from the caller or
// do not exist: the candidates are read in at least one round, even when there are none
// (PersonsByIDs then reads an absent ID), and a national ID is read through the scope once.
func (s *Store) SearchPersons(ctx context.Context, scope Scope, q register.PersonQuery) ([]model.Person, bool, error) {
	if q.NationalID != "" {
		return s.searchByNationalID(ctx, scope, q)
	}
	keys := q.KeyIDs()
	docs, err := findByIDs[searchKeyDoc](ctx, s, s.db.Collection(colSearchKeys), keys)
	if err != nil {
		return nil, false, err
	}
	var candidates []string
	for _, d := range docs {
		candidates = append(candidates, d.Entries...)
	}
	// A caseload is known before anything is read: candidates outside it are dropped here, so
	// they cost no round below (rounds counted hidden persons, their number and, with a cursor
	// moved by hand, their order keys).
	if scope.Restricted {
		visible := scope.visible(mapIDs(candidates))
		candidates = slices.DeleteFunc(candidates, func(c string) bool { return !slices.Contains(visible, orderKeyID(c)) })
	}
	// Candidates after the cursor, in search order, each person once.
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	if q.After != "" {
		i, _ := slices.BinarySearch(candidates, q.After)
		for i < len(candidates) && candidates[i] <= q.After {
			i++
		}
		candidates = candidates[i:]
	}
	var out []model.Person
	for round := 0; round == 0 || len(candidates) > 0 && len(out) <= q.Limit; round++ {
		// Load as many as the page still needs (plus one to know whether more follow); a
		// further round only when some of them no longer match.
		n := min(len(candidates), q.Limit+1-len(out))
		batch := candidates[:n]
		candidates = candidates[n:]
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = orderKeyID(c)
		}
		found, err := s.PersonsByIDs(ctx, scope, ids)
		if err != nil {
			return nil, false, err
		}
		for i, c := range batch {
			if p := found[ids[i]]; p != nil && p.Search.Order == c && q.Matches(p) {
				out = append(out, *p)
			}
		}
	}
	out, more := page(out, q.Limit)
	return out, more, nil
}

// mapIDs are the person IDs of order keys.
func mapIDs(orderKeys []string) []string {
	ids := make([]string, len(orderKeys))
	for i, c := range orderKeys {
		ids[i] = orderKeyID(c)
	}
	return ids
}

// searchByNationalID is a search by national ID: the person the number names, read through
// the scope — once, whether the number names anyone or not.
func (s *Store) searchByNationalID(ctx context.Context, scope Scope, q register.PersonQuery) ([]model.Person, bool, error) {
	id, _, err := s.PersonIDByNationalID(ctx, q.NationalID) // "" (noPerson) when it names nobody
	if err != nil {
		return nil, false, err
	}
	found, err := s.PersonsByIDs(ctx, scope, []string{id})
	if err != nil {
		return nil, false, err
	}
	var out []model.Person
	if p := found[id]; p != nil && q.Matches(p) && p.Search.Order > q.After {
		out = append(out, *p)
	}
	out, more := page(out, q.Limit)
	return out, more, nil
}
