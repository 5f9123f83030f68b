// Package loaders holds the per-request DataLoaders that resolve every relation of the graph in
// one batched database query per relation and level (no N+1). A Loaders value is built for one
// request, with that request's row-rule scope baked in, so nothing is cached across callers.
package loaders

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"custodia/model"
	"custodia/store"
)

// batchWait is how long a loader collects keys before it sends one query. gqlgen resolves
// sibling fields concurrently, so every key of one level arrives well within it.
const batchWait = 8 * time.Millisecond

// Loaders are one request's DataLoaders. Missing records load as nil without error; callers
// decide whether that is NOT_FOUND.
type Loaders struct {
	Person            *dataloadgen.Loader[string, *model.Person]
	Detention         *dataloadgen.Loader[string, *model.DetentionRecord]
	ConvictionExtract *dataloadgen.Loader[string, []model.Conviction]
	ConvictionCopy    *dataloadgen.Loader[string, []model.Conviction]
	Conviction        *dataloadgen.Loader[string, *model.Conviction]
	// ConvictionInCopy also finds expunged convictions; only for objects reached through the
	// full copy (includeExpunged), which policy has already allowed.
	ConvictionInCopy *dataloadgen.Loader[string, *model.Conviction]
	Sentence         *dataloadgen.Loader[string, *model.Sentence]
	Prison           *dataloadgen.Loader[string, *model.Prison]
}

// New builds the loaders of one request. scope is the caller's person row rule; it is applied
// to every person query these loaders issue.
func New(s *store.Store, scope store.Scope) *Loaders {
	opt := dataloadgen.WithWait(batchWait)
	l := &Loaders{}
	// Convictions fetched for any reason are primed into the by-ID loaders, so that
	// Sentence.conviction of a conviction already loaded costs no query.
	primeConvictions := func(byPerson map[string][]model.Conviction) {
		for _, list := range byPerson {
			for i := range list {
				c := &list[i]
				l.ConvictionInCopy.Prime(c.ID, c)
				if !c.Expunged {
					l.Conviction.Prime(c.ID, c)
				}
			}
		}
	}
	l.Person = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string]*model.Person, error) {
		return s.PersonsByIDs(ctx, scope, ids)
	}), opt)
	l.Detention = dataloadgen.NewLoader(byKey(s.DetentionsByPersonIDs), opt)
	l.ConvictionExtract = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string][]model.Conviction, error) {
		found, err := s.ConvictionsByPersonIDs(ctx, ids, false)
		primeConvictions(found)
		return found, err
	}), opt)
	l.ConvictionCopy = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string][]model.Conviction, error) {
		found, err := s.ConvictionsByPersonIDs(ctx, ids, true)
		primeConvictions(found)
		return found, err
	}), opt)
	l.Conviction = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string]*model.Conviction, error) {
		return s.ConvictionsByIDs(ctx, ids, false)
	}), opt)
	l.ConvictionInCopy = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string]*model.Conviction, error) {
		return s.ConvictionsByIDs(ctx, ids, true)
	}), opt)
	l.Sentence = dataloadgen.NewLoader(byKey(func(ctx context.Context, ids []string) (map[string]*model.Sentence, error) {
		sentences, owners, err := s.SentencesByIDs(ctx, ids)
		for _, c := range owners {
			l.Conviction.Prime(c.ID, c)
			l.ConvictionInCopy.Prime(c.ID, c)
		}
		return sentences, err
	}), opt)
	l.Prison = dataloadgen.NewLoader(byKey(s.PrisonsByIDs), opt)
	return l
}

// byKey adapts a store lookup returning a map to a loader fetch: keys without a record get the
// zero value and no error; a failed query fails every key with the same error.
func byKey[V any](fetch func(ctx context.Context, keys []string) (map[string]V, error)) func(context.Context, []string) ([]V, []error) {
	return func(ctx context.Context, keys []string) ([]V, []error) {
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
