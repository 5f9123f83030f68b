// Package audit keeps the tamper-evident audit trail of DESIGN §6. Every operation, denied
// attempt, grant transition and write becomes one entry, appended before the response leaves
// the server; when the entry cannot be written the caller gets SERVICE_UNAVAILABLE and no data.
// Entries record who, in which role and grant, for which purpose, which schema coordinates and
// which persons — never the data itself. Each entry's hash covers the previous entry's hash,
// so Verify finds any edited or deleted entry.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// DefaultRetention is how long entries are kept unless configured (three years).
const DefaultRetention = 3 * 365 * 24 * time.Hour

// Trail appends to and verifies the audit chain. Appends of one server instance go through
// one goroutine that writes whatever entries are waiting as one batch (group commit), so
// concurrent requests do not race each other for positions in the chain.
type Trail struct {
	store   *store.Store
	now     func() time.Time
	pending chan *appendRequest
	stop    chan struct{}
	stopped sync.WaitGroup
}

type appendRequest struct {
	entry *model.AuditEntry
	done  chan error
}

// maxBatch bounds one group commit.
const maxBatch = 256

// NewTrail makes a trail over a store (which may be a database of its own) and starts its
// appender; Close stops it.
func NewTrail(s *store.Store, now func() time.Time) *Trail {
	if now == nil {
		now = time.Now
	}
	t := &Trail{store: s, now: now, pending: make(chan *appendRequest, 4*maxBatch), stop: make(chan struct{})}
	t.stopped.Add(1)
	go t.appender()
	return t
}

// Close stops the appender after the entries already waiting are written.
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
		err := t.store.AppendAudit(ctx, entries, Hash)
		cancel()
		for _, r := range batch {
			r.done <- err
		}
	}
}

// Append completes e (time, sequence, hashes) and writes it at the end of the chain. Any
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

// Hash is the SHA-256 of the entry's canonical JSON with Hash left out; PreviousHash is part
// of it, which chains the entries.
func Hash(e *model.AuditEntry) string {
	c := *e
	c.Hash = ""
	c.Time = c.Time.UTC()
	if c.Coordinates == nil {
		c.Coordinates = []string{}
	}
	if c.PersonIDs == nil {
		c.PersonIDs = []string{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Verify walks the retained chain in order and reports the first entry that does not verify:
// a changed entry (its hash), a deleted one (a gap, or a link to a hash that is not its
// predecessor's), or entries missing at the end (the head is further than the last entry).
func (t *Trail) Verify(ctx context.Context) (model.AuditChainReport, error) {
	report := model.AuditChainReport{Valid: true}
	anchor, head, err := t.store.AuditLinks(ctx)
	if err != nil {
		return report, err
	}
	prev := anchor // the chain starts at position 0 with an empty hash, or at the retention anchor
	broken := func(seq int, problem string) bool {
		report.Valid = false
		report.FirstBrokenSequence = &seq
		report.Problem = &problem
		return false
	}
	err = t.store.AuditChain(ctx, anchor.Seq, func(e *model.AuditEntry) bool {
		report.EntriesChecked++
		switch {
		case e.ID != store.AuditID(e.Sequence):
			return broken(e.Sequence, "the entry's ID does not match its sequence number")
		case e.Sequence != prev.Seq+1:
			return broken(prev.Seq+1, fmt.Sprintf("entries %d to %d are missing", prev.Seq+1, e.Sequence-1))
		case e.PreviousHash != prev.Hash:
			return broken(e.Sequence, "the entry does not link to the previous entry's hash (an entry before it was changed or replaced)")
		case Hash(e) != e.Hash:
			return broken(e.Sequence, "the entry's content does not match its hash (it was edited)")
		}
		prev = store.ChainLink{Seq: e.Sequence, Hash: e.Hash}
		return true
	})
	if err != nil || !report.Valid {
		return report, err
	}
	if head.Seq > prev.Seq {
		broken(prev.Seq+1, fmt.Sprintf("entries %d to %d are missing at the end of the chain", prev.Seq+1, head.Seq))
	}
	return report, nil
}

// Purge deletes entries older than the retention period; the chain stays verifiable from the
// retention anchor.
func (t *Trail) Purge(ctx context.Context, retention time.Duration) (int, error) {
	return t.store.PurgeAudit(ctx, t.now().Add(-retention))
}

// Record collects, during one request, what its audit entry must say: the purpose stated and
// the persons whose data was returned. It is safe for concurrent resolvers.
type Record struct {
	mu          sync.Mutex
	purpose     *model.AuditPurpose
	persons     map[string]bool
	coordinates []string
}

type recordKey struct{}

// WithRecord returns ctx carrying a fresh record.
func WithRecord(ctx context.Context) (context.Context, *Record) {
	r := &Record{persons: map[string]bool{}}
	return context.WithValue(ctx, recordKey{}, r), r
}

// RecordFrom returns the request's record, or a throwaway one outside a request.
func RecordFrom(ctx context.Context) *Record {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		return r
	}
	return &Record{persons: map[string]bool{}}
}

// SetPurpose notes the purpose the operation stated.
func (r *Record) SetPurpose(p model.PurposeInput) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purpose = &model.AuditPurpose{CaseReference: p.CaseReference, Reason: p.Reason}
}

// AddPersons notes persons whose data is returned.
func (r *Record) AddPersons(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.persons[id] = true
	}
}

// SetCoordinates notes the schema coordinates the operation selects.
func (r *Record) SetCoordinates(c []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.coordinates = c
}

// Fill copies what was collected into an entry.
func (r *Record) Fill(e *model.AuditEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Purpose = r.purpose
	e.Coordinates = append([]string{}, r.coordinates...)
	e.PersonIDs = make([]string, 0, len(r.persons))
	for id := range r.persons {
		e.PersonIDs = append(e.PersonIDs, id)
	}
	sort.Strings(e.PersonIDs)
}

// Entries is one page of the trail, newest first.
func (t *Trail) Entries(ctx context.Context, q store.AuditQuery) ([]model.AuditEntry, bool, error) {
	return t.store.AuditEntries(ctx, q)
}

// Disclosures lists which agencies received data about a person, when, in which role and why,
// without the officials' identities (what a data subject may learn).
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
		out = append(out, model.Disclosure{Time: e.Time, Agency: *e.Agency, Role: *e.Role, Purpose: e.Purpose, OperationName: e.OperationName})
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
