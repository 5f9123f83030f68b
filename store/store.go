// Package store is the only package that talks to MongoDB (DESIGN §8, §9): it owns the
// connection, the collections and their indexes, and turns driver errors into *apperr.Error
// (SERVICE_UNAVAILABLE when the database cannot be reached, NOT_FOUND for missing records).
// Every query it issues is declared next to the index that serves it on MongoDB; row rules
// (caseload scope, expunged convictions) are applied in the query filters, never afterwards.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
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
	// OnCommand, if set, is called for every command the driver starts (for metrics).
	OnCommand func(ctx context.Context, commandName string)
	// OnCommandStart and OnCommandEnd, if set, bracket every command (for tracing). They get
	// the command's and collection's names, never its arguments; a failure is only "failed",
	// since server messages can quote key values.
	OnCommandStart func(ctx context.Context, requestID int64, command, collection string)
	OnCommandEnd   func(requestID int64, failed bool)
	// BatchLoads, if "in" or "point-lookups", overrides how batched loads reach the database
	// (see Store.BatchLoads), which is otherwise detected from the server; for measurements.
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
	// scansIn is true when the server answers {_id: {$in: [...]}} by scanning the collection
	// (FerretDB v1, which serves only _id equality from an index): batches are then loaded as
	// concurrent _id lookups instead (findByIDs). Detected at Open from buildInfo.
	scansIn bool
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
	if cfg.OnCommand != nil || cfg.OnCommandStart != nil {
		opts.SetMonitor(&event.CommandMonitor{
			Started: func(ctx context.Context, e *event.CommandStartedEvent) {
				if cfg.OnCommand != nil {
					cfg.OnCommand(ctx, e.CommandName)
				}
				if cfg.OnCommandStart != nil {
					collection, _ := e.Command.Index(0).Value().StringValueOK()
					cfg.OnCommandStart(ctx, e.RequestID, e.CommandName, collection)
				}
			},
			Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
				if cfg.OnCommandEnd != nil {
					cfg.OnCommandEnd(e.RequestID, false)
				}
			},
			Failed: func(_ context.Context, e *event.CommandFailedEvent) {
				if cfg.OnCommandEnd != nil {
					cfg.OnCommandEnd(e.RequestID, true)
				}
			},
		})
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

// BatchLoads says how batched loads reach the database: "in" (one {_id: {$in: [...]}} query
// per batch, served by the _id index) or "point-lookups" (concurrent _id equalities, on a
// server that scans for $in). For the start-up log.
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
	return findByIDsWhere[T](ctx, s, c, ids, nil, opts...)
}

// findByIDsWhere is findByIDs with a row rule added to every query (where, e.g. the blocking
// rule of store.Scope).
func findByIDsWhere[T any](ctx context.Context, s *Store, c *mongo.Collection, ids []string, where bson.D, opts ...options.Lister[options.FindOneOptions]) ([]T, error) {
	switch {
	case len(ids) == 0:
		return nil, nil
	case len(ids) > 1 && !s.scansIn:
		var findOpts []options.Lister[options.FindOptions]
		if p := projectionOf(opts); p != nil {
			findOpts = append(findOpts, options.Find().SetProjection(p))
		}
		return findAll[T](ctx, c, append(in("_id", ids), where...), findOpts...)
	}
	docs := make([]T, len(ids))
	found := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	for i, id := range ids {
		select {
		case s.lookups <- struct{}{}:
		case <-gctx.Done():
			if err := g.Wait(); err != nil {
				return nil, classify(err)
			}
			return nil, classify(ctx.Err())
		}
		g.Go(func() error {
			defer func() { <-s.lookups }()
			err := c.FindOne(gctx, append(bson.D{{Key: "_id", Value: id}}, where...), opts...).Decode(&docs[i])
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil
			}
			found[i] = err == nil
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, classify(err)
	}
	out := docs[:0]
	for i := range docs {
		if found[i] {
			out = append(out, docs[i])
		}
	}
	return out, nil
}

// projectionOf returns the projection set by FindOne options (for the equivalent find).
func projectionOf(opts []options.Lister[options.FindOneOptions]) any {
	var o options.FindOneOptions
	for _, l := range opts {
		for _, set := range l.List() {
			_ = set(&o)
		}
	}
	return o.Projection
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
	var appErr *apperr.Error
	switch {
	case errors.As(err, &appErr):
		return err
	case errors.As(err, &sse), mongo.IsNetworkError(err), mongo.IsTimeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, mongo.ErrClientDisconnected):
		return apperr.Unavailable(err)
	}
	return err
}

// findAll runs a find and decodes every document.
func findAll[T any](ctx context.Context, c *mongo.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, classify(err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, classify(err)
	}
	return out, nil
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
// concurrency); ok is false when it was changed meanwhile or does not exist. Index: _id.
func (s *Store) replaceAtVersion(ctx context.Context, c *mongo.Collection, id string, expectedVersion int, doc any) (ok bool, err error) {
	defer s.lockRecord(c.Name(), id)()
	res, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: expectedVersion}}, doc)
	if err != nil {
		return false, classify(err)
	}
	return res.MatchedCount == 1, nil
}
