package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/model"
)

// colAuditPersons is the per-person index of the audit log: one document per person and year
// (auditPersonsID), listing the positions (sequence numbers) of the entries of that year that
// name the person in personIds. On an engine that serves only {_id: <string>} from an index
// (FerretDB v1), Disclosures and the audit trail of one person read it and then the listed
// entries by _id, so their cost follows the person's entries, not the length of the log.
//
// It is kept right without transactions by the order of the writes, like the search keys:
// AppendAudit adds the positions an append is about to take before it inserts the entries, and
// again for the new positions when another appender took some of them first. So the index
// may list extra positions (an entry never inserted, a position another instance's entry
// took), never miss one; a reader loads each listed entry and drops those that do not name the
// person. The index is derived data: it is not part of the hashed log, the entries and their
// encoding are unchanged, and it can be rebuilt from the log (ensureAuditPersons). Retention
// removes bodies, not positions: a removed entry names nobody and yields nothing.
const colAuditPersons = "auditPersons"

// auditPersonsMarkerID marks, in meta, an audit database whose auditPersons index is complete.
const auditPersonsMarkerID = "auditPersonsComplete"

// auditPersonsDoc is one index document: the positions of one person's entries of one year.
type auditPersonsDoc struct {
	ID   string `bson:"_id"`
	Seqs []int  `bson:"seqs"`
}

// auditPersonsID is the _id of the index document of a person's entries of a year (UTC).
// Chunking by year bounds a document's size by what one person accrues in a year, and a reader
// reads one document per year of the retained log.
func auditPersonsID(personID string, year int) string { return fmt.Sprintf("%s/%d", personID, year) }

// lockDerived serialises this process's writers of the derived index documents with these
// _ids (auditPersons, eventBuckets) until the returned unlock: FerretDB v1 applies $addToSet by
// reading and rewriting the document, so two concurrent writers of one document could lose an
// entry. The stripes are taken in ascending order, so two writers never wait for each other in
// a cycle. Across instances FerretDB v1 gives no such guarantee (as for the search keys).
func (s *Store) lockDerived(ids []string) (unlock func()) {
	stripes := make([]int, 0, len(ids))
	for _, id := range ids {
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		stripes = append(stripes, int(h.Sum32()%uint32(len(s.derivedLocks))))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.derivedLocks[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(stripes) {
			s.derivedLocks[i].Unlock()
		}
	}
}

// addToSets adds values to the array field of the documents with these _ids (creating missing
// documents), in one update command of one statement per document. A duplicate key (another
// instance created the document between this upsert's read and its insert) is retried once,
// when the document exists. Index: _id.
func (s *Store) addToSets(ctx context.Context, c *mongo.Collection, field string, add map[string][]any) error {
	if len(add) == 0 {
		return nil
	}
	ids := make([]string, 0, len(add))
	for id := range add {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	defer s.lockDerived(ids)()
	models := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: id}}).
			SetUpdate(bson.D{{Key: "$addToSet", Value: bson.D{{Key: field, Value: bson.D{{Key: "$each", Value: add[id]}}}}}}).
			SetUpsert(true)
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if _, err = c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err == nil || !onlyDuplicates(err) {
			break
		}
	}
	return classify(err)
}

// onlyDuplicates says every write error of a bulk write is a duplicate key.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 || bwe.WriteConcernError != nil {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// indexAuditPositions adds the positions the entries hold (Sequence set, about to be inserted)
// to the auditPersons documents of the persons they name.
func (s *Store) indexAuditPositions(ctx context.Context, entries []*model.AuditEntry) error {
	add := map[string][]any{}
	for _, e := range entries {
		for _, p := range e.PersonIDs {
			id := auditPersonsID(p, e.Time.UTC().Year())
			add[id] = append(add[id], e.Sequence)
		}
	}
	return s.addToSets(ctx, s.db.Collection(colAuditPersons), "seqs", add)
}

// auditPositionsOf returns, in ascending order, the positions the index lists for a person
// after the ones retention removed: one read of the retention record, one of the first
// retained entry (whose time says the first year to read) and one per year of the retained
// log. Index: _id (auditMeta, audit, auditPersons).
func (s *Store) auditPositionsOf(ctx context.Context, personID string) ([]int, error) {
	through, _, err := s.AuditRetention(ctx)
	if err != nil {
		return nil, err
	}
	first, _, err := s.AuditEntryAt(ctx, through+1)
	if err != nil || first == nil {
		return nil, err // an empty (retained) log lists nobody
	}
	// A year before the first retained entry and after this instance's clock: entries take
	// their positions in roughly, not exactly, the order of their times (and clocks differ).
	ids := []string{}
	for y := first.Time.UTC().Year() - 1; y <= time.Now().UTC().Year()+1; y++ {
		ids = append(ids, auditPersonsID(personID, y))
	}
	docs, err := findByIDs[auditPersonsDoc](ctx, s, s.db.Collection(colAuditPersons), ids)
	if err != nil {
		return nil, err
	}
	var seqs []int
	for _, d := range docs {
		for _, seq := range d.Seqs {
			if seq > through {
				seqs = append(seqs, seq)
			}
		}
	}
	slices.Sort(seqs)
	return slices.Compact(seqs), nil
}

// auditEntriesAt loads the entries at these positions (by _id) and keeps those that name the
// person and pass keep, in the order of seqs. Missing entries (a position listed before its
// insert, or never inserted) and removed ones (which name nobody) are absent.
func (s *Store) auditEntriesAt(ctx context.Context, personID string, seqs []int, keep func(*model.AuditEntry) bool) ([]model.AuditEntry, error) {
	ids := make([]string, len(seqs))
	for i, seq := range seqs {
		ids[i] = AuditID(seq)
	}
	docs, err := findByIDs[model.AuditEntry](ctx, s, s.db.Collection(colAudit), ids,
		options.FindOne().SetProjection(bson.D{{Key: "tree", Value: 0}}))
	if err != nil {
		return nil, err
	}
	byID := keyed(docs, func(e *model.AuditEntry) string { return e.ID })
	out := make([]model.AuditEntry, 0, len(docs))
	for _, id := range ids {
		if e := byID[id]; e != nil && slices.Contains(e.PersonIDs, personID) && keep(e) {
			out = append(out, *e)
		}
	}
	return out, nil
}

// personAuditEntries answers an audit query with a person from the index, newest first: the
// person's positions below q.BeforeSeq are loaded a page at a time and the query's other
// conditions applied to each entry, until a page and one more are found.
func (s *Store) personAuditEntries(ctx context.Context, q AuditQuery) ([]model.AuditEntry, bool, error) {
	seqs, err := s.auditPositionsOf(ctx, q.PersonID)
	if err != nil {
		return nil, false, err
	}
	slices.Reverse(seqs)
	if q.BeforeSeq > 0 {
		i := 0
		for i < len(seqs) && seqs[i] >= q.BeforeSeq {
			i++
		}
		seqs = seqs[i:]
	}
	var out []model.AuditEntry
	for len(seqs) > 0 && len(out) <= q.Limit {
		n := min(len(seqs), q.Limit+1-len(out))
		got, err := s.auditEntriesAt(ctx, q.PersonID, seqs[:n], q.matches)
		if err != nil {
			return nil, false, err
		}
		out, seqs = append(out, got...), seqs[n:]
	}
	out, more := page(out, q.Limit)
	return out, more, nil
}

// matches applies the query's conditions other than the person to a stored entry (the filter
// AuditEntries sends where the server serves it from an index).
func (q AuditQuery) matches(e *model.AuditEntry) bool {
	switch {
	case q.Subject != "" && (e.Subject == nil || *e.Subject != q.Subject),
		q.Agency != "" && (e.Agency == nil || *e.Agency != q.Agency),
		q.From != nil && e.Time.Before(*q.From),
		q.To != nil && !e.Time.Before(*q.To),
		q.BeforeSeq > 0 && e.Sequence >= q.BeforeSeq:
		return false
	}
	return true
}

// ensureAuditPersons indexes, once per audit database, the entries appended before
// auditPersons existed: one read of the whole log at the start-up that finds no marker, then
// never again (AppendAudit keeps the index complete on every engine). Idempotent, so instances
// starting together may both run it; entries appended meanwhile index themselves.
func (s *Store) ensureAuditPersons(ctx context.Context) error {
	meta := s.db.Collection(colMeta)
	if absent, err := absent(ctx, meta, auditPersonsMarkerID); !absent || err != nil {
		return err
	}
	var batch []*model.AuditEntry
	var failed error
	flush := func() bool {
		if failed = s.indexAuditPositions(ctx, batch); failed != nil {
			return false
		}
		batch = batch[:0]
		return true
	}
	err := s.AuditLeaves(ctx, 1, func(l AuditLeaf) bool {
		if l.Entry != nil && len(l.Entry.PersonIDs) > 0 {
			batch = append(batch, l.Entry)
		}
		return len(batch) < 500 || flush()
	})
	if err == nil && failed == nil {
		flush()
	}
	if err = errors.Join(err, failed); err != nil {
		return err
	}
	if _, err := meta.InsertOne(ctx, bson.D{{Key: "_id", Value: auditPersonsMarkerID}}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	return nil
}
