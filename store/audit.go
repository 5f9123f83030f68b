package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"custodia/model"
)

const (
	colAudit            = "audit"
	colAuditMeta        = "auditMeta"
	colAuditCheckpoints = "auditCheckpoints"
	auditHeadID         = "head"
	auditRetentionID    = "retention"
)

func init() {
	indexes[colAudit] = []mongo.IndexModel{
		// auditTrail by person and disclosures.
		{Keys: bson.D{{Key: "personIds", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("personIds_seq")},
		// auditTrail by subject / agency.
		{Keys: bson.D{{Key: "subject", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("subject_seq")},
		{Keys: bson.D{{Key: "agency", Value: 1}, {Key: "seq", Value: -1}}, Options: options.Index().SetName("agency_seq")},
		// auditTrail by time range.
		{Keys: bson.D{{Key: "time", Value: 1}}, Options: options.Index().SetName("time")},
		// auditTrail unfiltered, newest first; export and verification in order; retention.
		{Keys: bson.D{{Key: "seq", Value: -1}}, Options: options.Index().SetName("seq")},
	}
}

// AuditID is the _id of the entry at a sequence number: zero-padded, so _id order is log
// order and each position can be taken only once. Sequence n is leaf n-1 of the Merkle tree.
func AuditID(seq int) string { return fmt.Sprintf("%012d", seq) }

// auditDoc is an entry as stored: the entry's fields, plus the Merkle tree hashes that the
// entry completed (tlog's stored hashes for its record: the leaf hash, then one hash per level
// whose subtree it closes), and whether retention removed its body. Keeping the tree hashes in
// the entry's own document makes appending one insert with no transaction.
type auditDoc struct {
	model.AuditEntry `bson:",inline"`
	Tree             [][]byte `bson:"tree"`
	Removed          bool     `bson:"removed,omitempty"`
}

// bodyRemoved says retention removed the entry's body (its fields are then absent).
func (d *auditDoc) bodyRemoved() bool { return d.Removed }

// AuditHead is the furthest position known to be taken (a hint: the log may be a little
// longer when another instance appended since).
func (s *Store) AuditHead(ctx context.Context) (int, error) { return s.auditMark(ctx, auditHeadID) }

// auditMark is the position kept in the auditMeta document id (advanceAuditMark), 0 when there
// is none. Index: _id.
func (s *Store) auditMark(ctx context.Context, id string) (int, error) {
	var h struct {
		Seq int `bson:"seq"`
	}
	err := decodeOne(s.db.Collection(colAuditMeta).FindOne(ctx, bson.D{{Key: "_id", Value: id}}), &h, true)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return h.Seq, classify(err)
}

// hashCache keeps Merkle tree hashes this process wrote or read. Stored hashes never change
// once their position is taken, so a cached hash stays right; the cache only saves reads of
// the tree's right edge on every append. Bounded: it is emptied when it grows large.
type hashCache struct {
	mu sync.Mutex
	m  map[int64]tlog.Hash
}

const hashCacheMax = 1 << 14

func (c *hashCache) get(i int64) (tlog.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[i]
	return h, ok
}

func (c *hashCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

func (c *hashCache) put(i int64, h tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= hashCacheMax {
		c.m = make(map[int64]tlog.Hash, 64)
	}
	c.m[i] = h
}

// AuditHashReader reads the log's stored Merkle tree hashes (tlog storage indexes) from the
// database: the hash at (level, k) is element level of the tree hashes of the entry that
// closed that subtree. A missing entry or hash is an error, never a made-up hash.
func (s *Store) AuditHashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return s.readAuditHashes(ctx, indexes, nil)
	})
}

// readAuditHashes resolves stored hash indexes from overlay (hashes computed but not yet
// written), the cache, then the database (the entries that hold them, by _id).
func (s *Store) readAuditHashes(ctx context.Context, indexes []int64, overlay map[int64]tlog.Hash) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	missing := map[int][]int{} // seq -> positions in out
	for i, idx := range indexes {
		if h, ok := overlay[idx]; ok {
			out[i] = h
			continue
		}
		if h, ok := s.auditHashes.get(idx); ok {
			out[i] = h
			continue
		}
		level, k := tlog.SplitStoredHashIndex(idx)
		seq := int((k + 1) << level) // the record that closed the subtree is number seq-1
		missing[seq] = append(missing[seq], i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(missing))
	for seq := range missing {
		ids = append(ids, AuditID(seq))
	}
	type treeOnly struct {
		Seq  int      `bson:"seq"`
		Tree [][]byte `bson:"tree"`
	}
	docs, err := findByIDs[treeOnly](ctx, s, s.db.Collection(colAudit), ids,
		options.FindOne().SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "tree", Value: 1}}))
	if err != nil {
		return nil, err
	}
	found := map[int][][]byte{}
	for _, d := range docs {
		found[d.Seq] = d.Tree
	}
	for seq, positions := range missing {
		tree, ok := found[seq]
		for _, i := range positions {
			level, _ := tlog.SplitStoredHashIndex(indexes[i])
			if !ok || level >= len(tree) || len(tree[level]) != tlog.HashSize {
				return nil, fmt.Errorf("audit tree: hash %d of entry %d is missing", level, seq)
			}
			copy(out[i][:], tree[level])
			s.auditHashes.put(indexes[i], out[i])
		}
	}
	return out, nil
}

// AppendAudit appends entries, in order, at the end of the log. encode returns an entry's
// canonical encoding (with Sequence, ID and Time set); the store sets Hash to its leaf hash
// and stores the Merkle tree hashes the entry completes. Appending is safe under concurrency
// and across server instances without transactions: an entry's _id is its position, so of
// two appenders racing for one position exactly one insert succeeds. The entries are written
// with one ordered insertMany; when another appender took a position first (a duplicate _id
// at index k), the first k entries are in, and the rest is placed again after the winner.
// The head document is only a hint that saves reading the whole log.
//
// An append starts after the last position this process took, without reading the hint,
// when it took one: then, unless another instance appended since, the first insert
// succeeds, and the append costs the insert and the hint's update. When another instance did
// append, the insert collides and the append goes on from the hint as above. The hint is
// still updated on every append, so other instances start near the end.
//
// The first append of a process starts after the last position stored (auditStart), not
// after the hint alone: a hint moved back by hand must not make it fill the position of an
// entry deleted by hand (which would hide the deletion), and a hint moved ahead of the last
// stored entry (or a truncated tail) must not make it append beyond a gap the Merkle tree
// cannot span. The latter refuses every append — the request fails closed — until an
// operator restores the log.
func (s *Store) AppendAudit(ctx context.Context, entries []*model.AuditEntry, encode func(*model.AuditEntry) []byte) error {
	head := int(s.auditLast.Load())
	if head == 0 {
		var err error
		if head, err = s.auditStart(ctx); err != nil {
			return err
		}
	}
	col := s.db.Collection(colAudit)
	pending := entries
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 10000 {
			return errors.New("audit log: too much contention")
		}
		docs := make([]any, len(pending))
		written := make([]map[int64]tlog.Hash, len(pending))
		overlay := map[int64]tlog.Hash{}
		for i, e := range pending {
			seq := head + 1 + i
			e.Sequence, e.ID = seq, AuditID(seq)
			leaf := tlog.RecordHash(encode(e))
			e.Hash = leaf.String()
			n := int64(seq - 1)
			hashes, err := tlog.StoredHashesForRecordHash(n, leaf, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
				return s.readAuditHashes(ctx, idx, overlay)
			}))
			if err != nil {
				return err
			}
			d := auditDoc{AuditEntry: *e, Tree: make([][]byte, len(hashes))}
			written[i] = map[int64]tlog.Hash{}
			first := tlog.StoredHashIndex(0, n)
			for j, h := range hashes {
				d.Tree[j] = append([]byte(nil), h[:]...)
				overlay[first+int64(j)] = h
				written[i][first+int64(j)] = h
			}
			docs[i] = d
		}
		_, err := col.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		k, taken := len(pending), false
		if err != nil {
			if k, taken = firstDuplicate(err); !taken {
				return classify(err)
			}
		}
		for i := 0; i < k; i++ {
			for idx, h := range written[i] {
				s.auditHashes.put(idx, h)
			}
		}
		if !taken {
			s.rememberAuditLast(head + len(pending))
			s.advanceAuditHead(ctx, head+len(pending))
			return nil
		}
		// Another appender holds position head+1+k: go on after the furthest taken position.
		if head, err = s.lastAuditSeq(ctx, head+1+k); err != nil {
			return err
		}
		pending = pending[k:]
	}
	return nil
}

// ErrAuditTruncated says the entry at the audit head hint is missing: the tail of the log was
// deleted, the entry deleted, or the hint moved ahead by hand. Appends are refused, since an
// entry placed after the gap could never be proven in the tree and one placed in it would hide
// the deletion.
var ErrAuditTruncated = errors.New("audit log: the entry at the head hint is missing (the tail or that entry was deleted, or the hint moved ahead by hand); appends are refused until the log is restored")

// auditStartWindow is how many positions from the head hint a process's first append looks up.
const auditStartWindow = 16

// auditStart is where a process's first append starts (see AppendAudit): after the last
// stored position. It looks up the positions from the head hint on by _id, in one batch: the
// entry at the hint must be stored (else ErrAuditTruncated); the first missing position after
// it ends the log, unless a position after that one is stored — a hole, so the hint was moved
// back below a deleted entry: then the last stored position is asked for (auditNeighbour, on
// the scanning engine a read of the log, paid only in a log edited by hand). A hint that lags
// by more than the window is walked forward (lastAuditSeq). Index: _id.
func (s *Store) auditStart(ctx context.Context) (int, error) {
	hint, err := s.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	ids := make([]string, auditStartWindow)
	for i := range ids {
		ids[i] = AuditID(hint + i)
	}
	type idOnly struct {
		ID string `bson:"_id"`
	}
	docs, err := findByIDs[idOnly](ctx, s, s.db.Collection(colAudit), ids, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, err
	}
	taken := keyed(docs, func(d *idOnly) string { return d.ID })
	if hint > 0 && taken[AuditID(hint)] == nil {
		return 0, fmt.Errorf("%w (hint %d)", ErrAuditTruncated, hint)
	}
	end := hint
	for end+1 < hint+auditStartWindow && taken[AuditID(end+1)] != nil {
		end++
	}
	if end+1 == hint+auditStartWindow { // the hint lags: walk on
		return s.lastAuditSeq(ctx, end)
	}
	for seq := end + 2; seq < hint+auditStartWindow; seq++ {
		if taken[AuditID(seq)] != nil {
			return s.auditNeighbour(ctx, auditPositions, false)
		}
	}
	return end, nil
}

// auditPositions is one past the largest position AuditID pads to 12 digits; auditNeighbour
// before it is the last stored position.
const auditPositions = 1_000_000_000_000

// rememberAuditLast records that this process took every position up to seq (never moving
// back: appenders of one process may finish out of order).
func (s *Store) rememberAuditLast(seq int) {
	for {
		last := s.auditLast.Load()
		if int64(seq) <= last || s.auditLast.CompareAndSwap(last, int64(seq)) {
			return
		}
	}
}

// lastAuditSeq walks forward from a taken position to the last taken one (index: _id).
func (s *Store) lastAuditSeq(ctx context.Context, taken int) (int, error) {
	if h, err := s.AuditHead(ctx); err == nil && h > taken {
		taken = h
	}
	for {
		n, err := s.db.Collection(colAudit).CountDocuments(ctx, bson.D{{Key: "_id", Value: AuditID(taken + 1)}})
		if err != nil {
			return 0, classify(err)
		}
		if n == 0 {
			return taken, nil
		}
		taken++
	}
}

// firstDuplicate reports the index of the first entry an ordered insertMany refused because
// its _id was taken (everything before it was inserted).
func firstDuplicate(err error) (int, bool) {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) == 0 || bwe.WriteConcernError != nil {
		return 0, false
	}
	first := bwe.WriteErrors[0]
	for _, we := range bwe.WriteErrors {
		if we.Index < first.Index {
			first = we
		}
	}
	if first.Code != 11000 {
		return 0, false
	}
	return first.Index, true
}

// advanceAuditHead moves the head hint forward (never back). Failure is harmless: the next
// appender walks forward from an older hint.
func (s *Store) advanceAuditHead(ctx context.Context, seq int) {
	_ = s.advanceAuditMark(ctx, auditHeadID, seq)
}

// advanceAuditMark moves the position kept in the auditMeta document id forward to seq, never
// back: a writer that is behind matches nothing, and its upsert's duplicate key (another writer
// is further ahead) is not an error. Index: _id (auditMeta, a few documents).
func (s *Store) advanceAuditMark(ctx context.Context, id string, seq int) error {
	_, err := s.db.Collection(colAuditMeta).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: seq}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: seq}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify(err)
	}
	return nil
}

// AuditLeaf is one position of the log as stored: the entry (nil when retention removed its
// body), its leaf hash and the tree hashes stored with it.
type AuditLeaf struct {
	Seq     int
	Entry   *model.AuditEntry
	Leaf    []byte
	Tree    [][]byte
	Removed bool
	// Corrupt, when not empty, says why the stored document is not an entry custodia wrote (a
	// field of the wrong type, a value no entry holds: it was edited by hand); Entry is then
	// what could still be decoded of it, nil when nothing could. Readers report it, never
	// skip it.
	Corrupt string
}

// auditLeafOf reads a stored audit document as a leaf; a document that is not an entry
// custodia wrote is a leaf marked Corrupt, not an error, so that verification and the export
// report it where it lies and go on.
func auditLeafOf(raw bson.Raw) AuditLeaf {
	var d auditDoc
	err := decodeRaw(raw, &d, true)
	if err == nil {
		return d.leaf()
	}
	l := AuditLeaf{Corrupt: "it does not decode"}
	var ce *CorruptError
	if errors.As(err, &ce) {
		l.Corrupt = ce.Detail()
	}
	d = auditDoc{}
	if bson.Unmarshal(raw, &d) == nil { // only a value no entry holds: the rest is readable
		corrupt := l.Corrupt
		l = d.leaf()
		l.Corrupt = corrupt
	} else { // the hashes, if they still decode
		var h struct {
			Tree [][]byte `bson:"tree"`
		}
		if bson.Unmarshal(raw, &h) == nil && len(h.Tree) > 0 {
			l.Tree, l.Leaf = h.Tree, h.Tree[0]
		}
	}
	if id, ok := raw.Lookup("_id").StringValueOK(); ok {
		if pos, err := strconv.Atoi(id); err == nil {
			l.Seq = pos
		}
	}
	return l
}

// AuditLeaves streams positions from, from+1, … in log order to visit until the end of the
// log (or visit returns false). Where the server would scan for a range of seq (FerretDB v1 —
// and sort the whole log before the first leaf), the positions are read by _id in runs that
// grow from a few to auditIndexBatch, so reading a few leaves costs a few lookups whatever the
// log's length. A missing position there ends the log when it is past the head hint; one at or
// before the head (an entry deleted behind the server's back) is skipped, as the range query
// skips it, up to auditIndexBatch missing positions in a row. Index: seq, or _id.
func (s *Store) AuditLeaves(ctx context.Context, from int, visit func(AuditLeaf) bool) error {
	if s.scansIn {
		return s.auditLeavesByID(ctx, from, visit)
	}
	cur, err := s.db.Collection(colAudit).Find(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gte", Value: from}}}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return classify(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if !visit(auditLeafOf(cur.Current)) {
			break
		}
	}
	return classify(cur.Err())
}

// auditLeavesByID is AuditLeaves by _id lookups (index: _id).
func (s *Store) auditLeavesByID(ctx context.Context, from int, visit func(AuditLeaf) bool) error {
	head, missingInARow := -1, 0 // the head hint is read at the first missing position
runs:
	for n := 4; ; n = min(2*n, auditIndexBatch) {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = AuditID(from + i)
		}
		docs, err := findByIDs[bson.Raw](ctx, s, s.db.Collection(colAudit), ids)
		if err != nil {
			return err
		}
		byID := keyed(docs, func(d *bson.Raw) string { id, _ := d.Lookup("_id").StringValueOK(); return id })
		for i, id := range ids {
			d := byID[id]
			if d != nil {
				missingInARow = 0
				// The position is the _id read, as the leaves' order is: a seq field edited by
				// hand must not send a reader back or ahead (verification reports the entry).
				l := auditLeafOf(*d)
				l.Seq = from + i
				if !visit(l) {
					return nil
				}
				continue
			}
			if head < 0 {
				if head, err = s.AuditHead(ctx); err != nil {
					return err
				}
			}
			if missingInARow++; from+i > head {
				return nil
			}
			if missingInARow >= auditIndexBatch { // a long run deleted by hand, or a hint moved ahead
				next, err := s.auditNeighbour(ctx, from+i, true)
				if err != nil || next == 0 {
					return err
				}
				from, missingInARow, n = next, 0, 2
				continue runs
			}
		}
		from += n
	}
}

// auditNeighbour is the nearest taken position after seq (later) or before it, by _id, 0 when
// there is none. It is asked only after auditIndexBatch missing positions in a row — a log
// edited by hand, or a head hint moved far ahead — so that reading by _id does not take a long
// run of missing positions for the end (or the start) of the log and hide the entries beyond
// it; where the server scans, this query reads the whole log. Index: _id.
func (s *Store) auditNeighbour(ctx context.Context, seq int, later bool) (int, error) {
	op, order := "$lt", -1
	if later {
		op, order = "$gt", 1
	}
	var d struct {
		ID string `bson:"_id"`
	}
	bound := AuditID(seq)
	if seq >= auditPositions {
		bound = ":" // sorts after every _id of digits
	}
	err := decodeOne(s.db.Collection(colAudit).FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: op, Value: bound}}}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: order}}).SetProjection(bson.D{{Key: "_id", Value: 1}})), &d, false)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, classify(err)
	}
	pos, err := strconv.Atoi(d.ID)
	if err != nil {
		return 0, fmt.Errorf("audit entry _id %q is not a position: %w", d.ID, err)
	}
	return pos, nil
}

// leaf is the stored document as an AuditLeaf.
func (d *auditDoc) leaf() AuditLeaf {
	l := AuditLeaf{Seq: d.Sequence, Tree: d.Tree, Removed: d.Removed}
	if len(d.Tree) > 0 {
		l.Leaf = d.Tree[0]
	}
	if !d.Removed {
		e := d.AuditEntry
		l.Entry = &e
	}
	return l
}

// AuditEntryAt returns the stored entry at a sequence (nil when absent) and whether
// retention removed its body.
func (s *Store) AuditEntryAt(ctx context.Context, seq int) (*model.AuditEntry, bool, error) {
	var d auditDoc
	err := decodeOne(s.db.Collection(colAudit).FindOne(ctx, bson.D{{Key: "_id", Value: AuditID(seq)}}), &d, true)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify(err)
	}
	return &d.AuditEntry, d.Removed, nil
}

// SaveAuditCheckpoint stores a signed checkpoint of the tree at size. Two instances signing
// the same size with the log's key produce the same note, so a duplicate is not an error.
func (s *Store) SaveAuditCheckpoint(ctx context.Context, size int64, note []byte) error {
	_, err := s.db.Collection(colAuditCheckpoints).InsertOne(ctx, bson.D{{Key: "_id", Value: AuditID(int(size))}, {Key: "size", Value: size}, {Key: "note", Value: string(note)}})
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return classify(err)
}

// AuditCheckpoints returns the stored signed checkpoints, smallest tree first, at most limit
// of them (the newest ones; 0 = all). Index: _id.
func (s *Store) AuditCheckpoints(ctx context.Context, limit int) ([][]byte, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	type cp struct {
		Note bson.RawValue `bson:"note"`
	}
	docs, err := findAll[cp](ctx, s.db.Collection(colAuditCheckpoints), bson.D{}, opts)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(docs))
	for i, d := range docs {
		out[len(docs)-1-i] = noteText(d.Note)
	}
	return out, nil
}

// notANote stands, for a verifier, for a stored signed note (a checkpoint, the retention
// record) that is not text — edited by hand: it does not verify, so the verifier reports it
// where the note would be, instead of the read failing.
var notANote = []byte("custodia: the stored note is not text (edited by hand)\n")

// noteText is a stored note's text, or notANote.
func noteText(v bson.RawValue) []byte {
	if str, ok := v.StringValueOK(); ok {
		return []byte(str)
	}
	return notANote
}

// AuditCheckpointAt returns the stored checkpoint of a tree size, nil when there is none.
func (s *Store) AuditCheckpointAt(ctx context.Context, size int64) ([]byte, error) {
	var d struct {
		Note bson.RawValue `bson:"note"`
	}
	err := s.db.Collection(colAuditCheckpoints).FindOne(ctx, bson.D{{Key: "_id", Value: AuditID(int(size))}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	return noteText(d.Note), nil
}

// AuditRetention returns the signed retention record and the last position it removed
// (0 and nil when retention never removed anything).
func (s *Store) AuditRetention(ctx context.Context) (int, []byte, error) {
	var d struct {
		Through int           `bson:"through"`
		Note    bson.RawValue `bson:"note"`
	}
	err := s.db.Collection(colAuditMeta).FindOne(ctx, bson.D{{Key: "_id", Value: auditRetentionID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, classify(err)
	}
	return d.Through, noteText(d.Note), nil
}

// AuditRemovable returns the last position of the run of entries, after the ones already
// removed, that are all older than before (0 when none is). Index: _id.
func (s *Store) AuditRemovable(ctx context.Context, before time.Time) (int, error) {
	through, _, err := s.AuditRetention(ctx)
	if err != nil {
		return 0, err
	}
	last := 0
	err = s.AuditLeaves(ctx, through+1, func(l AuditLeaf) bool {
		if l.Entry == nil || !l.Entry.Time.Before(before) {
			return false
		}
		last = l.Seq
		return true
	})
	return last, err
}

// RemoveAuditBodies applies retention: it first stores the signed record (note) saying that
// entries up to through were removed, then deletes those entries' bodies (FinishAuditRemoval),
// keeping each one's position, leaf hash and tree hashes, so the Merkle tree and every proof
// for the remaining entries stay intact.
func (s *Store) RemoveAuditBodies(ctx context.Context, through int, note []byte) error {
	if _, err := s.db.Collection(colAuditMeta).UpdateOne(ctx, idFilter(auditRetentionID),
		bson.D{{Key: "$set", Value: bson.D{{Key: "through", Value: through}, {Key: "note", Value: string(note)}}}},
		options.UpdateOne().SetUpsert(true)); err != nil {
		return classify(err)
	}
	return s.FinishAuditRemoval(ctx)
}

// FinishAuditRemoval deletes the bodies the stored retention record says were removed and are
// not yet known to be: the record comes first, and its document keeps how far bodies are known
// removed, so a removal interrupted (a crash, a lost database) is finished here — by the next
// purge whether or not it has anything new to remove, and under a record that was rewritten
// meanwhile. A record written before the progress was kept has none: every position up to it
// is then visited once (the removal is idempotent). Without a record it does nothing.
//
// Cost: on MongoDB one update served by the seq index; on an engine that scans every other
// filter (FerretDB v1, Store.scansIn) one update by _id per position not yet removed, at most
// maxConcurrentLookups at a time — the positions that newly passed the retention period,
// never the whole log. Nothing left to remove costs the record's read.
func (s *Store) FinishAuditRemoval(ctx context.Context) error {
	meta := s.db.Collection(colAuditMeta)
	var d struct {
		Through              int `bson:"through"`
		BodiesRemovedThrough int `bson:"bodiesRemovedThrough"`
	}
	if err := meta.FindOne(ctx, idFilter(auditRetentionID)).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		return classify(err)
	}
	through := d.Through
	if d.BodiesRemovedThrough >= through {
		return nil
	}
	unset := bson.D{}
	for _, f := range auditBodyFields() {
		unset = append(unset, bson.E{Key: f, Value: ""})
	}
	removeBody := bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}}, {Key: "$unset", Value: unset}}
	done := func(seq int) error {
		_, err := meta.UpdateOne(ctx, idFilter(auditRetentionID), bson.D{{Key: "$set", Value: bson.D{{Key: "bodiesRemovedThrough", Value: seq}}}})
		return classify(err)
	}
	if !s.scansIn {
		if _, err := s.db.Collection(colAudit).UpdateMany(ctx,
			bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: d.BodiesRemovedThrough}, {Key: "$lte", Value: through}}}, {Key: "removed", Value: bson.D{{Key: "$ne", Value: true}}}},
			removeBody); err != nil {
			return classify(err)
		}
		return done(through)
	}
	for from := d.BodiesRemovedThrough + 1; from <= through; from += retentionProgressEvery {
		to := min(from+retentionProgressEvery-1, through)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(maxConcurrentLookups)
		for seq := from; seq <= to; seq++ {
			g.Go(func() error {
				_, err := s.db.Collection(colAudit).UpdateOne(gctx, idFilter(AuditID(seq)), removeBody)
				return classify(err)
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := done(to); err != nil {
			return err
		}
	}
	return nil
}

// retentionProgressEvery is how many positions RemoveAuditBodies clears on the point-lookup
// path before it records its progress, so an interrupted purge resumes near where it stopped.
const retentionProgressEvery = 512

// auditBodyFields are the stored fields of an entry that retention deletes: all of them but
// its position and hash (derived from the struct, so a new field is removed too).
func auditBodyFields() []string {
	var out []string
	t := reflect.TypeFor[model.AuditEntry]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("bson"), ",")
		if name != "" && name != "_id" && name != "seq" && name != "hash" {
			out = append(out, name)
		}
	}
	return out
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	PersonID, Subject, Agency string
	From, To                  *time.Time
	BeforeSeq                 int // keyset: only entries with a smaller sequence (0 = from the newest)
	Limit                     int
}

// AuditPage is a page of an audit query's entries, newest first. When More, the next page is
// the same query with BeforeSeq set to Next: the last entry's sequence for a full page, or the
// lowest position examined when a page stopped early (auditEntriesBackward).
type AuditPage struct {
	Entries []model.AuditEntry
	More    bool
	Next    int
}

// fullPage cuts entries fetched with limit+1 to a page.
func fullPage(entries []model.AuditEntry, limit int) AuditPage {
	entries, more := page(entries, limit)
	p := AuditPage{Entries: entries, More: more}
	if more {
		p.Next = entries[len(entries)-1].Sequence
	}
	return p
}

// AuditEntries runs an audit trail query. Entries whose body retention removed are not listed.
// Indexes: personIds_seq, subject_seq, agency_seq, time, seq. Where the server serves only
// {_id: <string>} from an index (Store.scansIn), a query with a person is answered from the
// auditPersons index and point lookups, and any other by reading positions backwards by _id
// (auditEntriesBackward): the cost follows the entries examined, not the log's length.
func (s *Store) AuditEntries(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if s.scansIn && q.PersonID != "" {
		return s.personAuditEntries(ctx, q)
	}
	if s.scansIn {
		return s.auditEntriesBackward(ctx, q)
	}
	filter := bson.D{}
	if q.PersonID != "" {
		filter = append(filter, bson.E{Key: "personIds", Value: q.PersonID})
	}
	if q.Subject != "" {
		filter = append(filter, bson.E{Key: "subject", Value: q.Subject})
	}
	if q.Agency != "" {
		filter = append(filter, bson.E{Key: "agency", Value: q.Agency})
	}
	if q.From != nil || q.To != nil {
		r := bson.D{}
		if q.From != nil {
			r = append(r, bson.E{Key: "$gte", Value: *q.From})
		}
		if q.To != nil {
			r = append(r, bson.E{Key: "$lt", Value: *q.To})
		}
		filter = append(filter, bson.E{Key: "time", Value: r})
	}
	if q.BeforeSeq > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: q.BeforeSeq}}})
	}
	filter = append(filter, bson.E{Key: "removed", Value: bson.D{{Key: "$ne", Value: true}}})
	entries, err := findAll[model.AuditEntry](ctx, s.db.Collection(colAudit), filter,
		options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(int64(q.Limit+1)))
	if err != nil {
		return AuditPage{}, err
	}
	return fullPage(entries, q.Limit), nil
}

// auditScanBudget is how many positions one page of an audit query without a person may
// examine on an engine that scans (auditEntriesBackward) before it stops and says where to go on.
const auditScanBudget = 2048

// auditTimeSlack is how far out of time order entries may lie in the log (instances append
// concurrently, each entry timed when its request ended): reading backwards, a query with From
// stops at the first entry older than From by more than this.
const auditTimeSlack = time.Minute

// auditEntriesBackward answers a query without a person where the server would scan: it reads
// positions backwards by _id, from below BeforeSeq or the end of the log, in runs growing
// to auditIndexBatch, and keeps the entries the query matches, until the page and one more are
// found, the start of the log or an entry older than From (less auditTimeSlack) is reached, or
// auditScanBudget positions were examined — then the page has More and Next, the lowest position
// examined, with fewer entries than asked for (possibly none). Index: _id.
func (s *Store) auditEntriesBackward(ctx context.Context, q AuditQuery) (AuditPage, error) {
	pos, err := s.auditEnd(ctx)
	if err != nil {
		return AuditPage{}, err
	}
	if q.BeforeSeq > 0 { // a cursor past the end (made up) starts at the end
		pos = min(pos, q.BeforeSeq-1)
	}
	var out []model.AuditEntry
	missingInARow := 0
runs:
	for n, examined := 8, 0; pos >= 1; n = min(2*n, auditIndexBatch) {
		if examined >= auditScanBudget {
			return AuditPage{Entries: out, More: true, Next: pos + 1}, nil
		}
		ids := make([]string, 0, n)
		for p := pos; p > max(pos-n, 0); p-- {
			ids = append(ids, AuditID(p))
		}
		docs, err := findByIDs[auditDoc](ctx, s, s.db.Collection(colAudit), ids, options.FindOne().SetProjection(bson.D{{Key: "tree", Value: 0}}))
		if err != nil {
			return AuditPage{}, err
		}
		byID := keyed(docs, func(d *auditDoc) string { return d.ID })
		for _, id := range ids {
			pos--
			examined++
			d := byID[id]
			if d == nil {
				if missingInARow++; missingInARow >= auditIndexBatch { // deleted by hand, or a hint far ahead
					if pos, err = s.auditNeighbour(ctx, pos+1, false); err != nil {
						return AuditPage{}, err
					}
					missingInARow, n = 0, 4
					continue runs
				}
				continue
			}
			missingInARow = 0
			if d.Removed {
				continue
			}
			// The position is the _id read: a seq field edited by hand must not send the next
			// page back to the end of the log or end the listing early (verification reports it).
			d.Sequence = pos + 1
			if q.From != nil && d.Time.Before(q.From.Add(-auditTimeSlack)) {
				return fullPage(out, q.Limit), nil
			}
			if q.matches(&d.AuditEntry) {
				if out = append(out, d.AuditEntry); len(out) > q.Limit {
					return fullPage(out, q.Limit), nil
				}
			}
		}
	}
	return fullPage(out, q.Limit), nil
}

// auditEnd is the last position of the log: the head hint, then the positions after it that are
// taken (an append under way, or a hint that lags). Index: _id.
func (s *Store) auditEnd(ctx context.Context) (int, error) {
	end, err := s.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	for n := 1; ; n = 8 { // one position past a current hint, runs of 8 past a lagging one
		run, err := s.auditRun(ctx, end, n)
		if err != nil {
			return 0, err
		}
		if len(run) > 0 {
			end = run[len(run)-1].Sequence
		}
		if len(run) < n {
			return end, nil
		}
	}
}

// Disclosures lists the allowed operations that returned data about a person, oldest first.
// Index: personIds_seq. Where the server serves only {_id: <string>} from an index
// (Store.scansIn), the person's positions are read from the auditPersons index and the entries
// by _id: point lookups as many as the person's entries, whatever the length of the log.
func (s *Store) Disclosures(ctx context.Context, personID string) ([]model.AuditEntry, error) {
	if s.scansIn {
		seqs, err := s.auditPositionsOf(ctx, personID)
		if err != nil {
			return nil, err
		}
		return s.auditEntriesAt(ctx, personID, seqs, func(e *model.AuditEntry) bool {
			return e.Kind == model.AuditKindOperation && e.Outcome == model.AuditOutcomeAllowed
		})
	}
	return findAll[model.AuditEntry](ctx, s.db.Collection(colAudit),
		bson.D{{Key: "personIds", Value: personID}, {Key: "kind", Value: model.AuditKindOperation}, {Key: "outcome", Value: model.AuditOutcomeAllowed}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
}
