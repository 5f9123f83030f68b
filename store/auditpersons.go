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
// It is derived from the log off the request path: IndexAuditPersons (run in the background by
// every instance's audit trail, see audit.Trail) reads the entries after the watermark
// (auditMeta "personsIndexed": every position up to it is indexed), adds their positions, and
// only then moves the watermark forward. A reader takes the index up to the watermark and
// reads the positions after it directly by _id, up to the end of the log (the log has no
// gaps), so it never misses an entry whatever the indexer's lag — a lagging indexer only makes
// readers read more. The index is not part of the hashed log; the entries and their encoding
// are unchanged, and it can be dropped and rebuilt (the watermark with it). Retention removes
// bodies, not positions: a removed entry names nobody and yields nothing. A reader still
// checks that each listed entry names the person.
const colAuditPersons = "auditPersons"

// auditPersonsIndexedID is the auditMeta document holding the index's watermark: every
// position up to its seq is in auditPersons.
const auditPersonsIndexedID = "personsIndexed"

// auditIndexBatch is how many entries IndexAuditPersons reads at a time.
const auditIndexBatch = 256

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
// documents), in update commands of one statement per document, at most updateStatementsMax
// statements each. A duplicate key (another instance created the document between this
// upsert's read and its insert) is retried once, when the document exists. Index: _id.
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
	for chunk := range slices.Chunk(models, updateStatementsMax) {
		var err error
		for attempt := 0; attempt < 2; attempt++ {
			if _, err = c.BulkWrite(ctx, chunk, options.BulkWrite().SetOrdered(false)); err == nil || !onlyDuplicates(err) {
				break
			}
		}
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// updateStatementsMax bounds the statements of one update command. FerretDB v1 keeps the
// cursor of each statement that matched a document open until the whole command ends, each on
// a connection of its SQLite pool (100): a command of 100 such statements takes every
// connection and waits for one more, and the engine stalls for every client (the audit
// indexer catching up a backlog after a restart did it). Small commands leave the pool to the
// others, several instances' included.
const updateStatementsMax = 16

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

// indexAuditPositions adds the positions of these stored entries to the auditPersons documents
// of the persons they name.
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

// auditPositionsOf returns, in ascending order, the positions of the retained log that may
// name a person: those the index lists up to its watermark, and those after the watermark, to
// the end of the log, whose entries name the person (read by _id). Reads: the retention record, the first retained entry (whose time says the first
// year), the watermark, one index document per year of the retained log, and the entries
// after the watermark. Index: _id (auditMeta, audit, auditPersons).
func (s *Store) auditPositionsOf(ctx context.Context, personID string) ([]int, error) {
	through, _, err := s.AuditRetention(ctx)
	if err != nil {
		return nil, err
	}
	first, _, err := s.AuditEntryAt(ctx, through+1)
	if err != nil || first == nil {
		return nil, err // an empty (retained) log lists nobody
	}
	indexed, err := s.auditMark(ctx, auditPersonsIndexedID)
	if err != nil {
		return nil, err
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
			if seq > through && seq <= indexed {
				seqs = append(seqs, seq)
			}
		}
	}
	tail, err := s.auditTailNaming(ctx, personID, max(indexed, through))
	if err != nil {
		return nil, err
	}
	seqs = append(seqs, tail...)
	slices.Sort(seqs)
	return slices.Compact(seqs), nil
}

// auditTailNaming returns the positions after a position, to the end of the log (the first
// missing position), whose entries name the person, reading only their positions, persons and
// times by _id: first up to the head hint and one past it, then a few positions at a time while
// they are there (an append under way, or a hint that lags). Index: _id.
func (s *Store) auditTailNaming(ctx context.Context, personID string, after int) ([]int, error) {
	head, err := s.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	var seqs []int
	for n := min(max(head-after, 0)+1, auditIndexBatch); ; n = min(max(head-after, 0)+4, auditIndexBatch) {
		run, err := s.auditRun(ctx, after, n)
		if err != nil {
			return nil, err
		}
		for _, e := range run {
			if slices.Contains(e.PersonIDs, personID) {
				seqs = append(seqs, e.Sequence)
			}
			after = e.Sequence
		}
		if len(run) < n {
			return seqs, nil
		}
	}
}

// indexedFields is what the per-person index needs of an entry: its position, the persons it
// names and its time (the year of the index document).
var indexedFields = bson.D{{Key: "seq", Value: 1}, {Key: "personIds", Value: 1}, {Key: "time", Value: 1}}

// auditRun reads the indexedFields of the entries at the n positions after a position and
// returns those before the first missing position (the log has no gaps: what follows a missing
// position is not there yet). Index: _id.
func (s *Store) auditRun(ctx context.Context, after, n int) ([]*model.AuditEntry, error) {
	seqs := make([]int, n)
	for i := range seqs {
		seqs[i] = after + 1 + i
	}
	entries, err := s.auditEntriesAtPositions(ctx, seqs, indexedFields)
	if err != nil {
		return nil, err
	}
	if i := slices.Index(entries, nil); i >= 0 {
		entries = entries[:i]
	}
	return entries, nil
}

// auditEntriesAtPositions loads, by _id, the entries at these positions with a projection,
// in the order of seqs; a missing position is nil. Index: _id.
func (s *Store) auditEntriesAtPositions(ctx context.Context, seqs []int, projection bson.D) ([]*model.AuditEntry, error) {
	ids := make([]string, len(seqs))
	for i, seq := range seqs {
		ids[i] = AuditID(seq)
	}
	docs, err := findByIDs[model.AuditEntry](ctx, s, s.db.Collection(colAudit), ids, options.FindOne().SetProjection(projection))
	if err != nil {
		return nil, err
	}
	byID := keyed(docs, func(e *model.AuditEntry) string { return e.ID })
	out := make([]*model.AuditEntry, len(ids))
	for i, id := range ids {
		if out[i] = byID[id]; out[i] != nil {
			// The position is the _id read: a seq field edited by hand must not move the
			// per-person index's watermark or a reader's next position (verification reports it).
			out[i].Sequence = seqs[i]
		}
	}
	return out, nil
}

// IndexAuditPersons adds to the per-person index the entries after its watermark, up to
// auditIndexBatch of them, and then moves the watermark past them (never back); it returns
// how many it indexed. Run it repeatedly in the background (audit.Trail does); instances may
// run it at the same time — adding a position twice is harmless and the watermark only
// advances. Where the server serves the personIds_seq query from its index (MongoDB) nothing
// reads the index, and it does nothing. Index: _id (auditMeta, audit, auditPersons).
func (s *Store) IndexAuditPersons(ctx context.Context) (int, error) {
	if !s.scansIn {
		return 0, nil
	}
	indexed, err := s.auditMark(ctx, auditPersonsIndexedID)
	if err != nil {
		return 0, err
	}
	head, err := s.AuditHead(ctx)
	if err != nil || head <= indexed {
		return 0, err
	}
	run, err := s.auditRun(ctx, indexed, min(head-indexed, auditIndexBatch)) // may stop short of the head hint: an insert another instance has not finished
	if err != nil || len(run) == 0 {
		return 0, err
	}
	var entries []*model.AuditEntry
	for _, e := range run {
		if len(e.PersonIDs) > 0 {
			entries = append(entries, e)
		}
	}
	through := run[len(run)-1].Sequence
	if err := s.indexAuditPositions(ctx, entries); err != nil {
		return 0, err
	}
	if err := s.advanceAuditMark(ctx, auditPersonsIndexedID, through); err != nil {
		return 0, err
	}
	return through - indexed, nil
}

// auditEntriesAt loads the entries at these positions (by _id) and keeps those that name the
// person and pass keep, in the order of seqs. Missing entries (a position listed before its
// insert, or never inserted) and removed ones (which name nobody) are absent.
func (s *Store) auditEntriesAt(ctx context.Context, personID string, seqs []int, keep func(*model.AuditEntry) bool) ([]model.AuditEntry, error) {
	entries, err := s.auditEntriesAtPositions(ctx, seqs, bson.D{{Key: "tree", Value: 0}})
	if err != nil {
		return nil, err
	}
	out := make([]model.AuditEntry, 0, len(entries))
	for _, e := range entries {
		if e != nil && slices.Contains(e.PersonIDs, personID) && keep(e) {
			out = append(out, *e)
		}
	}
	return out, nil
}

// personAuditEntries answers an audit query with a person from the index, newest first: the
// person's positions below q.BeforeSeq are loaded a page at a time and the query's other
// conditions applied to each entry, until a page and one more are found or KeyScanBudget
// positions were looked up — then the page has More and Next, the lowest position looked up,
// with fewer entries than asked for (possibly none).
func (s *Store) personAuditEntries(ctx context.Context, q AuditQuery) (AuditPage, error) {
	seqs, err := s.auditPositionsOf(ctx, q.PersonID)
	if err != nil {
		return AuditPage{}, err
	}
	slices.Reverse(seqs)
	if q.BeforeSeq > 0 {
		i := 0
		for i < len(seqs) && seqs[i] >= q.BeforeSeq {
			i++
		}
		seqs = seqs[i:]
	}
	budget := newScanBudget()
	var out []model.AuditEntry
	low := 0 // the lowest position looked up
	for len(seqs) > 0 && len(out) <= q.Limit {
		n := budget.take(min(len(seqs), q.Limit+1-len(out)))
		if n == 0 {
			// Stopped at the budget (an index document listing positions that do not name the
			// person, or many entries the query's other conditions skip): go on below the
			// lowest position looked up.
			return AuditPage{Entries: out, More: true, Next: low}, nil
		}
		got, err := s.auditEntriesAt(ctx, q.PersonID, seqs[:n], q.matches)
		if err != nil {
			return AuditPage{}, err
		}
		out, low, seqs = append(out, got...), seqs[n-1], seqs[n:]
	}
	return fullPage(out, q.Limit), nil
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
