// Package loaders holds the per-request DataLoaders that resolve every relation of the graph in
// one batched database query per relation and level (no N+1). A Loaders value is built for one
// request, with that request's row-rule scope baked in, so nothing is cached across callers.
package loaders

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/vikstrous/dataloadgen"

	"custodia/model"
	"custodia/store"
)

// batchWait is how long a loader collects keys before it sends one query, for relations not
// prefetched by PrefetchPersons. gqlgen resolves sibling fields concurrently, so the keys of
// one level normally arrive well within it.
const batchWait = 8 * time.Millisecond

// Loaders are one request's DataLoaders. Missing records load as nil (or an empty list)
// without error; callers decide whether that is NOT_FOUND.
type Loaders struct {
	store *store.Store
	scope store.Scope

	Person            *dataloadgen.Loader[string, *model.Person]
	Detention         *dataloadgen.Loader[string, *model.DetentionRecord]
	DetentionCopy     *dataloadgen.Loader[string, *model.DetentionRecord]
	ConvictionExtract *dataloadgen.Loader[string, []model.Conviction]
	ConvictionCopy    *dataloadgen.Loader[string, []model.Conviction]
	Prison            *dataloadgen.Loader[string, *model.Prison]

	// Batches counts the batches the loaders sent after a batch window: the lookups that
	// neither prefetch nor a root field's direct load had already answered.
	Batches atomic.Int64
}

// New builds the loaders of one request. scope is the caller's person row rule; it is applied
// to every person query these loaders issue.
func New(s *store.Store, scope store.Scope) *Loaders {
	opt := dataloadgen.WithWait(batchWait)
	l := &Loaders{store: s, scope: scope}
	l.Person = dataloadgen.NewLoader(byKey(&l.Batches, l.fetchPersons), opt)
	l.Detention = dataloadgen.NewLoader(byKey(&l.Batches, l.fetchDetentions(false)), opt)
	l.DetentionCopy = dataloadgen.NewLoader(byKey(&l.Batches, l.fetchDetentions(true)), opt)
	l.ConvictionExtract = dataloadgen.NewLoader(byKey(&l.Batches, l.fetchConvictions(false)), opt)
	l.ConvictionCopy = dataloadgen.NewLoader(byKey(&l.Batches, l.fetchConvictions(true)), opt)
	l.Prison = dataloadgen.NewLoader(byKey(&l.Batches, s.CachedPrisonsByIDs), opt)
	return l
}

// PersonNow loads one person for a root field at once, without the batch window a loader
// waits for other keys (a root field has no siblings whose keys could join), and primes the
// person loader with it. Absent or out-of-scope persons are nil.
func (l *Loaders) PersonNow(ctx context.Context, id string) (*model.Person, error) {
	found, err := l.store.PersonsByIDs(ctx, l.scope, []string{id})
	if err != nil {
		return nil, err
	}
	p := found[id]
	l.Person.Prime(id, p)
	return p, nil
}

func (l *Loaders) fetchPersons(ctx context.Context, ids []string) (map[string]*model.Person, error) {
	return l.store.PersonsByIDs(ctx, l.scope, ids)
}

func (l *Loaders) fetchConvictions(includeExpunged bool) func(context.Context, []string) (map[string][]model.Conviction, error) {
	return func(ctx context.Context, ids []string) (map[string][]model.Conviction, error) {
		return l.store.ConvictionsByPersonIDs(ctx, l.scope, ids, includeExpunged)
	}
}

func (l *Loaders) fetchDetentions(copy bool) func(context.Context, []string) (map[string]*model.DetentionRecord, error) {
	return func(ctx context.Context, ids []string) (map[string]*model.DetentionRecord, error) {
		return l.store.DetentionsByPersonIDs(ctx, l.scope, ids, copy)
	}
}

// Detentions is the person's detention record as the extract shows it, or with every period
// when copy is set (the caller has checked that the role may read the full copy); nil when the
// person was never detained.
func (l *Loaders) Detentions(ctx context.Context, personID string, copy bool) (*model.DetentionRecord, error) {
	if copy {
		return l.DetentionCopy.Load(ctx, personID)
	}
	return l.Detention.Load(ctx, personID)
}

// Convictions is the person's extract, or the full copy when copy is set (the caller has
// checked that the role may read it).
func (l *Loaders) Convictions(ctx context.Context, personID string, copy bool) ([]model.Conviction, error) {
	if copy {
		return l.ConvictionCopy.Load(ctx, personID)
	}
	return l.ConvictionExtract.Load(ctx, personID)
}

// byKey adapts a store lookup returning a map to a loader fetch: keys without a record get the
// zero value and no error; a failed query fails every key with the same error. Each call
// counts one batch.
func byKey[V any](batches *atomic.Int64, fetch func(ctx context.Context, keys []string) (map[string]V, error)) func(context.Context, []string) ([]V, []error) {
	return func(ctx context.Context, keys []string) ([]V, []error) {
		batches.Add(1)
		found, err := fetch(ctx, keys)
		values := make([]V, len(keys))
		var errs []error
		if err != nil {
			errs = make([]error, len(keys))
		}
		for i, k := range keys {
			if err != nil {
				errs[i] = err
				continue
			}
			values[i] = found[k]
		}
		return values, errs
	}
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the loaders of the request in ctx; it panics when the request middleware did not
// install them, which is a wiring bug, not a runtime condition.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context")
	}
	return l
}
