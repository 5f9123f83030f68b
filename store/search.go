package store

import (
	"context"
	"hash/fnv"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/apperr"
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

// PersonPage is a page of a person search, in search order. When More, the next page is the
// same query after Next: the last person's order key for a full page, or a sealed position
// (sealPosition) when the page stopped at KeyScanBudget, with fewer persons than asked for
// (possibly none).
type PersonPage struct {
	Persons []model.Person
	More    bool
	Next    string
}

// SearchPersons runs a validated search: one page in search order, within the scope, and
// whether a further page exists. The candidates come from point lookups — the search key
// documents of the kinds of name the query may match (register.PersonQuery.KeyIDs), or the
// national-ID key — and are loaded by _id through PersonsByIDs, so the scope and every other
// person row rule apply as in any person read; a candidate that no longer matches (a key left
// by an interrupted write, or listed by hand) is dropped. At most KeyScanBudget candidates are
// looked up per page: a page that reaches it stops there, with More and a sealed Next, so a
// key document bloated by hand costs each page a bounded number of lookups and paging still
// reaches every person. Index: _id (searchKeys, nationalIds, persons).
//
// Its work does not depend on whether the persons its keys name are hidden from the caller or
// do not exist: the candidates are read in at least one round, even when there are none
// (PersonsByIDs then reads an absent ID), and a national ID is read through the scope once.
func (s *Store) SearchPersons(ctx context.Context, scope Scope, q register.PersonQuery) (PersonPage, error) {
	after, ok, err := s.openPosition(ctx, q.After)
	if err != nil {
		return PersonPage{}, err
	}
	if !ok {
		return PersonPage{}, apperr.BadInput("after", "after is not a cursor issued by this API: pass pageInfo.endCursor of the previous page")
	}
	q.After = after
	if q.NationalID != "" {
		return s.searchByNationalID(ctx, scope, q)
	}
	keys := q.KeyIDs()
	docs, err := findByIDs[searchKeyDoc](ctx, s, s.db.Collection(colSearchKeys), keys)
	if err != nil {
		return PersonPage{}, err
	}
	var candidates []string
	for _, d := range docs {
		candidates = append(candidates, d.Entries...)
	}
	// A caseload is known before anything is read: candidates outside it are dropped here, so
	// they cost no round below (rounds counted hidden persons, their number and, with a cursor
	// moved by hand, their order keys) and no part of the scan budget.
	if scope.Restricted {
		visible := map[string]bool{}
		for _, id := range scope.visible(mapIDs(candidates)) {
			visible[id] = true
		}
		candidates = slices.DeleteFunc(candidates, func(c string) bool { return !visible[orderKeyID(c)] })
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
	budget := newScanBudget()
	var out []model.Person
	last := "" // the last candidate looked up
	for round := 0; round == 0 || len(candidates) > 0 && len(out) <= q.Limit; round++ {
		if budget.spent() {
			// Stopped at the budget: go on after the last candidate looked up, sealed (it may be
			// a person the caller may not see, or a former name of one).
			next, err := s.sealPosition(ctx, last)
			if err != nil {
				return PersonPage{}, err
			}
			return PersonPage{Persons: out, More: true, Next: next}, nil
		}
		// Load as many as the page still needs (plus one to know whether more follow); a
		// further round only when some of them no longer match.
		n := budget.take(min(len(candidates), q.Limit+1-len(out)))
		batch := candidates[:n]
		candidates = candidates[n:]
		if n > 0 {
			last = batch[n-1]
		}
		ids := mapIDs(batch)
		found, err := s.PersonsByIDs(ctx, scope, ids)
		if err != nil {
			return PersonPage{}, err
		}
		for i, c := range batch {
			if p := found[ids[i]]; p != nil && p.Search.Order == c && q.Matches(p) {
				out = append(out, *p)
			}
		}
	}
	return fullPersonPage(out, q.Limit), nil
}

// fullPersonPage cuts persons fetched with limit+1 to a page.
func fullPersonPage(persons []model.Person, limit int) PersonPage {
	persons, more := page(persons, limit)
	p := PersonPage{Persons: persons, More: more}
	if more {
		p.Next = persons[len(persons)-1].Search.Order
	}
	return p
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
func (s *Store) searchByNationalID(ctx context.Context, scope Scope, q register.PersonQuery) (PersonPage, error) {
	id, _, err := s.PersonIDByNationalID(ctx, q.NationalID) // "" (noPerson) when it names nobody
	if err != nil {
		return PersonPage{}, err
	}
	found, err := s.PersonsByIDs(ctx, scope, []string{id})
	if err != nil {
		return PersonPage{}, err
	}
	var out []model.Person
	if p := found[id]; p != nil && q.Matches(p) && p.Search.Order > q.After {
		out = append(out, *p)
	}
	return fullPersonPage(out, q.Limit), nil
}
