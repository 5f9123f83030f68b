// Package store is the only package that talks to MongoDB (DESIGN §8, §9): it owns the
// connection, the collections and their indexes, and turns driver errors into *apperr.Error
// (SERVICE_UNAVAILABLE when the database cannot be reached, NOT_FOUND for missing records).
// Every query it issues is declared next to the index that serves it on MongoDB.
//
// Row rules (caseload scope, blocking, expunged convictions) never let a document out of the
// package that the caller may not see. The caseload narrows the IDs before a query is built,
// and expunged and blocked items are left out by projections, on every engine. The blocking
// rule on whole persons is a rowRule: on MongoDB it is a key of the query filter, served with
// the _id index; on an engine that serves only a filter of exactly {_id: <string>} from an
// index (FerretDB v1, see Store.scansIn) the query is sent as exactly {_id: <string>} and the
// same rule is applied to each document right after it is decoded, before it is returned.
//
// On such engines every read and write of one document of a collection that grows with the
// register or with its use (persons, records, detentions, nationalIds, searchKeys, idempotency,
// events, eventKeys, eventBuckets, audit, auditPersons, grants, grantSubjects, grantEvents) is
// sent as exactly {_id: <string>}; version and owner checks are then made by reading the
// document first (see Store.writeIf), and the grants of a subject, the tail of the grant event
// feed, the audit entries about a person (auditPersons) and the event log after a cursor
// (eventBuckets) are found by _id too. Small collections keep compound filters, since
// reading them whole costs little: meta (the seed's claim and markers, a few documents),
// auditMeta (the audit head and retention records), prisons (reference data, a few dozen to a
// few hundred), auditCheckpoints (one per signed checkpoint, read by _id or a short range) and
// eventCallbacks (one per agency endpoint). Still answered by reading the collection on
// FerretDB v1: lists read page by page (grant listings, audit listings other than one
// person's, an agency's grants) and the one-time start-up builds of the derived indexes.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
	"golang.org/x/sync/errgroup"

	"custodia/apperr"
)

// Collection names.
const (
	colPersons     = "persons"
	colPrisons     = "prisons"
	colRecords     = "records"
	colNationalIDs = "nationalIds"
	colDetentions  = "detentions"
	colMeta        = "meta"
)

// Config says where the database is and whom to tell about each command sent to it.
type Config struct {
	URI      string
	Database string
	// OnCommand, if set, is called for every command that finishes, successfully or not (for
	// metrics).
	OnCommand func(ctx context.Context, commandName string)
	// OnCommandStart and OnCommandEnd, if set, bracket every command (for tracing). They get
	// the command's and collection's names, never its arguments; a failure is only "failed",
	// since server messages can quote key values.
	OnCommandStart func(ctx context.Context, requestID int64, command, collection string)
	OnCommandEnd   func(requestID int64, failed bool)
	// OnCommandDocument, if set, gets every command document the driver starts, as BSON (for
	// tests that check what reaches the server, e.g. that a filter is served by the _id index).
	// The document holds key values and personal data: never log or export it.
	OnCommandDocument func(commandName string, command []byte)
	// BatchLoads, if "in" or "point-lookups", overrides how the store queries the database
	// (see Store.BatchLoads and Store.scansIn), which is otherwise detected from the server;
	// for measurements and tests.
	BatchLoads string
	// Timeout bounds server selection and connecting: how long a request waits for an
	// unreachable database before it fails with SERVICE_UNAVAILABLE.
	Timeout time.Duration
	// PrisonCacheTTL is how long CachedPrisonsByIDs reuses its read of the prisons (0:
	// DefaultPrisonCacheTTL; negative: no cache).
	PrisonCacheTTL time.Duration
}

// Store is a connected register database. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// transactions is true when the server supports multi-document transactions.
	transactions bool
	// recordLocks serialise this process's version-checked writes of one document. MongoDB
	// makes each such write an atomic compare-and-set on its own (also across instances);
	// FerretDB v1 does not — it filters, then writes — so without them two concurrent writers
	// of one record could both succeed. Striped, so memory stays bounded.
	recordLocks [256]sync.Mutex
	// auditHashes caches Merkle tree hashes of the audit log (see audit.go).
	auditHashes hashCache
	// auditLast is the last position of the audit log this process took (0: none yet), where
	// its next append starts instead of reading the head hint (see AppendAudit).
	auditLast atomic.Int64
	// prisons caches the prisons for reads (see prisoncache.go).
	prisons prisonCache
	// keyLocks serialise this process's writers of one search key document (see lockKey).
	keyLocks [256]sync.Mutex
	// derivedLocks serialise this process's writers of one derived index document
	// (auditPersons, eventBuckets; see lockDerived).
	derivedLocks [256]sync.Mutex
	// scansIn is true when the server serves from an index only a filter that is exactly
	// {_id: <string>} (FerretDB v1: any other key beside _id, or $in, makes it read and decode
	// every document of the collection). Then batches are loaded as concurrent _id lookups
	// (findByIDs), row rules are applied after the decode (rowRule) and version-checked writes
	// read before they write (writeIf). Detected at Open from buildInfo; Config.BatchLoads
	// overrides it.
	scansIn bool
	// grantTail is the last position of the grant event feed this process saw (a hint for
	// grantEventTail).
	grantTail atomic.Int64
	// lookups bounds the concurrent _id lookups of all batched loads of this process, so a
	// batch holds at most this many connections.
	lookups chan struct{}
	// interrupt, if set, stops WritePerson between its writes (SetInterrupt; tests only).
	interrupt atomic.Pointer[func(step string) error]
}

// maxConcurrentLookups bounds the connections batched _id lookups use at once.
const maxConcurrentLookups = 8

// lockRecord serialises this process's writers of one document until the returned unlock.
func (s *Store) lockRecord(collection, id string) (unlock func()) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(collection + "\x00" + id))
	m := &s.recordLocks[h.Sum32()%uint32(len(s.recordLocks))]
	m.Lock()
	return m.Unlock
}

// Open connects to the database and checks that it answers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	opts := options.Client().ApplyURI(cfg.URI).
		SetServerSelectionTimeout(cfg.Timeout).
		SetConnectTimeout(cfg.Timeout).
		SetRetryWrites(true).
		SetHeartbeatInterval(2 * time.Second).
		SetAppName("custodia")
	if m := commandMonitor(cfg); m != nil {
		opts.SetMonitor(m)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	s := &Store{client: client, db: client.Database(cfg.Database), lookups: make(chan struct{}, maxConcurrentLookups)}
	s.prisons.ttl = cfg.PrisonCacheTTL
	if s.prisons.ttl == 0 {
		s.prisons.ttl = DefaultPrisonCacheTTL
	}
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("database does not answer: %w", err)
	}
	s.detectTransactions(ctx)
	s.detectEngine(ctx)
	switch cfg.BatchLoads {
	case "in":
		s.scansIn = false
	case "point-lookups":
		s.scansIn = true
	}
	return s, nil
}

// commandMonitor is the driver's command monitor for the hooks cfg sets, nil for none. Each
// kind of event is subscribed to only when a hook needs it: a started event makes the driver
// copy the whole command, which only tracing (OnCommandStart) and tests (OnCommandDocument)
// need; metrics (OnCommand) count finished commands.
func commandMonitor(cfg Config) *event.CommandMonitor {
	m := &event.CommandMonitor{}
	if cfg.OnCommandStart != nil || cfg.OnCommandDocument != nil {
		m.Started = func(ctx context.Context, e *event.CommandStartedEvent) {
			if cfg.OnCommandDocument != nil {
				cfg.OnCommandDocument(e.CommandName, e.Command)
			}
			if cfg.OnCommandStart != nil {
				collection, _ := e.Command.Index(0).Value().StringValueOK()
				cfg.OnCommandStart(ctx, e.RequestID, e.CommandName, collection)
			}
		}
	}
	if cfg.OnCommand != nil || cfg.OnCommandEnd != nil {
		finished := func(ctx context.Context, e event.CommandFinishedEvent, failed bool) {
			if cfg.OnCommand != nil {
				cfg.OnCommand(ctx, e.CommandName)
			}
			if cfg.OnCommandEnd != nil {
				cfg.OnCommandEnd(e.RequestID, failed)
			}
		}
		m.Succeeded = func(ctx context.Context, e *event.CommandSucceededEvent) {
			finished(ctx, e.CommandFinishedEvent, false)
		}
		m.Failed = func(ctx context.Context, e *event.CommandFailedEvent) { finished(ctx, e.CommandFinishedEvent, true) }
	}
	if m.Started == nil && m.Succeeded == nil {
		return nil
	}
	return m
}

// detectEngine asks the server's own buildInfo whether it is FerretDB (which reports
// ferretdbVersion), whose v1 scans the collection for $in.
func (s *Store) detectEngine(ctx context.Context) {
	var info bson.Raw
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return
	}
	_, err := info.LookupErr("ferretdbVersion")
	s.scansIn = err == nil
}

// BatchLoads says how the store queries the database: "in" (one {_id: {$in: [...]}} query
// per batch, served by the _id index, with row rules and version checks in the filters) or
// "point-lookups" (concurrent _id equalities, and every filter on a growing collection exactly
// {_id: <string>}, on a server that serves nothing else from an index). For the start-up log.
func (s *Store) BatchLoads() string {
	if s.scansIn {
		return "point-lookups"
	}
	return "in"
}

// findByIDs loads the documents with these _ids (missing ones are absent from the result) with
// one $in query, or, where the server scans for $in, with concurrent _id lookups on at most
// maxConcurrentLookups connections: either way the cost follows the number of IDs, not the
// size of the collection. Index: _id.
func findByIDs[T any](ctx context.Context, s *Store, c *mongo.Collection, ids []string, opts ...options.Lister[options.FindOneOptions]) ([]T, error) {
	return findByIDsWhere[T](ctx, s, c, ids, rowRule[T]{}, opts...)
}

// rowRule is a row rule in its two forms, declared together so that they cannot drift apart:
// filter, the keys a query adds to its filter, and keep, the same test on a decoded document
// (so a query under the rule must not project away the fields keep reads). The zero rule keeps
// every document.
type rowRule[T any] struct {
	filter bson.D
	keep   func(*T) bool
}

// where is the filter of a query by _id under the rule: {_id, rule keys...} on an engine whose
// index serves it (MongoDB), exactly {_id: <string>} where anything more would scan the
// collection (FerretDB v1) — the caller then applies r.kept to what it decodes.
func (r rowRule[T]) where(s *Store, id string) any {
	if s.scansIn || len(r.filter) == 0 {
		return idFilter(id)
	}
	return append(bson.D{{Key: "_id", Value: id}}, r.filter...)
}

// idFilter is the filter {_id: id}, built as BSON directly: the driver sends a bson.Raw as it
// is, where a bson.D goes through its reflection-based encoder on every lookup.
func idFilter(id string) bson.Raw {
	i, doc := bsoncore.AppendDocumentStart(make([]byte, 0, 16+len(id)))
	doc = bsoncore.AppendStringElement(doc, "_id", id)
	doc, _ = bsoncore.AppendDocumentEnd(doc, i)
	return bson.Raw(doc)
}

// kept says whether a decoded document passes the rule. It is applied to every document
// decoded under the rule, on every engine, before the document leaves the store.
func (r rowRule[T]) kept(doc *T) bool { return r.keep == nil || r.keep(doc) }

// findByIDsWhere is findByIDs under a row rule (e.g. the blocking rule of store.Scope): the
// documents the rule does not keep are absent from the result, as missing ones are. A batch of
// one is a single lookup in the caller's goroutine; a larger one (where the server scans $in)
// is looked up by workers taking the next ID in turn, one per connection slot the batch gets
// (at least one, at most maxConcurrentLookups; the slots are shared by the whole process).
// Index: _id.
func findByIDsWhere[T any](ctx context.Context, s *Store, c *mongo.Collection, ids []string, rule rowRule[T], opts ...options.Lister[options.FindOneOptions]) ([]T, error) {
	switch {
	case len(ids) == 0:
		return nil, nil
	case len(ids) > 1 && !s.scansIn:
		var findOpts []options.Lister[options.FindOptions]
		if p := projectionOf(opts); p != nil {
			findOpts = append(findOpts, options.Find().SetProjection(p))
		}
		docs, err := findAll[T](ctx, c, append(in("_id", ids), rule.filter...), findOpts...)
		return keepOnly(docs, rule), err
	case len(ids) == 1:
		var doc T
		found, err := findOneByID(ctx, s, c, ids[0], &doc, rule, opts...)
		if err != nil || !found {
			return nil, err
		}
		return []T{doc}, nil
	}
	docs := make([]T, len(ids))
	found := make([]bool, len(ids))
	var next, workers atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	var lookUp func() error
	// grow starts another worker if a connection slot is free right now, IDs are left, no
	// lookup has failed and the batch has fewer than maxConcurrentLookups workers; it never
	// waits.
	grow := func() bool {
		if next.Load() >= int64(len(ids)) || workers.Load() >= maxConcurrentLookups || gctx.Err() != nil {
			return false
		}
		select {
		case s.lookups <- struct{}{}:
			workers.Add(1)
			g.Go(lookUp)
			return true
		default:
			return false
		}
	}
	// lookUp is one worker holding one connection slot: it takes the next ID until none is
	// left, and after each lookup starts another worker if a slot has come free.
	lookUp = func() error {
		defer func() { workers.Add(-1); <-s.lookups }()
		for i := int(next.Add(1)) - 1; i < len(ids); i = int(next.Add(1)) - 1 {
			var err error
			if found[i], err = findOneByID(gctx, s, c, ids[i], &docs[i], rule, opts...); err != nil {
				return err
			}
			grow()
		}
		return nil
	}
	// The batch waits for one slot and takes the others free at that moment or later: alone
	// it runs maxConcurrentLookups lookups at once; among busy batches every slot stays in
	// use, and no goroutine wakes per lookup to wait for one.
	select {
	case s.lookups <- struct{}{}:
	case <-ctx.Done():
		return nil, classify(ctx.Err())
	}
	workers.Add(1)
	g.Go(lookUp)
	for grow() {
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := docs[:0]
	for i := range docs {
		if found[i] {
			out = append(out, docs[i])
		}
	}
	return out, nil
}

// findOneByID decodes the document with this _id into doc if it exists and the rule keeps it
// (found). Index: _id.
func findOneByID[T any](ctx context.Context, s *Store, c *mongo.Collection, id string, doc *T, rule rowRule[T], opts ...options.Lister[options.FindOneOptions]) (found bool, err error) {
	err = decodeOne(c.FindOne(ctx, rule.where(s, id), opts...), doc, keepsWhole(projectionOf(opts)))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, classify(err)
	}
	return rule.kept(doc), nil
}

// keepOnly drops the documents the rule does not keep.
func keepOnly[T any](docs []T, rule rowRule[T]) []T {
	if rule.keep == nil {
		return docs
	}
	out := docs[:0]
	for i := range docs {
		if rule.kept(&docs[i]) {
			out = append(out, docs[i])
		}
	}
	return out
}

// projectionOf returns the projection set by FindOne options (for the equivalent find).
func projectionOf(opts []options.Lister[options.FindOneOptions]) any {
	return optionOf(opts, func(o *options.FindOneOptions) any { return o.Projection })
}

// findProjectionOf returns the projection set by Find options.
func findProjectionOf(opts []options.Lister[options.FindOptions]) any {
	return optionOf(opts, func(o *options.FindOptions) any { return o.Projection })
}

// optionOf applies driver options and returns the one field get reads.
func optionOf[O any](opts []options.Lister[O], get func(*O) any) any {
	var o O
	for _, l := range opts {
		for _, set := range l.List() {
			_ = set(&o)
		}
	}
	return get(&o)
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the database answers, within one second.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return classify(s.client.Ping(ctx, readpref.Primary()))
}

// DropDatabase removes every collection of the register database (tests and re-seeding only),
// and forgets what this process cached of it (prisons, the audit log's end and tree hashes).
func (s *Store) DropDatabase(ctx context.Context) error {
	err := classify(s.db.Drop(ctx))
	s.forgetCaches()
	return err
}

// forgetCaches empties what this process cached of the database, after it was cleared.
func (s *Store) forgetCaches() {
	s.forgetPrisons()
	s.auditLast.Store(0)
	s.auditHashes.reset()
}

// classify maps driver errors: unreachable database → SERVICE_UNAVAILABLE; anything else is
// returned as is and becomes INTERNAL at the API boundary.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var sse topology.ServerSelectionError
	var connErr topology.ConnectionError
	var poolErr driver.RetryablePoolError
	var appErr *apperr.Error
	var serverErr mongo.ServerError
	switch {
	case errors.As(err, &appErr):
		return err
	case errors.As(err, &sse), errors.As(err, &connErr), mongo.IsNetworkError(err), mongo.IsTimeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, mongo.ErrClientDisconnected):
		return apperr.Unavailable(err)
	case errors.As(err, &poolErr) && poolErr.Retryable():
		// The connection pool was cleared: another command on it just failed (the server is
		// stopping or unreachable).
		return apperr.Unavailable(err)
	case errors.As(err, &serverErr) && slices.ContainsFunc(unavailableCodes, serverErr.HasErrorCode):
		return apperr.Unavailable(err)
	}
	return err
}

// unavailableCodes are the server error codes that say the database could not serve the command
// now, not that the command was wrong: MongoDB's shutdown, failover and network codes, and
// InternalError (1), which FerretDB answers for any failure of its own — among them the
// commands in flight while it stops (its SQLite connections closing under them). Such errors
// are SERVICE_UNAVAILABLE to the caller (the details are logged), like an unreachable server.
var unavailableCodes = []int{1, 6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}

// findAll runs a find and decodes every document.
func findAll[T any](ctx context.Context, c *mongo.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, classify(err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := []T{}
	whole := keepsWhole(findProjectionOf(opts))
	for cur.Next(ctx) {
		out = append(out, *new(T))
		if err := decodeRaw(cur.Current, &out[len(out)-1], whole); err != nil {
			return nil, err
		}
	}
	if err := cur.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// decodeOne decodes a single result into v with the driver's pooled document reader
// (SingleResult.Decode and Cursor.All allocate a 4 KiB read buffer per document — 13 % of the
// bytes a search page allocated), and checks it (decodeRaw; whole: read without an inclusion
// projection). mongo.ErrNoDocuments passes through unchanged.
func decodeOne(res *mongo.SingleResult, v any, whole bool) error {
	raw, err := res.Raw()
	if err != nil {
		return err
	}
	return decodeRaw(raw, v, whole)
}

// in is the filter {field: {$in: values}}.
func in[T any](field string, values []T) bson.D {
	return bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: values}}}}
}

// keyed indexes documents by a key; callers look records up by ID and treat absence as "not
// found or not visible".
func keyed[T any](docs []T, key func(*T) string) map[string]*T {
	out := make(map[string]*T, len(docs))
	for i := range docs {
		out[key(&docs[i])] = &docs[i]
	}
	return out
}

// page cuts a result fetched with limit+1 documents to one page and says whether more follow.
func page[T any](docs []T, limit int) ([]T, bool) {
	if len(docs) > limit {
		return docs[:limit], true
	}
	return docs, false
}

// replaceAtVersion replaces a document only if it is still at the expected version (optimistic
// concurrency); ok is false when it was changed meanwhile or does not exist. See writeIf for
// what is atomic on which engine. Index: _id.
func (s *Store) replaceAtVersion(ctx context.Context, c *mongo.Collection, id string, expectedVersion int, doc any) (ok bool, err error) {
	defer s.lockRecord(c.Name(), id)()
	return s.writeIf(ctx, c, id, "version", expectedVersion, false, replaceWith(ctx, c, doc))
}

// replaceWith is the write of writeIf that replaces the filtered document by doc.
func replaceWith(ctx context.Context, c *mongo.Collection, doc any) func(filter bson.D) (bool, error) {
	return func(filter bson.D) (bool, error) {
		res, err := c.ReplaceOne(ctx, filter, doc)
		if err != nil {
			return false, err
		}
		return res.MatchedCount == 1, nil
	}
}

// writeIf runs a write of the document id that applies only while its field still holds want
// (a version, an owner): write gets the filter to use and says whether it matched; ok is false
// when the document no longer holds want or does not exist. The caller holds
// lockRecord(c.Name(), id), which serialises this process's writers of the document.
//
// On MongoDB the filter is {_id, field: want}: one atomic compare-and-set, across instances
// too. Where the server would read the whole collection for that filter (Store.scansIn,
// FerretDB v1) the field is read by {_id} and the write filtered by {_id} only: two point
// lookups instead of a scan. That is atomic against this process's writers (the lock) but not
// against another instance writing the same document between the read and the write — which
// FerretDB v1 does not guarantee for {_id, field} either, as it filters first and writes
// after. checked says the caller already read the document at want under the same lock (then
// no second read is made).
func (s *Store) writeIf(ctx context.Context, c *mongo.Collection, id, field string, want any, checked bool, write func(filter bson.D) (matched bool, err error)) (ok bool, err error) {
	filter := bson.D{{Key: "_id", Value: id}}
	if !s.scansIn {
		filter = append(filter, bson.E{Key: field, Value: want})
	} else if !checked {
		var doc bson.Raw
		err := c.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: field, Value: 1}})).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil
		}
		if err != nil {
			return false, classify(err)
		}
		if !holds(doc.Lookup(field), want) {
			return false, nil
		}
	}
	ok, err = write(filter)
	return ok, classify(err)
}

// holds says whether a stored value equals want, an int (a version) or a string (an owner).
func holds(v bson.RawValue, want any) bool {
	switch w := want.(type) {
	case int:
		n, ok := v.AsInt64OK()
		return ok && n == int64(w)
	case string:
		str, ok := v.StringValueOK()
		return ok && str == w
	}
	return false
}
