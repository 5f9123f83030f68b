// Package audit keeps the verifiable audit log of DESIGN §6. Every operation, denied
// attempt, grant transition and write becomes one entry, appended before the response leaves
// the server; when the entry cannot be written the caller gets SERVICE_UNAVAILABLE and no data.
// Entries record who, in which role and grant, for which purpose (per root field), which schema
// coordinates and which persons — never the data itself.
//
// The entries are the leaves of a Merkle tree (RFC 6962, golang.org/x/mod/sumdb/tlog); each
// leaf hash covers the entry's canonical encoding (Encode: every field). The server signs
// checkpoints (tree size and root hash, Ed25519 signed notes) and hands them to witnesses
// outside its database; inclusion and consistency proofs, and an offline verifier of an
// export (VerifyExport), let an auditor who trusts neither the server nor its database
// administrator detect any edit, deletion, reordering, truncation or rewrite after a
// witnessed checkpoint. Retention removes entry bodies only, keeps their leaf hashes, and
// leaves a signed record of what it removed. See docs/audit.md.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"custodia/apperr"
	"custodia/model"
	"custodia/store"
)

// DefaultRetention is how long entries are kept unless configured (three years), and the
// shortest retention production accepts (NSZ instruction §5(6)).
const DefaultRetention = 3 * 365 * 24 * time.Hour

// Trail appends to, checkpoints and verifies the audit log. Appends of one server instance go
// through one goroutine that writes whatever entries are waiting as one batch (group commit),
// so concurrent requests do not race each other for positions in the log; a second goroutine
// signs checkpoints (see Options).
type Trail struct {
	store   *store.Store
	now     func() time.Time
	opts    Options
	pending chan *appendRequest
	// appended tells the checkpointer how many entries a batch wrote.
	appended chan int
	stop     chan struct{}
	stopped  sync.WaitGroup
	// mu guards the checkpointer's state, also used by Checkpoint called directly.
	mu        sync.Mutex
	published int64
}

type appendRequest struct {
	entry *model.AuditEntry
	done  chan error
}

// maxBatch bounds one group commit.
const maxBatch = 256

// NewTrail makes a trail over a store (which may be a database of its own) and starts its
// appender, checkpointer and person indexer; Close stops them. opts.Key is required.
func NewTrail(s *store.Store, now func() time.Time, opts Options) *Trail {
	if now == nil {
		now = time.Now
	}
	opts = opts.withDefaults()
	t := &Trail{store: s, now: now, opts: opts, pending: make(chan *appendRequest, 4*maxBatch),
		appended: make(chan int, 64), stop: make(chan struct{})}
	t.stopped.Add(3)
	go t.appender()
	go t.checkpointer()
	go t.personIndexer()
	return t
}

// Close stops the appender after the entries already waiting are written, and signs a last
// checkpoint of what this instance appended.
func (t *Trail) Close() {
	close(t.stop)
	t.stopped.Wait()
}

func (t *Trail) appender() {
	defer t.stopped.Done()
	for {
		var first *appendRequest
		select {
		case first = <-t.pending:
		case <-t.stop:
			return
		}
		batch := []*appendRequest{first}
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-t.pending:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		entries := make([]*model.AuditEntry, len(batch))
		for i, r := range batch {
			entries[i] = r.entry
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := t.store.AppendAudit(ctx, entries, Encode)
		cancel()
		for _, r := range batch {
			r.done <- err
		}
		if err == nil {
			select {
			case t.appended <- len(entries):
			default: // the checkpointer is busy; its timer catches up
			}
		}
	}
}

// personIndexer keeps the per-person index of the log (store.IndexAuditPersons) close to the
// end of the log, off the request path: every PersonIndexInterval it indexes what was appended
// since, a batch at a time until it has caught up. Failures are logged and retried at the next
// tick; readers read the positions after the index's watermark directly, so a lagging or
// failing indexer makes them slower, never wrong.
func (t *Trail) personIndexer() {
	defer t.stopped.Done()
	tick := time.NewTicker(t.opts.PersonIndexInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-t.stop:
			return
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			n, err := t.store.IndexAuditPersons(ctx)
			cancel()
			if err != nil {
				t.opts.Log.Error("audit person index not updated", "error", err.Error())
			}
			if err != nil || n == 0 {
				break
			}
			select {
			case <-t.stop:
				return
			default:
			}
		}
	}
}

// Append completes e (time, sequence, leaf hash) and writes it at the end of the log. Any
// failure is SERVICE_UNAVAILABLE: the caller must not release data it could not audit.
func (t *Trail) Append(ctx context.Context, e *model.AuditEntry) (err error) {
	// A span under the caller's (the operation's), from the caller's tracer provider.
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("custodia/audit").Start(ctx, "audit append",
		trace.WithAttributes(attribute.String("custodia.audit.outcome", string(e.Outcome))))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, "audit append failed")
		}
		span.End()
	}()
	e.Time = t.now().UTC().Truncate(time.Millisecond) // what BSON keeps, so the hash verifies
	if e.Coordinates == nil {
		e.Coordinates = []string{}
	}
	if e.PersonIDs == nil {
		e.PersonIDs = []string{}
	}
	r := &appendRequest{entry: e, done: make(chan error, 1)}
	select {
	case t.pending <- r:
	case <-ctx.Done():
		return apperr.Unavailable(fmt.Errorf("audit append: %w", ctx.Err()))
	}
	select {
	case err := <-r.done:
		if err != nil {
			return apperr.Unavailable(fmt.Errorf("audit append: %w", err))
		}
		return nil
	case <-ctx.Done():
		// The entry may still be written; the caller gets no data either way.
		return apperr.Unavailable(fmt.Errorf("audit append: %w", ctx.Err()))
	}
}

// Encode is the canonical encoding of an entry, the bytes its leaf hash covers: the JSON of
// every field of the entry but Hash (which is derived from it), in declaration order, with
// times in UTC and empty lists and maps written as null (so that what the database gives back
// — which may drop empty lists — encodes exactly as what was appended). A field added to
// model.AuditEntry, or to any type inside it, is covered without further work;
// TestEncodeCoversEveryField fails for a field the encoding would leave out.
func Encode(e *model.AuditEntry) []byte {
	c := *e
	c.Hash = ""
	v := reflect.ValueOf(&c).Elem()
	normalize(v)
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

var timeType = reflect.TypeFor[time.Time]()

// normalize rewrites v in place (v must be settable; pointers are copied before they are
// changed, so the caller's entry is never modified).
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		normalize(c.Elem())
		v.Set(c)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := 0; i < c.Len(); i++ {
			normalize(c.Index(i))
		}
		v.Set(c)
	case reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// Record collects, during one request, what its audit entry must say: per root field (access)
// the purpose it stated and the persons whose data it returned, and the schema coordinates
// the operation selects. It is safe for concurrent resolvers.
type Record struct {
	mu          sync.Mutex
	accesses    map[string]*access
	coordinates []string
}

type access struct {
	purpose *model.AuditPurpose
	persons map[string]bool
}

type recordKey struct{}

// WithRecord returns ctx carrying a fresh record.
func WithRecord(ctx context.Context) (context.Context, *Record) {
	r := &Record{accesses: map[string]*access{}}
	return context.WithValue(ctx, recordKey{}, r), r
}

// WithExistingRecord returns ctx carrying r: the record a request started elsewhere (its
// operation checked in one context, executed in another).
func WithExistingRecord(ctx context.Context, r *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// RecordFrom returns the request's record, or a throwaway one outside a request.
func RecordFrom(ctx context.Context) *Record {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		return r
	}
	return &Record{accesses: map[string]*access{}}
}

func (r *Record) access(field string) *access {
	a := r.accesses[field]
	if a == nil {
		a = &access{persons: map[string]bool{}}
		r.accesses[field] = a
	}
	return a
}

// SetPurpose notes the purpose a root field (by response key) stated.
func (r *Record) SetPurpose(field string, p model.PurposeInput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.access(field).purpose = &model.AuditPurpose{CaseReference: p.CaseReference, Reason: p.Reason}
}

// AddPersons notes persons whose data a root field (by response key) returns. (At least one
// ID is required, so that a call naming only the person does not compile.)
func (r *Record) AddPersons(field, id string, more ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.access(field)
	a.persons[id] = true
	for _, id := range more {
		a.persons[id] = true
	}
}

// SetCoordinates notes the schema coordinates the operation selects.
func (r *Record) SetCoordinates(c []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.coordinates = c
}

// Fill copies what was collected into an entry: the accesses in order of their fields, the
// persons of all of them, and — for an operation with a single purpose — that purpose.
func (r *Record) Fill(e *model.AuditEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Coordinates = append([]string{}, r.coordinates...)
	all := map[string]bool{}
	fields := make([]string, 0, len(r.accesses))
	for f := range r.accesses {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	e.Accesses = make([]model.AuditAccess, 0, len(fields))
	for _, f := range fields {
		a := r.accesses[f]
		acc := model.AuditAccess{Field: f, Purpose: a.purpose, PersonIDs: make([]string, 0, len(a.persons))}
		for id := range a.persons {
			acc.PersonIDs = append(acc.PersonIDs, id)
			all[id] = true
		}
		sort.Strings(acc.PersonIDs)
		e.Accesses = append(e.Accesses, acc)
	}
	e.PersonIDs = make([]string, 0, len(all))
	for id := range all {
		e.PersonIDs = append(e.PersonIDs, id)
	}
	sort.Strings(e.PersonIDs)
	if len(e.Accesses) == 1 {
		e.Purpose = e.Accesses[0].Purpose
	}
}

// Entries is one page of the trail, newest first.
func (t *Trail) Entries(ctx context.Context, q store.AuditQuery) (store.AuditPage, error) {
	return t.store.AuditEntries(ctx, q)
}

// Disclosures lists which agencies received data about a person, when, in which role and why,
// without the officials' identities (what a data subject may learn): one disclosure per root
// field that returned the person, with that field's own purpose.
func (t *Trail) Disclosures(ctx context.Context, personID string) ([]model.Disclosure, error) {
	entries, err := t.store.Disclosures(ctx, personID)
	if err != nil {
		return nil, err
	}
	out := make([]model.Disclosure, 0, len(entries))
	for _, e := range entries {
		if e.Agency == nil || e.Role == nil {
			continue
		}
		d := model.Disclosure{Time: e.Time, Agency: *e.Agency, Role: *e.Role, OperationName: e.OperationName, Sequence: e.Sequence}
		if len(e.Accesses) == 0 { // entries written before accesses were recorded
			d.Purpose = e.Purpose
			out = append(out, d)
			continue
		}
		for _, a := range e.Accesses {
			if slices.Contains(a.PersonIDs, personID) {
				d.Purpose, d.Field = a.Purpose, &a.Field
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Recipients lists the agencies that received data about a person since a time — after a
// correction, the ones to notify (DESIGN §6).
func (t *Trail) Recipients(ctx context.Context, personID string, since time.Time) ([]model.Recipient, error) {
	disclosures, err := t.Disclosures(ctx, personID)
	if err != nil {
		return nil, err
	}
	byAgency := map[string]*model.Recipient{}
	var order []string
	for _, d := range disclosures {
		if d.Time.Before(since) {
			continue
		}
		r := byAgency[d.Agency]
		if r == nil {
			r = &model.Recipient{Agency: d.Agency, Roles: []model.Role{}, FirstDisclosure: d.Time}
			byAgency[d.Agency] = r
			order = append(order, d.Agency)
		}
		r.Disclosures++
		r.LastDisclosure = d.Time
		if !slices.Contains(r.Roles, d.Role) {
			r.Roles = append(r.Roles, d.Role)
		}
	}
	out := make([]model.Recipient, len(order))
	for i, a := range order {
		out[i] = *byAgency[a]
	}
	return out, nil
}
